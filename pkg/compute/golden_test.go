package compute_test

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/berth-dev/berth/pkg/catalog"
	"github.com/berth-dev/berth/pkg/compute"
	"github.com/google/go-cmp/cmp"
	"github.com/rogpeppe/go-internal/txtar"
)

var update = flag.Bool("update", false, "rewrite golden files")

// loadArchive builds the catalog of a txtar archive, leaving out its
// "want" file.
func loadArchive(tb testing.TB, file string) (*catalog.Catalog, *txtar.Archive) {
	tb.Helper()
	ar, err := txtar.ParseFile(file)
	if err != nil {
		tb.Fatal(err)
	}
	files := map[string]string{}
	for _, f := range ar.Files {
		if f.Name != "want" {
			files[f.Name] = string(f.Data)
		}
	}
	return build(tb, files), ar
}

// matchRules is a stand-in for the query engine: an "and" of "=" rules on
// stored properties, which is all the test catalogs use.
func matchRules(q catalog.Query, e *catalog.Entity) (bool, error) {
	rules, _ := q["rules"].([]any)
	for _, r := range rules {
		m, _ := r.(map[string]any)
		if m["operator"] != "=" {
			return false, fmt.Errorf("operator %v not supported by the test filter", m["operator"])
		}
		p, _ := m["property"].(string)
		if e.Properties[p] != m["value"] {
			return false, nil
		}
	}
	return true, nil
}

// render prints values as sorted, indented JSON, one entity per key.
func render(tb testing.TB, vals compute.Values) string {
	tb.Helper()
	byName := map[string]map[string]any{}
	for k, v := range vals {
		byName[k.Blueprint+"/"+k.Identifier] = v
	}
	b, err := json.MarshalIndent(byName, "", "  ")
	if err != nil {
		tb.Fatal(err)
	}
	return string(b) + "\n"
}

// TestEvaluate_Golden evaluates each testdata/golden/*.txtar catalog and
// compares the values and diagnostics with the archive's "want" file
// (rewritten by -update).
func TestEvaluate_Golden(t *testing.T) {
	files, _ := filepath.Glob("testdata/golden/*.txtar")
	if len(files) == 0 {
		t.Fatal("no golden archives")
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txtar"), func(t *testing.T) {
			cat, ar := loadArchive(t, file)
			vals, diags := evaluate(t, cat, compute.Options{Filter: matchRules, Now: nowFixed}, nil)
			got := render(t, vals) + "## diagnostics\n" + format(diags)
			wantIdx := -1
			for i, f := range ar.Files {
				if f.Name == "want" {
					wantIdx = i
				}
			}
			if *update {
				if wantIdx < 0 {
					ar.Files = append(ar.Files, txtar.File{Name: "want"})
					wantIdx = len(ar.Files) - 1
				}
				ar.Files[wantIdx].Data = []byte(got)
				if err := os.WriteFile(file, txtar.Format(ar), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if wantIdx < 0 {
				t.Fatal("archive has no want file; run with -update")
			}
			if diff := cmp.Diff(string(ar.Files[wantIdx].Data), got); diff != "" {
				t.Errorf("values differ from %s (-want +got):\n%s", file, diff)
			}
		})
	}
}

// graph loads the shared test catalog.
func graph(tb testing.TB) *catalog.Catalog {
	tb.Helper()
	cat, _ := loadArchive(tb, "testdata/golden/graph.txtar")
	return cat
}

func TestEvaluate_Mirror(t *testing.T) {
	cat := graph(t)
	vals, _ := evaluate(t, cat, compute.Options{Filter: matchRules, Now: nowFixed}, nil)
	tests := []struct {
		entity, prop string
		want         any
	}{
		{"api", "system_title", "Billing"},
		{"auth-svc", "system_title", "Auth"},
		{"lonely", "system_title", nil},                 // system has no title
		{"api", "owner", "alice"},                       // two hops
		{"auth-svc", "owner", "bob"},                    // two hops
		{"lonely", "owner", nil},                        // the second link is missing
		{"api", "tier_label", "tier-1"},                 // a calculation of the related entity
		{"api", "dep_languages", []any{"python", "go"}}, // many, deduplicated
		{"worker", "dep_languages", []any{"go"}},
		{"auth-svc", "dep_languages", []any{}},          // an empty many relation
		{"lonely", "dep_languages", []any{}},            // a dangling identifier is skipped
		{"api", "dep_utilization", []any{50.0}},         // worker's formula is null and left out
		{"api", "second_order_deps", []any{"auth-svc"}}, // many, two hops, flattened and deduplicated
		{"worker", "second_order_deps", []any{}},
	}
	for _, tt := range tests {
		t.Run(tt.entity+"/"+tt.prop, func(t *testing.T) {
			got, ok := vals[key("service", tt.entity)][tt.prop]
			if !ok {
				t.Fatalf("no value for %s", tt.prop)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestEvaluate_Aggregation(t *testing.T) {
	cat := graph(t)
	vals, _ := evaluate(t, cat, compute.Options{Filter: matchRules, Now: nowFixed}, nil)
	tests := []struct {
		entity, prop string
		want         any
	}{
		{"api", "deployments", int64(3)},
		{"worker", "deployments", int64(1)},
		{"lonely", "deployments", int64(0)},
		{"api", "successful_deployments", int64(2)},
		{"api", "total_duration", 70.0},
		{"lonely", "total_duration", 0.0},
		{"api", "min_duration", 10.0},
		{"api", "max_duration", 40.0},
		{"api", "median_duration", 20.0},
		{"api", "average_duration", 70.0 / 3},
		{"lonely", "average_duration", nil},
		{"lonely", "median_duration", nil},
		// From 2025-02-01T10:00 to 2025-03-01: 27.6 days, 4 started weeks.
		{"api", "deployments_per_week", 0.75},
		{"worker", "deployments_per_week", 0.0}, // its deployment has no finished_at
		{"api", "libraries_used", int64(2)},     // over the service's own relation
	}
	for _, tt := range tests {
		t.Run(tt.entity+"/"+tt.prop, func(t *testing.T) {
			got, ok := vals[key("service", tt.entity)][tt.prop]
			if !ok {
				t.Fatalf("no value for %s", tt.prop)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestEvaluate_AggregationMedian checks the median of an even count.
func TestEvaluate_AggregationMedian(t *testing.T) {
	cat := graph(t)
	cat.Entity(key("deployment", "d4")).Relations["service"] = catalog.RelationValue{Targets: []string{"api"}}
	vals, _ := evaluate(t, cat, compute.Options{Filter: matchRules, Now: nowFixed}, nil)
	if got := vals[key("service", "api")]["median_duration"]; got != 15.0 {
		t.Errorf("median of 5, 10, 20, 40 = %v, want 15", got)
	}
}

func TestCompile_AggregationWarnings(t *testing.T) {
	cat := graph(t)
	_, diags := compute.Compile(cat) // no Filter
	want := `blueprints/service.yaml:32:5: warning: blueprint "service": aggregation successful_deployments: no query engine is configured; the query is not applied and every related entity is aggregated [calculation]
`
	if diff := cmp.Diff(want, format(diags)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	vals, _, err := mustCompile(t, cat).Evaluate(t.Context(), cat, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := vals[key("service", "api")]["successful_deployments"]; got != int64(3) {
		t.Errorf("without a filter every deployment counts: got %v, want 3", got)
	}
}

func mustCompile(tb testing.TB, cat *catalog.Catalog) *compute.Program {
	tb.Helper()
	prog, diags := compute.Compile(cat)
	if diags.HasErrors() {
		tb.Fatalf("Compile:\n%s", format(diags))
	}
	return prog
}

func TestCompile_AggregationSpecErrors(t *testing.T) {
	tests := []struct{ name, spec, want string }{
		{"CalculationBy", "{calculationBy: magic, func: count}", `calculationBy "magic" is not entities or property`},
		{"EntitiesFunc", "{calculationBy: entities, func: sum}", `func "sum" is not count or average`},
		{"AverageOf", "{calculationBy: entities, func: average, averageOf: year}", `averageOf "year" is not one of`},
		{"PropertyFunc", "{calculationBy: property, func: count, property: n}", `func "count" is not one of sum`},
		{"NoProperty", "{calculationBy: property, func: sum}", "calculationBy property needs a property"},
		{"Unrelated", "{calculationBy: entities, func: count}, target: other", `blueprint "other" has no relation to or from "x"`},
		{"MirrorOfMirror", "{calculationBy: property, func: sum, property: m}", "m of blueprint \"y\" is a mirror or aggregation property"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target := "y"
			if strings.Contains(tt.spec, "target:") {
				target = ""
			}
			agg := "{calculationSpec: " + tt.spec
			if target != "" {
				agg += ", target: y"
			}
			cat := build(t, map[string]string{
				"blueprints/x.yaml":     "identifier: x\nschema: {properties: {}}\naggregationProperties:\n  agg: " + agg + "}\n",
				"blueprints/y.yaml":     "identifier: y\nschema: {properties: {n: {type: number}}}\nrelations: {x: {target: x}}\nmirrorProperties: {m: {path: x.$title}}\n",
				"blueprints/other.yaml": "identifier: other\nschema: {properties: {}}\n",
			})
			_, diags := compute.Compile(cat)
			if len(diags) != 1 || !strings.Contains(diags[0].Message, tt.want) {
				t.Fatalf("want one diagnostic containing %q, got:\n%s", tt.want, format(diags))
			}
		})
	}
}

func sortedKeys(m map[catalog.EntityKey]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k.Blueprint+"/"+k.Identifier)
	}
	sort.Strings(out)
	return out
}

// TestEvaluate_FilterError checks that a query the filter cannot evaluate
// yields null and a warning at the query.
func TestEvaluate_FilterError(t *testing.T) {
	cat := graph(t)
	failing := func(catalog.Query, *catalog.Entity) (bool, error) { return false, errors.New("bad rule") }
	vals, diags := evaluate(t, cat, compute.Options{Filter: failing, Now: nowFixed}, map[catalog.EntityKey]bool{key("service", "api"): true})
	if got, ok := vals[key("service", "api")]["successful_deployments"]; !ok || got != nil {
		t.Errorf("want null, got %v (present %v)", got, ok)
	}
	want := `blueprints/service.yaml:32:5: warning: blueprint "service": aggregation successful_deployments of entity "api": query: bad rule; value is null [calculation]
`
	if diff := cmp.Diff(want, format(diags)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestEvaluate_Canceled checks that Evaluate stops when its context ends.
func TestEvaluate_Canceled(t *testing.T) {
	cat := graph(t)
	prog := mustCompile(t, cat)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := prog.Evaluate(ctx, cat, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("want context.Canceled, got %v", err)
	}
}
