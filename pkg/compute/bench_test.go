package compute_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/berth-dev/berth/pkg/catalog"
)

// Benchmark sizes: issue 5's 100k entities, half services (one
// calculation, one mirror, one aggregation each) and half deployments
// relating to them, plus the systems the services mirror.
const (
	benchServices    = 50_000
	benchDeployments = 50_000
	benchSystems     = 100
)

// benchCatalog generates the benchmark catalog in memory. moved names
// deployments that point to the next service instead of their own.
func benchCatalog(tb testing.TB, moved map[int]bool) *catalog.Catalog {
	tb.Helper()
	doc := func(kind catalog.Kind, bp string, v map[string]any) *catalog.Document {
		return &catalog.Document{Kind: kind, File: "gen", Blueprint: bp, Value: v}
	}
	blueprints := &catalog.File{Path: "blueprints/gen.yaml", Kind: catalog.KindBlueprint, Docs: []*catalog.Document{
		doc(catalog.KindBlueprint, "", map[string]any{"identifier": "system", "schema": map[string]any{"properties": map[string]any{}}}),
		doc(catalog.KindBlueprint, "", map[string]any{
			"identifier": "service",
			"schema": map[string]any{"properties": map[string]any{
				"cpu_requests": map[string]any{"type": "number"},
				"cpu_limits":   map[string]any{"type": "number"},
			}},
			"relations": map[string]any{"system": map[string]any{"target": "system"}},
			"calculationProperties": map[string]any{"cpu_utilization": map[string]any{
				"calculation": ".properties.cpu_requests / .properties.cpu_limits * 100", "type": "number",
			}},
			"mirrorProperties": map[string]any{"system_title": map[string]any{"path": "system.$title"}},
			"aggregationProperties": map[string]any{"deployments": map[string]any{
				"target":          "deployment",
				"calculationSpec": map[string]any{"calculationBy": "entities", "func": "count"},
			}},
		}),
		doc(catalog.KindBlueprint, "", map[string]any{
			"identifier": "deployment",
			"schema":     map[string]any{"properties": map[string]any{"duration": map[string]any{"type": "number"}}},
			"relations":  map[string]any{"service": map[string]any{"target": "service"}},
		}),
	}}
	entities := &catalog.File{Path: "entities/gen.yaml", Kind: catalog.KindEntity}
	for i := range benchSystems {
		entities.Docs = append(entities.Docs, doc(catalog.KindEntity, "system", map[string]any{
			"identifier": fmt.Sprintf("sys-%d", i), "title": fmt.Sprintf("System %d", i),
		}))
	}
	for i := range benchServices {
		entities.Docs = append(entities.Docs, doc(catalog.KindEntity, "service", map[string]any{
			"identifier": fmt.Sprintf("svc-%d", i),
			"properties": map[string]any{"cpu_requests": int64(i%8 + 1), "cpu_limits": int64(8)},
			"relations":  map[string]any{"system": fmt.Sprintf("sys-%d", i%benchSystems)},
		}))
	}
	for i := range benchDeployments {
		svc := i % benchServices
		if moved[i] {
			svc = (svc + 1) % benchServices
		}
		entities.Docs = append(entities.Docs, doc(catalog.KindEntity, "deployment", map[string]any{
			"identifier": fmt.Sprintf("dep-%d", i),
			"properties": map[string]any{"duration": float64(i % 60)},
			"relations":  map[string]any{"service": fmt.Sprintf("svc-%d", svc)},
		}))
	}
	cat := catalog.New([]*catalog.File{blueprints, entities})
	if diags := cat.Build(); diags.HasErrors() {
		tb.Fatalf("Build:\n%s", format(diags))
	}
	return cat
}

// BenchmarkEvaluate_Full computes every value of the 100k-entity catalog.
func BenchmarkEvaluate_Full(b *testing.B) {
	cat := benchCatalog(b, nil)
	prog := mustCompile(b, cat)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		vals, diags, err := prog.Evaluate(ctx, cat, nil)
		if err != nil || len(diags) > 0 || len(vals) != benchServices {
			b.Fatalf("Evaluate: %d values, %v, %v", len(vals), diags, err)
		}
	}
}

// BenchmarkEvaluate_Incremental recomputes after a commit that moves 10
// deployments to another service: Affected over both catalogs, then
// Evaluate of the affected entities only.
func BenchmarkEvaluate_Incremental(b *testing.B) {
	moved := map[int]bool{}
	var changed []catalog.EntityKey
	for i := range 10 {
		n := i * (benchDeployments / 10)
		moved[n] = true
		changed = append(changed, catalog.EntityKey{Blueprint: "deployment", Identifier: fmt.Sprintf("dep-%d", n)})
	}
	before, after := benchCatalog(b, nil), benchCatalog(b, moved)
	prog := mustCompile(b, after)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		aff := prog.AffectedBetween(before, after, changed)
		vals, _, err := prog.Evaluate(ctx, after, aff)
		if err != nil || len(vals) != 20 {
			b.Fatalf("Evaluate: %d values, %v", len(vals), err)
		}
	}
}
