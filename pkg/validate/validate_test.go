package validate_test

import (
	"context"
	"flag"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/berth-dev/berth/pkg/catalog"
	"github.com/berth-dev/berth/pkg/schema"
	"github.com/berth-dev/berth/pkg/validate"
	"github.com/google/go-cmp/cmp"
	"github.com/rogpeppe/go-internal/txtar"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestRun validates each testdata/*.txtar catalog through every layer with
// the real CUE evaluator and compares the diagnostics with the archive's
// "want" file (rewritten by -update).
func TestRun(t *testing.T) {
	v, err := schema.New()
	if err != nil {
		t.Fatal(err)
	}
	runArchives(t, v, "testdata/*.txtar", fstest.MapFS{})
}

// TestRun_ExamplePolicy validates testdata/example/*.txtar entities against
// catalog-example's own blueprints and policies (not copies, which would
// drift), so the example policy's messages are pinned where they print.
func TestRun_ExamplePolicy(t *testing.T) {
	v, err := schema.New()
	if err != nil {
		t.Fatal(err)
	}
	base := fstest.MapFS{}
	example := os.DirFS("../../catalog-example")
	for _, dir := range []string{"blueprints", "policies"} {
		err := fs.WalkDir(example, dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			data, err := fs.ReadFile(example, path)
			base[path] = &fstest.MapFile{Data: data}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	runArchives(t, v, "testdata/example/*.txtar", base)
}

// runArchives runs runArchive on each archive matching pattern, as a
// subtest named after the file.
func runArchives(t *testing.T, v *schema.Validator, pattern string, base fstest.MapFS) {
	t.Helper()
	files, _ := filepath.Glob(pattern)
	if len(files) == 0 {
		t.Fatal("no test archives")
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txtar"), func(t *testing.T) {
			runArchive(t, v, file, base)
		})
	}
}

// runArchive validates the catalog in txtar file, laid over base, and
// compares the diagnostics with the archive's "want" file (rewritten by
// -update).
func runArchive(t *testing.T, v *schema.Validator, file string, base fstest.MapFS) {
	t.Helper()
	ar, fsys, want := readArchive(t, file, base)
	res, err := validate.Run(context.Background(), v, fsys, validate.Options{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, d := range res.Diagnostics {
		b.WriteString(d.String() + "\n")
	}
	got := b.String()
	if *update {
		if want < 0 {
			ar.Files = append(ar.Files, txtar.File{Name: "want"})
			want = len(ar.Files) - 1
		}
		ar.Files[want].Data = []byte(got)
		if err := os.WriteFile(file, txtar.Format(ar), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if want < 0 {
		t.Fatal("no want file; run with -update")
	}
	if diff := cmp.Diff(string(ar.Files[want].Data), got); diff != "" {
		t.Errorf("diagnostics (-want +got):\n%s", diff)
	}
}

// readArchive returns the txtar archive in file, its files but "want" laid
// over base, and the index of its "want" file (-1 when it has none).
func readArchive(t *testing.T, file string, base fstest.MapFS) (ar *txtar.Archive, fsys fstest.MapFS, want int) {
	t.Helper()
	ar, err := txtar.ParseFile(file)
	if err != nil {
		t.Fatal(err)
	}
	fsys = maps.Clone(base)
	want = -1
	for i, f := range ar.Files {
		if f.Name == "want" {
			want = i
			continue
		}
		fsys[f.Name] = &fstest.MapFile{Data: f.Data}
	}
	return ar, fsys, want
}

// TestDeferred checks that Deferred finds what Run does on every test
// archive, its entity validation run on another goroutine twice, with one
// worker and then with the Options' number.
func TestDeferred(t *testing.T) {
	v, err := schema.New()
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("testdata/*.txtar")
	if len(files) == 0 {
		t.Fatal("no test archives")
	}
	ctx := context.Background()
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txtar"), func(t *testing.T) {
			_, fsys, _ := readArchive(t, file, fstest.MapFS{})
			opts := validate.Options{Workers: 2}
			res, err := validate.Run(ctx, v, fsys, opts)
			if err != nil {
				t.Fatal(err)
			}
			dres, entities, err := validate.Deferred(ctx, v, fsys, opts)
			if err != nil {
				t.Fatal(err)
			}
			var late [2]catalog.Diagnostics
			for i, workers := range []int{1, 0} {
				var wg sync.WaitGroup
				wg.Go(func() { late[i] = entities(ctx, workers) })
				wg.Wait()
			}
			for i, l := range late {
				got := append(slices.Clone(dres.Diagnostics), l...).Sort()
				if diff := cmp.Diff(diagLines(res.Diagnostics), diagLines(got)); diff != "" {
					t.Errorf("call %d: Deferred's findings differ from Run's (-Run +Deferred):\n%s", i, diff)
				}
			}
		})
	}
}

func diagLines(ds catalog.Diagnostics) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.String()
	}
	return out
}

// TestRun_Example checks the README's catalog is valid through every layer.
func TestRun_Example(t *testing.T) {
	v, err := schema.New()
	if err != nil {
		t.Fatal(err)
	}
	res, err := validate.Run(context.Background(), v, os.DirFS("../../catalog-example"), validate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Diagnostics) != 0 {
		t.Errorf("catalog-example: %v", res.Diagnostics)
	}
	if len(res.Catalog.Entities) < 40 {
		t.Errorf("catalog-example has %d entities, want ~40+", len(res.Catalog.Entities))
	}
}

// TestRun_SeedKinds runs the seed cheat sheet's trees (pkg/catalog's
// testdata, Port's JSON byte for byte) through the CUE kind layer: every
// document must satisfy its kind's definition. The seeds name blueprints
// and properties they do not ship, so the cross-file checks do find things;
// only [schema] and [entity-schema] findings fail the test.
func TestRun_SeedKinds(t *testing.T) {
	v, err := schema.New()
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{"seed", "seed-calc", "port-array"} {
		t.Run(dir, func(t *testing.T) {
			res, err := validate.Run(context.Background(), v, os.DirFS(filepath.Join("../catalog/testdata", dir)), validate.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Catalog.Files) == 0 {
				t.Fatal("no files read")
			}
			for _, d := range res.Diagnostics {
				if d.Code == catalog.CodeSchema || d.Code == catalog.CodeEntitySchema {
					t.Errorf("%s", d)
				}
			}
		})
	}
}
