package catalog

import (
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"
)

// positionCorpus returns catalog files to compare positions on: the
// example catalog, the seed files, the check fixtures and hostile or odd
// inputs (lists, wrappers, streams, anchors and merge keys, JSON).
func positionCorpus(tb testing.TB) map[string][]byte {
	tb.Helper()
	out := map[string][]byte{}
	for _, root := range []string{"../../catalog-example", "testdata/seed", "testdata/seed-calc", "testdata/port-array"} {
		err := fs.WalkDir(os.DirFS(root), ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			if _, _, ok := KindOf(p); !ok || path.Ext(p) == ".cue" {
				return nil
			}
			b, err := os.ReadFile(filepath.Join(root, p))
			out[root+":"+p] = b
			return err
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
	archives, _ := filepath.Glob("testdata/check/*.txtar")
	more, _ := filepath.Glob("../validate/testdata/*.txtar")
	for _, a := range append(archives, more...) {
		ar, err := txtar.ParseFile(a)
		if err != nil {
			tb.Fatal(err)
		}
		for _, f := range ar.Files {
			if _, _, ok := KindOf(f.Name); ok && path.Ext(f.Name) != ".cue" {
				out[a+":"+f.Name] = f.Data
			}
		}
	}
	for i, s := range []string{
		"identifier: a\nproperties:\n  x: 1\n  y: [1, {z: 2}]\n",
		"- identifier: a\n  title: A\n- 3\n- identifier: b\n  relations: {r: [x, y]}\n",
		"---\nidentifier: a\n---\n---\nidentifier: b\nproperties: {p: q}\n",
		`[{"identifier": "a", "relations": {"r": ["x"]}}, {"identifier": "b"}]`,
		"entitys:\n  - identifier: a\n  - identifier: b\n    title: B\n",
		"base: &b {identifier: x, properties: {k: v}}\nitems: &l [1, 2]\n<<: *b\nother: *l\n",
		"<<: {entitys: [{identifier: a}]}\n",
		"x: &l [{identifier: a}]\n",
		"a: 1\na: 2\n",
		"identifier: a\n\"<<\": 1\n<<: {b: 2}\n",
		"{\"identifier\": \"a\\/b\", \"properties\": {\"u\": \"http:\\/\\/x\"}}",
	} {
		out["inline:entities/svc/f"+strconv.Itoa(i)+".yaml"] = []byte(s)
	}
	return out
}

// oldPos is Document.Pos as it was when every position was recorded at
// parse time: the reference the lazy positions must match.
func oldPos(d *Document, idx *posIndex, path ...string) Position {
	for i := len(path); i >= 0; i-- {
		if s, ok := idx.get(joinPath(d.prefix, path[:i])); ok {
			if i == len(path) {
				return d.at(s.line, s.col)
			}
			if s.keyLine > 0 {
				return d.at(s.keyLine, s.keyCol)
			}
			return d.at(s.line, s.col)
		}
	}
	return Position{File: d.File}
}

func oldKeyPos(d *Document, idx *posIndex, path ...string) Position {
	if s, ok := idx.get(joinPath(d.prefix, path)); ok && s.keyLine > 0 {
		return d.at(s.keyLine, s.keyCol)
	}
	return oldPos(d, idx, path...)
}

// valuePaths lists every path into v, and beside each a child that does
// not exist.
func valuePaths(v any, prefix []string, out *[][]string) {
	*out = append(*out, prefix, append(append([]string(nil), prefix...), "missing"))
	switch v := v.(type) {
	case map[string]any:
		for k, c := range v {
			valuePaths(c, append(append([]string(nil), prefix...), k), out)
		}
	case []any:
		for i, c := range v {
			valuePaths(c, append(append([]string(nil), prefix...), strconv.Itoa(i)), out)
		}
	}
}

// TestDocument_LazyPositions checks that positions found by parsing a file
// again on demand are the ones a parse recording every position gives, for
// every value of every document, root and missing paths included, whether
// the source is the data itself (ParseFile) or read again (Load).
func TestDocument_LazyPositions(t *testing.T) {
	for name, data := range positionCorpus(t) {
		file := name[strings.LastIndex(name, ":")+1:]
		kind, _, _ := KindOf(file)
		docs, _ := ParseFile(file, data, kind, Limits{})
		ref := positionsOf(file, data, kind, Limits{}.withDefaults())
		for _, d := range docs {
			idx := ref[d.stream]
			if idx == nil {
				t.Errorf("%s: document %d: no reference positions", name, d.Index)
				continue
			}
			var paths [][]string
			valuePaths(d.Value, nil, &paths)
			for _, p := range paths {
				if got, want := d.Pos(p...), oldPos(d, idx, p...); got != want {
					t.Errorf("%s: document %d: Pos(%q) = %v, want %v", name, d.Index, p, got, want)
				}
				if got, want := d.KeyPos(p...), oldKeyPos(d, idx, p...); got != want {
					t.Errorf("%s: document %d: KeyPos(%q) = %v, want %v", name, d.Index, p, got, want)
				}
			}
		}
	}
}

// TestDocument_LazyPositionsReread checks the positions of a file read
// through Load, whose positions come from reading the file again, and that
// a file gone since degrades to the document's root.
func TestDocument_LazyPositionsReread(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "entities", "svc")
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
	src := "# a comment\nidentifier: a\nproperties:\n  x: 1\n  y: [1, 2]\n"
	for _, n := range []string{"a.yaml", "gone.yaml"} {
		if err := os.WriteFile(filepath.Join(p, n), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	fsys := os.DirFS(dir)
	a, _ := ReadFile(fsys, "entities/svc/a.yaml", Limits{})
	gone, _ := ReadFile(fsys, "entities/svc/gone.yaml", Limits{})
	if err := os.Remove(filepath.Join(p, "gone.yaml")); err != nil {
		t.Fatal(err)
	}
	if got := a.Docs[0].Pos("properties", "y", "1").String(); got != "entities/svc/a.yaml:5:10" {
		t.Errorf("Pos = %s, want entities/svc/a.yaml:5:10", got)
	}
	if got := a.Docs[0].KeyPos("properties", "x").String(); got != "entities/svc/a.yaml:4:3" {
		t.Errorf("KeyPos = %s, want entities/svc/a.yaml:4:3", got)
	}
	if got := gone.Docs[0].Pos("properties", "y", "1").String(); got != "entities/svc/gone.yaml:2:1" {
		t.Errorf("Pos in a file gone = %s, want the root, entities/svc/gone.yaml:2:1", got)
	}
}
