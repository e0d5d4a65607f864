// Package githubtest is a fake GitHub REST API for tests: an httptest server
// answering the check-runs and issue-comments endpoints berth uses in the
// shapes GitHub documents, recording every request so that tests can compare
// them with golden files. The real go-github client talks to it.
package githubtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Route names an endpoint, as a net/http pattern, for Fail.
const (
	ListCheckRuns  = "GET /repos/{owner}/{repo}/commits/{ref}/check-runs"
	CreateCheckRun = "POST /repos/{owner}/{repo}/check-runs"
	UpdateCheckRun = "PATCH /repos/{owner}/{repo}/check-runs/{id}"
	ListComments   = "GET /repos/{owner}/{repo}/issues/{number}/comments"
	CreateComment  = "POST /repos/{owner}/{repo}/issues/{number}/comments"
	EditComment    = "PATCH /repos/{owner}/{repo}/issues/comments/{id}"
)

// Stamp is the time every object claims to be created or updated at.
const Stamp = "2024-05-01T12:00:00Z"

// Request is one recorded API call. Body is the decoded JSON body, with
// strings longer than LongString replaced by a short description.
type Request struct {
	Method string `json:"method"`
	Path   string `json:"path"`
	Body   any    `json:"body,omitempty"`
}

// LongString is the length above which a recorded string is abbreviated.
const LongString = 600

// Server is the fake. Its zero value is not usable; call New.
type Server struct {
	// URL is the API root to hand to the client (GITHUB_API_URL).
	URL string

	srv      *httptest.Server
	prefix   string
	mu       sync.Mutex
	requests []Request
	runs     []map[string]any
	comments map[string][]map[string]any // by "owner/repo#number"
	fails    map[string][]failure
	nextID   int64
}

type failure struct {
	status     int
	message    string
	retryAfter string
}

// New starts a fake serving the API under prefix ("" as on github.com,
// "/api/v3" as on Enterprise Server) and closes it when the test ends.
func New(tb testing.TB, prefix string) *Server {
	tb.Helper()
	s := &Server{prefix: prefix, comments: map[string][]map[string]any{}, fails: map[string][]failure{}, nextID: 1000}
	mux := http.NewServeMux()
	for route, h := range map[string]func(http.ResponseWriter, *http.Request) (int, any){
		ListCheckRuns:  s.listRuns,
		CreateCheckRun: s.createRun,
		UpdateCheckRun: s.updateRun,
		ListComments:   s.listComments,
		CreateComment:  s.createComment,
		EditComment:    s.editComment,
	} {
		mux.HandleFunc(route, s.handle(route, h))
	}
	s.srv = httptest.NewServer(s.record(http.StripPrefix(prefix, mux)))
	s.URL = s.srv.URL + prefix
	tb.Cleanup(s.srv.Close)
	return s
}

// Close stops the server; New already arranges it at the end of the test.
func (s *Server) Close() { s.srv.Close() }

// Requests returns the calls recorded so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Fail makes the next call of route answer status with GitHub's error body
// carrying message. Calls queue: Fail twice to fail twice. A 403 whose
// message mentions a secondary rate limit is answered as GitHub does, with
// the documentation URL and a Retry-After of retryAfter seconds if not
// empty.
func (s *Server) Fail(route string, status int, message, retryAfter string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fails[route] = append(s.fails[route], failure{status, message, retryAfter})
}

// AddCheckRun stores a check run as if made earlier, with the given
// external ID and number of annotations, and returns its ID.
func (s *Server) AddCheckRun(owner, repo, sha, name, externalID string, annotations int) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	run := s.newRun(owner, repo, map[string]any{"name": name, "head_sha": sha, "external_id": externalID, "status": "completed", "conclusion": "success"})
	run["output"].(map[string]any)["annotations_count"] = annotations
	return run["id"].(int64)
}

// AddComments stores comments on an issue or pull request and returns their
// IDs.
func (s *Server) AddComments(owner, repo string, number int, bodies ...string) []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []int64
	for _, b := range bodies {
		c := s.newComment(owner, repo, number, b)
		ids = append(ids, c["id"].(int64))
	}
	return ids
}

// Comment returns the body of the stored comment with the given ID.
func (s *Server) Comment(id int64) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, cs := range s.comments {
		for _, c := range cs {
			if c["id"] == id {
				return c["body"].(string), true
			}
		}
	}
	return "", false
}

// CheckRuns returns how many check runs are stored.
func (s *Server) CheckRuns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.runs)
}

func (s *Server) record(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(b))
		req := Request{Method: r.Method, Path: r.URL.RequestURI()}
		if len(b) > 0 {
			var v any
			if err := json.Unmarshal(b, &v); err != nil {
				v = "invalid JSON: " + err.Error()
			}
			req.Body = abbreviate(v)
		}
		s.mu.Lock()
		s.requests = append(s.requests, req)
		s.mu.Unlock()
		next.ServeHTTP(w, r)
	})
}

func abbreviate(v any) any {
	switch v := v.(type) {
	case string:
		if len(v) > LongString {
			return fmt.Sprintf("<%d bytes, ending> %s", len(v), v[len(v)-LongString/4:])
		}
	case map[string]any:
		for k, x := range v {
			v[k] = abbreviate(x)
		}
	case []any:
		for i, x := range v {
			v[i] = abbreviate(x)
		}
	}
	return v
}

func (s *Server) handle(route string, h func(http.ResponseWriter, *http.Request) (int, any)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
			writeJSON(w, http.StatusUnauthorized, apiError("Requires authentication", "https://docs.github.com/rest"))
			return
		}
		s.mu.Lock()
		var f *failure
		if q := s.fails[route]; len(q) > 0 {
			f, s.fails[route] = &q[0], q[1:]
		}
		s.mu.Unlock()
		if f != nil {
			doc := "https://docs.github.com/rest"
			if strings.Contains(f.message, "secondary rate limit") {
				doc = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"
				if f.retryAfter != "" {
					w.Header().Set("Retry-After", f.retryAfter)
				}
			}
			writeJSON(w, f.status, apiError(f.message, doc))
			return
		}
		status, body := h(w, r)
		writeJSON(w, status, body)
	}
}

func apiError(msg, doc string) map[string]any {
	return map[string]any{"message": msg, "documentation_url": doc}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func decode(r *http.Request) (map[string]any, error) {
	var m map[string]any
	err := json.NewDecoder(r.Body).Decode(&m)
	return m, err
}

func (s *Server) base(r *http.Request) string { return "http://" + r.Host + s.prefix }

func (s *Server) listRuns(w http.ResponseWriter, r *http.Request) (int, any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	owner, repo, ref, name := r.PathValue("owner"), r.PathValue("repo"), r.PathValue("ref"), r.URL.Query().Get("check_name")
	runs := []any{}
	for _, run := range s.runs {
		if run["repository"] == owner+"/"+repo && run["head_sha"] == ref && (name == "" || run["name"] == name) {
			runs = append(runs, public(run))
		}
	}
	return http.StatusOK, map[string]any{"total_count": len(runs), "check_runs": runs}
}

func (s *Server) createRun(w http.ResponseWriter, r *http.Request) (int, any) {
	in, err := decode(r)
	if err != nil || in["name"] == nil || in["head_sha"] == nil {
		return http.StatusUnprocessableEntity, apiError("Invalid request.", "https://docs.github.com/rest/checks/runs#create-a-check-run")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	run := s.newRun(r.PathValue("owner"), r.PathValue("repo"), in)
	if n := mergeOutput(run, in); n > 50 {
		return http.StatusUnprocessableEntity, apiError("Only 50 annotations are allowed per request.", "")
	}
	return http.StatusCreated, public(run)
}

func (s *Server) updateRun(w http.ResponseWriter, r *http.Request) (int, any) {
	in, err := decode(r)
	if err != nil {
		return http.StatusBadRequest, apiError("Problems parsing JSON", "")
	}
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, run := range s.runs {
		if run["id"] != id {
			continue
		}
		for _, k := range []string{"name", "status", "conclusion", "details_url", "external_id"} {
			if v, ok := in[k]; ok {
				run[k] = v
			}
		}
		if in["conclusion"] != nil {
			run["status"], run["completed_at"] = "completed", Stamp
		}
		if n := mergeOutput(run, in); n > 50 {
			return http.StatusUnprocessableEntity, apiError("Only 50 annotations are allowed per request.", "")
		}
		return http.StatusOK, public(run)
	}
	return http.StatusNotFound, apiError("Not Found", "https://docs.github.com/rest/checks/runs#update-a-check-run")
}

// mergeOutput applies a request's output to run as GitHub does: title,
// summary and text replace, annotations append. It returns the number of
// annotations in the request.
func mergeOutput(run, in map[string]any) int {
	o, ok := in["output"].(map[string]any)
	if !ok {
		return 0
	}
	out := run["output"].(map[string]any)
	for _, k := range []string{"title", "summary", "text"} {
		if v, ok := o[k]; ok {
			out[k] = v
		}
	}
	as, _ := o["annotations"].([]any)
	out["annotations_count"] = out["annotations_count"].(int) + len(as)
	return len(as)
}

// newRun stores a check run; the caller holds s.mu.
func (s *Server) newRun(owner, repo string, in map[string]any) map[string]any {
	s.nextID++
	id := s.nextID
	status, _ := in["status"].(string)
	if status == "" {
		status = "queued"
	}
	run := map[string]any{
		"id":           id,
		"node_id":      fmt.Sprintf("CR_%d", id),
		"head_sha":     in["head_sha"],
		"external_id":  in["external_id"],
		"name":         in["name"],
		"status":       status,
		"conclusion":   in["conclusion"],
		"started_at":   Stamp,
		"completed_at": nil,
		"url":          fmt.Sprintf("https://api.github.com/repos/%s/%s/check-runs/%d", owner, repo, id),
		"html_url":     fmt.Sprintf("https://github.com/%s/%s/runs/%d", owner, repo, id),
		"details_url":  fmt.Sprintf("https://github.com/%s/%s/runs/%d", owner, repo, id),
		"output": map[string]any{
			"title": nil, "summary": nil, "text": nil, "annotations_count": 0,
			"annotations_url": fmt.Sprintf("https://api.github.com/repos/%s/%s/check-runs/%d/annotations", owner, repo, id),
		},
		"check_suite":   map[string]any{"id": 5000},
		"app":           map[string]any{"id": 15368, "slug": "github-actions", "name": "GitHub Actions"},
		"pull_requests": []any{},
		"repository":    owner + "/" + repo, // private: stripped by public
	}
	s.runs = append(s.runs, run)
	return run
}

// public returns a copy of a stored object without private bookkeeping.
func public(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if k != "repository" && k != "issue" {
			out[k] = v
		}
	}
	return out
}

func (s *Server) listComments(w http.ResponseWriter, r *http.Request) (int, any) {
	q := r.URL.Query()
	page, _ := strconv.Atoi(q.Get("page"))
	page = max(page, 1)
	per, _ := strconv.Atoi(q.Get("per_page"))
	if per <= 0 {
		per = 30
	}
	per = min(per, 100)
	s.mu.Lock()
	defer s.mu.Unlock()
	all := s.comments[issueKey(r)]
	last := max((len(all)+per-1)/per, 1)
	out := []any{}
	for i := (page - 1) * per; i < min(page*per, len(all)); i++ {
		out = append(out, public(all[i]))
	}
	link := func(p int, rel string) string {
		u := url.URL{Path: s.prefix + r.URL.Path, RawQuery: url.Values{"page": {strconv.Itoa(p)}, "per_page": {strconv.Itoa(per)}}.Encode()}
		return fmt.Sprintf("<http://%s%s>; rel=%q", r.Host, u.RequestURI(), rel)
	}
	var links []string
	if page < last {
		links = append(links, link(page+1, "next"), link(last, "last"))
	}
	if page > 1 {
		links = append(links, link(1, "first"), link(page-1, "prev"))
	}
	if len(links) > 0 {
		w.Header().Set("Link", strings.Join(links, ", "))
	}
	return http.StatusOK, out
}

func issueKey(r *http.Request) string {
	return r.PathValue("owner") + "/" + r.PathValue("repo") + "#" + r.PathValue("number")
}

func (s *Server) createComment(w http.ResponseWriter, r *http.Request) (int, any) {
	in, err := decode(r)
	body, ok := in["body"].(string)
	if err != nil || !ok || body == "" {
		return http.StatusUnprocessableEntity, apiError("Validation Failed", "https://docs.github.com/rest/issues/comments#create-an-issue-comment")
	}
	n, _ := strconv.Atoi(r.PathValue("number"))
	s.mu.Lock()
	defer s.mu.Unlock()
	return http.StatusCreated, public(s.newComment(r.PathValue("owner"), r.PathValue("repo"), n, body))
}

func (s *Server) editComment(w http.ResponseWriter, r *http.Request) (int, any) {
	in, err := decode(r)
	body, ok := in["body"].(string)
	if err != nil || !ok {
		return http.StatusUnprocessableEntity, apiError("Validation Failed", "")
	}
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, cs := range s.comments {
		for _, c := range cs {
			if c["id"] == id {
				c["body"], c["updated_at"] = body, Stamp
				return http.StatusOK, public(c)
			}
		}
	}
	return http.StatusNotFound, apiError("Not Found", "https://docs.github.com/rest/issues/comments#update-an-issue-comment")
}

// newComment stores a comment; the caller holds s.mu.
func (s *Server) newComment(owner, repo string, number int, body string) map[string]any {
	s.nextID++
	id := s.nextID
	key := fmt.Sprintf("%s/%s#%d", owner, repo, number)
	c := map[string]any{
		"id":                 id,
		"node_id":            fmt.Sprintf("IC_%d", id),
		"body":               body,
		"user":               map[string]any{"login": "github-actions[bot]", "id": 41898282, "type": "Bot"},
		"created_at":         Stamp,
		"updated_at":         Stamp,
		"author_association": "NONE",
		"url":                fmt.Sprintf("https://api.github.com/repos/%s/%s/issues/comments/%d", owner, repo, id),
		"html_url":           fmt.Sprintf("https://github.com/%s/%s/pull/%d#issuecomment-%d", owner, repo, number, id),
		"issue_url":          fmt.Sprintf("https://api.github.com/repos/%s/%s/issues/%d", owner, repo, number),
	}
	s.comments[key] = append(s.comments[key], c)
	return c
}
