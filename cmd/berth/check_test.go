package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/pkg/checks/githubtest"
	"github.com/berth-dev/berth/pkg/gitsource"
	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite golden files")

// fixtureRepo commits catalog-example under catalog/ as the base, then a
// head where payments-api gains a vulnerability (a blocking gate fails) and
// a dangling relation (an error). It returns the bare repository's path
// and the two commits.
func fixtureRepo(tb testing.TB) (repo, base, head string) {
	tb.Helper()
	return exampleRepo(tb, func(files map[string][]byte) map[string][]byte {
		const svc = "catalog/entities/service/payments-api.yaml"
		s := strings.Replace(string(files[svc]), "critical_vulnerabilities: 0", "critical_vulnerabilities: 3", 1)
		s = strings.Replace(s, "fraud-detection", "fraud-detektion", 1)
		return map[string][]byte{svc: []byte(s)}
	})
}

// guardRepo is fixtureRepo for the permission guard: the head makes the
// services page Admin-only (line 8 of pages/services.yaml) and jonas.weber
// an Admin (line 24 of entities/_user/users.yaml).
func guardRepo(tb testing.TB) (repo, base, head string) {
	tb.Helper()
	return exampleRepo(tb, func(files map[string][]byte) map[string][]byte {
		const page, users = "catalog/pages/services.yaml", "catalog/entities/_user/users.yaml"
		return map[string][]byte{
			page:  []byte(strings.Replace(string(files[page]), "roles: [Admin, Member]", "roles: [Admin]", 1)),
			users: []byte(strings.Replace(string(files[users]), "port_role: Member\n  github: jweber", "port_role: Admin\n  github: jweber", 1)),
		}
	})
}

// regressionRepo is fixtureRepo for a change that fails only a warn gate:
// payments-api's test coverage drops to 50, Gold→Bronze on
// production_readiness (the noRegression gate at line 13 of berth.yaml).
func regressionRepo(tb testing.TB) (repo, base, head string) {
	tb.Helper()
	return exampleRepo(tb, func(files map[string][]byte) map[string][]byte {
		const svc = "catalog/entities/service/payments-api.yaml"
		return map[string][]byte{svc: []byte(strings.Replace(string(files[svc]), "test_coverage: 91", "test_coverage: 50", 1))}
	})
}

// exampleRepo commits catalog-example under catalog/ as the base and the
// files change returns (given the base's) as the head.
func exampleRepo(tb testing.TB, change func(files map[string][]byte) map[string][]byte) (repo, base, head string) {
	tb.Helper()
	ctx := context.Background()
	repo = filepath.Join(tb.TempDir(), "repo.git")
	files := exampleFiles(tb, "catalog/")
	when := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	var err error
	if base, err = gitsource.CommitFiles(ctx, repo, "main", files, "base", "Editor <editor@acme.test>", when); err != nil {
		tb.Fatal(err)
	}
	head, err = gitsource.CommitFiles(ctx, repo, "main", change(files), "head", "Editor <editor@acme.test>", when.Add(time.Minute))
	if err != nil {
		tb.Fatal(err)
	}
	return repo, base, head
}

// exampleFiles reads catalog-example's files, keyed by their slash path
// under prefix.
func exampleFiles(tb testing.TB, prefix string) map[string][]byte {
	tb.Helper()
	files := map[string][]byte{}
	root := "../../catalog-example"
	err := fs.WalkDir(os.DirFS(root), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(filepath.Join(root, p))
		files[prefix+p] = b
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return files
}

// actionsEnv simulates a GitHub Actions job: the variables the runner sets
// and an event file.
func actionsEnv(t *testing.T, srv *githubtest.Server, name, sha string, event map[string]any) string {
	t.Helper()
	dir := t.TempDir()
	b, err := json.Marshal(event)
	if err != nil {
		t.Fatal(err)
	}
	ev := filepath.Join(dir, "event.json")
	if err := os.WriteFile(ev, b, 0o644); err != nil {
		t.Fatal(err)
	}
	summary := filepath.Join(dir, "summary.md")
	for k, v := range map[string]string{
		"GITHUB_REPOSITORY": "acme/catalog", "GITHUB_EVENT_NAME": name, "GITHUB_EVENT_PATH": ev,
		"GITHUB_SHA": sha, "GITHUB_API_URL": srv.URL, "GITHUB_SERVER_URL": "https://github.com",
		"GITHUB_TOKEN": "ghs_test", "GITHUB_STEP_SUMMARY": summary,
	} {
		t.Setenv(k, v)
	}
	return summary
}

// TestCheck_GitHub runs `berth check --github` against the fake GitHub for
// pull requests and for a push to the default branch, and compares the
// requests with golden files.
func TestCheck_GitHub(t *testing.T) {
	repo, base, head := fixtureRepo(t)
	guarded, gBase, gHead := guardRepo(t)
	warned, wBase, wHead := regressionRepo(t)
	repoJSON := map[string]any{"full_name": "acme/catalog", "default_branch": "main"}
	pr := func(author, base, head string) map[string]any {
		return map[string]any{"pull_request": map[string]any{
			"number": 7,
			"user":   map[string]any{"login": author},
			"head":   map[string]any{"sha": head, "ref": "change", "repo": repoJSON},
			"base":   map[string]any{"sha": base, "ref": "main", "repo": repoJSON},
		}, "repository": repoJSON}
	}
	for _, tc := range []struct {
		name     string
		repo     string
		event    string
		payload  map[string]any
		args     []string
		wantExit int
		want     []string // in the job summary
	}{
		{
			name:     "pull_request",
			event:    "pull_request",
			payload:  pr("editor", base, head),
			args:     []string{"--base", base, "--head", head, "--comment"},
			wantExit: exitFindings,
			want:     []string{"## ❌ berth: 1 error, Gold→Basic on 1 service, 1 gate failed", "catalog/entities/service/payments-api.yaml#L27"},
		},
		{
			name:     "push",
			event:    "push",
			payload:  map[string]any{"ref": "refs/heads/main", "before": base, "after": base, "repository": repoJSON},
			args:     []string{"--head", base},
			wantExit: exitFindings, // catalog-example has services below the security gate
			want:     []string{"Checked `" + base[:12] + "` alone", "### Scorecards", "| security_compliance | service | 11 |"},
		},
		{
			// A Member changes page permissions and makes himself an Admin:
			// failures at pages/services.yaml:8 and users.yaml:24.
			name:     "pull_request_guard",
			repo:     guarded,
			event:    "pull_request",
			payload:  pr("jweber", gBase, gHead),
			args:     []string{"--base", gBase, "--head", gHead},
			wantExit: exitFindings,
			want: []string{"## ❌ berth: 2 permission changes need an Admin", "### Permission changes",
				"catalog/pages/services.yaml#L8", "catalog/entities/_user/users.yaml#L24"},
		},
		{
			name:    "pull_request_guard_admin",
			repo:    guarded,
			event:   "pull_request",
			payload: pr("mchen", gBase, gHead),
			args:    []string{"--base", gBase, "--head", gHead},
			want:    []string{"## ✅ berth: No errors, 2 permission changes by an Admin", "✅ Allowed: mchen (maria.chen@example.com) is an Admin"},
		},
		{
			// Only the warn gate fails: the run concludes neutral, with a
			// warning annotation at the gate in berth.yaml, and the job
			// passes.
			name:    "pull_request_warn",
			repo:    warned,
			event:   "pull_request",
			payload: pr("editor", wBase, wHead),
			args:    []string{"--base", wBase, "--head", wHead},
			want:    []string{"No errors, Gold→Bronze on 1 service, 1 gate warning"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := githubtest.New(t, "")
			summary := actionsEnv(t, srv, tc.event, "ffffffffffffffffffffffffffffffffffffffff", tc.payload)
			var stdout, stderr bytes.Buffer
			r := repo
			if tc.repo != "" {
				r = tc.repo
			}
			args := append([]string{"check", "--github", "--repo", r, "--dir", "catalog", "--at", "2025-06-01"}, tc.args...)
			if code := run(args, nil, &stdout, &stderr); code != tc.wantExit {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.wantExit, stdout.String(), stderr.String())
			}
			b, err := os.ReadFile(summary)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(b), w) {
					t.Errorf("job summary lacks %q:\n%s", w, b)
				}
			}
			got, err := json.MarshalIndent(srv.Requests(), "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", "github_"+tc.name+".json")
			if *update {
				if err := os.WriteFile(golden, append(got, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if diff := cmp.Diff(string(want), string(got)+"\n"); diff != "" {
				t.Errorf("requests (-want +got):\n%s", diff)
			}
		})
	}
}
