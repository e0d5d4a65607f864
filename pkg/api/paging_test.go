package api_test

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"testing"

	"github.com/berth-dev/berth/pkg/api"
	"github.com/berth-dev/berth/pkg/catalog"
	"github.com/berth-dev/berth/pkg/gen"
	"github.com/berth-dev/berth/pkg/index"
	"github.com/google/go-cmp/cmp"
)

// page posts a blueprint search and returns its entities and next cursor.
func page(tb testing.TB, h http.Handler, bp string, body map[string]any) (ids []string, next string, r response) {
	tb.Helper()
	r = do(tb, h, "POST", "/v1/blueprints/"+bp+"/entities/search", body, nil)
	if r.Code != 200 {
		return nil, "", r
	}
	next, _ = r.Body["next"].(string)
	return identifiers(r.list("entities")), next, r
}

func TestServer_SearchBlueprintPaging(t *testing.T) {
	db := openDB(t)
	cat := loadGenerated(t, 500)
	snap, err := snapshotOf(cat)
	if err != nil {
		t.Fatal(err)
	}
	apply(t, db, 1, snap)
	h := newServer(t, db, api.Config{}).Handler()
	ctx := context.Background()

	for _, c := range []struct {
		name  string
		query any
		limit int
	}{
		{"All", nil, 37},
		{"DefaultLimit", nil, 0},
		{"Query", map[string]any{"combinator": "or", "rules": []any{
			map[string]any{"property": "$identifier", "operator": "contains", "value": "1"},
			map[string]any{"property": "$identifier", "operator": "endsWith", "value": "5"},
		}}, 10},
	} {
		t.Run(c.name, func(t *testing.T) {
			where, args := "e.blueprint = ?", []any{gen.Service}
			if c.query != nil {
				where = "e.blueprint = ? AND (e.identifier LIKE '%1%' OR e.identifier LIKE '%5')"
			}
			want, err := db.Search(ctx, where, args, "e.identifier", 0)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			from := ""
			pages := 0
			for {
				body := map[string]any{"include": []string{"identifier"}}
				if c.query != nil {
					body["query"] = c.query
				}
				if c.limit > 0 {
					body["limit"] = c.limit
				}
				if from != "" {
					body["from"] = from
				}
				ids, next, r := page(t, h, gen.Service, body)
				r.want(t, 200, "")
				limit := c.limit
				if limit == 0 {
					limit = api.DefaultSearchLimit
				}
				if len(ids) > limit || (next != "" && len(ids) != limit) {
					t.Fatalf("page %d: %d entities with limit %d, next %q", pages, len(ids), limit, next)
				}
				got = append(got, ids...)
				pages++
				if next == "" {
					break
				}
				from = next
			}
			wantIDs := make([]string, len(want))
			for i, e := range want {
				wantIDs[i] = e.Identifier
			}
			if diff := cmp.Diff(wantIDs, got); diff != "" {
				t.Errorf("paged entities (-want +got):\n%s", diff)
			}
			if len(wantIDs) < 20 {
				t.Errorf("only %d services: the test pages nothing", len(wantIDs))
			}
		})
	}

	t.Run("Errors", func(t *testing.T) {
		_, next, _ := page(t, h, gen.Service, map[string]any{"limit": 5})
		for name, body := range map[string]any{
			"LimitZero":    map[string]any{"limit": 0},
			"LimitTooHigh": map[string]any{"limit": 1001},
			"UnknownField": map[string]any{"size": 10},
			"NotJSON":      "{",
		} {
			t.Run(name, func(t *testing.T) {
				do(t, h, "POST", "/v1/blueprints/service/entities/search", body, nil).want(t, 400, "invalid_request")
			})
		}
		do(t, h, "POST", "/v1/blueprints/service/entities/search", map[string]any{"from": "garbage"}, nil).
			want(t, 400, "invalid_cursor")
		do(t, h, "POST", "/v1/blueprints/service/entities/search", map[string]any{"from": next,
			"query": map[string]any{"combinator": "and", "rules": []any{}}}, nil).want(t, 400, "invalid_cursor")
		do(t, h, "POST", "/v1/blueprints/microservice/entities/search", map[string]any{"from": next}, nil).
			want(t, 400, "invalid_cursor")
		do(t, h, "POST", "/v1/blueprints/service/entities/search", map[string]any{"query": map[string]any{"combinator": "xor"}}, nil).
			want(t, 400, "invalid_query")
		do(t, h, "POST", "/v1/blueprints/nope/entities/search", map[string]any{}, nil).want(t, 404, "not_found")
		// An empty body searches everything.
		do(t, h, "POST", "/v1/blueprints/service/entities/search", nil, nil).want(t, 200, "")
	})

	t.Run("Stale", func(t *testing.T) {
		_, next, _ := page(t, h, gen.Service, map[string]any{"limit": 5})
		apply(t, db, 2, snap)
		r := do(t, h, "POST", "/v1/blueprints/service/entities/search", map[string]any{"limit": 5, "from": next}, nil).
			want(t, 409, "cursor_stale")
		if r.Header.Get("X-Berth-Revision") != commit(2) {
			t.Errorf("revision header: %v", r.Header)
		}
	})
}

// TestServer_ConsistentDuringApply reads while revisions are applied: each
// answer's entities all belong to the revision its X-Berth-Revision names.
func TestServer_ConsistentDuringApply(t *testing.T) {
	db := openDB(t)
	bp := &catalog.Blueprint{Identifier: "item", Title: "Item", Schema: catalog.BlueprintSchema{
		Properties: map[string]catalog.Property{"rev": {Type: "number"}}}}
	// Revision n holds items 0..n+19, each with rev = n.
	snapAt := func(n int) index.Snapshot {
		s := index.Snapshot{Full: true, Blueprints: []*catalog.Blueprint{bp}}
		for i := range n + 20 {
			s.Upserts = append(s.Upserts, index.Upsert{Entity: &catalog.Entity{Identifier: fmt.Sprintf("item-%03d", i),
				Blueprint: "item", Properties: map[string]any{"rev": int64(n)}}})
		}
		return s
	}
	apply(t, db, 1, snapAt(1))
	h := newServer(t, db, api.Config{RateLimit: 1e9}).Handler()

	const revisions = 30
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(done)
		for n := 2; n <= revisions; n++ {
			info := index.RevisionInfo{Commit: commit(n)}
			if _, err := db.Apply(context.Background(), info, snapAt(n)); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	check := func(r response, key string) {
		t.Helper()
		if r.Code != 200 {
			t.Fatalf("status %d: %s", r.Code, r.Raw)
		}
		n, err := strconv.Atoi(r.Header.Get("X-Berth-Revision"))
		if err != nil {
			t.Fatalf("revision header %q", r.Header.Get("X-Berth-Revision"))
		}
		var ents []map[string]any
		switch v := r.Body[key].(type) {
		case []any:
			ents = r.list(key)
		case float64:
			if int(v) != n+20 {
				t.Fatalf("revision %d: count %v", n, v)
			}
			return
		}
		if len(ents) != n+20 {
			t.Fatalf("revision %d: %d entities, want %d", n, len(ents), n+20)
		}
		for _, e := range ents {
			if rev := e["properties"].(map[string]any)["rev"]; rev != float64(n) {
				t.Fatalf("revision %d served an entity of revision %v", n, rev)
			}
		}
	}
	seen := map[string]bool{}
	for reading := true; reading; {
		select {
		case <-done:
			reading = false
		default:
		}
		r := do(t, h, "GET", "/v1/blueprints/item/entities", nil, nil)
		check(r, "entities")
		seen[r.Header.Get("X-Berth-Revision")] = true
		check(do(t, h, "POST", "/v1/entities/search", `{"combinator":"and","rules":[{"property":"rev","operator":">=","value":0}]}`, nil), "entities")
		check(do(t, h, "GET", "/v1/blueprints/item/entities-count", nil, nil), "count")
	}
	wg.Wait()
	r := do(t, h, "GET", "/v1/blueprints/item/entities", nil, nil)
	check(r, "entities")
	if r.Header.Get("X-Berth-Revision") != commit(revisions) {
		t.Errorf("after the applies: revision %s", r.Header.Get("X-Berth-Revision"))
	}
	t.Logf("readers saw %d revisions", len(seen))
}
