package checks

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/pkg/checks/githubtest"
	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/publish")

const (
	prHead   = "1111111111111111111111111111111111111111"
	forkHead = "2222222222222222222222222222222222222222"
	pushHead = "3333333333333333333333333333333333333333"
)

// publishGolden is what one Publish case is compared on.
type publishGolden struct {
	Requests    []githubtest.Request `json:"requests"`
	Result      Result               `json:"result"`
	Stdout      []string             `json:"stdout,omitempty"`
	StepSummary string               `json:"stepSummary,omitempty"`
}

func errorsReport(n int) Report {
	rep := Report{Title: fmt.Sprintf("%d errors", n), Conclusion: Failure, Summary: fmt.Sprintf("## berth\n\n%d errors in the catalog.\n", n)}
	for i := range n {
		rep.Annotations = append(rep.Annotations, Annotation{
			Path: fmt.Sprintf("catalog/entities/service/svc-%03d.yaml", i), StartLine: i%40 + 1, EndLine: i%40 + 1,
			StartColumn: 3, EndColumn: 3, Level: LevelFailure, Title: "entity-schema", Message: "tier: must be one of gold, silver",
		})
	}
	return rep
}

var clean = Report{Title: "Catalog valid", Conclusion: Success, Summary: "## berth\n\nNo problems found. Scorecards unchanged.\n"}

func TestPublish(t *testing.T) {
	longSummary := "## berth\n\n| entity | level |\n|---|---|\n" + strings.Repeat("| service:payments-ünïcode | Bronze → Silver ↑ |\n", 2000)
	tests := []struct {
		name    string
		event   string            // file under testdata/events
		env     map[string]string // overrides
		prefix  string            // API path prefix of the fake
		setup   func(*githubtest.Server)
		rep     Report
		comment bool
		wantErr bool
	}{
		{name: "CleanPR", event: "pull_request.json", rep: clean},
		{name: "ManyErrors", event: "pull_request.json", rep: errorsReport(120)},
		{name: "SummaryOverLimit", event: "pull_request.json", rep: Report{Title: "Scorecards changed", Conclusion: Neutral, Summary: longSummary, Text: "details"}},
		{
			name: "RerunUpdatesExisting", event: "pull_request.json", rep: errorsReport(3),
			setup: func(s *githubtest.Server) {
				s.AddCheckRun("acme", "catalog", prHead, "berth", "berth", 0)
				// The Actions job's own check run, also called berth: never adopted.
				s.AddCheckRun("acme", "catalog", prHead, "berth", "6f1c2a84-job", 0)
			},
		},
		{
			name: "RerunWithStaleAnnotations", event: "pull_request.json", rep: errorsReport(3),
			setup: func(s *githubtest.Server) { s.AddCheckRun("acme", "catalog", prHead, "berth", "berth", 3) },
		},
		{
			name: "StickyCommentEdited", event: "pull_request.json", rep: clean, comment: true,
			setup: func(s *githubtest.Server) {
				var bodies []string
				for i := range 150 {
					bodies = append(bodies, fmt.Sprintf("LGTM %d", i))
				}
				bodies[120] = Marker + "\nold report"
				s.AddComments("acme", "catalog", 7, bodies...)
			},
		},
		{name: "StickyCommentCreated", event: "pull_request.json", rep: clean, comment: true},
		{
			name: "StickyCommentUnchanged", event: "pull_request.json", rep: clean, comment: true,
			setup: func(s *githubtest.Server) {
				s.AddComments("acme", "catalog", 7, Marker+"\n"+clean.Summary)
			},
		},
		{
			name: "ForkDenied", event: "pull_request_fork.json", rep: errorsReport(2), comment: true,
			setup: func(s *githubtest.Server) {
				s.Fail(githubtest.CreateCheckRun, http.StatusForbidden, "Resource not accessible by integration", "")
				s.Fail(githubtest.CreateComment, http.StatusForbidden, "Resource not accessible by integration", "")
			},
		},
		{name: "Push", event: "push.json", env: map[string]string{"GITHUB_EVENT_NAME": "push", "GITHUB_SHA": pushHead}, rep: clean, comment: true},
		{
			name: "Enterprise", event: "pull_request.json", prefix: "/api/v3", rep: errorsReport(1),
			env: map[string]string{"GITHUB_SERVER_URL": "https://ghe.acme.test"},
		},
		{
			name: "RetriesServerErrors", event: "pull_request.json", rep: clean,
			setup: func(s *githubtest.Server) {
				s.Fail(githubtest.CreateCheckRun, http.StatusBadGateway, "Server Error", "")
				s.Fail(githubtest.UpdateCheckRun, http.StatusForbidden, "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.", "0")
			},
		},
		{
			name: "GivesUpAfterRetries", event: "pull_request.json", rep: clean, wantErr: true,
			setup: func(s *githubtest.Server) {
				for range 3 {
					s.Fail(githubtest.CreateCheckRun, http.StatusServiceUnavailable, "Service Unavailable", "")
				}
			},
		},
		{
			name: "RejectedIsAnError", event: "pull_request.json", rep: clean, wantErr: true,
			setup: func(s *githubtest.Server) {
				s.Fail(githubtest.CreateCheckRun, http.StatusUnprocessableEntity, "Invalid request.", "")
			},
		},
		{name: "NoToken", event: "pull_request.json", env: map[string]string{"GITHUB_TOKEN": ""}, rep: errorsReport(1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := githubtest.New(t, tt.prefix)
			if tt.setup != nil {
				tt.setup(srv)
			}
			summary := filepath.Join(t.TempDir(), "step_summary.md")
			vars := map[string]string{
				"GITHUB_REPOSITORY":   "acme/catalog",
				"GITHUB_EVENT_NAME":   "pull_request",
				"GITHUB_EVENT_PATH":   filepath.Join("testdata", "events", tt.event),
				"GITHUB_SHA":          "ffffffffffffffffffffffffffffffffffffffff",
				"GITHUB_API_URL":      srv.URL,
				"GITHUB_TOKEN":        "ghs_test",
				"GITHUB_STEP_SUMMARY": summary,
			}
			for k, v := range tt.env {
				vars[k] = v
			}
			env, err := FromEnv(func(k string) string { return vars[k] })
			if err != nil {
				t.Fatal(err)
			}
			var stdout, log bytes.Buffer
			res, err := Publish(context.Background(), env, tt.rep, Options{
				Comment:   tt.comment,
				Stdout:    &stdout,
				Logger:    slog.New(slog.NewTextHandler(&log, nil)),
				RetryWait: time.Millisecond,
			})
			if (err != nil) != tt.wantErr {
				t.Fatalf("Publish error = %v, want error: %v", err, tt.wantErr)
			}
			got := publishGolden{Requests: srv.Requests(), Result: res}
			if s := stdout.String(); s != "" {
				got.Stdout = strings.Split(strings.TrimSuffix(s, "\n"), "\n")
			}
			if b, err := os.ReadFile(summary); err == nil {
				got.StepSummary = fmt.Sprintf("%d bytes", len(b))
			}
			if res.Fallback && !strings.Contains(log.String(), "cannot publish to GitHub") {
				t.Errorf("fallback not logged; log:\n%s", log.String())
			}
			checkGolden(t, filepath.Join("testdata", "publish", tt.name+".json"), got)
		})
	}
}

// checkGolden compares got, as indented JSON, with the golden file, or
// rewrites the file under -update.
func checkGolden(tb testing.TB, path string, got any) {
	tb.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(got); err != nil {
		tb.Fatal(err)
	}
	b := buf.Bytes()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			tb.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("%v (run go test -update)", err)
	}
	if diff := cmp.Diff(string(want), string(b)); diff != "" {
		tb.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}
