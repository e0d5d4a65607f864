package checks

import (
	"context"
	"strings"

	"github.com/google/go-github/v60/github"
)

// Marker is the hidden line that identifies berth's sticky comment.
const Marker = "<!-- berth:report -->"

// comment creates the sticky comment or edits the one already there.
func (p *publisher) comment(ctx context.Context) error {
	body := p.rep.Summary
	if p.rep.Text != "" {
		body += "\n\n" + p.rep.Text
	}
	body, cut := Truncate(body, MaxOutput-len(Marker)-1)
	p.res.Truncated = p.res.Truncated || cut
	body = Marker + "\n" + body

	old, err := p.findComment(ctx)
	if err != nil {
		return err
	}
	owner, repo := p.env.Owner, p.env.Repo
	if old != nil {
		p.res.CommentID, p.res.CommentURL, p.res.CommentEdited = old.GetID(), old.GetHTMLURL(), true
		if old.GetBody() == body {
			return nil // editing would only bump "edited"
		}
		_, _, err := call(ctx, p.opts, "edit comment", func() (*github.IssueComment, *github.Response, error) {
			return p.gh.Issues.EditComment(ctx, owner, repo, old.GetID(), &github.IssueComment{Body: &body})
		})
		return err
	}
	c, _, err := call(ctx, p.opts, "create comment", func() (*github.IssueComment, *github.Response, error) {
		return p.gh.Issues.CreateComment(ctx, owner, repo, p.env.PR, &github.IssueComment{Body: &body})
	})
	if err != nil {
		return err
	}
	p.res.CommentID, p.res.CommentURL = c.GetID(), c.GetHTMLURL()
	return nil
}

// findComment pages through the pull request's comments for the first one
// carrying Marker.
func (p *publisher) findComment(ctx context.Context) (*github.IssueComment, error) {
	opts := &github.IssueListCommentsOptions{ListOptions: github.ListOptions{PerPage: 100}}
	for {
		cs, resp, err := call(ctx, p.opts, "list comments", func() ([]*github.IssueComment, *github.Response, error) {
			return p.gh.Issues.ListComments(ctx, p.env.Owner, p.env.Repo, p.env.PR, opts)
		})
		if err != nil {
			return nil, err
		}
		for _, c := range cs {
			if strings.Contains(c.GetBody(), Marker) {
				return c, nil
			}
		}
		if resp == nil || resp.NextPage == 0 {
			return nil, nil
		}
		opts.Page = resp.NextPage
	}
}
