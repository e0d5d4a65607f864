package catalog

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

// serialLoad is Load as it was before the walk was streamed to parallel
// readers: walk everything, then read each file in walk order, on one
// goroutine. It is the oracle TestLoad_SameAsSerial compares Load with.
func serialLoad(fsys fs.FS) (*Catalog, error) {
	var diags Diagnostics
	files, cfgPath, limits := readConfig(fsys, Limits{})
	var jobs []job
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		j, read, dg, werr := visit(fsys, cfgPath, p, d, err)
		if dg != nil {
			diags = append(diags, *dg)
		}
		if read {
			jobs = append(jobs, j)
		}
		return werr
	})
	for _, j := range jobs {
		files = append(files, readFile(fsys, j.path, j.kind, j.bp, limits, nil))
	}
	if err != nil {
		return nil, err
	}
	cat := New(files)
	cat.Diags = diags
	return cat, nil
}

// loadCorpora are trees to load: the example catalog, a tree of every kind
// of hostile input, and thousands of small files in many folders.
func loadCorpora(tb testing.TB) map[string]fs.FS {
	tb.Helper()
	deep := strings.Repeat("[", 10000) + strings.Repeat("]", 10000)
	bomb := "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	for i := 'b'; i <= 'j'; i++ {
		p := "*" + string(i-1)
		bomb += string(i) + ": &" + string(i) + " [" + strings.Repeat(p+", ", 9) + p + "]\n"
	}
	hostile := fstest.MapFS{
		"berth.yaml":                    {Data: []byte("limits: {maxFileBytes: 30000}\n")},
		"blueprints/svc.yaml":           {Data: []byte("identifier: svc\nschema: {properties: {}}\n")},
		"blueprints/list.json":          {Data: []byte(`[{"identifier": "a\/b"}, 3, {"identifier": "c"}]`)},
		"roles/wrapped.yaml":            {Data: []byte("roles:\n  - identifier: r1\n  - identifier: r2\n")},
		"entities/svc/good.yaml":        {Data: []byte("identifier: ok\nproperties: {}\n")},
		"entities/svc/stream.yaml":      {Data: []byte("identifier: s1\n---\n---\nidentifier: s2\n")},
		"entities/svc/malformed.yaml":   {Data: []byte("identifier: [unclosed\n")},
		"entities/svc/tabs.yaml":        {Data: []byte("identifier: x\nproperties:\n\tname: y\n")},
		"entities/svc/dup.yaml":         {Data: []byte("identifier: x\nidentifier: y\n")},
		"entities/svc/bomb.yaml":        {Data: []byte(bomb)},
		"entities/svc/deep.yaml":        {Data: []byte(deep)},
		"entities/svc/utf8.yaml":        {Data: []byte("identifier: x\ntitle: \xff\xfe\n")},
		"entities/svc/binary.yaml":      {Data: []byte("\x7fELF\x02\x01\x01\x00\x00")},
		"entities/svc/empty.yaml":       {Data: []byte("")},
		"entities/svc/lists.yaml":       {Data: []byte("- [a, b]\n")},
		"entities/svc/large.yaml":       {Data: []byte(strings.Repeat("# padding\n", 4000))},
		"entities/svc/link.yaml":        {Data: []byte("good.yaml"), Mode: fs.ModeSymlink},
		"entities/svc/escape.yaml":      {Data: []byte("../../../x.yaml"), Mode: fs.ModeSymlink},
		"entities/svc/.hidden.yaml":     {Data: []byte("identifier: hidden\n")},
		"entities/svc/testdata/t.yaml":  {Data: []byte("identifier: t\n")},
		"entities/svc/notes.txt":        {Data: []byte("not a catalog file")},
		"automations/a.yaml":            {Data: []byte("identifier: a\n")},
		"stray.yaml":                    {Data: []byte("identifier: stray\n")},
		"policies/p.cue":                {Data: []byte("svc: {}\n")},
		"entities/other/nested/n.yml":   {Data: []byte("identifier: n\nrelations: {r: [a, b]}\n")},
		"entities/noblueprint.yaml":     {Data: []byte("identifier: nb\n")},
		"scorecards/sc.yaml":            {Data: []byte("identifier: sc\nblueprint: svc\nrules: []\n")},
		"pages/p.yaml":                  {Data: []byte("identifier: p\n")},
		"actions/a.yaml":                {Data: []byte("identifier: a\n")},
		"entities/svc/scalar-root.yaml": {Data: []byte("just text\n")},
	}
	many := fstest.MapFS{"blueprints/b.yaml": {Data: []byte("identifier: b\n")}}
	for i := range 3000 {
		many[fmt.Sprintf("entities/b%d/e%04d.yaml", i%7, i)] = &fstest.MapFile{
			Data: fmt.Appendf(nil, "identifier: e%d\ntitle: E %d\nproperties: {n: %d, s: [x, %d]}\n", i, i, i, i%5)}
	}
	return map[string]fs.FS{"example": os.DirFS("../../catalog-example"), "hostile": hostile, "many": many}
}

// TestLoad_SameAsSerial checks that the streamed, parallel Load reads the
// same files, documents and positions, and reports the same diagnostics,
// as reading the tree file by file after the walk.
func TestLoad_SameAsSerial(t *testing.T) {
	for name, fsys := range loadCorpora(t) {
		t.Run(name, func(t *testing.T) {
			want, err := serialLoad(fsys)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Load(context.Background(), fsys, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Files) != len(want.Files) {
				t.Fatalf("%d files, want %d", len(got.Files), len(want.Files))
			}
			for i, wf := range want.Files {
				gf := got.Files[i]
				if gf.Path != wf.Path || gf.Kind != wf.Kind || !slices.Equal(gf.Source, wf.Source) ||
					!reflect.DeepEqual(gf.Diags, wf.Diags) || len(gf.Docs) != len(wf.Docs) {
					t.Errorf("file %d: got %s %s %d docs %v, want %s %s %d docs %v",
						i, gf.Path, gf.Kind, len(gf.Docs), gf.Diags, wf.Path, wf.Kind, len(wf.Docs), wf.Diags)
					continue
				}
				for j, wd := range wf.Docs {
					gd := gf.Docs[j]
					if !reflect.DeepEqual(gd.Value, wd.Value) || gd.Blueprint != wd.Blueprint || gd.Index != wd.Index {
						t.Errorf("%s document %d differs", wf.Path, j)
					}
					var paths [][]string
					valuePaths(wd.Value, nil, &paths)
					for _, p := range paths {
						if g, w := gd.Pos(p...), wd.Pos(p...); g != w {
							t.Errorf("%s document %d: Pos(%q) = %v, want %v", wf.Path, j, p, g, w)
						}
					}
				}
			}
			if g, w := got.Diagnostics().Sort(), want.Diagnostics().Sort(); !reflect.DeepEqual(g, w) {
				t.Errorf("diagnostics:\n%v\nwant\n%v", g, w)
			}
		})
	}
}

// TestLoad_Cancel checks a cancelled Load returns ctx's error, not a
// partial catalog.
func TestLoad_Cancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	cat, err := Load(ctx, loadCorpora(t)["many"], Options{})
	if !errors.Is(err, context.Canceled) || cat != nil {
		t.Errorf("Load after cancel = %v, %v; want nil, context.Canceled", cat, err)
	}
}
