package checks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"
)

// MaxAnnotationsPerRequest is GitHub's limit of annotations in one create or
// update of a check run.
const MaxAnnotationsPerRequest = 50

// externalID marks check runs berth created, so that a re-run never adopts
// a run of the same name made by someone else, such as the Actions job's own
// check run when the job is called "berth".
const externalID = "berth"

// Options tune Publish.
type Options struct {
	// Comment asks for the sticky pull-request comment as well.
	Comment bool
	// Stdout receives workflow commands when Publish falls back; nil
	// discards them.
	Stdout io.Writer
	// Logger receives one line per thing published or fallen back on; nil
	// discards.
	Logger *slog.Logger
	// HTTPClient makes the API calls; nil means http.DefaultClient.
	HTTPClient *http.Client
	// RetryWait is the first backoff after a 5xx or secondary rate limit; it
	// doubles per attempt. Zero means one second.
	RetryWait time.Duration
	// MaxWait bounds a single wait, including a server's Retry-After; a
	// longer Retry-After gives up at once. Zero means 30 seconds.
	MaxWait time.Duration
}

// maxAttempts is how often one request is tried in all.
const maxAttempts = 3

// Result says what Publish did.
type Result struct {
	// CheckRunID and CheckRunURL identify the check run; zero and empty when
	// none was written.
	CheckRunID  int64
	CheckRunURL string
	// CheckRunReused reports that an existing run of the same name on the
	// same commit was updated instead of creating one.
	CheckRunReused bool
	// CommentID and CommentURL identify the sticky comment, when written.
	CommentID  int64
	CommentURL string
	// CommentEdited reports that an existing sticky comment was found (and
	// edited if its body changed).
	CommentEdited bool
	// Truncated reports that the summary, text or comment was cut to fit.
	Truncated bool
	// StepSummary reports that the report was appended to the job summary.
	StepSummary bool
	// Fallback reports that something could not be published for lack of
	// permission (or of a token) and the report went to the job summary and
	// workflow commands instead; FallbackReason says why.
	Fallback       bool
	FallbackReason string
}

// Publish reports rep for the commit and pull request described by env: a
// check run (created, or the existing one of the same name reused), the
// sticky comment when opts.Comment is set and env is a pull request, and the
// full report appended to the job summary when env.StepSummary is set.
//
// Missing permission (HTTP 403, "Resource not accessible by integration") or
// a missing token is not an error: Publish writes workflow commands for the
// annotations to opts.Stdout, logs why and sets Result.Fallback. It returns
// an error for anything else: a rejected request, a server that keeps
// failing after retries, a cancelled context, or an unwritable job summary.
func Publish(ctx context.Context, env Env, rep Report, opts Options) (Result, error) {
	if rep.Name == "" {
		rep.Name = DefaultName
	}
	if rep.Title == "" {
		rep.Title = rep.Name
	}
	if rep.Conclusion == "" {
		rep.Conclusion = Neutral
	}
	p := &publisher{env: env, rep: rep, opts: opts, log: opts.Logger}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if opts.Stdout == nil {
		p.opts.Stdout = io.Discard
	}
	return p.run(ctx)
}

type publisher struct {
	env  Env
	rep  Report
	opts Options
	log  *slog.Logger
	gh   *github.Client
	res  Result
	// lostAnnotations: the check run could not be written.
	lostAnnotations bool
}

func (p *publisher) run(ctx context.Context) (Result, error) {
	if p.env.StepSummary != "" {
		if err := appendStepSummary(p.env.StepSummary, p.rep); err != nil {
			return p.res, err
		}
		p.res.StepSummary = true
	}
	if p.env.Token == "" {
		p.deny("no GITHUB_TOKEN", true)
		p.fallback()
		return p.res, nil
	}
	gh, err := newClient(p.env, p.opts.HTTPClient)
	if err != nil {
		return p.res, err
	}
	p.gh = gh

	if err := p.checkRun(ctx); err != nil {
		if !isPermission(err) {
			return p.res, err
		}
		p.deny("check run: "+permissionMessage(err), true)
	} else {
		p.log.Info("check run published", "name", p.rep.Name, "conclusion", p.rep.Conclusion,
			"annotations", len(p.rep.Annotations), "url", p.res.CheckRunURL, "reused", p.res.CheckRunReused)
	}
	if p.opts.Comment && p.env.PR > 0 {
		if err := p.comment(ctx); err != nil {
			if !isPermission(err) {
				return p.res, err
			}
			p.deny("comment: "+permissionMessage(err), false)
		} else {
			p.log.Info("comment published", "pr", p.env.PR, "url", p.res.CommentURL, "edited", p.res.CommentEdited)
		}
	}
	p.fallback()
	return p.res, nil
}

// deny records that something could not be published for lack of
// permission; annotations says the check run with the annotations was lost.
func (p *publisher) deny(reason string, annotations bool) {
	p.res.Fallback = true
	if p.res.FallbackReason != "" {
		reason = p.res.FallbackReason + "; " + reason
	}
	p.res.FallbackReason = reason
	p.lostAnnotations = p.lostAnnotations || annotations
}

// fallback says what could not be published, in the log and the job, and
// prints the annotations as workflow commands when the check run is lost.
func (p *publisher) fallback() {
	if !p.res.Fallback {
		return
	}
	where := "workflow annotations"
	if p.res.StepSummary {
		where = "the job summary and " + where
	}
	p.log.Warn("cannot publish to GitHub; the report goes to "+where+" instead", "reason", p.res.FallbackReason)
	w := p.opts.Stdout
	if p.lostAnnotations {
		if !p.res.StepSummary {
			// No job summary to hold the report: print it to the log.
			fmt.Fprintf(w, "%s\n\n%s\n", p.rep.Summary, p.rep.Text)
		}
		WriteCommands(w, p.rep.Annotations)
	}
	fmt.Fprintf(w, "::notice title=%s::%s\n", escapeProperty(p.rep.Name),
		escapeData("berth could not publish its check to GitHub ("+p.res.FallbackReason+"); the report is in "+where+"."))
}

// newClient points go-github at env.APIURL as given: Actions sets it to the
// API root on github.com and on Enterprise Server (…/api/v3) alike.
func newClient(env Env, hc *http.Client) (*github.Client, error) {
	gh := github.NewClient(hc).WithAuthToken(env.Token)
	api := strings.TrimSuffix(env.APIURL, "/")
	if api == "" || api == DefaultAPIURL {
		return gh, nil
	}
	u, err := url.Parse(api + "/")
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("GITHUB_API_URL %q is not a URL", env.APIURL)
	}
	gh.BaseURL = u
	return gh, nil
}

// isPermission reports whether err means the token may not do what was
// asked, as opposed to a rate limit, which GitHub also answers with 403.
func isPermission(err error) bool {
	var rl *github.RateLimitError
	var ab *github.AbuseRateLimitError
	if errors.As(err, &rl) || errors.As(err, &ab) {
		return false
	}
	var er *github.ErrorResponse
	if !errors.As(err, &er) {
		return false
	}
	return (er.Response != nil && er.Response.StatusCode == http.StatusForbidden) ||
		strings.Contains(er.Message, "Resource not accessible by integration")
}

func permissionMessage(err error) string {
	var er *github.ErrorResponse
	if errors.As(err, &er) && er.Message != "" {
		return er.Message
	}
	return err.Error()
}

// call runs one API request, retrying server errors and secondary rate
// limits with a doubling backoff bounded by opts.MaxWait.
func call[T any](ctx context.Context, opts Options, op string, f func() (T, *github.Response, error)) (T, *github.Response, error) {
	wait := opts.RetryWait
	if wait <= 0 {
		wait = time.Second
	}
	maxWait := opts.MaxWait
	if maxWait <= 0 {
		maxWait = 30 * time.Second
	}
	for attempt := 1; ; attempt++ {
		v, resp, err := f()
		if err == nil {
			return v, resp, nil
		}
		d, retry := retryable(err, wait)
		if !retry || attempt == maxAttempts || d > maxWait {
			return v, resp, fmt.Errorf("%s: %w", op, err)
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return v, resp, fmt.Errorf("%s: %w", op, ctx.Err())
		case <-t.C:
		}
		wait *= 2
	}
}

// retryable says whether err is worth another try and after how long.
func retryable(err error, wait time.Duration) (time.Duration, bool) {
	var ab *github.AbuseRateLimitError
	if errors.As(err, &ab) {
		if ab.RetryAfter != nil {
			return max(*ab.RetryAfter, wait), true
		}
		return wait, true
	}
	var er *github.ErrorResponse
	if errors.As(err, &er) && er.Response != nil && er.Response.StatusCode >= 500 {
		return wait, true
	}
	return 0, false
}
