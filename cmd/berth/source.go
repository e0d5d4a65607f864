package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/berth-dev/berth/pkg/gitsource"
	"github.com/berth-dev/berth/pkg/index"
	"github.com/berth-dev/berth/pkg/reconcile"
	"github.com/berth-dev/berth/pkg/schema"
	"github.com/berth-dev/berth/pkg/validate"
	"github.com/spf13/cobra"
)

// sourceFlags are the flags of every command that follows a branch.
type sourceFlags struct {
	repo, branch, dir, dataDir, db string
	allowMassDelete                bool
	workers                        int
}

func (f *sourceFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.repo, "repo", ".", "Git repository: a local path or a remote URL (https://, ssh://, file://)")
	cmd.Flags().StringVar(&f.branch, "branch", gitsource.DefaultBranch, "branch to follow")
	cmd.Flags().StringVar(&f.dir, "dir", "", "subdirectory of the repository holding the catalog (default: the root, or catalog-example/ when the root has no blueprints/)")
	cmd.Flags().StringVar(&f.dataDir, "data-dir", ".berth", "where remote repositories are cloned")
	cmd.Flags().StringVar(&f.db, "db", "berth.db", "SQLite index file")
	cmd.Flags().BoolVar(&f.allowMassDelete, "allow-mass-delete", false, "apply a commit even if it deletes more entities than massDeleteThreshold allows")
	cmd.Flags().IntVar(&f.workers, "workers", 0, "goroutines validating entities (default: one per CPU)")
}

// args are the flags register defines, set to f's values, for another
// berth process (berth serve's reconciler); the catalog directory as
// catalogDir resolves it.
func (f *sourceFlags) args() []string {
	argv := []string{"--repo", f.repo, "--branch", f.branch, "--dir", f.catalogDir(), "--data-dir", f.dataDir,
		"--db", f.db, "--workers", strconv.Itoa(f.workers)}
	if f.allowMassDelete {
		argv = append(argv, "--allow-mass-delete")
	}
	return argv
}

// catalogDir picks the catalog directory: the flag, else the root when it
// holds blueprints/, else catalog-example/ (so `berth serve` in berth's own
// repository serves the example).
func (f *sourceFlags) catalogDir() string {
	if f.dir != "" {
		return f.dir
	}
	if st, err := os.Stat(filepath.Join(f.repo, "blueprints")); err == nil && st.IsDir() {
		return ""
	}
	if st, err := os.Stat(filepath.Join(f.repo, "catalog-example")); err == nil && st.IsDir() {
		return "catalog-example"
	}
	return ""
}

// stack is an opened source, index and reconciler; close it in reverse.
type stack struct {
	repo *gitsource.Repo
	db   *index.DB
	rec  *reconcile.Reconciler
}

func (s *stack) Close() error {
	var first error
	if s.repo != nil {
		first = s.repo.Close()
	}
	if s.db != nil {
		if err := s.db.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// open opens the source, the index and a reconciler of one into the other;
// oneShot says the reconciler runs once (see reconcile.Options.OneShot).
func (a *app) open(ctx context.Context, f *sourceFlags, log *slog.Logger, oneShot bool) (*stack, error) {
	token := os.Getenv("BERTH_GIT_TOKEN")
	if token == "" {
		token = os.Getenv("GITHUB_TOKEN")
	}
	s := &stack{}
	var err error
	s.repo, err = gitsource.Open(ctx, gitsource.Options{URL: f.repo, Branch: f.branch, Dir: f.catalogDir(), DataDir: f.dataDir, Token: token})
	if err != nil {
		return nil, fmt.Errorf("open repository: %w", err)
	}
	s.db, err = index.Open(ctx, f.db)
	if err != nil {
		s.Close()
		return nil, err
	}
	v, err := schema.New()
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("compile schemas: %w", err)
	}
	opts := reconcile.Options{Workers: f.workers, AllowMassDelete: f.allowMassDelete, Log: log, OneShot: oneShot}
	if isTerminal(a.stderr) {
		start := time.Now()
		opts.Progress = func(st validate.Stage) {
			fmt.Fprintf(a.stderr, "\r\033[K%s (%s)", st, time.Since(start).Round(time.Millisecond))
		}
	}
	s.rec = reconcile.New(s.repo, s.db, v, opts)
	return s, nil
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}
