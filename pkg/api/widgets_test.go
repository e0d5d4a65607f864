package api_test

import (
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/pkg/access"
	"github.com/berth-dev/berth/pkg/api"
	"github.com/berth-dev/berth/pkg/catalog"
	"github.com/berth-dev/berth/pkg/index"
	"github.com/berth-dev/berth/pkg/query"
)

// widgetNow is the widget tests' clock: two days after catalog-example's
// last deployment.
var widgetNow = time.Date(2025, 6, 6, 12, 0, 0, 0, time.UTC)

// The numbers and pie charts TestWidgets_BruteForce computes again in
// memory, as widgets of the lab page: numbers name their blueprint with
// Port's blueprint key, pies with the seed's $blueprint dataset rule.
var (
	bruteNumbers = []struct{ bp, prop string }{
		{"service", "test_coverage"}, {"service", "cost_per_month"}, {"service", "critical_vulnerabilities"},
		{"service", "$scorecard.production_readiness.level"}, {"microservice", "cpu_usage"},
		{"microservice", "memory_usage"}, {"deployment", "duration_seconds"}, {"team", "headcount"},
		{"domain", "headcount"}, // no domain has one: nothing to aggregate
	}
	bruteFuncs = []string{"sum", "average", "min", "max", "median"}
	brutePies  = []struct{ bp, prop string }{
		{"service", "lifecycle"}, {"service", "language"}, {"service", "tier"}, {"service", "team"},
		{"service", "domain"}, {"service", "depends_on"}, {"microservice", "team"},
		{"microservice", "health_status"}, {"deployment", "status"}, {"incident", "severity"},
	}
)

func bruteID(kind, bp, prop string) string {
	return "bf_" + kind + "_" + bp + "_" + strings.NewReplacer("$", "", ".", "_").Replace(prop)
}

func blueprintRule(bp string) map[string]any {
	return map[string]any{"combinator": "and", "rules": []any{
		map[string]any{"property": "$blueprint", "operator": "=", "value": bp}}}
}

// labWidgets are hand-written widgets of every kind beyond the seed's.
var labWidgets = []map[string]any{
	{"id": "coverage_avg", "title": "Average coverage", "type": "entities-number-chart", "blueprint": "service",
		"calculationBy": "property", "func": "average", "property": "test_coverage"},
	{"id": "readiness_median", "title": "Median readiness", "type": "number", "dataset": blueprintRule("service"),
		"calculation": "median", "property": "$scorecard.production_readiness.level"},
	{"id": "readiness_levels", "title": "Readiness levels", "type": "entities-pie-chart", "blueprint": "service",
		"property": "$scorecard.production_readiness.level"},
	{"id": "services_by_domain", "title": "Services by domain", "type": "pie-chart", "dataset": blueprintRule("service"),
		"property": "relation#domain"},
	{"id": "dependencies", "title": "Most depended on", "type": "pie-chart", "dataset": blueprintRule("service"),
		"property": "depends_on"},
	{"id": "incidents", "title": "Incidents", "type": "table-entities-explorer", "blueprint": "incident",
		"columns": []any{"$title", "status", "severity", "service", "$team", "$createdAt"}},
	{"id": "deploys_by_day", "title": "Deployments per day", "type": "line-chart", "dataset": blueprintRule("deployment"),
		"property": "deployed_at", "timeframe": "last7days"},
	{"id": "notes", "title": "Notes", "type": "markdown", "markdown": "# Hello"},
}

// widgetCatalog is catalog-example as rbacSnap has it (auth-service moved
// to the platform team), with deployments created when they were
// deployed, the seed dashboards readable by Kim (the developer role reads
// no page otherwise), a locked copy of the team dashboard, a page for
// Admins only, and the lab page.
var widgetCatalog = sync.OnceValues(func() (widgetWorld, error) {
	cat, err := loadExample()
	if err != nil {
		return widgetWorld{}, err
	}
	cat.Entity(catalog.EntityKey{Blueprint: "service", Identifier: "auth-service"}).Team = []string{"platform"}
	withKim := &catalog.PagePermissions{Read: &catalog.PermissionSet{Roles: []string{catalog.RoleAdmin, catalog.RoleMember},
		Users: []string{rbacUsers["dev"], rbacUsers["lead"]}}}
	var extra []*catalog.Page
	for _, p := range cat.Pages {
		if p.Identifier == "engineering_overview" || p.Identifier == "team_dashboard" {
			p.Permissions = withKim
		}
		if p.Identifier == "team_dashboard" {
			locked := *p
			locked.Identifier, locked.Locked = "team_dashboard_locked", true
			extra = append(extra, &locked)
		}
	}
	lab := &catalog.Page{Identifier: "lab", Type: "dashboard", Title: "Lab", Permissions: withKim, Widgets: labWidgets}
	for _, n := range bruteNumbers {
		for _, fn := range bruteFuncs {
			lab.Widgets = append(lab.Widgets, map[string]any{"id": bruteID(fn, n.bp, n.prop), "type": "number",
				"blueprint": n.bp, "calculation": fn, "property": n.prop})
		}
	}
	for _, p := range brutePies {
		lab.Widgets = append(lab.Widgets, map[string]any{"id": bruteID("pie", p.bp, p.prop), "type": "pie-chart",
			"dataset": blueprintRule(p.bp), "property": p.prop})
	}
	admins := &catalog.Page{Identifier: "admin_dashboard", Type: "dashboard", Title: "Admins",
		Permissions: &catalog.PagePermissions{Read: &catalog.PermissionSet{Roles: []string{catalog.RoleAdmin}}},
		Widgets:     []map[string]any{{"id": "everything", "type": "number", "title": "Entities"}}}
	cat.Pages = append(cat.Pages, append(extra, lab, admins)...)
	snap, err := snapshotOf(cat)
	if err != nil {
		return widgetWorld{}, err
	}
	for _, e := range cat.Entities {
		if at, ok := e.Properties["deployed_at"].(string); ok && e.Blueprint == "deployment" {
			t, _ := time.Parse(time.RFC3339, at)
			e.Meta.CreatedAt = t
		}
	}
	return widgetWorld{cat: cat, snap: snap}, nil
})

type widgetWorld struct {
	cat  *catalog.Catalog
	snap index.Snapshot
}

func widgetServer(tb testing.TB) (widgetWorld, func(who, method, path string, body any) response) {
	tb.Helper()
	w, err := widgetCatalog()
	if err != nil {
		tb.Fatal(err)
	}
	_, _, as := rbacServerOf(tb, w.snap, api.Config{Now: func() time.Time { return widgetNow }})
	return w, as
}

func dataPath(page, widget string, params ...string) string {
	p := "/v1/pages/" + page + "/widgets/" + widget + "/data"
	if len(params) > 0 {
		p += "?" + strings.Join(params, "&")
	}
	return p
}

// seedWidgets are every widget of the seed's two dashboards.
var seedWidgets = [][2]string{
	{"engineering_overview", "services_by_team"}, {"engineering_overview", "deployment_frequency"},
	{"engineering_overview", "production_readiness"}, {"team_dashboard", "my_services"},
	{"team_dashboard", "incident_count"},
}

// TestWidgets_Golden answers every widget of the seed dashboards and of
// the lab page for an Admin and for restricted users, against
// testdata/widgets/<user>.json.
func TestWidgets_Golden(t *testing.T) {
	_, as := widgetServer(t)
	pairs := slices.Clone(seedWidgets)
	for _, w := range labWidgets {
		if w["type"] != "markdown" {
			pairs = append(pairs, [2]string{"lab", w["id"].(string)})
		}
	}
	for _, who := range []string{"admin", "member", "dev", "lead"} {
		t.Run(who, func(t *testing.T) {
			out := map[string]any{}
			for _, pw := range pairs {
				out[pw[0]+"/"+pw[1]] = as(who, "GET", dataPath(pw[0], pw[1]), nil).want(t, 200, "").Body
			}
			b, err := json.MarshalIndent(out, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden(t, "widgets/"+who+".json", append(b, '\n'))
		})
	}
}

// TestWidgets_RBAC spells out what the golden files hold for the seed's
// widgets: each caller counts only what it may read, and {{ user.team }}
// is the caller's teams.
func TestWidgets_RBAC(t *testing.T) {
	_, as := widgetServer(t)
	value := func(who, page, widget string) any {
		return as(who, "GET", dataPath(page, widget), nil).want(t, 200, "").Body["value"]
	}
	total := func(who, page, widget string) any {
		return as(who, "GET", dataPath(page, widget), nil).want(t, 200, "").Body["total"]
	}
	for _, tc := range []struct {
		who                               string
		services, openIncidents, myTables float64
	}{
		// Maria (Admin, platform): every service; platform's open incident
		// and its three services (auth-service moved there).
		{"admin", 11, 1, 3},
		// Jonas (Member, payments): every service; incidents are
		// ownedByTeam, so payments' one open incident.
		{"member", 11, 1, 4},
		// Kim (developer, identity): identity's entities only.
		{"dev", 1, 0, 1},
		// Ravi (team lead of payments and checkout): both teams'.
		{"lead", 7, 2, 7},
	} {
		t.Run(tc.who, func(t *testing.T) {
			if got := total(tc.who, "engineering_overview", "services_by_team"); got != tc.services {
				t.Errorf("services_by_team total = %v, want %v", got, tc.services)
			}
			if got := value(tc.who, "team_dashboard", "incident_count"); got != tc.openIncidents {
				t.Errorf("incident_count = %v, want %v", got, tc.openIncidents)
			}
			if got := total(tc.who, "team_dashboard", "my_services"); got != tc.myTables {
				t.Errorf("my_services total = %v, want %v", got, tc.myTables)
			}
		})
	}
}

// TestWidgets_Pages: a hidden page is not found exactly like a missing
// one; a missing widget is not found; a widget without data is refused.
func TestWidgets_Pages(t *testing.T) {
	_, as := widgetServer(t)
	as("admin", "GET", dataPath("admin_dashboard", "everything"), nil).want(t, 200, "")
	hidden := as("member", "GET", dataPath("admin_dashboard", "everything"), nil).want(t, 404, "not_found")
	missing := as("member", "GET", dataPath("no_such_page", "everything"), nil).want(t, 404, "not_found")
	if strings.ReplaceAll(string(hidden.Raw), "admin_dashboard", "no_such_page") != string(missing.Raw) {
		t.Errorf("hidden and missing pages answer differently:\n%s\n%s", hidden.Raw, missing.Raw)
	}
	// catalog-example's services page is for Admins and Members: Kim
	// holds neither role.
	as("dev", "GET", dataPath("services", "x"), nil).want(t, 404, "not_found")
	as("member", "GET", dataPath("services", "x"), nil).want(t, 404, "not_found")
	as("member", "GET", dataPath("lab", "no_such_widget"), nil).want(t, 404, "not_found")
	r := as("member", "GET", dataPath("lab", "notes"), nil).want(t, 400, "invalid_request")
	if !strings.Contains(r.Body["message"].(string), "has no data") {
		t.Errorf("markdown: %s", r.Raw)
	}
}

// TestWidgets_Filters: a request's filters narrow what a widget counts,
// on top of the page's own; a locked page refuses them.
func TestWidgets_Filters(t *testing.T) {
	_, as := widgetServer(t)
	filters := func(rules string) string { return "filters=" + url.QueryEscape(rules) }
	production := filters(`[{"property": "lifecycle", "operator": "=", "value": "Production"}]`)
	total := func(r response) any { return r.Body["total"] }

	all := as("lead", "GET", dataPath("team_dashboard", "my_services"), nil).want(t, 200, "")
	narrowed := as("lead", "GET", dataPath("team_dashboard", "my_services", production), nil).want(t, 200, "")
	if total(all) != 7.0 || total(narrowed) != 5.0 {
		t.Errorf("my_services for the lead: %v, with lifecycle = Production %v; want 7 and 5", total(all), total(narrowed))
	}
	// The page's {{ user.team }} filter still applies: a filter naming
	// another team finds nothing.
	other := as("lead", "GET", dataPath("team_dashboard", "my_services",
		filters(`[{"property": "$team", "operator": "=", "value": "platform"}]`)), nil).want(t, 200, "")
	if total(other) != 0.0 {
		t.Errorf("lead filtering on platform: total %v, want 0", total(other))
	}
	// A query object works as well as a list of rules.
	obj := as("lead", "GET", dataPath("team_dashboard", "my_services",
		filters(`{"combinator": "or", "rules": [{"property": "lifecycle", "operator": "=", "value": "Production"}]}`)), nil).
		want(t, 200, "")
	if total(obj) != 5.0 {
		t.Errorf("query object filter: total %v, want 5", total(obj))
	}

	t.Run("Locked", func(t *testing.T) {
		for _, w := range []string{"my_services", "incident_count"} {
			for _, who := range []string{"admin", "lead"} {
				r := as(who, "GET", dataPath("team_dashboard_locked", w, production), nil).want(t, 409, "page_locked")
				if !strings.Contains(r.Body["message"].(string), "locked") {
					t.Errorf("%s: %s", who, r.Raw)
				}
				as(who, "GET", dataPath("team_dashboard_locked", w, filters(`[]`)), nil).want(t, 409, "page_locked")
				locked := as(who, "GET", dataPath("team_dashboard_locked", w), nil).want(t, 200, "")
				open := as(who, "GET", dataPath("team_dashboard", w), nil).want(t, 200, "")
				if diff := cmp.Diff(open.Body, locked.Body); diff != "" {
					t.Errorf("%s %s: the locked copy answers differently (-open +locked):\n%s", who, w, diff)
				}
			}
		}
	})

	t.Run("Invalid", func(t *testing.T) {
		as("lead", "GET", dataPath("team_dashboard", "my_services", "filters=nope"), nil).want(t, 400, "invalid_request")
		as("lead", "GET", dataPath("team_dashboard", "my_services", filters(`"lifecycle"`)), nil).want(t, 400, "invalid_request")
		as("lead", "GET", dataPath("team_dashboard", "my_services", filters(`[] []`)), nil).want(t, 400, "invalid_request")
		as("lead", "GET", dataPath("team_dashboard", "my_services", filters(`[{"property": "lifecycle", "operator": "equals", "value": 1}]`)), nil).
			want(t, 400, "invalid_query")
		as("lead", "GET", dataPath("lab", "incidents", "limit=0"), nil).want(t, 400, "invalid_request")
	})
}

// TestWidgets_TablePaging pages a table with limit and from: the pages
// together are the one-page answer; a cursor serves its caller and
// widget only.
func TestWidgets_TablePaging(t *testing.T) {
	_, as := widgetServer(t)
	all := identifiers(as("admin", "GET", dataPath("lab", "incidents", "limit=1000"), nil).want(t, 200, "").list("entities"))
	var paged []string
	from := ""
	for range 10 {
		params := []string{"limit=2"}
		if from != "" {
			params = append(params, "from="+url.QueryEscape(from))
		}
		r := as("admin", "GET", dataPath("lab", "incidents", params...), nil).want(t, 200, "")
		paged = append(paged, identifiers(r.list("entities"))...)
		next, _ := r.Body["next"].(string)
		if next == "" {
			break
		}
		if from == "" {
			as("member", "GET", dataPath("lab", "incidents", "limit=2", "from="+url.QueryEscape(next)), nil).
				want(t, 400, "invalid_cursor")
			as("admin", "GET", dataPath("lab", "coverage_avg", "limit=2", "from="+url.QueryEscape(next)), nil).
				want(t, 200, "") // not a table: from is not read
		}
		from = next
	}
	if len(all) != 5 || !slices.Equal(all, paged) {
		t.Errorf("paged %v, want %v", paged, all)
	}
}

// TestWidgets_BruteForce computes the lab page's numbers and pie charts
// again in memory, from the catalog, the scorecard results and each
// caller's read policy evaluated entity by entity, and compares.
func TestWidgets_BruteForce(t *testing.T) {
	w, as := widgetServer(t)
	levels := map[catalog.EntityKey]float64{}
	for _, es := range w.snap.Scores {
		for _, r := range es.Results {
			if r.Scorecard == "production_readiness" {
				levels[es.Key] = float64(r.LevelIndex)
			}
		}
	}
	for _, who := range []string{"admin", "member", "dev", "lead"} {
		t.Run(who, func(t *testing.T) {
			visible := readableBy(t, w.cat, rbacUsers[who])
			for _, n := range bruteNumbers {
				var xs []float64
				for _, e := range w.cat.Entities {
					if e.Blueprint != n.bp || !visible(e) {
						continue
					}
					if strings.HasPrefix(n.prop, "$scorecard.") {
						if l, ok := levels[e.Key()]; ok {
							xs = append(xs, l)
						}
					} else if x, ok := number(e.Properties[n.prop]); ok {
						xs = append(xs, x)
					}
				}
				for _, fn := range bruteFuncs {
					r := as(who, "GET", dataPath("lab", bruteID(fn, n.bp, n.prop)), nil).want(t, 200, "")
					want, ok := aggregate(fn, xs)
					got, gotOK := r.Body["value"].(float64)
					if ok != gotOK || (ok && math.Abs(got-want) > 1e-9*math.Max(1, math.Abs(want))) {
						t.Errorf("%s of %s.%s = %v, want %v over %v", fn, n.bp, n.prop, r.Body["value"], want, xs)
					}
					if r.Body["count"] != float64(len(xs)) {
						t.Errorf("%s of %s.%s: count %v, want %d", fn, n.bp, n.prop, r.Body["count"], len(xs))
					}
				}
			}
			for _, p := range brutePies {
				want := map[string]int{}
				n := 0
				for _, e := range w.cat.Entities {
					if e.Blueprint != p.bp || !visible(e) {
						continue
					}
					n++
					vals := pieValues(w.cat, e, p.prop)
					if len(vals) == 0 {
						want["<nil>"]++
					}
					for _, v := range vals {
						want[v]++
					}
				}
				r := as(who, "GET", dataPath("lab", bruteID("pie", p.bp, p.prop)), nil).want(t, 200, "")
				got := map[string]int{}
				for _, s := range r.Body["data"].([]any) {
					sl := s.(map[string]any)
					got[fmt.Sprint(sl["value"])] += int(sl["count"].(float64))
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("pie %s.%s (-brute force +api):\n%s", p.bp, p.prop, diff)
				}
				if r.Body["total"] != float64(n) {
					t.Errorf("pie %s.%s: total %v, want %d", p.bp, p.prop, r.Body["total"], n)
				}
			}
		})
	}
}

// readableBy evaluates user's read policy in memory, entity by entity.
func readableBy(tb testing.TB, cat *catalog.Catalog, user string) func(*catalog.Entity) bool {
	tb.Helper()
	u := cat.Entity(catalog.EntityKey{Blueprint: catalog.UserBlueprint, Identifier: user})
	sub := access.SubjectOf(u)
	pol, err := access.NewRules(cat.Blueprints, cat.Roles).Policy(sub, query.Context{User: u, UserTeams: sub.Teams})
	if err != nil {
		tb.Fatal(err)
	}
	return func(e *catalog.Entity) bool {
		if pol.All || pol.None() {
			return pol.All
		}
		ok, err := pol.Query.Eval(&query.Env{Catalog: cat, Now: widgetNow}, e)
		if err != nil {
			tb.Fatal(err)
		}
		return ok
	}
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

func aggregate(fn string, xs []float64) (float64, bool) {
	if len(xs) == 0 {
		return 0, fn == "sum"
	}
	s := slices.Sorted(slices.Values(xs))
	sum := 0.0
	for _, x := range s {
		sum += x
	}
	switch fn {
	case "sum":
		return sum, true
	case "average":
		return sum / float64(len(s)), true
	case "min":
		return s[0], true
	case "max":
		return s[len(s)-1], true
	}
	if len(s)%2 == 1 {
		return s[len(s)/2], true
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2, true
}

// pieValues are the distinct values an entity counts under in a pie
// chart by prop: a relation's targets, the teams for a bare team where
// the blueprint has neither such a property nor relation, else the
// property's items.
func pieValues(cat *catalog.Catalog, e *catalog.Entity, prop string) []string {
	bp := cat.Blueprints[e.Blueprint]
	if _, isRel := bp.Relations[prop]; isRel {
		return slices.Compact(slices.Sorted(slices.Values(e.Relations[prop].Targets)))
	}
	if _, isProp := bp.Schema.Properties[prop]; !isProp && prop == "team" {
		return e.Team
	}
	var out []string
	switch v := e.Properties[prop].(type) {
	case nil:
	case []any:
		for _, x := range v {
			out = append(out, fmt.Sprint(x))
		}
	default:
		out = append(out, fmt.Sprint(v))
	}
	return slices.Compact(slices.Sorted(slices.Values(out)))
}
