package checks

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestFromEnv(t *testing.T) {
	event := func(name string) string { return filepath.Join("testdata", "events", name) }
	base := map[string]string{
		"GITHUB_REPOSITORY": "acme/catalog",
		"GITHUB_SHA":        "ffffffffffffffffffffffffffffffffffffffff", // merge commit on PRs
		"GITHUB_TOKEN":      "t0ken",
	}
	tests := []struct {
		name    string
		env     map[string]string
		want    Env
		wantErr error
	}{
		{
			name: "PullRequest",
			env:  map[string]string{"GITHUB_EVENT_NAME": "pull_request", "GITHUB_EVENT_PATH": event("pull_request.json")},
			want: Env{
				Owner: "acme", Repo: "catalog", EventName: "pull_request",
				SHA: "1111111111111111111111111111111111111111", PR: 7, Author: "jweber",
				BaseSHA: "0aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", BaseRef: "main", HeadRef: "add-payments",
				HeadRepo: "acme/catalog", DefaultBranch: "main",
				APIURL: DefaultAPIURL, ServerURL: DefaultServerURL, Token: "t0ken",
			},
		},
		{
			name: "ForkPullRequest",
			env:  map[string]string{"GITHUB_EVENT_NAME": "pull_request", "GITHUB_EVENT_PATH": event("pull_request_fork.json"), "GITHUB_TOKEN": ""},
			want: Env{
				Owner: "acme", Repo: "catalog", EventName: "pull_request",
				SHA: "2222222222222222222222222222222222222222", PR: 8, Author: "outsider",
				BaseSHA: "0aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", BaseRef: "main", HeadRef: "patch-1",
				HeadRepo: "outsider/catalog", Fork: true, DefaultBranch: "main",
				APIURL: DefaultAPIURL, ServerURL: DefaultServerURL,
			},
		},
		{
			name: "PushEnterprise",
			env: map[string]string{
				"GITHUB_EVENT_NAME": "push", "GITHUB_EVENT_PATH": event("push.json"),
				"GITHUB_SHA":          "3333333333333333333333333333333333333333",
				"GITHUB_API_URL":      "https://ghe.acme.test/api/v3/",
				"GITHUB_SERVER_URL":   "https://ghe.acme.test",
				"GITHUB_STEP_SUMMARY": "/tmp/summary.md",
			},
			want: Env{
				Owner: "acme", Repo: "catalog", EventName: "push",
				SHA:    "3333333333333333333333333333333333333333",
				Before: "0aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", Ref: "refs/heads/main", DefaultBranch: "main",
				APIURL: "https://ghe.acme.test/api/v3", ServerURL: "https://ghe.acme.test", Token: "t0ken",
				StepSummary: "/tmp/summary.md",
			},
		},
		{
			name: "PushNewBranch",
			env:  map[string]string{"GITHUB_EVENT_NAME": "push", "GITHUB_EVENT_PATH": event("push_new_branch.json")},
			want: Env{
				Owner: "acme", Repo: "catalog", EventName: "push",
				SHA:    "4444444444444444444444444444444444444444",
				Before: "0000000000000000000000000000000000000000", Ref: "refs/heads/feature", DefaultBranch: "main",
				APIURL: DefaultAPIURL, ServerURL: DefaultServerURL, Token: "t0ken",
			},
		},
		{
			name: "NoEventFile",
			env:  map[string]string{"GITHUB_EVENT_NAME": "workflow_dispatch"},
			want: Env{
				Owner: "acme", Repo: "catalog", EventName: "workflow_dispatch",
				SHA:    "ffffffffffffffffffffffffffffffffffffffff",
				APIURL: DefaultAPIURL, ServerURL: DefaultServerURL, Token: "t0ken",
			},
		},
		{name: "NoRepository", env: map[string]string{"GITHUB_REPOSITORY": ""}, wantErr: ErrNoRepository},
		{name: "BadRepository", env: map[string]string{"GITHUB_REPOSITORY": "acme/catalog/x"}, wantErr: ErrNoRepository},
		{name: "NoSHA", env: map[string]string{"GITHUB_SHA": ""}, wantErr: ErrNoSHA},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			getenv := func(k string) string {
				if v, ok := tt.env[k]; ok {
					return v
				}
				return base[k]
			}
			got, err := FromEnv(getenv)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("FromEnv error = %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("FromEnv mismatch (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("BadEvent", func(t *testing.T) {
		_, err := FromEnv(func(k string) string {
			if k == "GITHUB_EVENT_PATH" {
				return filepath.Join("testdata", "events", "missing.json")
			}
			return base[k]
		})
		if err == nil {
			t.Fatal("FromEnv with a missing event file: no error")
		}
	})
}

func TestEnv_FileURL(t *testing.T) {
	env := Env{Owner: "acme", Repo: "catalog", SHA: "abc", ServerURL: "https://ghe.acme.test"}
	tests := []struct {
		path string
		line int
		want string
	}{
		{"catalog/entities/service/payments.yaml", 12, "https://ghe.acme.test/acme/catalog/blob/abc/catalog/entities/service/payments.yaml#L12"},
		{"berth.yaml", 0, "https://ghe.acme.test/acme/catalog/blob/abc/berth.yaml"},
		{"docs/a b#c.md", 3, "https://ghe.acme.test/acme/catalog/blob/abc/docs/a%20b%23c.md#L3"},
	}
	for _, tt := range tests {
		if got := env.FileURL(tt.path, tt.line); got != tt.want {
			t.Errorf("FileURL(%q, %d) = %q, want %q", tt.path, tt.line, got, tt.want)
		}
	}
}

func TestEnv_OnDefaultBranch(t *testing.T) {
	push := Env{Ref: "refs/heads/main", DefaultBranch: "main"}
	if !push.OnDefaultBranch() {
		t.Error("push to main: OnDefaultBranch = false")
	}
	pr := Env{PR: 3, Ref: "refs/heads/main", DefaultBranch: "main"}
	if pr.OnDefaultBranch() {
		t.Error("pull request: OnDefaultBranch = true")
	}
}
