package reconcile_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berth-dev/berth/pkg/catalog"
	"github.com/berth-dev/berth/pkg/gitsource"
	"github.com/berth-dev/berth/pkg/index"
	"github.com/berth-dev/berth/pkg/reconcile"
	"github.com/berth-dev/berth/pkg/schema"
)

var validator = sync.OnceValues(schema.New)

const blueprint = `identifier: service
title: Service
schema:
  properties:
    tier: {type: string, enum: [gold, silver, bronze]}
    replicas: {type: number}
relations:
  deps: {target: service, many: true}
calculationProperties:
  double: {calculation: '(.properties.replicas // 0) * 2', type: number}
`

const card = `identifier: ready
title: Ready
blueprint: service
rules:
  - {identifier: tiered, level: Bronze, query: {combinator: and, conditions: [{property: tier, operator: isNotEmpty}]}}
  - {identifier: scaled, level: Silver, query: {combinator: and, conditions: [{property: double, operator: ">=", value: 4}]}}
`

func entity(id, tier string, replicas int, deps ...string) []byte {
	return fmt.Appendf(nil, "identifier: %s\ntitle: %s\nproperties: {tier: %s, replicas: %d}\nrelations: {deps: [%s]}\n",
		id, strings.ToUpper(id), tier, replicas, strings.Join(deps, ", "))
}

// fixture is a remote repository, a berth clone of it and an index.
type fixture struct {
	t       *testing.T
	remote  string
	dataDir string // where the remote is cloned
	when    time.Time
	repo    *gitsource.Repo
	db      *index.DB
	rec     *reconcile.Reconciler
}

func newFixture(t *testing.T, files map[string][]byte, opts reconcile.Options) *fixture {
	t.Helper()
	f := &fixture{t: t, remote: filepath.Join(t.TempDir(), "catalog.git"), when: time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)}
	f.commit("initial catalog", files)
	f.open(filepath.Join(t.TempDir(), "berth.db"), opts)
	return f
}

func (f *fixture) open(dbPath string, opts reconcile.Options) {
	f.dataDir = f.t.TempDir()
	f.repo, f.db, f.rec = openReconciler(f.t, gitsource.Options{URL: "file://" + f.remote, DataDir: f.dataDir}, dbPath, opts)
}

// openReconciler opens the repository g names and the index at dbPath,
// both closed when tb ends, and returns them with a Reconciler over them.
func openReconciler(tb testing.TB, g gitsource.Options, dbPath string, opts reconcile.Options) (
	*gitsource.Repo, *index.DB, *reconcile.Reconciler) {
	tb.Helper()
	repo, err := gitsource.Open(context.Background(), g)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { repo.Close() })
	db := openIndex(tb, dbPath)
	v, err := validator()
	if err != nil {
		tb.Fatal(err)
	}
	return repo, db, reconcile.New(repo, db, v, opts)
}

// openIndex opens the index at path, closed when tb ends.
func openIndex(tb testing.TB, path string) *index.DB {
	tb.Helper()
	db, err := index.Open(context.Background(), path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// ada is the author of the fixture's commits unless one is given.
const ada = "Ada <ada@example.com>"

// commit commits files (nil content deletes) as ada, an hour after the
// previous commit, and returns the commit's hash.
func (f *fixture) commit(msg string, files map[string][]byte) string {
	f.t.Helper()
	return f.commitAs(ada, msg, files)
}

// commitAs is commit by author ("Name <email>").
func (f *fixture) commitAs(author, msg string, files map[string][]byte) string {
	f.t.Helper()
	f.when = f.when.Add(time.Hour)
	h, err := gitsource.CommitFiles(context.Background(), f.remote, "main", files, msg, author, f.when)
	if err != nil {
		f.t.Fatal(err)
	}
	return h
}

func (f *fixture) reconcile() reconcile.Result {
	f.t.Helper()
	res, err := f.rec.Reconcile(context.Background())
	if err != nil {
		f.t.Fatalf("Reconcile: %v", err)
	}
	return res
}

func (f *fixture) applied() string {
	st, err := f.db.State(context.Background())
	if err != nil {
		f.t.Fatal(err)
	}
	if st.Applied == nil {
		return ""
	}
	return st.Applied.Commit
}

func base() map[string][]byte {
	return map[string][]byte{
		"blueprints/service.yaml": []byte(blueprint),
		"scorecards/ready.yaml":   []byte(card),
		"entities/service/a.yaml": entity("a", "gold", 3),
		"entities/service/b.yaml": entity("b", "silver", 1, "a"),
		"entities/service/c.yaml": entity("c", "bronze", 2, "a", "b"),
	}
}

func TestReconcile_Lifecycle(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, base(), reconcile.Options{})

	res := f.reconcile()
	if res.Status != index.StatusApplied || res.Incremental || res.Applied.Entities != 3 {
		t.Fatalf("initial import: %+v", res)
	}
	first := res.Commit
	a, err := f.db.Entity(ctx, "service", "a")
	if err != nil {
		t.Fatal(err)
	}
	created := a.Meta.CreatedAt
	if created.IsZero() || a.Meta.CreatedBy != "ada@example.com" {
		t.Errorf("meta of a: %+v", a.Meta)
	}
	if !strings.Contains(string(a.Doc), `"double":6`) {
		t.Errorf("computed property missing: %s", a.Doc)
	}
	scores, err := f.db.Scores(ctx, "service", "a")
	if err != nil || len(scores) != 1 || scores[0].Level != "Gold" {
		t.Errorf("scores of a = %+v, %v", scores, err)
	}
	if again := f.reconcile(); !again.UpToDate {
		t.Errorf("second reconcile at the same head: %+v", again)
	}

	t.Run("Modify", func(t *testing.T) {
		f.commit("scale a down", map[string][]byte{"entities/service/a.yaml": entity("a", "gold", 1)})
		res := f.reconcile()
		if res.Status != index.StatusApplied || !res.Incremental {
			t.Fatalf("%+v", res)
		}
		a, _ := f.db.Entity(ctx, "service", "a")
		if !a.Meta.CreatedAt.Equal(created) || !a.Meta.UpdatedAt.After(created) {
			t.Errorf("meta after modify: %+v (created %v)", a.Meta, created)
		}
		if sc, _ := f.db.Scores(ctx, "service", "a"); len(sc) != 1 || sc[0].Level != "Bronze" {
			t.Errorf("a's level after scaling down: %+v", sc)
		}
	})

	t.Run("AddDeleteRename", func(t *testing.T) {
		f.commit("add d, drop b's file, move c", map[string][]byte{
			"entities/service/d.yaml":       entity("d", "gold", 5, "a"),
			"entities/service/c.yaml":       nil,
			"entities/service/moved/c.yaml": entity("c", "bronze", 2, "a"),
		})
		res := f.reconcile()
		if res.Status != index.StatusApplied || res.Applied.Entities != 4 {
			t.Fatalf("%+v", res)
		}
		c, err := f.db.Entity(ctx, "service", "c")
		if err != nil || !strings.HasSuffix(c.File, "moved/c.yaml") {
			t.Errorf("c after move: %+v %v", c, err)
		}
	})

	t.Run("InvalidThenFixed", func(t *testing.T) {
		good := f.applied()
		bad := f.commit("typo", map[string][]byte{"entities/service/a.yaml": []byte("identifier: a\nproperties: {tier: platinum}\n")})
		res := f.reconcile()
		if res.Status != index.StatusFailed || !res.Diagnostics.HasErrors() {
			t.Fatalf("bad commit: %+v", res)
		}
		if f.applied() != good {
			t.Fatalf("bad commit replaced the last good revision")
		}
		st, err := f.rec.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.LastAttemptedRevision != bad || st.Conditions[0].Status != "False" || st.Conditions[0].Reason != "ValidationFailed" {
			t.Errorf("status after bad commit: %+v", st)
		}
		if len(st.Errors) == 0 || st.Errors[0].File != "entities/service/a.yaml" {
			t.Errorf("status errors: %+v", st.Errors)
		}
		if again := f.reconcile(); !again.UpToDate {
			t.Errorf("a failed commit was retried: %+v", again)
		}
		f.commit("fix", map[string][]byte{"entities/service/a.yaml": entity("a", "gold", 2)})
		if res := f.reconcile(); res.Status != index.StatusApplied {
			t.Fatalf("fix: %+v", res)
		}
		st, _ = f.rec.Status(ctx)
		if st.Conditions[0].Status != "True" || len(st.Errors) != 0 {
			t.Errorf("status after fix: %+v", st)
		}
	})

	t.Run("BlueprintChange", func(t *testing.T) {
		bp := strings.Replace(blueprint, "enum: [gold, silver, bronze]", "enum: [gold, silver]", 1)
		f.commit("drop bronze", map[string][]byte{"blueprints/service.yaml": []byte(bp)})
		res := f.reconcile()
		if res.Status != index.StatusFailed {
			t.Fatalf("narrowing the enum must fail c: %+v", res)
		}
		found := false
		for _, d := range res.Diagnostics {
			found = found || (strings.HasSuffix(d.File, "c.yaml") && d.Code == catalog.CodeEntitySchema)
		}
		if !found {
			t.Errorf("unchanged entity of a changed blueprint was not re-validated: %v", res.Diagnostics)
		}
	})

	t.Run("ForcePush", func(t *testing.T) {
		// Rewrite history: a new root commit not descending from the applied one.
		if err := os.RemoveAll(f.remote); err != nil {
			t.Fatal(err)
		}
		files := base()
		files["entities/service/e.yaml"] = entity("e", "gold", 9)
		head := f.commit("rewritten history", files)
		res := f.reconcile()
		if res.Status != index.StatusApplied || res.Incremental || res.Commit != head || res.Applied.Entities != 4 {
			t.Fatalf("force-push: %+v", res)
		}
		if _, err := f.db.Entity(ctx, "service", "d"); !errors.Is(err, index.ErrNotFound) {
			t.Errorf("d survived the rebuild: %v", err)
		}
	})
	_ = first
}

// services is a catalog of n services, s00 to s(n-1).
func services(n int) map[string][]byte {
	files := map[string][]byte{"blueprints/service.yaml": []byte(blueprint)}
	for i := range n {
		files[fmt.Sprintf("entities/service/s%02d.yaml", i)] = entity(fmt.Sprintf("s%02d", i), "gold", 1)
	}
	return files
}

// deleteServices is a change deleting the first n of services.
func deleteServices(n int) map[string][]byte {
	del := map[string][]byte{}
	for i := range n {
		del[fmt.Sprintf("entities/service/s%02d.yaml", i)] = nil
	}
	return del
}

// TestReconcile_MassDeleteGuard: a commit deleting more than the
// threshold's share of entities (berth.yaml's massDeleteThreshold, else
// Options, else 50%) is held unless it deletes fewer than the minimum; a
// held commit applies once the reconciler allows mass deletes.
func TestReconcile_MassDeleteGuard(t *testing.T) {
	config := func(threshold string) []byte { return []byte("massDeleteThreshold: " + threshold + "\n") }
	tests := []struct {
		name     string
		total    int
		config   []byte // berth.yaml of the first commit
		change   []byte // berth.yaml of the deleting commit
		opts     reconcile.Options
		delete   int
		rewrite  bool // force-push the remaining catalog as a new history: a full rebuild
		wantHeld bool
	}{
		{name: "DefaultHolds", total: 30, delete: 20, wantHeld: true},
		{name: "DefaultAtThreshold", total: 30, delete: 15},
		{name: "ConfigRaises", total: 30, config: config("0.9"), delete: 20},
		{name: "ConfigRaisedBySameCommit", total: 30, change: config("0.9"), delete: 20},
		{name: "ConfigLowers", total: 30, config: config("0.2"), delete: 10, wantHeld: true},
		{name: "OptionRaises", total: 30, opts: reconcile.Options{MassDeleteThreshold: 0.7}, delete: 20},
		{name: "ConfigOverridesOption", total: 30, config: config("0.2"), opts: reconcile.Options{MassDeleteThreshold: 0.9}, delete: 10, wantHeld: true},
		{name: "BelowMinimum", total: 12, delete: 9},
		{name: "BelowMinimumWithLowConfig", total: 30, config: config("0.1"), delete: 9},
		{name: "AtMinimum", total: 12, delete: 10, wantHeld: true},
		{name: "AllowMassDelete", total: 30, opts: reconcile.Options{AllowMassDelete: true}, delete: 30},
		{name: "ForcePushHolds", total: 30, delete: 20, rewrite: true, wantHeld: true},
		{name: "ForcePushConfigRaises", total: 30, change: config("0.9"), delete: 20, rewrite: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := services(tt.total)
			if tt.config != nil {
				files["berth.yaml"] = tt.config
			}
			f := newFixture(t, files, tt.opts)
			if res := f.reconcile(); res.Status != index.StatusApplied {
				t.Fatalf("first commit: %+v", res)
			}
			good := f.applied()
			change := deleteServices(tt.delete)
			if tt.change != nil {
				change["berth.yaml"] = tt.change
			}
			if tt.rewrite {
				if err := os.RemoveAll(f.remote); err != nil {
					t.Fatal(err)
				}
				next := maps.Clone(files)
				for p, data := range change {
					next[p] = data
				}
				maps.DeleteFunc(next, func(_ string, data []byte) bool { return data == nil })
				change = next
			}
			head := f.commit("oops: moved the folder", change)
			res := f.reconcile()
			if tt.rewrite && res.Incremental {
				t.Fatalf("incremental after a force-push: %+v", res)
			}
			if !tt.wantHeld {
				if res.Status != index.StatusApplied || res.Applied.Entities != tt.total-tt.delete {
					t.Fatalf("want %d entities applied: %+v", tt.total-tt.delete, res)
				}
				return
			}
			want := fmt.Sprintf("delete %d of %d entities", tt.delete, tt.total)
			if res.Status != index.StatusHeld || !strings.Contains(res.Reason, want) || !strings.Contains(res.Reason, "--allow-mass-delete") {
				t.Fatalf("want held (%s): %+v", want, res)
			}
			if f.applied() != good {
				t.Fatal("held commit was applied")
			}
			opts := tt.opts
			opts.AllowMassDelete = true
			f.open(f.db.Path(), opts)
			if res := f.reconcile(); res.Status != index.StatusApplied || res.Applied.Entities != tt.total-tt.delete || f.applied() != head {
				t.Fatalf("allowed: %+v", res)
			}
		})
	}
}

func TestReconcile_RemoteGoneThenBack(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, base(), reconcile.Options{})
	f.reconcile()
	good := f.applied()
	f.commit("new", map[string][]byte{"entities/service/d.yaml": entity("d", "gold", 1)})
	hidden := f.remote + ".away"
	if err := os.Rename(f.remote, hidden); err != nil {
		t.Fatal(err)
	}
	_, err := f.rec.Reconcile(ctx)
	if !errors.Is(err, reconcile.ErrTransient) {
		t.Fatalf("unreachable remote: err = %v, want ErrTransient", err)
	}
	if f.applied() != good {
		t.Fatal("index changed while the remote was gone")
	}
	st, _ := f.rec.Status(ctx)
	if c := st.Conditions[2]; c.Type != "Stalled" || c.Status != "True" {
		t.Errorf("stalled condition: %+v", st.Conditions)
	}
	if err := os.Rename(hidden, f.remote); err != nil {
		t.Fatal(err)
	}
	if res := f.reconcile(); res.Status != index.StatusApplied || res.Applied.Entities != 4 {
		t.Fatalf("after the remote came back: %+v", res)
	}
}

// TestReconcile_IncrementalEqualsFull checks that a chain of incremental
// reconciles leaves the same index as one full rebuild of the final commit.
func TestReconcile_IncrementalEqualsFull(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, base(), reconcile.Options{})
	f.reconcile()
	steps := []map[string][]byte{
		{"entities/service/d.yaml": entity("d", "gold", 2, "a", "c")},
		{"entities/service/a.yaml": entity("a", "bronze", 7)},
		{"entities/service/b.yaml": nil, "entities/service/c.yaml": entity("c", "silver", 2, "a")},
		{"entities/service/e.yaml": entity("e", "gold", 1, "d"), "scorecards/ready.yaml": []byte(strings.Replace(card, ">=\", value: 4", ">=\", value: 6", 1))},
	}
	for _, s := range steps {
		f.commit("step", s)
		if res := f.reconcile(); res.Status != index.StatusApplied || !res.Incremental {
			t.Fatalf("step: %+v", res)
		}
	}
	full := &fixture{t: t, remote: f.remote}
	full.open(filepath.Join(t.TempDir(), "full.db"), reconcile.Options{})
	if res := full.reconcile(); res.Incremental || res.Status != index.StatusApplied {
		t.Fatalf("full: %+v", res)
	}
	dump := func(db *index.DB) map[string]string {
		out := map[string]string{}
		keys, err := db.EntityKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			e, err := db.Entity(ctx, k.Blueprint, k.Identifier)
			if err != nil {
				t.Fatal(err)
			}
			sc, _ := db.Scores(ctx, k.Blueprint, k.Identifier)
			out[k.Identifier] = fmt.Sprintf("%s %s %+v", e.Doc, e.File, sc)
		}
		return out
	}
	inc, fl := dump(f.db), dump(full.db)
	if !maps.Equal(inc, fl) {
		for k := range fl {
			if inc[k] != fl[k] {
				t.Errorf("%s:\nincremental %s\nfull        %s", k, inc[k], fl[k])
			}
		}
		if len(inc) != len(fl) {
			t.Errorf("incremental has %d entities, full %d", len(inc), len(fl))
		}
	}
}

// TestReplicas runs two reconcilers with their own indexes on one remote:
// both converge on the same revision after a push.
func TestReplicas(t *testing.T) {
	f := newFixture(t, base(), reconcile.Options{})
	other := &fixture{t: t, remote: f.remote}
	other.open(filepath.Join(t.TempDir(), "replica.db"), reconcile.Options{})
	f.reconcile()
	other.reconcile()
	head := f.commit("push", map[string][]byte{"entities/service/d.yaml": entity("d", "gold", 4)})
	f.reconcile()
	other.reconcile()
	if f.applied() != head || other.applied() != head {
		t.Fatalf("replicas at %s and %s, want %s", f.applied(), other.applied(), head)
	}
}

func sign(secret, body string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(body))
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func TestWebhookHandler(t *testing.T) {
	var triggers atomic.Int32
	h := reconcile.WebhookHandler([]byte("s3cret"), "main", func() { triggers.Add(1) })
	push := `{"ref":"refs/heads/main"}`
	tests := []struct {
		name, event, body, sig string
		want                   int
		triggered              bool
	}{
		{"Push", "push", push, sign("s3cret", push), http.StatusAccepted, true},
		{"OtherBranch", "push", `{"ref":"refs/heads/dev"}`, sign("s3cret", `{"ref":"refs/heads/dev"}`), http.StatusAccepted, false},
		{"Ping", "ping", `{}`, sign("s3cret", `{}`), http.StatusOK, false},
		{"BadSignature", "push", push, sign("wrong", push), http.StatusUnauthorized, false},
		{"MissingSignature", "push", push, "", http.StatusUnauthorized, false},
		{"MalformedSignature", "push", push, "sha256=zz", http.StatusUnauthorized, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := triggers.Load()
			req := httptest.NewRequest(http.MethodPost, "/hooks/github", strings.NewReader(tt.body))
			req.Header.Set("X-GitHub-Event", tt.event)
			if tt.sig != "" {
				req.Header.Set("X-Hub-Signature-256", tt.sig)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != tt.want {
				t.Errorf("status %d, want %d", w.Code, tt.want)
			}
			if got := triggers.Load() > before; got != tt.triggered {
				t.Errorf("triggered = %v, want %v", got, tt.triggered)
			}
		})
	}
}

// TestRun_CoalescesTriggers fires many webhook triggers at once while Run is
// going: they coalesce, and the index ends at the newest head.
func TestRun_CoalescesTriggers(t *testing.T) {
	f := newFixture(t, base(), reconcile.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.rec.Run(ctx) }()
	head := f.commit("push", map[string][]byte{"entities/service/d.yaml": entity("d", "gold", 4)})
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() { defer wg.Done(); f.rec.Trigger() }()
	}
	wg.Wait()
	deadline := time.Now().Add(30 * time.Second)
	for f.applied() != head && time.Now().Before(deadline) {
		f.rec.Trigger()
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-done
	if f.applied() != head {
		t.Fatalf("applied %s, want %s", f.applied(), head)
	}
	revs, err := f.db.Revisions(context.Background(), 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(revs) > 3 {
		t.Errorf("%d recorded revisions for 2 commits: triggers did not coalesce", len(revs))
	}
}
