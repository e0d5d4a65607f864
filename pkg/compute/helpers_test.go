package compute_test

import (
	"context"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/berth-dev/berth/pkg/catalog"
	"github.com/berth-dev/berth/pkg/compute"
)

// build loads and builds a catalog from file contents, failing on load or
// build errors.
func build(tb testing.TB, files map[string]string) *catalog.Catalog {
	tb.Helper()
	fsys := fstest.MapFS{}
	for name, data := range files {
		fsys[name] = &fstest.MapFile{Data: []byte(data)}
	}
	cat, err := catalog.Load(context.Background(), fsys, catalog.Options{})
	if err != nil {
		tb.Fatalf("Load: %v", err)
	}
	diags := append(cat.Diagnostics(), cat.Build()...)
	if diags.HasErrors() {
		tb.Fatalf("catalog does not build:\n%s", format(diags))
	}
	return cat
}

// evaluate compiles and evaluates cat, failing on compile errors.
func evaluate(tb testing.TB, cat *catalog.Catalog, opts compute.Options, only map[catalog.EntityKey]bool) (compute.Values, catalog.Diagnostics) {
	tb.Helper()
	prog, diags := compute.CompileWith(cat, opts)
	if diags.HasErrors() {
		tb.Fatalf("Compile:\n%s", format(diags))
	}
	vals, evDiags, err := prog.Evaluate(context.Background(), cat, only)
	if err != nil {
		tb.Fatalf("Evaluate: %v", err)
	}
	return vals, append(diags, evDiags...)
}

func format(ds catalog.Diagnostics) string {
	var b strings.Builder
	for _, d := range ds.Sort() {
		b.WriteString(d.String())
		b.WriteByte('\n')
	}
	return b.String()
}

func key(bp, id string) catalog.EntityKey {
	return catalog.EntityKey{Blueprint: bp, Identifier: id}
}

// fixedNow is the clock of every test that measures time.
var fixedNow = time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)

func nowFixed() time.Time { return fixedNow }
