// Package action holds the tests of the berth GitHub Action: action.yml
// itself and run.sh, driven by testscript with a simulated Actions
// environment, a real Git repository and a fake GitHub.
package action

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/pkg/checks/githubtest"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/rogpeppe/go-internal/testscript"
	"gopkg.in/yaml.v3"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){"berth": fakeBerth})
}

// TestScript runs testdata/script/*.txtar. Each script gets its own fake
// GitHub (GITHUB_API_URL) and the commands below.
func TestScript(t *testing.T) {
	actionDir, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	// The build step runs the go command: hand it this test's caches and
	// keep it off the network.
	goEnv := map[string]string{"GOPROXY": "off", "GOFLAGS": os.Getenv("GOFLAGS")}
	if raceEnabled {
		goEnv["GOFLAGS"] = strings.TrimSpace(goEnv["GOFLAGS"] + " -race")
	}
	out, err := exec.Command("go", "env", "GOCACHE", "GOMODCACHE", "GOPATH").Output()
	if err != nil {
		t.Fatalf("go env: %v", err)
	}
	for i, v := range strings.Fields(string(out)) {
		goEnv[[]string{"GOCACHE", "GOMODCACHE", "GOPATH"}[i]] = v
	}
	testscript.Run(t, testscript.Params{
		Dir: filepath.Join("testdata", "script"),
		Setup: func(env *testscript.Env) error {
			srv := githubtest.New(t, "")
			env.Values[serverKey{}] = srv
			env.Setenv("ACTION", actionDir)
			env.Setenv("GITHUB_API_URL", srv.URL)
			env.Setenv("GITHUB_SERVER_URL", "https://github.com")
			env.Setenv("GITHUB_REPOSITORY", "acme/catalog")
			env.Setenv("GITHUB_WORKSPACE", filepath.Join(env.WorkDir, "repo"))
			env.Setenv("GITHUB_STEP_SUMMARY", filepath.Join(env.WorkDir, "step_summary.md"))
			env.Setenv("GITHUB_OUTPUT", filepath.Join(env.WorkDir, "github_output"))
			env.Setenv("RUNNER_TEMP", filepath.Join(env.WorkDir, "runner_temp"))
			env.Setenv("TOKEN", "ghs_test")
			for k, v := range goEnv {
				env.Setenv(k, v)
			}
			return nil
		},
		Cmds: map[string]func(*testscript.TestScript, bool, []string){
			"mkrepo":      cmdMkrepo,
			"event":       cmdEvent,
			"action-step": cmdActionStep,
			"github":      cmdGitHub,
		},
	})
}

type serverKey struct{}

// cmdMkrepo makes $WORK/repo with two commits, the trees of $WORK/base and
// $WORK/head, and sets BASE_SHA and HEAD_SHA.
func cmdMkrepo(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: mkrepo")
	}
	dir := ts.MkAbs("repo")
	r, err := git.PlainInit(dir, false)
	ts.Check(err)
	wt, err := r.Worktree()
	ts.Check(err)
	for i, state := range []string{"base", "head"} {
		entries, err := os.ReadDir(dir)
		ts.Check(err)
		for _, e := range entries {
			if e.Name() != ".git" {
				ts.Check(os.RemoveAll(filepath.Join(dir, e.Name())))
			}
		}
		ts.Check(os.CopyFS(dir, os.DirFS(ts.MkAbs(state))))
		ts.Check(wt.AddWithOptions(&git.AddOptions{All: true}))
		sig := &object.Signature{Name: "Editor", Email: "editor@acme.test", When: time.Date(2024, 5, 1, 12, i, 0, 0, time.UTC)}
		h, err := wt.Commit(state, &git.CommitOptions{Author: sig, Committer: sig, AllowEmptyCommits: true})
		ts.Check(err)
		ts.Setenv(strings.ToUpper(state)+"_SHA", h.String())
	}
}

// cmdEvent writes the event payload of a pull_request (same repository or
// fork), push or new-branch push for BASE_SHA..HEAD_SHA and sets the
// GITHUB_EVENT_* and GITHUB_SHA variables as the runner does.
func cmdEvent(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: event pull_request|fork|push|new-branch")
	}
	base, head := ts.Getenv("BASE_SHA"), ts.Getenv("HEAD_SHA")
	repo := map[string]any{"full_name": "acme/catalog", "default_branch": "main"}
	pr := func(number int, headRepo string) map[string]any {
		return map[string]any{
			"number": number,
			"pull_request": map[string]any{
				"number": number,
				"head":   map[string]any{"sha": head, "ref": "change", "repo": map[string]any{"full_name": headRepo}},
				"base":   map[string]any{"sha": base, "ref": "main", "repo": repo},
			},
			"repository": repo,
		}
	}
	var ev map[string]any
	name, sha := "pull_request", "ffffffffffffffffffffffffffffffffffffffff" // a merge commit
	switch args[0] {
	case "pull_request":
		ev = pr(7, "acme/catalog")
	case "fork":
		ev = pr(8, "outsider/catalog")
	case "push", "new-branch":
		name, sha = "push", head
		ev = map[string]any{"ref": "refs/heads/main", "before": base, "after": head, "repository": repo}
		if args[0] == "new-branch" {
			ev["ref"], ev["before"] = "refs/heads/feature", strings.Repeat("0", 40)
		}
	default:
		ts.Fatalf("unknown event %q", args[0])
	}
	b, err := json.MarshalIndent(ev, "", "  ")
	ts.Check(err)
	path := ts.MkAbs("event.json")
	ts.Check(os.WriteFile(path, b, 0o644))
	ts.Setenv("GITHUB_EVENT_NAME", name)
	ts.Setenv("GITHUB_EVENT_PATH", path)
	ts.Setenv("GITHUB_SHA", sha)
}

// cmdGitHub talks to the script's fake GitHub:
//
//	github fail ROUTE STATUS MESSAGE   answer the next call of ROUTE so
//	github requests                    print "METHOD PATH" per call, and
//	                                   the bodies as JSON lines
func cmdGitHub(ts *testscript.TestScript, neg bool, args []string) {
	srv := ts.Value(serverKey{}).(*githubtest.Server)
	if neg || len(args) == 0 {
		ts.Fatalf("usage: github fail|requests ...")
	}
	switch args[0] {
	case "fail":
		if len(args) != 4 {
			ts.Fatalf("usage: github fail ROUTE STATUS MESSAGE")
		}
		route := map[string]string{
			"create-check-run": githubtest.CreateCheckRun, "update-check-run": githubtest.UpdateCheckRun,
			"create-comment": githubtest.CreateComment, "edit-comment": githubtest.EditComment,
		}[args[1]]
		var status int
		_, err := fmt.Sscan(args[2], &status)
		ts.Check(err)
		srv.Fail(route, status, args[3], "")
	case "requests":
		for _, r := range srv.Requests() {
			b, err := json.Marshal(r.Body)
			ts.Check(err)
			fmt.Fprintf(ts.Stdout(), "%s %s %s\n", r.Method, r.Path, b)
		}
	default:
		ts.Fatalf("unknown github command %q", args[0])
	}
}

// manifest is the part of action.yml the tests read.
type manifest struct {
	Inputs map[string]struct {
		Default string `yaml:"default"`
	} `yaml:"inputs"`
	Runs struct {
		Using string `yaml:"using"`
		Steps []struct {
			ID    string            `yaml:"id"`
			Uses  string            `yaml:"uses"`
			Shell string            `yaml:"shell"`
			Run   string            `yaml:"run"`
			Env   map[string]string `yaml:"env"`
			With  map[string]string `yaml:"with"`
		} `yaml:"steps"`
	} `yaml:"runs"`
}

func readManifest(tb testing.TB) manifest {
	tb.Helper()
	b, err := os.ReadFile("action.yml")
	if err != nil {
		tb.Fatal(err)
	}
	var m manifest
	if err := yaml.Unmarshal(b, &m); err != nil {
		tb.Fatalf("action.yml: %v", err)
	}
	return m
}

// cmdActionStep runs a step of action.yml as the runner would: its env
// evaluated from the inputs (action.yml's defaults, overridden by
// NAME=VALUE arguments), the event and the step outputs, then its run
// script in bash with GITHUB_ACTION_PATH set. The build step's output is
// taken to be "berth", the fake on PATH, unless the script set BERTH_BIN
// (to the binary a previous `action-step build` made).
func cmdActionStep(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) == 0 {
		ts.Fatalf("usage: action-step ID [input=value...]")
	}
	b, err := os.ReadFile(filepath.Join(ts.Getenv("ACTION"), "action.yml"))
	ts.Check(err)
	var m manifest
	ts.Check(yaml.Unmarshal(b, &m))

	var event any
	if p := ts.Getenv("GITHUB_EVENT_PATH"); p != "" {
		eb, err := os.ReadFile(p)
		ts.Check(err)
		ts.Check(json.Unmarshal(eb, &event))
	}
	ctx := map[string]any{
		"github": map[string]any{"token": ts.Getenv("TOKEN"), "sha": ts.Getenv("GITHUB_SHA"), "event": event},
		"steps":  map[string]any{"build": map[string]any{"outputs": map[string]any{"bin": builtBin(ts)}}},
	}
	inputs := map[string]any{}
	for name, in := range m.Inputs {
		inputs[name] = evalTemplate(ts, in.Default, ctx)
	}
	for _, a := range args[1:] {
		k, v, ok := strings.Cut(a, "=")
		if _, known := m.Inputs[k]; !ok || !known {
			ts.Fatalf("unknown input %q", a)
		}
		inputs[k] = v
	}
	ctx["inputs"] = inputs
	for _, st := range m.Runs.Steps {
		if st.ID != args[0] {
			continue
		}
		keys := make([]string, 0, len(st.Env))
		for k := range st.Env {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			ts.Setenv(k, evalTemplate(ts, st.Env[k], ctx))
		}
		ts.Setenv("GITHUB_ACTION_PATH", ts.Getenv("ACTION"))
		err := ts.Exec("bash", "-c", st.Run)
		if neg && err == nil {
			ts.Fatalf("step %s succeeded unexpectedly", st.ID)
		}
		if !neg && err != nil {
			ts.Fatalf("step %s: %v", st.ID, err)
		}
		return
	}
	ts.Fatalf("action.yml has no step %q", args[0])
}

var exprRE = regexp.MustCompile(`\$\{\{\s*(.*?)\s*\}\}`)

// evalTemplate expands ${{ a || b.c || 'lit' }} the way the runner does for
// the expression forms action.yml uses: property paths, string literals and
// ||, which yields the first truthy operand.
func evalTemplate(ts *testscript.TestScript, s string, ctx map[string]any) string {
	return exprRE.ReplaceAllStringFunc(s, func(m string) string {
		expr := exprRE.FindStringSubmatch(m)[1]
		for _, op := range strings.Split(expr, "||") {
			op = strings.TrimSpace(op)
			if strings.HasPrefix(op, "'") {
				if v := strings.Trim(op, "'"); v != "" {
					return v
				}
				continue
			}
			var v any = ctx
			for _, part := range strings.Split(op, ".") {
				mv, ok := v.(map[string]any)
				if !ok {
					v = nil
					break
				}
				v = mv[part]
			}
			switch v := v.(type) {
			case nil:
			case string:
				if v != "" {
					return v
				}
			default:
				ts.Fatalf("expression %q: %s is a %T", expr, op, v)
			}
		}
		return ""
	})
}

// TestActionYAML guards the manifest: a composite action whose run scripts
// never splice expressions (script injection), whose every input reaches a
// step through env, and whose check step sets what run.sh reads.
func TestActionYAML(t *testing.T) {
	m := readManifest(t)
	if m.Runs.Using != "composite" {
		t.Fatalf("runs.using = %q, want composite", m.Runs.Using)
	}
	used := map[string]bool{}
	for _, st := range m.Runs.Steps {
		if strings.Contains(st.Run, "${{") {
			t.Errorf("step %q splices an expression into its script: %q", st.ID, st.Run)
		}
		if st.Run != "" && st.Shell != "bash" {
			t.Errorf("step %q: shell = %q, want bash", st.ID, st.Shell)
		}
		for _, v := range st.Env {
			for _, name := range regexp.MustCompile(`inputs\.([a-z-]+)`).FindAllStringSubmatch(v, -1) {
				used[name[1]] = true
			}
		}
		if strings.HasPrefix(st.Uses, "actions/setup-go@") && st.With["cache"] != "true" {
			t.Errorf("setup-go without cache")
		}
	}
	for name := range m.Inputs {
		if !used[name] {
			t.Errorf("input %q reaches no step", name)
		}
	}
	script, err := os.ReadFile("run.sh")
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range m.Runs.Steps {
		for k := range st.Env {
			if strings.HasPrefix(k, "BERTH_") && !strings.Contains(string(script), k) {
				t.Errorf("step %q sets %s, which run.sh never reads", st.ID, k)
			}
		}
	}
}

// builtBin is the build step's output for cmdActionStep: $BERTH_BIN when
// the script set it, else the fake berth on PATH.
func builtBin(ts *testscript.TestScript) string {
	if b := ts.Getenv("BERTH_BIN"); b != "" {
		return b
	}
	return "berth"
}
