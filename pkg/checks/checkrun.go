package checks

import (
	"context"

	"github.com/google/go-github/v60/github"
)

// checkRun creates or reuses the check run and completes it, sending the
// annotations in batches of MaxAnnotationsPerRequest.
func (p *publisher) checkRun(ctx context.Context) error {
	owner, repo, rep := p.env.Owner, p.env.Repo, p.rep
	summary, cutS := Truncate(rep.Summary, MaxOutput)
	text, cutT := Truncate(rep.Text, MaxOutput)
	p.res.Truncated = p.res.Truncated || cutS || cutT
	if summary == "" {
		summary = rep.Title
	}
	batches := batch(rep.Annotations, MaxAnnotationsPerRequest)
	output := func(i int) *github.CheckRunOutput {
		o := &github.CheckRunOutput{Title: &rep.Title, Summary: &summary}
		if text != "" {
			o.Text = &text
		}
		if i < len(batches) {
			o.Annotations = batches[i]
		}
		return o
	}

	run, err := p.findRun(ctx)
	if err != nil {
		return err
	}
	if run == nil {
		run, _, err = call(ctx, p.opts, "create check run", func() (*github.CheckRun, *github.Response, error) {
			return p.gh.Checks.CreateCheckRun(ctx, owner, repo, github.CreateCheckRunOptions{
				Name:       rep.Name,
				HeadSHA:    p.env.SHA,
				ExternalID: github.String(externalID),
				Status:     github.String("in_progress"),
			})
		})
		if err != nil {
			return err
		}
	} else {
		// The reused run is completed by the update below. It is not set
		// back to in_progress first: GitHub does not reliably reopen a
		// completed run, and a refusal would fail the whole publish.
		p.res.CheckRunReused = true
	}
	p.res.CheckRunID, p.res.CheckRunURL = run.GetID(), run.GetHTMLURL()

	for i := 0; i == 0 || i < len(batches); i++ {
		opts := github.UpdateCheckRunOptions{Name: rep.Name, Output: output(i)}
		if i == 0 {
			opts.Status = github.String("completed")
			opts.Conclusion = github.String(string(rep.Conclusion))
		}
		if _, _, err := call(ctx, p.opts, "update check run", func() (*github.CheckRun, *github.Response, error) {
			return p.gh.Checks.UpdateCheckRun(ctx, owner, repo, run.GetID(), opts)
		}); err != nil {
			return err
		}
	}
	return nil
}

// findRun returns the newest check run berth made with the report's name on
// the commit, if it carries no annotations yet. GitHub appends annotations
// on every update and never removes them, so a run that has some would show
// stale ones twice; then a new run is made, which GitHub shows in place of
// the old one (the newest run of a name wins).
func (p *publisher) findRun(ctx context.Context) (*github.CheckRun, error) {
	list, _, err := call(ctx, p.opts, "list check runs", func() (*github.ListCheckRunsResults, *github.Response, error) {
		return p.gh.Checks.ListCheckRunsForRef(ctx, p.env.Owner, p.env.Repo, p.env.SHA, &github.ListCheckRunsOptions{
			CheckName:   github.String(p.rep.Name),
			ListOptions: github.ListOptions{PerPage: 100},
		})
	})
	if err != nil {
		return nil, err
	}
	var best *github.CheckRun
	for _, r := range list.CheckRuns {
		if r.GetName() != p.rep.Name || r.GetExternalID() != externalID {
			continue
		}
		if best == nil || r.GetID() > best.GetID() {
			best = r
		}
	}
	if best != nil && best.GetOutput().GetAnnotationsCount() > 0 {
		return nil, nil
	}
	return best, nil
}

// batch converts annotations to go-github's shape, n per slice.
func batch(as []Annotation, n int) [][]*github.CheckRunAnnotation {
	var out [][]*github.CheckRunAnnotation
	for i, a := range as {
		if i%n == 0 {
			out = append(out, make([]*github.CheckRunAnnotation, 0, min(n, len(as)-i)))
		}
		out[len(out)-1] = append(out[len(out)-1], toGitHub(a))
	}
	return out
}

func toGitHub(a Annotation) *github.CheckRunAnnotation {
	start := max(a.StartLine, 1)
	end := max(a.EndLine, start)
	msg, _ := Truncate(a.Message, MaxOutput)
	out := &github.CheckRunAnnotation{
		Path:            github.String(a.Path),
		StartLine:       github.Int(start),
		EndLine:         github.Int(end),
		AnnotationLevel: github.String(string(orLevel(a.Level))),
		Message:         github.String(msg),
	}
	if a.Title != "" {
		out.Title = github.String(a.Title)
	}
	if start == end && a.StartColumn > 0 {
		out.StartColumn = github.Int(a.StartColumn)
		out.EndColumn = github.Int(max(a.EndColumn, a.StartColumn))
	}
	return out
}

func orLevel(l Level) Level {
	switch l {
	case LevelNotice, LevelWarning, LevelFailure:
		return l
	}
	return LevelNotice
}
