package catalog_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/pkg/catalog"
)

// The trees under testdata/seed, testdata/seed-calc and testdata/port-array
// hold the JSON examples of the user's cheat sheet
// (shared/seeds/port-cheat-sheet.txt) byte for byte, each in the folder it
// belongs in. They must load unchanged: users paste Port's JSON into a
// catalog and expect it to work.

// loadTree loads and builds the catalog under dir, failing the test on any
// error diagnostic. It returns the catalog and its load diagnostics.
func loadTree(tb testing.TB, dir string) (*catalog.Catalog, catalog.Diagnostics) {
	tb.Helper()
	cat, err := catalog.Load(context.Background(), os.DirFS(dir), catalog.Options{})
	if err != nil {
		tb.Fatalf("Load(%s): %v", dir, err)
	}
	diags := cat.Diagnostics()
	diags = append(diags, cat.Build()...)
	for _, d := range diags {
		if d.Severity == catalog.SeverityError {
			tb.Errorf("%s: unexpected %s", dir, d)
		}
	}
	return cat, diags
}

// summary lists a built catalog's identifiers per kind, sorted.
type summary struct {
	Blueprints, Entities, Scorecards, Actions, Pages, Roles []string
}

func summarize(cat *catalog.Catalog) summary {
	var s summary
	for id := range cat.Blueprints {
		s.Blueprints = append(s.Blueprints, id)
	}
	for _, e := range cat.Entities {
		s.Entities = append(s.Entities, e.Blueprint+"/"+e.Identifier)
	}
	for _, x := range cat.Scorecards {
		s.Scorecards = append(s.Scorecards, x.Identifier)
	}
	for _, x := range cat.Actions {
		s.Actions = append(s.Actions, x.Identifier)
	}
	for _, x := range cat.Pages {
		s.Pages = append(s.Pages, x.Identifier)
	}
	for _, x := range cat.Roles {
		s.Roles = append(s.Roles, x.Identifier)
	}
	for _, l := range [][]string{s.Blueprints, s.Entities, s.Scorecards, s.Actions, s.Pages, s.Roles} {
		sort.Strings(l)
	}
	return s
}

func TestLoad_SeedCheatSheet(t *testing.T) {
	cat, diags := loadTree(t, "testdata/seed")

	want := summary{
		Blueprints: []string{"_team", "_user", "microservice", "service"},
		Scorecards: []string{"production_readiness", "security_compliance"},
		Actions:    []string{"create_repository", "deploy_service", "provision_infrastructure"},
		Pages:      []string{"engineering_overview", "team_dashboard"},
		Roles:      []string{"developer", "platform_admin", "team_lead"},
	}
	if d := cmp.Diff(want, summarize(cat)); d != "" {
		t.Errorf("catalog (-want +got):\n%s", d)
	}

	// The automation rule sits in a folder berth does not read: one warning.
	type finding struct {
		File     string
		Severity catalog.Severity
		Code     string
	}
	var got []finding
	for _, d := range diags {
		got = append(got, finding{d.File, d.Severity, d.Code})
	}
	wantDiags := []finding{{"automations", catalog.SeverityWarning, catalog.CodeUnknownFile}}
	if d := cmp.Diff(wantDiags, got); d != "" {
		t.Errorf("diagnostics (-want +got):\n%s", d)
	}

	t.Run("Blueprints", func(t *testing.T) {
		svc := cat.Blueprints["service"]
		if svc.Doc == nil || svc.Doc.File != "blueprints/service.json" {
			t.Fatalf("service blueprint not read from its file: %+v", svc.Doc)
		}
		if d := cmp.Diff([]string{"name", "owner", "lifecycle"}, svc.Schema.Required); d != "" {
			t.Errorf("service required (-want +got):\n%s", d)
		}
		if f := svc.Schema.Properties["owner"].Format; f != "team" {
			t.Errorf("service.owner format = %q, want team", f)
		}
		if d := cmp.Diff([]any{"Mission Critical", "Customer Facing", "Internal", "Experimental"},
			svc.Schema.Properties["tier"].Enum); d != "" {
			t.Errorf("service.tier enum (-want +got):\n%s", d)
		}
		ms := cat.Blueprints["microservice"]
		wantRel := map[string]catalog.RelationDef{
			"team":   {Title: "Team", Target: "team", Required: true},
			"domain": {Title: "Domain", Target: "domain"},
		}
		if d := cmp.Diff(wantRel, ms.Relations); d != "" {
			t.Errorf("microservice relations (-want +got):\n%s", d)
		}
		if f := ms.Schema.Properties["last_deployment"].Format; f != "date-time" {
			t.Errorf("microservice.last_deployment format = %q", f)
		}
		if got := len(ms.Schema.Properties); got != 7 {
			t.Errorf("microservice has %d properties, want 7", got)
		}
	})

	t.Run("Scorecards", func(t *testing.T) {
		rules := map[string][]string{}
		for _, s := range cat.Scorecards {
			for _, r := range s.Rules {
				rules[s.Identifier] = append(rules[s.Identifier], r.Identifier+"@"+r.Level)
			}
		}
		want := map[string][]string{
			"production_readiness": {"has_readme@Bronze", "has_tests@Silver", "has_monitoring@Gold"},
			"security_compliance":  {"vulnerability_scan@Bronze", "secrets_management@Silver", "security_review@Gold"},
		}
		if d := cmp.Diff(want, rules); d != "" {
			t.Errorf("scorecard rules (-want +got):\n%s", d)
		}
		pr := find(t, cat.Scorecards, "production_readiness", func(s *catalog.Scorecard) string { return s.Identifier })
		if pr.Blueprint != "" {
			t.Errorf("seed scorecard has blueprint %q; the seed scopes it with a $blueprint rule", pr.Blueprint)
		}
		first := pr.Filter["rules"].([]any)[0].(map[string]any)
		if first["property"] != "$blueprint" || first["value"] != "service" {
			t.Errorf("production_readiness filter rule 0 = %v", first)
		}
		cov := pr.Rules[1].Query["rules"].([]any)[0].(map[string]any)["value"]
		if fmt.Sprint(cov) != "80" {
			t.Errorf("has_tests threshold = %#v, want 80", cov)
		}
	})

	t.Run("Actions", func(t *testing.T) {
		type action struct{ Operation, Blueprint, Invocation, Required string }
		got := map[string]action{}
		for _, a := range cat.Actions {
			req, _ := a.Trigger.UserInputs.Required.([]any)
			var names []string
			for _, r := range req {
				names = append(names, r.(string))
			}
			slices.Sort(names)
			got[a.Identifier] = action{
				Operation:  a.Trigger.Operation,
				Blueprint:  a.Trigger.BlueprintIdentifier,
				Invocation: a.InvocationMethod["type"].(string),
				Required:   strings.Join(names, ","),
			}
		}
		want := map[string]action{
			"deploy_service":           {"CREATE", "service", "WEBHOOK", "environment,version"},
			"create_repository":        {"CREATE", "", "GITHUB", "name,team,template"},
			"provision_infrastructure": {"CREATE", "", "WEBHOOK", "environment,instance_type,region"},
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("actions (-want +got):\n%s", d)
		}
		deploy := find(t, cat.Actions, "deploy_service", func(a *catalog.Action) string { return a.Identifier })
		replicas := deploy.Trigger.UserInputs.Properties["replicas"]
		if replicas.Minimum == nil || *replicas.Minimum != 1 || replicas.Maximum == nil || *replicas.Maximum != 10 {
			t.Errorf("deploy_service replicas bounds = %v..%v, want 1..10", replicas.Minimum, replicas.Maximum)
		}
	})

	t.Run("Roles", func(t *testing.T) {
		// The {"roles": [...]} wrapper is split into one document per role,
		// each keeping its position in the file.
		dev := find(t, cat.Roles, "developer", func(r *catalog.Role) string { return r.Identifier })
		if len(dev.Permissions) != 2 || dev.Permissions[0].Condition["value"] != "{{ user.team }}" {
			t.Errorf("developer permissions = %+v", dev.Permissions)
		}
		admin := find(t, cat.Roles, "platform_admin", func(r *catalog.Role) string { return r.Identifier })
		if d := cmp.Diff([]catalog.RolePermission{{Action: "*", Resource: "*"}}, admin.Permissions); d != "" {
			t.Errorf("platform_admin permissions (-want +got):\n%s", d)
		}
		if got := admin.Doc.Pos("identifier").String(); got != "roles/rbac.json:54:21" {
			t.Errorf("platform_admin identifier at %s, want roles/rbac.json:54:21", got)
		}
	})

	t.Run("Pages", func(t *testing.T) {
		for _, tc := range []struct {
			id      string
			widgets int
			filters int
		}{
			{"engineering_overview", 3, 0},
			{"team_dashboard", 2, 1},
		} {
			p := find(t, cat.Pages, tc.id, func(p *catalog.Page) string { return p.Identifier })
			if p.Type != "dashboard" {
				t.Errorf("%s: type = %q, want the default dashboard", tc.id, p.Type)
			}
			if len(p.Widgets) != tc.widgets || len(p.Filters) != tc.filters {
				t.Errorf("%s: %d widgets, %d filters; want %d, %d", tc.id, len(p.Widgets), len(p.Filters), tc.widgets, tc.filters)
			}
		}
	})
}

func TestLoad_SeedCalculations(t *testing.T) {
	cat, diags := loadTree(t, "testdata/seed-calc")
	if len(diags) != 0 {
		t.Errorf("diagnostics: %v", diags)
	}
	svc := cat.Blueprints["service"]
	if svc == nil {
		t.Fatal("no service blueprint")
	}
	want := map[string]*catalog.FormulaCalculation{
		"cpu_utilization":  {Type: "formula", Formula: "(cpu_requests / cpu_limits) * 100"},
		"cost_per_request": {Type: "formula", Formula: "cost_per_month / (requests_per_month || 1)"},
	}
	got := map[string]*catalog.FormulaCalculation{}
	for id, p := range svc.Schema.Properties {
		if p.Calculation != nil {
			got[id] = p.Calculation
		}
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("formula properties (-want +got):\n%s", d)
	}
	if f := svc.Schema.Properties["cost_per_month"].Format; f != "currency" {
		t.Errorf("cost_per_month format = %q, want currency", f)
	}
}

func TestLoad_PortBlueprintsArray(t *testing.T) {
	cat, diags := loadTree(t, "testdata/port-array")
	if len(diags) != 0 {
		t.Errorf("diagnostics: %v", diags)
	}
	want := summary{Blueprints: []string{"_team", "_user", "microservice", "service"}}
	if d := cmp.Diff(want, summarize(cat)); d != "" {
		t.Errorf("catalog (-want +got):\n%s", d)
	}
	// Both bodies come from the one file, each pointing at its own lines.
	for id, line := range map[string]int{"service": 3, "microservice": 41} {
		b := cat.Blueprints[id]
		if got := b.Doc.Pos("identifier"); got.File != "blueprints/blueprints.json" || got.Line != line {
			t.Errorf("%s identifier at %s, want blueprints/blueprints.json:%d", id, got, line)
		}
	}
	if !cat.Blueprints["microservice"].Relations["team"].Required {
		t.Error("microservice.team relation lost required: true")
	}
}

// find returns the object of xs whose id is id, failing the test without one.
func find[T any](tb testing.TB, xs []T, id string, idOf func(T) string) T {
	tb.Helper()
	for _, x := range xs {
		if idOf(x) == id {
			return x
		}
	}
	tb.Fatalf("no %q", id)
	var zero T
	return zero
}
