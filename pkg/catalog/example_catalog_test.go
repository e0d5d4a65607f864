package catalog_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/pkg/catalog"
)

// exampleDir is the catalog the README's quick start runs on.
const exampleDir = "../../catalog-example"

func TestExampleCatalog_Loads(t *testing.T) {
	cat, diags := loadTree(t, exampleDir)
	if len(diags) != 0 {
		t.Errorf("catalog-example has diagnostics:\n%v", diags)
	}

	counts := map[string]int{}
	for _, e := range cat.Entities {
		counts[e.Blueprint]++
	}
	wantCounts := map[string]int{
		"_team": 4, "_user": 10, "team": 4, "domain": 3,
		"service": 11, "microservice": 5, "deployment": 7, "incident": 5,
	}
	if d := cmp.Diff(wantCounts, counts); d != "" {
		t.Errorf("entities per blueprint (-want +got):\n%s", d)
	}
	if cat.Config == nil || len(cat.Config.Gates) != 2 || cat.Config.Gates[0].Mode != "block" {
		t.Errorf("berth.yaml gates = %+v", cat.Config)
	}
	if p := cat.Blueprints["incident"].Permissions; p == nil || !p.Entities.Read.OwnedByTeam {
		t.Errorf("incident permissions = %+v, want entities.read.ownedByTeam", p)
	}

	// The cross-file checks hold too (the CUE layers run in cmd/berth's
	// validate_example script).
	if diags := cat.Check(); len(diags) != 0 {
		t.Errorf("catalog-example fails the cross-file checks:\n%v", diags)
	}
}

// TestExampleCatalog_SeedObjects checks that the example's scorecards,
// actions, dashboards and roles, written as YAML, are the seed's JSON ones,
// and that its service and microservice blueprints keep every seed property
// (the example may add constraints, such as bounds and enum colours).
func TestExampleCatalog_SeedObjects(t *testing.T) {
	seed, _ := loadTree(t, "testdata/seed")
	calc, _ := loadTree(t, "testdata/seed-calc")
	ex, _ := loadTree(t, exampleDir)

	for _, kind := range []catalog.Kind{catalog.KindScorecard, catalog.KindAction, catalog.KindPage, catalog.KindRole} {
		exDocs := map[string]map[string]any{}
		for _, d := range ex.Docs(kind) {
			exDocs[d.Identifier()] = d.Value
		}
		for _, d := range seed.Docs(kind) {
			// The one deliberate difference: the seed filters on "team",
			// which is Port's $team meta-property; the example says $team.
			want := any(d.Value)
			if kind == catalog.KindPage {
				want = metaTeam(d.Value)
			}
			if diff := cmp.Diff(want, exDocs[d.Identifier()]); diff != "" {
				t.Errorf("%s %s differs from the seed (-seed +example):\n%s", kind, d.Identifier(), diff)
			}
		}
	}

	for _, src := range []*catalog.Catalog{seed, calc} {
		for _, id := range []string{"service", "microservice"} {
			want := src.Blueprints[id]
			if want == nil {
				continue
			}
			got := ex.Blueprints[id]
			for name, p := range want.Schema.Properties {
				if diff := cmp.Diff(seedKeys(p), seedKeys(got.Schema.Properties[name])); diff != "" {
					t.Errorf("%s.%s differs from the seed (-seed +example):\n%s", id, name, diff)
				}
			}
			for name, r := range want.Relations {
				if diff := cmp.Diff(r, got.Relations[name]); diff != "" {
					t.Errorf("%s relation %s differs from the seed (-seed +example):\n%s", id, name, diff)
				}
			}
		}
	}
}

// seedKeys keeps the keywords of a property that the seed sets.
func seedKeys(p catalog.Property) catalog.Property {
	return catalog.Property{Title: p.Title, Type: p.Type, Format: p.Format, Enum: p.Enum, Calculation: p.Calculation}
}

// metaTeam returns a copy of v with every `property: team` condition
// written as `property: $team`.
func metaTeam(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			if _, cond := v["operator"]; cond && k == "property" && x == "team" {
				x = "$team"
			}
			out[k] = metaTeam(x)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = metaTeam(x)
		}
		return out
	}
	return v
}
