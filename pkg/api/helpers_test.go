package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/berth-dev/berth/pkg/api"
	"github.com/berth-dev/berth/pkg/catalog"
	"github.com/berth-dev/berth/pkg/compute"
	"github.com/berth-dev/berth/pkg/gen"
	"github.com/berth-dev/berth/pkg/index"
	"github.com/berth-dev/berth/pkg/query"
	"github.com/berth-dev/berth/pkg/schema"
	"github.com/berth-dev/berth/pkg/scorecard"
	"github.com/berth-dev/berth/pkg/validate"
	"golang.org/x/crypto/bcrypt"
)

// epoch is the commit time of every test revision's entities.
var epoch = time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)

// loadExample validates catalog-example with the real CUE schemas and
// fails on any error.
func loadExample() (*catalog.Catalog, error) {
	v, err := schema.New()
	if err != nil {
		return nil, err
	}
	res, err := validate.Run(context.Background(), v, os.DirFS(filepath.Join("..", "..", "catalog-example")), validate.Options{})
	if err != nil {
		return nil, err
	}
	if res.Diagnostics.HasErrors() {
		return nil, fmt.Errorf("catalog-example has errors:\n%v", res.Diagnostics)
	}
	return res.Catalog, nil
}

// loadGenerated builds a generated catalog of n entities without CUE (it
// is valid by construction).
func loadGenerated(tb testing.TB, n int) *catalog.Catalog {
	tb.Helper()
	fsys := fstest.MapFS{}
	for p, data := range gen.Files(gen.Options{Entities: n, Seed: 1}) {
		fsys[p] = &fstest.MapFile{Data: data}
	}
	cat, err := catalog.Load(context.Background(), fsys, catalog.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	if diags := cat.Build(); diags.HasErrors() {
		tb.Fatalf("generated catalog: %v", diags)
	}
	return cat
}

// snapshotOf computes, scores and turns a catalog into a full Snapshot,
// as the reconciler does.
func snapshotOf(cat *catalog.Catalog) (index.Snapshot, error) {
	ctx := context.Background()
	for _, e := range cat.Entities {
		e.Meta = catalog.Meta{CreatedAt: epoch, UpdatedAt: epoch, CreatedBy: "dev@example.com", UpdatedBy: "dev@example.com"}
	}
	prog, _ := compute.Compile(cat)
	vals, _, err := prog.Evaluate(ctx, cat, nil)
	if err != nil {
		return index.Snapshot{}, err
	}
	sprog, diags := scorecard.Compile(cat)
	if diags.HasErrors() {
		return index.Snapshot{}, fmt.Errorf("scorecards: %v", diags)
	}
	ev, err := sprog.Evaluate(ctx, cat, scorecard.Options{Now: epoch, Property: func(e *catalog.Entity, key string) (any, bool) {
		v, ok := vals[e.Key()][key]
		return v, ok
	}})
	if err != nil {
		return index.Snapshot{}, err
	}
	snap := index.Snapshot{Full: true, Scorecards: cat.Scorecards, Actions: cat.Actions, Pages: cat.Pages, Roles: cat.Roles}
	for _, id := range slices.Sorted(maps.Keys(cat.Blueprints)) {
		snap.Blueprints = append(snap.Blueprints, cat.Blueprints[id])
	}
	for _, e := range cat.Entities {
		snap.Upserts = append(snap.Upserts, index.Upsert{Entity: e, Computed: vals[e.Key()]})
		snap.Scores = append(snap.Scores, entityScores(ev, e.Key()))
	}
	return snap, nil
}

// entityScores turns an entity's evaluation into the index's form, as the
// reconciler does.
func entityScores(ev *scorecard.Evaluation, k catalog.EntityKey) index.EntityScores {
	es := index.EntityScores{Key: k}
	for id, r := range ev.Results[k] {
		ir := index.ScorecardResult{Scorecard: id, Level: r.Level, LevelIndex: r.LevelIndex, Passed: r.Passed(), Total: len(r.Rules)}
		for _, rr := range r.Rules {
			ir.Rules = append(ir.Rules, index.RuleResult{Rule: rr.Identifier, Status: string(rr.Status), Exempt: rr.Exempt,
				EnforceFrom: rr.EnforceFrom})
		}
		es.Results = append(es.Results, ir)
	}
	return es
}

func openDB(tb testing.TB) *index.DB {
	tb.Helper()
	db, err := index.Open(context.Background(), filepath.Join(tb.TempDir(), "berth.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Error(err)
		}
	})
	return db
}

func commit(n int) string { return fmt.Sprintf("%040d", n) }

func apply(tb testing.TB, db *index.DB, n int, snap index.Snapshot) {
	tb.Helper()
	info := index.RevisionInfo{Commit: commit(n), Author: "dev@example.com", Message: fmt.Sprintf("commit %d", n),
		CommittedAt: epoch.Add(time.Duration(n) * time.Hour)}
	if _, err := db.Apply(context.Background(), info, snap); err != nil {
		tb.Fatal(err)
	}
}

// exampleSnaps are catalog-example as commit(1) and commit(2), where
// payments-api's test coverage drops to 50 (its Silver rule fails), so
// scorecard history has two points. Validating takes a while: once per
// test binary.
var exampleSnaps = sync.OnceValues(func() ([2]index.Snapshot, error) {
	var out [2]index.Snapshot
	var err error
	for i := range out {
		var cat *catalog.Catalog
		if cat, err = loadExample(); err != nil {
			return out, err
		}
		if i == 1 {
			cat.Entity(catalog.EntityKey{Blueprint: "service", Identifier: "payments-api"}).Properties["test_coverage"] = int64(50)
		}
		if out[i], err = snapshotOf(cat); err != nil {
			return out, err
		}
	}
	return out, nil
})

// exampleDB is an index holding exampleSnaps applied in order.
func exampleDB(tb testing.TB) *index.DB {
	tb.Helper()
	snaps, err := exampleSnaps()
	if err != nil {
		tb.Fatal(err)
	}
	db := openDB(tb)
	apply(tb, db, 1, snaps[0])
	apply(tb, db, 2, snaps[1])
	return db
}

// Test clients: secrets hashed at bcrypt's lowest cost to keep tests fast.
const (
	clientID     = "ci-dashboard"
	clientSecret = "s3cr3t-value-for-tests"
	clientUser   = "jonas.weber@example.com" // team payments in catalog-example
)

func testClients(tb testing.TB) []api.Client {
	tb.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(clientSecret), bcrypt.MinCost)
	if err != nil {
		tb.Fatal(err)
	}
	return []api.Client{{ID: clientID, SecretHash: string(h), User: clientUser}}
}

func newServer(tb testing.TB, db *index.DB, cfg api.Config) *api.Server {
	tb.Helper()
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	s, err := api.New(db, nil, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := s.Close(context.Background()); err != nil {
			tb.Error(err)
		}
	})
	return s
}

// response is a recorded answer with its JSON body decoded.
type response struct {
	Code   int
	Header http.Header
	Body   map[string]any
	Raw    []byte
}

type header map[string]string

func do(tb testing.TB, h http.Handler, method, path string, body any, hdr header) response {
	tb.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewBufferString(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			tb.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req := httptest.NewRequest(method, path, rd)
	req.RemoteAddr = "127.0.0.1:40000"
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	res := response{Code: rec.Code, Header: rec.Header(), Raw: rec.Body.Bytes()}
	if len(res.Raw) > 0 {
		if err := json.Unmarshal(res.Raw, &res.Body); err != nil {
			tb.Fatalf("%s %s: answer is not a JSON object: %v\n%s", method, path, err, res.Raw)
		}
	}
	return res
}

// want fails unless the answer has the status (and, for errors, the
// envelope with the error code).
func (r response) want(tb testing.TB, status int, code string) response {
	tb.Helper()
	if r.Code != status {
		tb.Fatalf("status %d, want %d: %s", r.Code, status, r.Raw)
	}
	if code == "" {
		if status < 300 && r.Body["ok"] != true {
			tb.Fatalf("ok is not true: %s", r.Raw)
		}
		return r
	}
	if r.Body["ok"] != false || r.Body["error"] != code {
		tb.Fatalf("want error %q: %s", code, r.Raw)
	}
	if msg, _ := r.Body["message"].(string); msg == "" {
		tb.Fatalf("error without a message: %s", r.Raw)
	}
	return r
}

func (r response) list(key string) []map[string]any {
	var out []map[string]any
	for _, v := range r.Body[key].([]any) {
		out = append(out, v.(map[string]any))
	}
	return out
}

func (r response) obj(key string) map[string]any { return r.Body[key].(map[string]any) }

func identifiers(xs []map[string]any) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i], _ = x["identifier"].(string)
	}
	return out
}

func queryLimits(depth int) query.Limits { return query.Limits{MaxDepth: depth} }
