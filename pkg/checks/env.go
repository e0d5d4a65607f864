package checks

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
)

// Env is what a GitHub Actions job tells berth about where it runs.
type Env struct {
	// Owner and Repo name the repository (GITHUB_REPOSITORY).
	Owner, Repo string
	// EventName is GITHUB_EVENT_NAME: pull_request, push, ...
	EventName string
	// SHA is the commit the check run is posted on: the pull request's head
	// (not GITHUB_SHA, which is a merge commit there) or the pushed commit.
	SHA string

	// PR is the pull request's number; 0 for other events.
	PR int
	// Author is the GitHub login of the pull request's author
	// (pull_request.user.login); empty for other events.
	Author string
	// BaseSHA and BaseRef are the pull request's base.
	BaseSHA, BaseRef string
	// HeadRef is the pull request's head branch.
	HeadRef string
	// HeadRepo is the full name of the repository the head branch lives in;
	// empty when that repository was deleted.
	HeadRepo string
	// Fork reports whether the pull request comes from another repository,
	// whose token is read-only unless the repository allows otherwise.
	Fork bool

	// Before is the commit a push moved the ref from (all zeros for a new
	// branch); Ref is the pushed ref (refs/heads/main).
	Before, Ref string
	// DefaultBranch is the repository's default branch, from the event.
	DefaultBranch string

	// APIURL is the REST API root (GITHUB_API_URL): https://api.github.com,
	// or https://HOST/api/v3 on GitHub Enterprise Server.
	APIURL string
	// ServerURL is the web root (GITHUB_SERVER_URL), for links to files.
	ServerURL string
	// Token authenticates API calls (GITHUB_TOKEN); empty means no calls are
	// made and the report goes to the job summary only.
	Token string
	// StepSummary is the file the job summary is appended to
	// (GITHUB_STEP_SUMMARY); empty outside Actions.
	StepSummary string
}

// Default API and web roots, used when the environment names none.
const (
	DefaultAPIURL    = "https://api.github.com"
	DefaultServerURL = "https://github.com"
)

var (
	// ErrNoRepository is returned by FromEnv when GITHUB_REPOSITORY is unset
	// or not of the form owner/name.
	ErrNoRepository = errors.New("GITHUB_REPOSITORY is not owner/name")
	// ErrNoSHA is returned by FromEnv when no commit can be found to post
	// the check run on.
	ErrNoSHA = errors.New("no commit SHA in the event or GITHUB_SHA")
)

// event holds the parts of pull_request and push payloads berth reads.
type event struct {
	PullRequest *struct {
		Number int `json:"number"`
		User   *struct {
			Login string `json:"login"`
		} `json:"user"`
		Head struct {
			SHA  string `json:"sha"`
			Ref  string `json:"ref"`
			Repo *struct {
				FullName string `json:"full_name"`
			} `json:"repo"`
		} `json:"head"`
		Base struct {
			SHA  string `json:"sha"`
			Ref  string `json:"ref"`
			Repo *struct {
				FullName string `json:"full_name"`
			} `json:"repo"`
		} `json:"base"`
	} `json:"pull_request"`
	Before     string `json:"before"`
	After      string `json:"after"`
	Ref        string `json:"ref"`
	Repository *struct {
		FullName      string `json:"full_name"`
		DefaultBranch string `json:"default_branch"`
	} `json:"repository"`
}

// FromEnv reads the Actions environment through getenv (os.Getenv in
// production) and the event payload at GITHUB_EVENT_PATH. It fails when the
// repository or the commit cannot be determined, or when the event file
// exists but cannot be read or parsed; a missing token is not an error.
func FromEnv(getenv func(string) string) (Env, error) {
	env := Env{
		EventName:   getenv("GITHUB_EVENT_NAME"),
		SHA:         getenv("GITHUB_SHA"),
		APIURL:      strings.TrimSuffix(getenv("GITHUB_API_URL"), "/"),
		ServerURL:   strings.TrimSuffix(getenv("GITHUB_SERVER_URL"), "/"),
		Token:       getenv("GITHUB_TOKEN"),
		StepSummary: getenv("GITHUB_STEP_SUMMARY"),
	}
	if env.APIURL == "" {
		env.APIURL = DefaultAPIURL
	}
	if env.ServerURL == "" {
		env.ServerURL = DefaultServerURL
	}
	full := getenv("GITHUB_REPOSITORY")
	owner, repo, ok := strings.Cut(full, "/")
	if !ok || owner == "" || repo == "" || strings.Contains(repo, "/") {
		return Env{}, fmt.Errorf("%w: %q", ErrNoRepository, full)
	}
	env.Owner, env.Repo = owner, repo

	if p := getenv("GITHUB_EVENT_PATH"); p != "" {
		b, err := os.ReadFile(p)
		if err != nil {
			return Env{}, fmt.Errorf("read event: %w", err)
		}
		var ev event
		if err := json.Unmarshal(b, &ev); err != nil {
			return Env{}, fmt.Errorf("parse event %s: %w", p, err)
		}
		env.apply(ev, full)
	}
	if env.SHA == "" {
		return Env{}, ErrNoSHA
	}
	return env, nil
}

func (env *Env) apply(ev event, full string) {
	if ev.Repository != nil {
		env.DefaultBranch = ev.Repository.DefaultBranch
	}
	if pr := ev.PullRequest; pr != nil {
		env.PR = pr.Number
		if pr.User != nil {
			env.Author = pr.User.Login
		}
		env.BaseSHA, env.BaseRef = pr.Base.SHA, pr.Base.Ref
		env.HeadRef = pr.Head.Ref
		if pr.Head.SHA != "" {
			env.SHA = pr.Head.SHA
		}
		base := full
		if pr.Base.Repo != nil && pr.Base.Repo.FullName != "" {
			base = pr.Base.Repo.FullName
		}
		if pr.Head.Repo != nil {
			env.HeadRepo = pr.Head.Repo.FullName
		}
		env.Fork = !strings.EqualFold(env.HeadRepo, base)
		return
	}
	env.Before, env.Ref = ev.Before, ev.Ref
	if ev.After != "" && !isZeroSHA(ev.After) {
		env.SHA = ev.After
	}
}

// isZeroSHA reports whether sha is the all-zero object name GitHub sends for
// a created or deleted ref.
func isZeroSHA(sha string) bool { return strings.Trim(sha, "0") == "" }

// FullName returns owner/repo.
func (env Env) FullName() string { return env.Owner + "/" + env.Repo }

// OnDefaultBranch reports whether the event is a push to the default branch.
func (env Env) OnDefaultBranch() bool {
	return env.PR == 0 && env.DefaultBranch != "" && env.Ref == "refs/heads/"+env.DefaultBranch
}

// FileURL links to a line of a repository file at the checked commit:
// https://github.com/o/r/blob/<sha>/<path>#L<line>. path is relative to the
// repository root; a line below 1 links to the whole file.
func (env Env) FileURL(path string, line int) string {
	segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	u := env.ServerURL
	if u == "" {
		u = DefaultServerURL
	}
	u += "/" + env.Owner + "/" + env.Repo + "/blob/" + env.SHA + "/" + strings.Join(segs, "/")
	if line > 0 {
		u += "#L" + strconv.Itoa(line)
	}
	return u
}
