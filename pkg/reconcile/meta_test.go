package reconcile_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/pkg/api"
	"github.com/berth-dev/berth/pkg/catalog"
	"github.com/berth-dev/berth/pkg/reconcile"
)

// TestReconcile_CreatedUpdatedBy: an entity created by Ada and changed by
// Bob has $createdBy ada and $updatedBy bob (with the times of their
// commits), whether the index followed both commits, restarted in between,
// or was built from the last commit alone; the API's entity says the same.
func TestReconcile_CreatedUpdatedBy(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		// between runs after the first commit is applied and before
		// Bob's is reconciled; it returns the fixture that reconciles it.
		between func(f *fixture) *fixture
	}{
		{"Incremental", func(f *fixture) *fixture { return f }},
		{"Restart", func(f *fixture) *fixture { f.open(f.db.Path(), reconcile.Options{}); return f }},
		{"FullBuild", func(f *fixture) *fixture {
			full := &fixture{t: f.t, remote: f.remote}
			full.open(filepath.Join(f.t.TempDir(), "full.db"), reconcile.Options{})
			return full
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, base(), reconcile.Options{})
			created := f.when
			f.reconcile()
			g := tt.between(f)
			f.commitAs("Bob <bob@example.com>", "scale a down", map[string][]byte{"entities/service/a.yaml": entity("a", "gold", 1)})
			updated := f.when
			if res := g.reconcile(); res.Commit == "" || res.Diagnostics.HasErrors() {
				t.Fatalf("Bob's commit: %+v", res)
			}
			want := map[string]catalog.Meta{
				"a": {CreatedAt: created, UpdatedAt: updated, CreatedBy: "ada@example.com", UpdatedBy: "bob@example.com"},
				"b": {CreatedAt: created, UpdatedAt: created, CreatedBy: "ada@example.com", UpdatedBy: "ada@example.com"},
			}
			srv, err := api.New(g.db, g.rec, api.Config{Addr: "127.0.0.1:0", Branch: "main"})
			if err != nil {
				t.Fatal(err)
			}
			for id, w := range want {
				e, err := g.db.Entity(ctx, "service", id)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(w, e.Meta, cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); diff != "" {
					t.Errorf("index meta of %s (-want +got):\n%s", id, diff)
				}
				rr := httptest.NewRecorder()
				srv.Handler().ServeHTTP(rr, httptest.NewRequest(http.MethodGet, "/v1/blueprints/service/entities/"+id, nil))
				var body struct {
					Entity struct {
						CreatedBy, UpdatedBy string
						CreatedAt, UpdatedAt time.Time
					}
				}
				if err := json.Unmarshal(rr.Body.Bytes(), &body); err != nil || rr.Code != http.StatusOK {
					t.Fatalf("GET entity %s: %d %s", id, rr.Code, rr.Body)
				}
				got := catalog.Meta{CreatedAt: body.Entity.CreatedAt, UpdatedAt: body.Entity.UpdatedAt,
					CreatedBy: body.Entity.CreatedBy, UpdatedBy: body.Entity.UpdatedBy}
				if diff := cmp.Diff(w, got, cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); diff != "" {
					t.Errorf("API entity %s (-want +got):\n%s", id, diff)
				}
			}
		})
	}
}
