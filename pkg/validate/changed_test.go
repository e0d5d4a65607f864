package validate_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/berth-dev/berth/pkg/catalog"
	"github.com/berth-dev/berth/pkg/schema"
	"github.com/berth-dev/berth/pkg/validate"
	"github.com/google/go-cmp/cmp"
)

func exampleFS(tb testing.TB) fstest.MapFS {
	tb.Helper()
	m := fstest.MapFS{}
	root := "../../catalog-example"
	err := fs.WalkDir(os.DirFS(root), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(filepath.Join(root, p))
		m[p] = &fstest.MapFile{Data: b}
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

func paths(c *catalog.Catalog) []string {
	var out []string
	for _, f := range c.Files {
		out = append(out, f.Path)
	}
	return out
}

// TestLoad checks that the parallel Load reads what catalog.Load reads and
// reports the same findings, odd files included.

// TestChanged checks that validating only the changed files finds what a
// full run finds in them, and reuses the base's other files.
func TestChanged(t *testing.T) {
	v, err := schema.New()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	base := exampleFS(t)
	baseCat, err := catalog.Load(ctx, base, catalog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	baseCat.Build()

	head := exampleFS(t)
	const svc = "entities/service/payments-api.yaml"
	head[svc] = &fstest.MapFile{Data: []byte(strings.Replace(string(head[svc].Data), "test_coverage: 91", "test_coverage: lots", 1))}
	head["entities/service/new.yaml"] = &fstest.MapFile{Data: []byte("identifier: new\nproperties:\n  lifecycle: Forever\nrelations:\n  domain: nowhere\n")}
	head["misc/x.yaml"] = &fstest.MapFile{Data: []byte("a: 1\n")}
	delete(head, "entities/service/ledger.yaml") // payments-api depends on it
	changed := []string{svc, "entities/service/new.yaml", "entities/service/ledger.yaml", "misc/x.yaml"}

	full, err := validate.Run(ctx, v, head, validate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	inc, err := validate.Changed(ctx, v, baseCat, head, changed, validate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(full.Diagnostics, inc.Diagnostics); diff != "" {
		t.Errorf("diagnostics (-Run +Changed):\n%s", diff)
	}
	if len(full.Diagnostics) < 4 {
		t.Errorf("want findings in the changed files, got %v", full.Diagnostics)
	}
	if diff := cmp.Diff(paths(full.Catalog), paths(inc.Catalog)); diff != "" {
		t.Errorf("files (-Run +Changed):\n%s", diff)
	}
	for _, f := range inc.Catalog.Files {
		if f.Path == "entities/service/auth-service.yaml" && !containsFile(baseCat, f) {
			t.Error("an unchanged file was read again instead of taken from the base")
		}
	}
}

func containsFile(c *catalog.Catalog, f *catalog.File) bool {
	for _, g := range c.Files {
		if g == f {
			return true
		}
	}
	return false
}
