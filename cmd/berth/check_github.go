package main

import (
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/berth-dev/berth/pkg/catalog"
	"github.com/berth-dev/berth/pkg/checks"
	"github.com/berth-dev/berth/pkg/review"
)

// publish reports a check to GitHub: the check run on env.SHA with the
// Markdown report and annotations, the job summary, and the sticky comment.
func (a *app) publish(ctx context.Context, env checks.Env, dir string, res *checked, failed, comment bool) error {
	rep := res.report
	link := func(file string, line int) string { return env.FileURL(repoFile(dir, file), line) }
	out := checks.Report{
		Name:        checks.DefaultName,
		Title:       rep.Title(),
		Summary:     rep.Markdown(review.MarkdownOptions{Link: link}),
		Annotations: annotations(dir, res),
	}
	switch {
	case failed:
		out.Conclusion = checks.Failure
	case rep.Errors > 0 || rep.GuardFailed() || rep.GatesFailed(review.ModeBlock)+rep.GatesFailed(review.ModeWarn) > 0:
		out.Conclusion = checks.Neutral // findings that --fail-on lets through
	default:
		out.Conclusion = checks.Success
	}
	if env.OnDefaultBranch() && res.head.Scores != nil {
		out.Text = review.Scoreboard(res.head.Catalog, res.head.Scores)
	}
	r, err := checks.Publish(ctx, env, out, checks.Options{Comment: comment, Stdout: a.stdout, Logger: a.log})
	if err != nil {
		return fmt.Errorf("publish to GitHub: %w", err)
	}
	if r.Fallback {
		a.log.Warn("check: reported through the job summary and workflow annotations instead", "reason", r.FallbackReason)
	}
	return nil
}

// annotations places a check's findings in the repository: every
// diagnostic (the permission guard's refusals among them, as failures at
// the changed lines), the failed gates at berth.yaml, and, when the guard
// refused nothing, each permission change as a notice with the verdict.
func annotations(dir string, res *checked) []checks.Annotation {
	rep := res.report
	out := checks.FromDiagnostics(dir, rep.Diagnostics)
	cfgFile := catalog.ConfigFile
	if c := res.head.Catalog.Config; c != nil && c.Doc != nil {
		cfgFile = c.Doc.File
	}
	for _, g := range rep.Gates {
		if g.Passed {
			continue
		}
		level := checks.LevelFailure
		if g.Mode == review.ModeWarn {
			level = checks.LevelWarning
		}
		line := max(g.Position.Line, 1)
		out = append(out, checks.Annotation{
			Path: repoFile(dir, cfgFile), StartLine: line, EndLine: line, Level: level,
			Title: "berth gate " + g.Mode, Message: fmt.Sprintf("%s: %s", g.Description, gateMessage(g)),
		})
	}
	if rep.GuardFailed() {
		return out // the refusals are diagnostics
	}
	verdict := "ask the owners to review"
	switch g := rep.Guard; {
	case g == nil:
	case !g.Judged:
		verdict = "not judged: " + g.Reason
	default:
		verdict = "allowed: " + g.Reason
	}
	for _, p := range rep.Permissions {
		line := max(p.Line, 1)
		out = append(out, checks.Annotation{
			Path: repoFile(dir, p.File), StartLine: line, EndLine: line, StartColumn: p.Col, EndColumn: p.Col,
			Level: checks.LevelNotice, Title: "berth permissions", Message: p.Describe() + "; " + verdict,
		})
	}
	return out
}

// gateMessage names the entities failing a gate, a few of them.
func gateMessage(g review.GateResult) string {
	if g.Error != "" {
		return g.Error
	}
	names := make([]string, 0, 10)
	for _, f := range g.Failures[:min(10, len(g.Failures))] {
		if f.From != "" {
			names = append(names, fmt.Sprintf("%s %s→%s", f.Entity, f.From, f.Level))
		} else {
			names = append(names, fmt.Sprintf("%s at %s", f.Entity, f.Level))
		}
	}
	s := strings.Join(names, ", ")
	if n := len(g.Failures) - len(names); n > 0 {
		s += fmt.Sprintf(" and %d more", n)
	}
	return s
}

// repoFile turns a catalog-relative path into a repository-relative one.
func repoFile(dir, file string) string {
	p := path.Join(dir, file)
	return strings.TrimPrefix(p, "./")
}
