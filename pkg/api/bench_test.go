package api_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berth-dev/berth/pkg/api"
	"github.com/berth-dev/berth/pkg/catalog"
	"github.com/berth-dev/berth/pkg/gen"
	"github.com/berth-dev/berth/pkg/index"
	"golang.org/x/time/rate"
)

// Load figures over real HTTP on loopback: an httptest server over an
// index of a generated catalog of BERTH_BENCH_ENTITIES entities (default
// 10k), from one connection (latency) and from 32 goroutines (throughput;
// 16 per core on a 2-core machine), the client sharing the CPU with the
// server. Each benchmark reports req/s, p50-ms and p99-ms.
//
//	BERTH_BENCH_ENTITIES=100000 go test ./pkg/api -run '^$' -bench API -benchtime 20000x

func benchEntities() int {
	if n, err := strconv.Atoi(os.Getenv("BERTH_BENCH_ENTITIES")); err == nil && n > 0 {
		return n
	}
	return 10000
}

// benchWorld is a server over a generated index.
type benchWorld struct {
	db       *index.DB
	url      string
	client   *http.Client
	services []string
	domains  []string
	auth     string
	// snap is the applied snapshot (a revision's objects, and entities to
	// change in later commits).
	snap index.Snapshot
	// handler is the server's handler, for benchmarks without HTTP.
	handler http.Handler
}

func newBenchWorld(b *testing.B, withToken bool) *benchWorld {
	return newBenchWorldWith(b, withToken, api.Config{}, nil)
}

// newBenchWorldWith is newBenchWorld with a configuration (its rate limit
// and clients are set here) and a change to the generated catalog. With a
// token, the client acts as clientUser, a Member of the first team (a
// _user entity the change may edit: edit runs after it is added).
func newBenchWorldWith(b *testing.B, withToken bool, cfg api.Config, edit func(*catalog.Catalog)) *benchWorld {
	b.Helper()
	ctx := context.Background()
	db := openDB(b)
	cat := loadGenerated(b, benchEntities())
	if withToken {
		var team []string
		for _, e := range cat.Entities {
			if e.Blueprint == catalog.TeamBlueprint {
				team = []string{e.Identifier}
				break
			}
		}
		cat.Entities = append(cat.Entities, &catalog.Entity{Identifier: clientUser, Blueprint: catalog.UserBlueprint,
			Team: team, Properties: map[string]any{"port_role": catalog.RoleMember, "status": "Active"}})
	}
	if edit != nil {
		edit(cat)
	}
	snap, err := snapshotOf(cat)
	if err != nil {
		b.Fatal(err)
	}
	apply(b, db, 1, snap)
	cfg.RateLimit = rate.Inf
	if withToken {
		cfg.Clients = testClients(b)
	}
	h := newServer(b, db, cfg).Handler()
	srv := httptest.NewServer(h)
	b.Cleanup(srv.Close)
	w := &benchWorld{db: db, url: srv.URL, client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}},
		snap: snap, handler: h}
	for _, bp := range []struct {
		name string
		dst  *[]string
	}{{gen.Service, &w.services}, {gen.Domain, &w.domains}} {
		ents, err := db.Entities(ctx, bp.name, 0, "")
		if err != nil {
			b.Fatal(err)
		}
		for _, e := range ents {
			*bp.dst = append(*bp.dst, e.Identifier)
		}
	}
	if withToken {
		w.auth = "Bearer " + token(b, srv.Config.Handler)
	}
	return w
}

// run sends requests from conns goroutines (a multiple of GOMAXPROCS);
// next returns the i-th request's method, path and body.
func (w *benchWorld) run(b *testing.B, conns int, next func(i int) (string, string, []byte)) {
	b.Helper()
	var (
		mu  sync.Mutex
		lat []time.Duration
		seq atomic.Int64
	)
	b.SetParallelism(max(1, conns/runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	work := func(pb interface{ Next() bool }) {
		var local []time.Duration
		for pb.Next() {
			method, path, body := next(int(seq.Add(1)))
			req, err := http.NewRequest(method, w.url+path, bytes.NewReader(body))
			if err != nil {
				b.Error(err)
				return
			}
			if w.auth != "" {
				req.Header.Set("Authorization", w.auth)
			}
			start := time.Now()
			resp, err := w.client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, err = io.Copy(io.Discard, resp.Body)
			if cerr := resp.Body.Close(); err == nil {
				err = cerr
			}
			local = append(local, time.Since(start))
			if err != nil || resp.StatusCode != http.StatusOK {
				b.Errorf("%s %s: %d %v", method, path, resp.StatusCode, err)
				return
			}
		}
		mu.Lock()
		lat = append(lat, local...)
		mu.Unlock()
	}
	if conns == 1 {
		work(&serial{n: b.N})
	} else {
		b.RunParallel(func(pb *testing.PB) { work(pb) })
	}
	b.StopTimer()
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	pct := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(float64(len(lat))*p))].Microseconds()) / 1000
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}

// serial counts down b.N requests on one goroutine.
type serial struct{ n int }

func (s *serial) Next() bool {
	s.n--
	return s.n >= 0
}

// concurrency: one connection for latency, 32 for throughput.
var concurrency = []int{1, 32}

// BenchmarkAPIGetEntity is GET /v1/blueprints/service/entities/{id} over
// every service in turn, anonymous and with a token.
func BenchmarkAPIGetEntity(b *testing.B) {
	for _, withToken := range []bool{false, true} {
		b.Run(map[bool]string{false: "Anonymous", true: "Token"}[withToken], func(b *testing.B) {
			w := newBenchWorld(b, withToken)
			for _, conns := range concurrency {
				b.Run(fmt.Sprintf("c%d", conns), func(b *testing.B) {
					w.run(b, conns, func(i int) (string, string, []byte) {
						return "GET", "/v1/blueprints/service/entities/" + w.services[i%len(w.services)], nil
					})
				})
			}
		})
	}
}

// BenchmarkHandler serves requests through the server's handler alone,
// without HTTP, on one goroutine, so that its CPU time and allocations per
// request (B/op, allocs/op) show without the client's and the network's:
// a GET of an entity (anonymous and with a token) and a page of the
// two-rule search. Allocations are what the collector pays for, and berth
// serve's collector also marks the reconciler's catalog.
func BenchmarkHandler(b *testing.B) {
	serve := func(b *testing.B, w *benchWorld, req func(i int) *http.Request) {
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			rw := &discardWriter{}
			w.handler.ServeHTTP(rw, req(i))
			if rw.status != http.StatusOK {
				b.Fatalf("status %d", rw.status)
			}
		}
	}
	for _, withToken := range []bool{false, true} {
		b.Run("GetEntity/"+map[bool]string{false: "Anonymous", true: "Token"}[withToken], func(b *testing.B) {
			w := newBenchWorld(b, withToken)
			reqs := make([]*http.Request, len(w.services))
			for i, id := range w.services {
				reqs[i] = httptest.NewRequest("GET", "/v1/blueprints/service/entities/"+id, nil)
				reqs[i].RemoteAddr = "127.0.0.1:1234"
				if w.auth != "" {
					reqs[i].Header.Set("Authorization", w.auth)
				}
			}
			serve(b, w, func(i int) *http.Request { return reqs[i%len(reqs)] })
		})
	}
	b.Run("TwoRules", func(b *testing.B) {
		w := newBenchWorld(b, false)
		body := `{"limit":200,"query":{"combinator":"and","rules":[{"property":"lifecycle","operator":"=","value":"Production"},` +
			`{"property":"test_coverage","operator":">=","value":50}]}}`
		serve(b, w, func(int) *http.Request {
			r := httptest.NewRequest("POST", "/v1/blueprints/service/entities/search", strings.NewReader(body))
			r.RemoteAddr = "127.0.0.1:1234"
			return r
		})
	})
}

// discardWriter is an http.ResponseWriter that keeps only the status.
type discardWriter struct {
	h      http.Header
	status int
}

func (d *discardWriter) Header() http.Header {
	if d.h == nil {
		d.h = http.Header{}
	}
	return d.h
}

func (d *discardWriter) WriteHeader(code int) {
	if d.status == 0 {
		d.status = code
	}
}

func (d *discardWriter) Write(b []byte) (int, error) {
	d.WriteHeader(http.StatusOK)
	return len(b), nil
}

// BenchmarkAPISearch is POST /v1/blueprints/{bp}/entities/search with
// limit 200: two property rules, a relatedTo, and a 3-hop matchAny.
func BenchmarkAPISearch(b *testing.B) { benchSearch(b, newBenchWorld(b, false)) }

// BenchmarkAPISearchRBAC is BenchmarkAPISearch as a developer who reads
// only its team's entities: the read policy is part of each statement and
// restricts every entity relatedTo and matchAny reach.
func BenchmarkAPISearchRBAC(b *testing.B) {
	benchSearch(b, newBenchWorldWith(b, true, api.Config{}, asDeveloper))
}

// asDeveloper gives the token's user the seed's developer role only: it
// reads the entities of its team.
func asDeveloper(cat *catalog.Catalog) {
	cat.Roles = append(cat.Roles, &catalog.Role{Identifier: "developer", Permissions: []catalog.RolePermission{{
		Action: "read", Resource: "entity",
		Condition: map[string]any{"property": "$team", "operator": "=", "value": "{{ user.team }}"}}}})
	for _, e := range cat.Entities {
		if e.Blueprint == catalog.UserBlueprint && e.Identifier == clientUser {
			e.Properties = map[string]any{"roles": []any{"developer"}}
		}
	}
}

func benchSearch(b *testing.B, w *benchWorld) {
	cases := []struct {
		name, bp string
		query    func(i int) string
	}{
		{"TwoRules", gen.Service, func(int) string {
			return `{"combinator":"and","rules":[{"property":"lifecycle","operator":"=","value":"Production"},` +
				`{"property":"test_coverage","operator":">=","value":50}]}`
		}},
		{"RelatedTo", gen.Service, func(i int) string {
			return fmt.Sprintf(`{"combinator":"and","rules":[{"operator":"relatedTo","blueprint":"domain","value":%q,`+
				`"direction":"downstream"}]}`, w.domains[i%len(w.domains)])
		}},
		{"MatchAny3Hops", gen.Deployment, func(i int) string {
			return fmt.Sprintf(`{"combinator":"and","rules":[{"operator":"matchAny","property":{"path":`+
				`["service","depends_on","domain"]},"value":%q}]}`, w.domains[i%len(w.domains)])
		}},
	}
	for _, c := range cases {
		for _, conns := range concurrency {
			b.Run(fmt.Sprintf("%s/c%d", c.name, conns), func(b *testing.B) {
				w.run(b, conns, func(i int) (string, string, []byte) {
					return "POST", "/v1/blueprints/" + c.bp + "/entities/search",
						[]byte(`{"limit":200,"query":` + c.query(i) + `}`)
				})
			})
		}
	}
}

// BenchmarkAPIWidgets is GET /v1/pages/bench/widgets/{widget}/data for a
// widget of each kind over the generated catalog, for an anonymous caller
// (every entity) and for a developer whose role reads one team's entities
// (the policy compiled into the same SQL), from one connection.
func BenchmarkAPIWidgets(b *testing.B) {
	services := map[string]any{"combinator": "and", "rules": []any{
		map[string]any{"property": "$blueprint", "operator": "=", "value": gen.Service}}}
	widgets := []map[string]any{
		{"id": "count", "type": "number", "dataset": services},
		{"id": "average", "type": "number", "dataset": services, "calculation": "average", "property": "test_coverage"},
		{"id": "median", "type": "number", "dataset": services, "calculation": "median", "property": "test_coverage"},
		{"id": "level", "type": "number", "dataset": services, "calculation": "average",
			"property": "$scorecard.production_readiness.level"},
		{"id": "pie_property", "type": "pie-chart", "dataset": services, "property": "lifecycle"},
		{"id": "pie_team", "type": "pie-chart", "dataset": services, "property": "team"},
		{"id": "pie_relation", "type": "pie-chart", "dataset": services, "property": "domain"},
		{"id": "table", "type": "table", "dataset": services, "columns": []any{"title", "lifecycle", "test_coverage", "domain"}},
		{"id": "line", "type": "line-chart", "blueprint": gen.Deployment, "property": "deployed_at", "timeframe": "last90days"},
	}
	page := &catalog.Page{Identifier: "bench", Type: "dashboard", Title: "Bench", Widgets: widgets}
	// The generated deployments are dated through 2025-06; a fixed clock
	// keeps the line chart's 90 days full.
	cfg := api.Config{Now: func() time.Time { return time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC) }}
	for _, caller := range []string{"Anonymous", "Developer"} {
		b.Run(caller, func(b *testing.B) {
			w := newBenchWorldWith(b, caller == "Developer", cfg, func(cat *catalog.Catalog) {
				cat.Pages = append(cat.Pages, page)
				page.Permissions = &catalog.PagePermissions{Read: &catalog.PermissionSet{Roles: []string{"developer"}}}
				asDeveloper(cat)
			})
			for _, wd := range widgets {
				b.Run(wd["id"].(string), func(b *testing.B) {
					w.run(b, 1, func(int) (string, string, []byte) {
						return "GET", "/v1/pages/bench/widgets/" + wd["id"].(string) + "/data?limit=50", nil
					})
				})
			}
		})
	}
}

// BenchmarkAPIUnderReconcile repeats the get and two-rule search figures
// while a commit changing 10 services is applied every second, as the
// reconciler applies one: one write transaction beside the readers (WAL),
// which must keep answering whole revisions at the same speed.
func BenchmarkAPIUnderReconcile(b *testing.B) {
	w := newBenchWorld(b, false)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var applied atomic.Int64
	go func() {
		defer close(done)
		var services []*catalog.Entity
		for _, u := range w.snap.Upserts {
			if u.Entity.Blueprint == gen.Service {
				services = append(services, u.Entity)
			}
		}
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for n := 2; ; n++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			snap := index.Snapshot{Blueprints: w.snap.Blueprints, Scorecards: w.snap.Scorecards, Actions: w.snap.Actions,
				Pages: w.snap.Pages, Roles: w.snap.Roles}
			for i := range 10 {
				e := *services[(n*10+i)%len(services)]
				e.Properties = maps.Clone(e.Properties)
				e.Properties["test_coverage"] = float64(n % 100)
				snap.Upserts = append(snap.Upserts, index.Upsert{Entity: &e})
			}
			info := index.RevisionInfo{Commit: commit(n), Author: "dev@example.com", CommittedAt: epoch.Add(time.Duration(n) * time.Hour)}
			if _, err := w.db.Apply(ctx, info, snap); err != nil && ctx.Err() == nil {
				b.Error(err)
				return
			}
			applied.Add(1)
		}
	}()
	b.Cleanup(func() { cancel(); <-done })
	b.Run("GetEntity/c32", func(b *testing.B) {
		w.run(b, 32, func(i int) (string, string, []byte) {
			return "GET", "/v1/blueprints/service/entities/" + w.services[i%len(w.services)], nil
		})
	})
	b.Run("TwoRules/c1", func(b *testing.B) {
		w.run(b, 1, func(int) (string, string, []byte) {
			return "POST", "/v1/blueprints/service/entities/search", []byte(`{"limit":200,"query":{"combinator":"and","rules":[` +
				`{"property":"lifecycle","operator":"=","value":"Production"},{"property":"test_coverage","operator":">=","value":50}]}}`)
		})
		b.ReportMetric(float64(applied.Load()), "commits")
	})
}
