package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/berth-dev/berth/pkg/catalog"
	"github.com/berth-dev/berth/pkg/checks"
	"github.com/berth-dev/berth/pkg/gitsource"
	"github.com/berth-dev/berth/pkg/review"
	"github.com/berth-dev/berth/pkg/schema"
	"github.com/berth-dev/berth/pkg/validate"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"
)

const outputMarkdown = "markdown"

// --fail-on values.
const (
	failOnError = "error"
	failOnGate  = "gate"
	failOnNever = "never"
)

// checkFlags are the flags of `berth check`.
type checkFlags struct {
	base, head, repo, dir string
	author                string
	github, comment       bool
	failOn, output, at    string
	workers               int
}

func (a *app) checkCmd() *cobra.Command {
	var f checkFlags
	cmd := &cobra.Command{
		Use:   "check --head REF [--base REF]",
		Short: "Check a catalog change: validate the head, compare it with the base, judge the quality gates",
		Long: `Check validates the catalog at commit --head of the Git repository --repo (in the
directory --dir) through every layer, then compares it with --base: entities added,
changed (with the properties that changed) and removed, scorecard levels that went up
or down, rules newly failing or passing, and the quality gates of the head's berth.yaml.
Only the files changed between base and head are validated again with CUE; the base is
read without CUE, as it was valid when merged. When only entity files changed, computed
properties and scorecards are evaluated again only for the entities the change affects
(and their warnings reported for those); the others keep the base's results. Without
--base the head is checked alone.

REFs are anything git rev-parse reads: a branch, origin/main, HEAD, HEAD~1, a tag or a
(short) commit hash. Uncommitted changes are not seen.

--github reports to GitHub from a GitHub Actions job (GITHUB_REPOSITORY, GITHUB_TOKEN,
GITHUB_EVENT_PATH, GITHUB_API_URL...): a check run with line annotations, the job
summary, and with --comment one sticky pull-request comment. A token that may not write
(a fork's) falls back to the job summary and workflow annotations. On a push to the
default branch the check run carries that commit's scorecard summary too.

With --base, the permission guard fails a change to page permissions, roles/, a
blueprint's permissions or a _user's port_role, roles, status, team or GitHub login
unless its author is an Admin in the base revision. The author is --author, else the
pull request's author from the GitHub event (with --github); an unknown author is
not an Admin. A push to the default branch is already merged: its permission changes
are listed, not judged.

Exit status: 1 when --fail-on=error and the head has errors or the permission guard
fails, or --fail-on=gate (the default) and any of those or a blocking gate fails; 0
otherwise (always with --fail-on=never); 2 on usage errors.`,
		Example: `  berth check --base origin/main --head HEAD
  berth check --base main --head feature --dir catalog --output markdown > report.md
  berth check --head HEAD --output json | jq '.gates[] | select(.passed | not)'
  berth check --base origin/main --head HEAD --author mchen   # judge permission changes as mchen's`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			// check holds two catalogs and their scores; near the
			// default limit the collector ran almost without pause (at
			// 100k entities: 20% more CPU, 1.3 s more on a loaded
			// machine). It runs on CI runners, with memory to spare.
			setMemoryLimit(checkMemoryLimit)
			return a.runCheck(cmd.Context(), f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.base, "base", "", "commit or ref the change starts from (none: check the head alone)")
	fl.StringVar(&f.head, "head", "HEAD", "commit or ref to check")
	fl.StringVar(&f.author, "author", "", "GitHub login of the change's author, for the permission guard (default: the pull request's, with --github)")
	fl.StringVar(&f.repo, "repo", ".", "the Git repository")
	fl.StringVar(&f.dir, "dir", ".", "catalog directory inside the repository")
	fl.BoolVar(&f.github, "github", false, "report to GitHub (check run, job summary) from a GitHub Actions job")
	fl.BoolVar(&f.comment, "comment", false, "with --github, keep one sticky pull-request comment with the report")
	fl.StringVar(&f.failOn, "fail-on", failOnGate, "exit 1 on: error, gate (an error or a blocking gate) or never")
	fl.StringVarP(&f.output, "output", "o", outputText, "output format: text, json, markdown or github (workflow commands)")
	fl.StringVar(&f.at, "at", "", "evaluate scorecards as of this date (YYYY-MM-DD; default now)")
	fl.IntVar(&f.workers, "workers", runtime.GOMAXPROCS(0), "goroutines validating entities")
	return cmd
}

func (a *app) runCheck(ctx context.Context, f checkFlags) error {
	if err := checkOutput(f.output, outputText, outputJSON, outputMarkdown, outputGitHub); err != nil {
		return err
	}
	switch f.failOn {
	case failOnError, failOnGate, failOnNever:
	default:
		return usageError{fmt.Errorf("--fail-on %q: want one of error, gate, never", f.failOn)}
	}
	if f.comment && !f.github {
		return usageError{errors.New("--comment needs --github")}
	}
	now := time.Now()
	if f.at != "" {
		t, err := time.Parse(time.DateOnly, f.at)
		if err != nil {
			return usageError{fmt.Errorf("--at: want YYYY-MM-DD: %w", err)}
		}
		now = t
	}
	var env checks.Env
	if f.github {
		var err error
		if env, err = checks.FromEnv(os.Getenv); err != nil {
			return fmt.Errorf("--github: %w", err)
		}
	}

	var guard *review.GuardInput
	if f.base != "" {
		guard = &review.GuardInput{Author: cmp.Or(f.author, env.Author)}
		if f.github && env.OnDefaultBranch() {
			guard.Skip = "a push to the default branch is already merged"
		}
	}

	res, err := a.check(ctx, f, now, guard)
	if err != nil {
		return err
	}
	rep := res.report
	dir := res.dir

	switch f.output {
	case outputJSON:
		if err := writeJSONTo(a.stdout, rep); err != nil {
			return err
		}
	case outputMarkdown:
		fmt.Fprint(a.stdout, rep.Markdown(review.MarkdownOptions{}))
	case outputGitHub:
		checks.WriteCommands(a.stdout, annotations(dir, res))
		fmt.Fprintln(a.stdout, rep.Title())
	default:
		if err := rep.Text(a.stdout, 0); err != nil {
			return err
		}
	}

	// The guard's refusals are errors (diagnostics), and so is a guard that
	// failed closed: --fail-on error relaxes quality gates, not who may
	// change permissions.
	failed := (rep.Errors > 0 || rep.GuardFailed()) && f.failOn != failOnNever ||
		rep.GatesFailed(review.ModeBlock) > 0 && f.failOn == failOnGate
	if f.github {
		if err := a.publish(ctx, env, dir, res, failed, f.comment); err != nil {
			return err
		}
	}
	if failed {
		return errFindings
	}
	return nil
}

// checked is the outcome of a check, before it is printed.
type checked struct {
	report *review.Report
	dir    string // the catalog directory inside the repository
	head   review.Side
}

// check resolves the refs, loads, validates and scores both sides, and
// compares them; guard, when not nil, asks for the permission guard.
func (a *app) check(ctx context.Context, f checkFlags, now time.Time, guard *review.GuardInput) (*checked, error) {
	root, dir, err := repoRoot(f.repo, f.dir)
	if err != nil {
		return nil, usageError{err}
	}
	repo, err := gitsource.Open(ctx, gitsource.Options{URL: root, Dir: dir})
	if err != nil {
		return nil, err
	}
	defer repo.Close()
	head, err := repo.Resolve(ctx, f.head)
	if err != nil {
		return nil, fmt.Errorf("--head: %w", err)
	}
	headFS, err := repo.FS(ctx, head)
	if err != nil {
		return nil, fmt.Errorf("--head: %w", err)
	}
	v, err := schema.New()
	if err != nil {
		return nil, fmt.Errorf("compile schemas: %w", err)
	}

	// The base is scored on its own goroutine while the head is validated
	// and scored: both only read the base's parsed files, which the head
	// shares.
	ctx, cancel := context.WithCancel(ctx)
	g, gctx := errgroup.WithContext(ctx)
	defer func() {
		cancel()
		_ = g.Wait()
	}()
	timed := a.timer()

	var notes []string
	var base string
	var baseCat *catalog.Catalog
	var baseScored scored
	var changed []string
	if f.base != "" {
		if base, err = repo.Resolve(ctx, f.base); err != nil {
			return nil, fmt.Errorf("--base: %w", err)
		}
		baseCat, changed, err = loadBase(ctx, repo, base, head, timed)
		if err != nil {
			a.log.Warn("check: cannot load the base; checking the head alone", "base", f.base, "err", err)
			notes = append(notes, fmt.Sprintf("The base %s could not be loaded (%v), so the head is checked alone.", f.base, err))
			baseCat, changed = nil, nil
			if guard != nil {
				guard.BaseError = err.Error()
			}
		} else {
			g.Go(func() error {
				start := time.Now()
				var err error
				baseScored, err = scoreSide(gctx, baseCat, now)
				a.log.Debug("check: score base", "took", time.Since(start).Round(time.Millisecond))
				return err
			})
		}
	}

	opts := validate.Options{Workers: f.workers}
	var res *validate.Result
	if baseCat != nil {
		res, err = validate.Changed(gctx, v, baseCat, headFS, changed, opts)
	} else {
		res, err = validate.Run(gctx, v, headFS, opts)
	}
	if err != nil {
		return nil, err
	}
	timed("validate head")
	diags := res.Diagnostics

	// With a base, the head is scored from the base's scores where the
	// change allows: only the entities it affects are evaluated again.
	// (Wait cancels gctx: what follows uses ctx.)
	var headScored scored
	rescored := false
	if baseCat != nil {
		if err := g.Wait(); err != nil {
			return nil, err
		}
		timed("score base (wait)")
		if headScored, rescored, err = scoreChange(ctx, baseScored, baseCat, res.Catalog, changed, now); err != nil {
			return nil, err
		}
	}
	if !rescored {
		if headScored, err = scoreSide(ctx, res.Catalog, now); err != nil {
			return nil, err
		}
	}
	timed("score head")
	diags = append(diags, headScored.diags...).Sort()
	in := review.Input{Head: headScored.side, Diagnostics: diags, Changed: changed, Now: now, Notes: notes, Guard: guard}
	if baseCat != nil {
		in.Base = &baseScored.side
	}
	rep := review.Compare(in)
	rep.Base, rep.Head = base, head
	timed("compare")
	return &checked{report: rep, dir: dir, head: headScored.side}, nil
}

// timer returns a function that logs, at debug level, how long a step of
// check took since the previous one.
func (a *app) timer() func(step string) {
	last := time.Now()
	return func(step string) {
		now := time.Now()
		a.log.Debug("check: "+step, "took", now.Sub(last).Round(time.Millisecond))
		last = now
	}
}

// loadBase reads the base commit without CUE (it was valid when merged)
// and lists the catalog paths changed between base and head.
func loadBase(ctx context.Context, repo *gitsource.Repo, base, head string, timed func(string)) (*catalog.Catalog, []string, error) {
	fsys, err := repo.FS(ctx, base)
	if err != nil {
		return nil, nil, err
	}
	cat, err := catalog.Load(ctx, fsys, catalog.Options{})
	if err != nil {
		return nil, nil, err
	}
	timed("load base")
	cat.Build()
	timed("build base")
	chs, err := repo.Changes(ctx, base, head)
	if err != nil {
		return nil, nil, err
	}
	timed("changes")
	changed := make([]string, 0, len(chs))
	for _, c := range chs {
		changed = append(changed, c.Path)
		if c.OldPath != "" {
			changed = append(changed, c.OldPath)
		}
	}
	return cat, changed, nil
}

// repoRoot finds the Git repository holding dir (walking up as git does)
// and returns its top directory and the catalog directory relative to it.
func repoRoot(repo, dir string) (root, rel string, err error) {
	abs, err := filepath.Abs(repo)
	if err != nil {
		return "", "", err
	}
	for p := abs; ; {
		if _, err := os.Stat(filepath.Join(p, ".git")); err == nil {
			sub, err := filepath.Rel(p, abs)
			if err != nil {
				return "", "", err
			}
			rel = path.Join(filepath.ToSlash(sub), filepath.ToSlash(dir))
			if rel == ".." || strings.HasPrefix(rel, "../") || path.IsAbs(rel) {
				return "", "", fmt.Errorf("--dir %s is outside the repository %s", dir, p)
			}
			return p, rel, nil
		}
		parent := filepath.Dir(p)
		if parent == p {
			if _, err := os.Stat(filepath.Join(abs, "HEAD")); err == nil {
				return abs, path.Clean(dir), nil // a bare repository
			}
			return "", "", fmt.Errorf("--repo %s: %w", repo, gitsource.ErrNotRepository)
		}
		p = parent
	}
}
