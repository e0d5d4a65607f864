package scorecard_test

import (
	"context"
	"os"
	"strconv"
	"testing"
	"testing/fstest"
	"time"

	"github.com/berth-dev/berth/pkg/catalog"
	"github.com/berth-dev/berth/pkg/compute"
	"github.com/berth-dev/berth/pkg/gen"
	"github.com/berth-dev/berth/pkg/query"
	"github.com/berth-dev/berth/pkg/scorecard"
)

// benchCatalog builds a generated catalog of BERTH_BENCH_ENTITIES entities
// (default 10k) in memory.
func benchCatalog(b *testing.B) *catalog.Catalog {
	b.Helper()
	n := 10000
	if s := os.Getenv("BERTH_BENCH_ENTITIES"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	fsys := fstest.MapFS{}
	for p, data := range gen.Files(gen.Options{Entities: n, Seed: 1}) {
		fsys[p] = &fstest.MapFile{Data: data}
	}
	cat, err := catalog.Load(context.Background(), fsys, catalog.Options{})
	if err != nil {
		b.Fatal(err)
	}
	if diags := cat.Build(); diags.HasErrors() {
		b.Fatal(diags[:1])
	}
	return cat
}

// BenchmarkScore evaluates computed properties and every scorecard over the
// whole catalog, then again for 10 entities, as a reconcile does.
func BenchmarkScore(b *testing.B) {
	cat := benchCatalog(b)
	ctx := context.Background()
	cprog, _ := compute.CompileWith(cat, compute.Options{Filter: query.Matcher(cat)})
	sprog, diags := scorecard.Compile(cat)
	if diags.HasErrors() {
		b.Fatal(diags)
	}
	run := func(only map[catalog.EntityKey]bool) {
		vals, _, err := cprog.Evaluate(ctx, cat, only)
		if err != nil {
			b.Fatal(err)
		}
		prop := func(e *catalog.Entity, k string) (any, bool) { v, ok := vals[e.Key()][k]; return v, ok }
		if _, err := sprog.Evaluate(ctx, cat, scorecard.Options{Now: time.Now(), Property: prop, Only: only}); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("full", func(b *testing.B) {
		for b.Loop() {
			run(nil)
		}
		b.ReportMetric(float64(len(cat.Entities))*float64(b.N)/b.Elapsed().Seconds(), "entities/s")
	})
	only := map[catalog.EntityKey]bool{}
	for _, e := range cat.Entities {
		if e.Blueprint == "service" && len(only) < 10 {
			only[e.Key()] = true
		}
	}
	b.Run("incremental10", func(b *testing.B) {
		for b.Loop() {
			run(only)
		}
	})
}
