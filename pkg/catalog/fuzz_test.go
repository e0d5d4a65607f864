package catalog_test

import (
	"context"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/berth-dev/berth/pkg/catalog"
)

// FuzzParseFile checks the loader never panics, always names the file in its
// diagnostics, and yields documents only with object values.
func FuzzParseFile(f *testing.F) {
	for _, s := range []string{
		"identifier: a\nproperties: {x: 1}\n",
		"- identifier: a\n- identifier: b\n",
		"---\nidentifier: a\n---\nidentifier: b\n",
		`[{"identifier": "a", "relations": {"r": ["x"]}}]`,
		`{"roles": [{"identifier": "dev"}]}`,
		"a: &a [1, 2]\nb: *a\n<<: {c: 1}\n",
		"a: 1\na: 2\n",
		"\t- x",
		"{\"a\": \"x\\/y\"}",
		"? [a]\n: b\n",
		"x: !!binary aGVsbG8=\ny: 2024-01-01\nz: 0x1F\nw: .nan\n",
	} {
		f.Add("entities/svc/f.yaml", []byte(s))
		f.Add("blueprints/f.json", []byte(s))
	}
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		if name == "" || strings.ContainsAny(name, "\x00") {
			return
		}
		kind, _, ok := catalog.KindOf(name)
		if !ok || kind == catalog.KindPolicy {
			kind = catalog.KindEntity
		}
		docs, diags := catalog.ParseFile(name, data, kind, catalog.Limits{MaxValues: 20000})
		for _, d := range diags {
			if d.File != name {
				t.Fatalf("diagnostic names %q, want %q: %v", d.File, name, d)
			}
		}
		for _, d := range docs {
			if d.Value == nil {
				t.Fatal("document with nil value")
			}
			_ = d.Pos("properties", "x")
		}
		// Building and checking whatever parsed must not panic either.
		cat, err := catalog.Load(context.Background(), fstest.MapFS{"entities/svc/f.yaml": {Data: data}}, catalog.Options{})
		if err != nil {
			t.Fatal(err)
		}
		cat.Build()
		cat.Check()
	})
}
