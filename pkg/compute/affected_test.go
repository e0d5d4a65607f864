package compute_test

import (
	"context"
	"strings"
	"testing"

	"github.com/berth-dev/berth/pkg/catalog"
	"github.com/berth-dev/berth/pkg/compute"
	"github.com/google/go-cmp/cmp"
	"github.com/rogpeppe/go-internal/txtar"
)

// graphFiles returns the files of the shared test catalog.
func graphFiles(tb testing.TB) map[string]string {
	tb.Helper()
	ar, err := txtar.ParseFile("testdata/golden/graph.txtar")
	if err != nil {
		tb.Fatal(err)
	}
	files := map[string]string{}
	for _, f := range ar.Files {
		if f.Name != "want" {
			files[f.Name] = string(f.Data)
		}
	}
	return files
}

// edit returns the shared catalog with one text replacement in one file.
func edit(tb testing.TB, file, old, new string) *catalog.Catalog {
	tb.Helper()
	files := graphFiles(tb)
	if !strings.Contains(files[file], old) {
		tb.Fatalf("%s does not contain %q", file, old)
	}
	files[file] = strings.Replace(files[file], old, new, 1)
	return build(tb, files)
}

func TestProgram_Affected(t *testing.T) {
	cat := graph(t)
	prog := mustCompile(t, cat)
	tests := []struct {
		name    string
		changed []catalog.EntityKey
		want    []string
	}{
		{"MirrorTwoHops", []catalog.EntityKey{key("domain", "payments")},
			[]string{"domain/payments", "service/api", "service/worker"}},
		{"MirrorOneHop", []catalog.EntityKey{key("system", "auth")},
			[]string{"service/auth-svc", "system/auth"}},
		{"ManyRelation", []catalog.EntityKey{key("service", "auth-svc")},
			[]string{"service/api", "service/auth-svc", "service/worker"}},
		{"SecondOrderOnly", []catalog.EntityKey{key("service", "worker")},
			[]string{"service/api", "service/worker"}},
		{"Aggregated", []catalog.EntityKey{key("deployment", "d4")},
			[]string{"deployment/d4", "service/worker"}},
		{"AggregatedOutgoing", []catalog.EntityKey{key("library", "lib-a")},
			[]string{"library/lib-a", "service/api"}},
		{"NobodyDepends", []catalog.EntityKey{key("service", "lonely")},
			[]string{"service/lonely"}},
		{"Unknown", []catalog.EntityKey{key("deployment", "new")},
			[]string{"deployment/new"}},
		{"Several", []catalog.EntityKey{key("deployment", "d1"), key("system", "orphan")},
			[]string{"deployment/d1", "service/api", "service/lonely", "system/orphan"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := sortedKeys(prog.Affected(cat, tt.changed))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestProgram_Incremental applies changes to the shared catalog and checks
// that recomputing only the affected entities, over the previous values,
// gives exactly the values of a full evaluation.
func TestProgram_Incremental(t *testing.T) {
	const deploys = "entities/deployment/all.yaml"
	tests := []struct {
		name      string
		after     func(testing.TB) *catalog.Catalog
		changed   []catalog.EntityKey
		affected  []string
		wantValue map[string]any // service/api values to check after
	}{
		{
			name: "DeleteDeployment",
			after: func(tb testing.TB) *catalog.Catalog {
				return edit(tb, deploys, `- identifier: d3
  properties: {duration: 40, status: SUCCESS, finished_at: "2025-02-20T10:00:00Z"}
  relations: {service: api}
`, "")
			},
			changed:   []catalog.EntityKey{key("deployment", "d3")},
			affected:  []string{"deployment/d3", "service/api"},
			wantValue: map[string]any{"deployments": int64(2), "total_duration": 30.0, "max_duration": 20.0, "successful_deployments": int64(1)},
		},
		{
			name: "MoveDeployment",
			after: func(tb testing.TB) *catalog.Catalog {
				return edit(tb, deploys, "relations: {service: worker}", "relations: {service: api}")
			},
			changed:   []catalog.EntityKey{key("deployment", "d4")},
			affected:  []string{"deployment/d4", "service/api", "service/worker"},
			wantValue: map[string]any{"deployments": int64(4), "min_duration": 5.0},
		},
		{
			name: "DeleteDomain",
			after: func(tb testing.TB) *catalog.Catalog {
				return edit(tb, "entities/domain/all.yaml", "- identifier: payments\n  title: Payments\n  properties: {owner: alice}\n", "")
			},
			changed:   []catalog.EntityKey{key("domain", "payments")},
			affected:  []string{"domain/payments", "service/api", "service/worker"},
			wantValue: map[string]any{"owner": nil},
		},
		{
			name: "ChangeDependency",
			after: func(tb testing.TB) *catalog.Catalog {
				return edit(tb, "entities/service/all.yaml", "properties: {language: go, cpu_requests: 1, cpu_limits: 2}",
					"properties: {language: rust, cpu_requests: 1, cpu_limits: 1}")
			},
			changed:   []catalog.EntityKey{key("service", "auth-svc")},
			affected:  []string{"service/api", "service/auth-svc", "service/worker"},
			wantValue: map[string]any{"dep_languages": []any{"python", "rust"}, "dep_utilization": []any{100.0}},
		},
		{
			name: "RewireSystem",
			after: func(tb testing.TB) *catalog.Catalog {
				return edit(tb, "entities/system/all.yaml", "relations: {domain: payments}", "relations: {domain: identity}")
			},
			changed:   []catalog.EntityKey{key("system", "billing")},
			affected:  []string{"service/api", "service/worker", "system/billing"},
			wantValue: map[string]any{"owner": "bob"},
		},
	}
	opts := compute.Options{Filter: matchRules, Now: nowFixed}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := graph(t)
			prev, _ := evaluate(t, before, opts, nil)
			after := tt.after(t)
			prog, _ := compute.CompileWith(after, opts)
			aff := prog.AffectedBetween(before, after, tt.changed)
			if diff := cmp.Diff(tt.affected, sortedKeys(aff)); diff != "" {
				t.Errorf("affected (-want +got):\n%s", diff)
			}
			part, _, err := prog.Evaluate(context.Background(), after, aff)
			if err != nil {
				t.Fatal(err)
			}
			merged := compute.Values{}
			for k, v := range prev {
				if !aff[k] {
					merged[k] = v
				}
			}
			for k, v := range part {
				merged[k] = v
			}
			full, _ := evaluate(t, after, opts, nil)
			if diff := cmp.Diff(full, merged); diff != "" {
				t.Errorf("incremental values differ from a full evaluation (-full +incremental):\n%s", diff)
			}
			for prop, want := range tt.wantValue {
				if diff := cmp.Diff(want, merged[key("service", "api")][prop]); diff != "" {
					t.Errorf("api %s (-want +got):\n%s", prop, diff)
				}
			}
		})
	}
}
