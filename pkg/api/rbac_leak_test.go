package api_test

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/berth-dev/berth/pkg/api"
	"github.com/berth-dev/berth/pkg/catalog"
	"github.com/berth-dev/berth/pkg/index"
)

// Regression tests of the RBAC review: each was a leak or a bug found by
// probing the read API as a restricted caller.

// leakSnap is rbacSnap's catalog with a distinctive owner on the hidden
// auth-service, so that a leak of it is visible.
func leakSnap(t *testing.T, edit func(*catalog.Catalog)) index.Snapshot {
	t.Helper()
	cat, err := loadExample()
	if err != nil {
		t.Fatal(err)
	}
	auth := cat.Entity(catalog.EntityKey{Blueprint: "service", Identifier: "auth-service"})
	auth.Team = []string{"platform"}
	auth.Properties["owner"] = "SECRET-OWNER"
	if edit != nil {
		edit(cat)
	}
	snap, err := snapshotOf(cat)
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

// A blueprint whose read permissions name Admins only is read by Admins
// only: a custom role's condition (the developer's team rule) applies to
// the blueprints that set no read permissions, so the permissions route
// tells the whole truth.
func TestRBAC_BlueprintGrantIsTheWholeTruth(t *testing.T) {
	snap := leakSnap(t, func(cat *catalog.Catalog) {
		cat.Blueprints["incident"].Permissions.Entities.Read.OwnedByTeam = false // roles: [Admin] only
	})
	_, _, as := rbacServerOf(t, snap, api.Config{})
	got := identifiers(as("dev", "GET", "/v1/blueprints/incident/entities", nil).want(t, 200, "").list("entities"))
	if len(got) != 0 {
		t.Errorf("incident is for Admins only, yet the developer reads %v", got)
	}
}

// A pie chart by relation groups by related entity: two blueprints'
// relations of one name reaching two entities of the same identifier, one
// of them hidden, must not let the hidden one's title through the visible
// one's slice.
func TestRBAC_PieByRelationOfHidden(t *testing.T) {
	snap := leakSnap(t, func(cat *catalog.Catalog) {
		cat.Blueprints["service"].Relations["team"] = catalog.RelationDef{Title: "Team", Target: "domain"}
		cat.Entity(catalog.EntityKey{Blueprint: "service", Identifier: "payments-api"}).Relations["team"] =
			catalog.RelationValue{Targets: []string{"identity"}}
		cat.Entity(catalog.EntityKey{Blueprint: "domain", Identifier: "identity"}).Title = "ZZZ Secret Domain"
		cat.Entity(catalog.EntityKey{Blueprint: "team", Identifier: "identity"}).Team = []string{"payments"}
		cat.Entity(catalog.EntityKey{Blueprint: "microservice", Identifier: "session-cache"}).Team = []string{"payments"}
		cat.Pages = append(cat.Pages, &catalog.Page{Identifier: "review", Type: "dashboard",
			Permissions: &catalog.PagePermissions{Read: &catalog.PermissionSet{Users: []string{"ravi.shah@example.com"}}},
			Widgets: []map[string]any{{"id": "by_team", "type": "pie-chart", "property": "relation#team",
				"dataset": map[string]any{"combinator": "and", "rules": []any{
					map[string]any{"property": "$blueprint", "operator": "in", "value": []any{"service", "microservice"}}}}}}})
	})
	_, _, as := rbacServerOf(t, snap, api.Config{})
	as("lead", "GET", "/v1/blueprints/domain/entities/identity", nil).want(t, 404, "not_found")
	as("lead", "GET", "/v1/blueprints/team/entities/identity", nil).want(t, 200, "")
	r := as("lead", "GET", "/v1/pages/review/widgets/by_team/data", nil).want(t, 200, "")
	for _, sl := range r.Body["data"].([]any) {
		m := sl.(map[string]any)
		if m["title"] == "ZZZ Secret Domain" {
			t.Errorf("the pie shows the hidden domain's title: %v", m)
		}
	}
}

// A user's roles change in a new commit: the next read uses them, also
// while other reads run (go test -race).
func TestRBAC_CallerCacheAcrossCommits(t *testing.T) {
	snap1 := leakSnap(t, nil)
	snap2 := leakSnap(t, func(cat *catalog.Catalog) {
		cat.Entity(catalog.EntityKey{Blueprint: "_user", Identifier: "kim.park@example.com"}).Properties["port_role"] = "Admin"
		cat.Entity(catalog.EntityKey{Blueprint: "_user", Identifier: "ravi.shah@example.com"}).Properties["status"] = "Disabled"
	})
	_, db, as := rbacServerOf(t, snap1, api.Config{})
	n := func(who string) int {
		return len(as(who, "GET", "/v1/blueprints/incident/entities", nil).want(t, 200, "").list("entities"))
	}
	if got := n("dev"); got != 1 {
		t.Fatalf("dev reads %d incidents before", got)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 50; i++ {
			as("member", "GET", "/v1/blueprints/incident/entities", nil)
		}
	}()
	apply(t, db, 2, snap2)
	<-done
	if got := n("dev"); got != 5 {
		t.Errorf("dev (now Admin) reads %d incidents, want 5", got)
	}
	as("lead", "GET", "/v1/blueprints/incident/entities", nil).want(t, 403, "forbidden")
}

// A user the catalog does not know (or a Disabled one) gets 403 even with
// an If-None-Match that matches: the caller is checked before the ETag.
func TestRBAC_NotModifiedAfterCallerCheck(t *testing.T) {
	s, as := rbacServer(t)
	as("stranger", "GET", "/v1/blueprints/service/entities", nil).want(t, 403, "forbidden")
	tok := do(t, s, "POST", "/v1/auth/access_token", map[string]string{"clientId": "stranger", "clientSecret": clientSecret}, nil).
		Body["accessToken"].(string)
	h := bearer(tok)
	h["If-None-Match"] = "*"
	if r := do(t, s, "GET", "/v1/blueprints/service/entities", nil, h); r.Code != 403 {
		t.Errorf("stranger with If-None-Match: *: %d, want 403 (headers %v)", r.Code, r.Header)
	}
}

// GET /metrics on the API address with a token is a request of an
// authenticated caller: the audit log records it, and a member's refused
// attempt.
func TestRBAC_MetricsAudited(t *testing.T) {
	db, rec, reg := reconciledExample(t)
	clients := reconciledClients(t)
	s, err := api.New(db, rec, api.Config{Addr: "127.0.0.1:0", Clients: clients, Gatherer: reg})
	if err != nil {
		t.Fatal(err)
	}
	admin, member := tokenOf(t, s, "admin"), tokenOf(t, s, "member")
	for _, hd := range []header{admin, member} {
		rr := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/metrics", nil)
		req.Header.Set("Authorization", hd["Authorization"])
		s.ServeHTTP(rr, req)
	}
	do(t, s, "GET", "/v1/blueprints", nil, member).want(t, 200, "")
	closeServer(t, s)
	s2, err := api.New(db, rec, api.Config{Addr: "127.0.0.1:0", Clients: clients, Gatherer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	defer closeServer(t, s2)
	r := do(t, s2, "GET", "/v1/audit-log?type=request", nil, tokenOf(t, s2, "admin")).want(t, 200, "")
	got := summaries(r.list("audit"))
	n := 0
	for _, it := range got {
		if strings.Contains(it, "/metrics") {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d /metrics requests in the audit log, want 2", n)
	}
}

// Kim may not read her own team's _team entity: {context: userTeams,
// property} in her queries must not bind its properties, or a rule whose
// subject is that value (decided as a constant: every readable entity or
// none) would spell a hidden property out, prefix by prefix.
func TestRBAC_UserTeamsContextOfHiddenTeam(t *testing.T) {
	_, _, as := rbacServerWith(t, api.Config{RateLimit: 1e9, RateBurst: 1e9})
	as("dev", "GET", "/v1/blueprints/_team/entities/identity", nil).want(t, 404, "not_found")
	probe := func(prefix string) bool {
		q := rules(`{"property": {"context": "userTeams", "property": "description"}, "operator": "beginsWith", "value": "` + prefix + `"}`)
		return len(as("dev", "POST", "/v1/entities/search", q).want(t, 200, "").list("entities")) > 0
	}
	// Spell it out one letter at a time.
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ ,-"
	got := ""
	for len(got) < 12 {
		found := false
		for _, c := range alphabet {
			if probe(got + string(c)) {
				got += string(c)
				found = true
				break
			}
		}
		if !found {
			break
		}
	}
	if got != "" {
		t.Errorf("dev reads the hidden _team/identity description through the context: %q...", got)
	}
}

// TestRBAC_Differential: what a restricted caller reads of the catalog
// must equal what the same caller reads of the catalog without the
// entities hidden from it. Every answer that differs is listed.
func TestRBAC_Differential(t *testing.T) {
	full := leakSnap(t, nil)
	blueprints := map[string]*catalog.Blueprint{}
	for _, b := range full.Blueprints {
		blueprints[b.Identifier] = b
	}
	cfg := api.Config{RateLimit: 1e9, RateBurst: 1e9}
	_, _, asFull := rbacServerOf(t, full, cfg)
	var bps []string
	for _, b := range asFull("admin", "GET", "/v1/blueprints", nil).want(t, 200, "").list("blueprints") {
		bps = append(bps, b["identifier"].(string))
	}
	for _, who := range []string{"dev", "lead", "member"} {
		t.Run(who, func(t *testing.T) {
			hidden := map[catalog.EntityKey]bool{}
			var all []catalog.EntityKey
			for _, bp := range bps {
				vis := map[string]bool{}
				for _, id := range identifiers(asFull(who, "GET", "/v1/blueprints/"+bp+"/entities", nil).want(t, 200, "").list("entities")) {
					vis[id] = true
				}
				for _, id := range identifiers(asFull("admin", "GET", "/v1/blueprints/"+bp+"/entities", nil).want(t, 200, "").list("entities")) {
					k := catalog.EntityKey{Blueprint: bp, Identifier: id}
					all = append(all, k)
					if !vis[id] && !(bp == "_user" && id == rbacUsers[who]) {
						hidden[k] = true
					}
				}
			}
			pruned := full
			pruned.Upserts, pruned.Scores = nil, nil
			for _, u := range full.Upserts {
				if !hidden[u.Entity.Key()] {
					pruned.Upserts = append(pruned.Upserts, u)
				}
			}
			for _, sc := range full.Scores {
				if !hidden[sc.Key] {
					pruned.Scores = append(pruned.Scores, sc)
				}
			}
			_, _, asPruned := rbacServerOf(t, pruned, cfg)
			type req struct{ method, path, body string }
			var reqs []req
			get := func(p string) { reqs = append(reqs, req{"GET", p, ""}) }
			post := func(p, b string) { reqs = append(reqs, req{"POST", p, b}) }
			post("/v1/entities/search", rules())
			get("/v1/pages")
			for _, bp := range bps {
				get("/v1/blueprints/" + bp + "/entities?attach_title_to_relation=true")
				get("/v1/blueprints/" + bp + "/entities-count")
				post("/v1/blueprints/"+bp+"/entities/search", `{"limit": 2}`)
				for _, sc := range asFull("admin", "GET", "/v1/blueprints/"+bp+"/scorecards", nil).want(t, 200, "").list("scorecards") {
					get("/v1/blueprints/" + bp + "/scorecards/" + sc["identifier"].(string) + "/summary")
				}
				for rel := range blueprints[bp].Relations {
					for _, op := range []string{"isNotEmpty", "isEmpty"} {
						post("/v1/blueprints/"+bp+"/entities/search", `{"query": `+rules(`{"relation": "`+rel+`", "targetProperty": "$title", "operator": "`+op+`"}`)+`}`)
					}
				}
			}
			for _, k := range all {
				base := "/v1/blueprints/" + k.Blueprint + "/entities/" + k.Identifier
				get(base + "?attach_title_to_relation=true")
				get(base + "/related?direction=upstream&depth=3")
				get(base + "/related?direction=downstream&depth=3")
				post("/v1/entities/search", rules(`{"operator": "relatedTo", "blueprint": "`+k.Blueprint+`", "value": "`+k.Identifier+`"}`))
				for _, bp := range bps {
					for rel := range blueprints[bp].Relations {
						post("/v1/entities/search", rules(`{"property": {"path": ["`+rel+`"], "fromBlueprint": "`+k.Blueprint+`"}, "operator": "matchAny", "value": "`+k.Identifier+`"}`))
						post("/v1/entities/search", rules(`{"property": {"path": ["`+rel+`"]}, "operator": "matchAny", "value": "`+k.Identifier+`"}`))
					}
				}
			}
			for _, p := range asFull(who, "GET", "/v1/pages", nil).want(t, 200, "").list("pages") {
				ws, _ := p["widgets"].([]any)
				for _, w := range ws {
					get("/v1/pages/" + p["identifier"].(string) + "/widgets/" + w.(map[string]any)["id"].(string) + "/data")
				}
			}
			diffs := 0
			for _, rq := range reqs {
				var body any
				if rq.body != "" {
					body = rq.body
				}
				a, b := asFull(who, rq.method, rq.path, body), asPruned(who, rq.method, rq.path, body)
				if a.Code != b.Code || !cmp.Equal(withoutTimes(a.Body), withoutTimes(b.Body)) {
					diffs++
					if diffs <= 40 {
						t.Errorf("%s %s %s: full %d, pruned %d (-full +pruned):\n%s", rq.method, rq.path, rq.body, a.Code, b.Code, cmp.Diff(withoutTimes(a.Body), withoutTimes(b.Body)))
					}
				}
			}
			t.Logf("%d requests, %d differ; %d entities hidden", len(reqs), diffs, len(hidden))
		})
	}
}

// withoutTimes drops the "at" fields of a decoded answer: when a revision
// was applied to an index, which differs between two indexes.
func withoutTimes(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, it := range x {
			if k != "at" {
				out[k] = withoutTimes(it)
			}
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, it := range x {
			out[i] = withoutTimes(it)
		}
		return out
	}
	return v
}
