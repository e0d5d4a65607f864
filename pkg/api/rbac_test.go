package api_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/crypto/bcrypt"

	"github.com/berth-dev/berth/pkg/api"
	"github.com/berth-dev/berth/pkg/catalog"
	"github.com/berth-dev/berth/pkg/index"
)

// rbacSnap is catalog-example with auth-service moved to the platform
// team, so that Kim (the seed's developer role, team identity) reads
// user-profile and incident inc-2025-0405 but not the auth-service
// between them: the tests below look for leaks through that hidden
// entity.
var rbacSnap = sync.OnceValues(func() (index.Snapshot, error) {
	cat, err := loadExample()
	if err != nil {
		return index.Snapshot{}, err
	}
	cat.Entity(catalog.EntityKey{Blueprint: "service", Identifier: "auth-service"}).Team = []string{"platform"}
	return snapshotOf(cat)
})

// The users of catalog-example the RBAC tests act as, by client id.
var rbacUsers = map[string]string{
	"admin":    "maria.chen@example.com",   // Admin
	"member":   "jonas.weber@example.com",  // Member, team payments
	"dev":      "kim.park@example.com",     // developer role only, team identity
	"lead":     "ravi.shah@example.com",    // team_lead, teams payments and checkout
	"disabled": "olga.ivanova@example.com", // status Disabled
	"stranger": "nobody@example.com",       // no _user entity
}

// rbacServer serves the RBAC catalog with one client per rbacUsers entry
// and returns a function that sends a request as one of them.
func rbacServer(tb testing.TB) (http.Handler, func(who, method, path string, body any) response) {
	tb.Helper()
	s, _, as := rbacServerWith(tb, api.Config{})
	return s, as
}

// rbacServerWith is rbacServer with more configuration; it also returns
// the server and the index.
func rbacServerWith(tb testing.TB, cfg api.Config) (*api.Server, *index.DB, func(who, method, path string, body any) response) {
	tb.Helper()
	snap, err := rbacSnap()
	if err != nil {
		tb.Fatal(err)
	}
	return rbacServerOf(tb, snap, cfg)
}

// rbacServerOf is rbacServerWith over another snapshot (cfg's Clients are
// replaced by the rbacUsers ones).
func rbacServerOf(tb testing.TB, snap index.Snapshot, cfg api.Config) (*api.Server, *index.DB, func(who, method, path string, body any) response) {
	tb.Helper()
	db := openDB(tb)
	apply(tb, db, 1, snap)
	return rbacServerFrom(tb, db, cfg)
}

// rbacServerFrom is rbacServerOf over an index already filled.
func rbacServerFrom(tb testing.TB, db *index.DB, cfg api.Config) (*api.Server, *index.DB, func(who, method, path string, body any) response) {
	tb.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(clientSecret), bcrypt.MinCost)
	if err != nil {
		tb.Fatal(err)
	}
	cfg.Clients = nil
	for id, user := range rbacUsers {
		cfg.Clients = append(cfg.Clients, api.Client{ID: id, SecretHash: string(h), User: user})
	}
	s := newServer(tb, db, cfg)
	tokens := map[string]string{}
	for id := range rbacUsers {
		r := do(tb, s, "POST", "/v1/auth/access_token", map[string]string{"clientId": id, "clientSecret": clientSecret}, nil).
			want(tb, 200, "")
		tokens[id] = r.Body["accessToken"].(string)
	}
	return s, db, func(who, method, path string, body any) response {
		tb.Helper()
		return do(tb, s, method, path, body, bearer(tokens[who]))
	}
}

func sorted(xs []string) []string {
	slices.Sort(xs)
	return xs
}

func rules(rs ...string) string {
	return `{"combinator": "and", "rules": [` + strings.Join(rs, ",") + `]}`
}

// TestRBAC_Reads holds every read channel to the readers' policies: what a
// caller may not read is absent from lists, counts and searches.
func TestRBAC_Reads(t *testing.T) {
	_, as := rbacServer(t)
	list := func(who, bp string) []string {
		return sorted(identifiers(as(who, "GET", "/v1/blueprints/"+bp+"/entities", nil).want(t, 200, "").list("entities")))
	}
	count := func(who, bp string) int {
		return int(as(who, "GET", "/v1/blueprints/"+bp+"/entities-count", nil).want(t, 200, "").Body["count"].(float64))
	}
	for _, tc := range []struct {
		who, blueprint string
		want           []string
	}{
		{"admin", "incident", []string{"inc-2025-0398", "inc-2025-0405", "inc-2025-0412", "inc-2025-0417", "inc-2025-0420"}},
		// incident: roles [Admin] and ownedByTeam.
		{"member", "incident", []string{"inc-2025-0398", "inc-2025-0417"}},
		{"lead", "incident", []string{"inc-2025-0398", "inc-2025-0412", "inc-2025-0417"}},
		{"dev", "incident", []string{"inc-2025-0405"}},
		// service sets no permissions: every Member; the developer and
		// the team lead only through their roles' team conditions.
		{"member", "service", []string{"auth-service", "build-runner", "cart-service", "checkout-web", "feature-flags",
			"fraud-detection", "ledger", "legacy-billing", "payments-api", "pricing-engine", "user-profile"}},
		{"dev", "service", []string{"user-profile"}},
		{"lead", "service", []string{"cart-service", "checkout-web", "fraud-detection", "ledger", "legacy-billing",
			"payments-api", "pricing-engine"}},
		{"dev", "domain", []string{"commerce", "developer-platform", "identity"}},
	} {
		t.Run(tc.who+"/"+tc.blueprint, func(t *testing.T) {
			got := list(tc.who, tc.blueprint)
			if diff := cmp.Diff(tc.want, got, cmp.Comparer(func(a, b []string) bool { return slices.Equal(a, b) })); diff != "" && !(len(tc.want) == 0 && len(got) == 0) {
				t.Errorf("list (-want +got):\n%s", diff)
			}
			if n := count(tc.who, tc.blueprint); n != len(tc.want) {
				t.Errorf("count = %d, want %d", n, len(tc.want))
			}
			search := as(tc.who, "POST", "/v1/blueprints/"+tc.blueprint+"/entities/search", `{"query": `+rules()+`}`).
				want(t, 200, "")
			if got := sorted(identifiers(search.list("entities"))); len(got) != len(tc.want) {
				t.Errorf("blueprint search found %v, want %v", got, tc.want)
			}
		})
	}

	t.Run("GetHiddenIsNotFound", func(t *testing.T) {
		hidden := as("dev", "GET", "/v1/blueprints/service/entities/auth-service", nil).want(t, 404, "not_found")
		missing := as("dev", "GET", "/v1/blueprints/service/entities/no-such", nil).want(t, 404, "not_found")
		if strings.ReplaceAll(string(hidden.Raw), "auth-service", "no-such") != string(missing.Raw) {
			t.Errorf("hidden and missing answer differently:\n%s\n%s", hidden.Raw, missing.Raw)
		}
		as("admin", "GET", "/v1/blueprints/service/entities/auth-service", nil).want(t, 200, "")
		as("dev", "GET", "/v1/blueprints/service/entities/user-profile", nil).want(t, 200, "")
	})

	t.Run("GlobalSearch", func(t *testing.T) {
		q := rules(`{"property": "$blueprint", "operator": "in", "value": ["service", "incident"]}`)
		got := sorted(identifiers(as("dev", "POST", "/v1/entities/search", q).want(t, 200, "").list("entities")))
		if want := []string{"inc-2025-0405", "user-profile"}; !slices.Equal(got, want) {
			t.Errorf("global search = %v, want %v", got, want)
		}
	})

	// Rules that read other entities see only readable ones: naming a
	// hidden entity, walking through one, or reading its title must not
	// tell the caller it exists.
	for _, tc := range []struct {
		name, path, query string
		admin, dev        []string
	}{
		{"RelatedToHidden", "/v1/entities/search",
			rules(`{"operator": "relatedTo", "blueprint": "service", "value": "auth-service"}`),
			[]string{"auth-service-v4.0.0-production", "checkout-web", "identity", "inc-2025-0405", "payments-api", "user-profile"}, nil},
		{"MatchAnyThroughHidden", "/v1/blueprints/incident/entities/search",
			`{"query": ` + rules(`{"property": {"path": ["service", "depends_on"]}, "operator": "matchAny", "value": "user-profile"}`) + `}`,
			[]string{"inc-2025-0405"}, nil},
		{"RelationTitleOfHidden", "/v1/blueprints/incident/entities/search",
			`{"query": ` + rules(`{"relation": "service", "targetProperty": "$title", "operator": "beginsWith", "value": "Auth"}`) + `}`,
			[]string{"inc-2025-0405"}, nil},
		{"RelationIdentifierIsOwnData", "/v1/blueprints/incident/entities/search",
			`{"query": ` + rules(`{"relation": "service", "operator": "=", "value": "auth-service"}`) + `}`,
			[]string{"inc-2025-0405"}, []string{"inc-2025-0405"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for who, want := range map[string][]string{"admin": tc.admin, "dev": tc.dev} {
				got := sorted(identifiers(as(who, "POST", tc.path, tc.query).want(t, 200, "").list("entities")))
				if len(got) != len(want) || (len(want) > 0 && !slices.Equal(got, want)) {
					t.Errorf("%s: %v, want %v", who, got, want)
				}
			}
		})
	}

	t.Run("RelationTitles", func(t *testing.T) {
		title := func(who string) any {
			r := as(who, "GET", "/v1/blueprints/incident/entities/inc-2025-0405?attach_title_to_relation=true", nil).want(t, 200, "")
			return r.obj("entity")["relations"].(map[string]any)["service"].(map[string]any)["title"]
		}
		if got := title("admin"); got != "Auth Service" {
			t.Errorf("admin sees title %v", got)
		}
		if got := title("dev"); got != nil {
			t.Errorf("dev sees the hidden service's title %v", got)
		}
	})

	t.Run("RelatedWalk", func(t *testing.T) {
		walk := func(who string) []string {
			r := as(who, "GET", "/v1/blueprints/service/entities/user-profile/related?direction=downstream&depth=3", nil).
				want(t, 200, "")
			return sorted(identifiers(r.list("entities")))
		}
		if got := walk("admin"); !slices.Contains(got, "inc-2025-0405") || !slices.Contains(got, "auth-service") {
			t.Errorf("admin walk = %v", got)
		}
		// inc-2025-0405 is readable, but only reachable through the
		// hidden auth-service.
		if got := walk("dev"); len(got) != 0 {
			t.Errorf("dev walk = %v, want nothing", got)
		}
	})

	t.Run("ScorecardSummaryAndHistory", func(t *testing.T) {
		entities := func(who string) float64 {
			r := as(who, "GET", "/v1/blueprints/service/scorecards/production_readiness/summary", nil).want(t, 200, "")
			return r.obj("summary")["entities"].(float64)
		}
		// The scorecard's filter scores 9 services; Kim reads one.
		if a, d := entities("admin"), entities("dev"); a != 9 || d != 1 {
			t.Errorf("summary entities: admin %v, dev %v; want 9 and 1", a, d)
		}
		as("dev", "GET", "/v1/blueprints/service/entities/auth-service/scorecards/production_readiness/history", nil).
			want(t, 404, "not_found")
		as("dev", "GET", "/v1/blueprints/service/entities/user-profile/scorecards/production_readiness/history", nil).
			want(t, 200, "")
	})

	t.Run("CursorBoundToCaller", func(t *testing.T) {
		r := as("admin", "POST", "/v1/blueprints/service/entities/search", `{"limit": 2}`).want(t, 200, "")
		next, _ := r.Body["next"].(string)
		if next == "" {
			t.Fatal("no next cursor")
		}
		as("dev", "POST", "/v1/blueprints/service/entities/search", `{"limit": 2, "from": "`+next+`"}`).
			want(t, 400, "invalid_cursor")
		as("admin", "POST", "/v1/blueprints/service/entities/search", `{"limit": 2, "from": "`+next+`"}`).
			want(t, 200, "")
	})

	t.Run("ReadOnlyAnswerNamesNoHiddenFile", func(t *testing.T) {
		msg := func(who string) string {
			r := as(who, "PATCH", "/v1/blueprints/service/entities/auth-service", `{}`).want(t, 405, "read_only")
			return r.Body["message"].(string)
		}
		if m := msg("admin"); !strings.Contains(m, "entities/service/auth-service.yaml") {
			t.Errorf("admin: %s", m)
		}
		if m := msg("dev"); strings.Contains(m, "auth-service.yaml") {
			t.Errorf("dev learns the hidden entity's file: %s", m)
		}
	})

	t.Run("DisabledAndUnknownUsers", func(t *testing.T) {
		for _, who := range []string{"disabled", "stranger"} {
			as(who, "GET", "/v1/blueprints/service/entities", nil).want(t, 403, "forbidden")
			as(who, "POST", "/v1/entities/search", rules()).want(t, 403, "forbidden")
		}
	})
}

// TestRBAC_Pages: pages answer by their read permissions; any caller may
// ask a page's permissions; the system pages are for Admins.
func TestRBAC_Pages(t *testing.T) {
	_, as := rbacServer(t)
	pages := func(who string) []string {
		return sorted(identifiers(as(who, "GET", "/v1/pages", nil).want(t, 200, "").list("pages")))
	}
	all := []string{"engineering_overview", "services", "team_dashboard"}
	if got := pages("member"); !slices.Equal(got, all) {
		t.Errorf("member pages = %v", got)
	}
	// Kim holds the developer role only: neither Admin nor Member.
	if got := pages("dev"); len(got) != 0 {
		t.Errorf("dev pages = %v, want none", got)
	}
	as("dev", "GET", "/v1/pages/services", nil).want(t, 404, "not_found")
	p := as("member", "GET", "/v1/pages/services", nil).want(t, 200, "").obj("page")
	if p["locked"] != false {
		t.Errorf("locked = %v, want false", p["locked"])
	}
	for _, who := range []string{"dev", "member"} {
		r := as(who, "GET", "/v1/pages/services/permissions", nil)
		if r.Code != 200 {
			t.Fatalf("%s: %d %s", who, r.Code, r.Raw)
		}
		if got, want := string(r.Raw), `{"read":{"roles":["Admin","Member"],"users":[],"teams":[]}}`+"\n"; got != want {
			t.Errorf("%s: permissions = %s, want %s", who, got, want)
		}
	}
	as("member", "GET", "/v1/pages/no-such/permissions", nil).want(t, 404, "not_found")

	// berth's system pages have fixed permissions, Admins only: the same
	// answer to every caller, whether or not a catalog file describes the
	// page (catalog-example has none).
	for _, id := range []string{catalog.PageStatus, catalog.PageAuditLog} {
		for _, who := range []string{"admin", "member", "dev"} {
			r := as(who, "GET", "/v1/pages/"+id+"/permissions", nil)
			if got, want := string(r.Raw), `{"read":{"roles":["Admin"],"users":[],"teams":[]}}`+"\n"; got != want {
				t.Errorf("%s %s: permissions = %s, want %s", who, id, got, want)
			}
		}
	}
}

// TestRBAC_BlueprintPermissions is Port's GET /v1/blueprints/{bp}/permissions.
func TestRBAC_BlueprintPermissions(t *testing.T) {
	_, as := rbacServer(t)
	for bp, want := range map[string]string{
		"incident": `{"entities":{"read":{"ownedByTeam":true,"roles":["Admin"],"teams":[],"users":[]}}}`,
		"service":  `{"entities":{"read":{"ownedByTeam":false,"roles":["Admin","Member"],"teams":[],"users":[]}}}`,
	} {
		r := as("dev", "GET", "/v1/blueprints/"+bp+"/permissions", nil).want(t, 200, "")
		got, err := json.Marshal(r.Body["permissions"])
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want {
			t.Errorf("%s: %s, want %s", bp, got, want)
		}
	}
	as("dev", "GET", "/v1/blueprints/nosuch/permissions", nil).want(t, 404, "not_found")
}

// TestRBAC_PagePatch: Port's PATCH of a page's permissions or lock is
// answered 405 with the berth command that makes the change for a pull
// request.
func TestRBAC_PagePatch(t *testing.T) {
	_, as := rbacServer(t)
	for _, tc := range []struct{ path, body, want string }{
		{"/v1/pages/services/permissions", `{"read": {"roles": ["Admin"]}}`,
			`berth pages permissions services --patch '{"read":{"roles":["Admin"]}}'`},
		{"/v1/pages/services", `{"locked": true}`, "berth pages lock services"},
		{"/v1/pages/services", `{"locked": false}`, "berth pages unlock services"},
	} {
		r := as("admin", "PATCH", tc.path, tc.body).want(t, 405, "read_only")
		if msg := r.Body["message"].(string); !strings.Contains(msg, tc.want) {
			t.Errorf("PATCH %s %s: %s\nwant it to name %s", tc.path, tc.body, msg, tc.want)
		}
	}
	// Another change of a page names its file.
	r := as("admin", "PATCH", "/v1/pages/services", `{"title": "x"}`).want(t, 405, "read_only")
	if msg := r.Body["message"].(string); !strings.Contains(msg, "pages/services.yaml") {
		t.Errorf("PATCH title: %s", msg)
	}
}

// A blueprint's read policy with a {context: userTeams} value grants each
// caller the entities the query selects for them, in lists and counts
// alike: incidents assigned to one of the caller's teams (ownedByTeam off,
// so the policy alone grants them).
func TestRBAC_ReadPolicyWithUserTeams(t *testing.T) {
	cat, err := loadExample()
	if err != nil {
		t.Fatal(err)
	}
	cat.Blueprints["incident"].Permissions.Entities.Read = &catalog.ReadGrant{
		Roles: []string{catalog.RoleAdmin},
		Policy: catalog.Query{"combinator": "and", "rules": []any{map[string]any{
			"property": "assigned_team", "operator": "in",
			"value": map[string]any{"context": "userTeams", "property": "$identifier"}}}},
	}
	snap, err := snapshotOf(cat)
	if err != nil {
		t.Fatal(err)
	}
	_, _, as := rbacServerOf(t, snap, api.Config{})
	for who, want := range map[string][]string{
		"admin":  {"inc-2025-0398", "inc-2025-0405", "inc-2025-0412", "inc-2025-0417", "inc-2025-0420"},
		"member": {"inc-2025-0398", "inc-2025-0417"},                  // payments
		"lead":   {"inc-2025-0398", "inc-2025-0412", "inc-2025-0417"}, // payments and checkout
		"dev":    {"inc-2025-0405"},                                   // identity
	} {
		t.Run(who, func(t *testing.T) {
			got := sorted(identifiers(as(who, "GET", "/v1/blueprints/incident/entities", nil).want(t, 200, "").list("entities")))
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("list (-want +got):\n%s", diff)
			}
			n := int(as(who, "GET", "/v1/blueprints/incident/entities-count", nil).want(t, 200, "").Body["count"].(float64))
			if n != len(want) {
				t.Errorf("count = %d, want %d", n, len(want))
			}
		})
	}
}
