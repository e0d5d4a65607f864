package schema

import (
	"fmt"
	"testing"

	"github.com/berth-dev/berth/pkg/catalog"
)

// TestWorker_Prime checks that the verdicts prime records in batches are
// CUE's verdicts on each value alone, for batches with no, one and many
// invalid values, and that values of fields sharing a constraint share
// them.
func TestWorker_Prime(t *testing.T) {
	v, err := New()
	if err != nil {
		t.Fatal(err)
	}
	ten := 10.0
	bp := &catalog.Blueprint{Identifier: "svc", Schema: catalog.BlueprintSchema{Properties: map[string]catalog.Property{
		"url":     {Type: "string", Format: "url"},
		"when":    {Type: "string", Format: "date-time"},
		"n":       {Type: "number", Maximum: &ten},
		"labels":  {Type: "array", Items: &catalog.Property{Type: "string", Enum: []any{"a", "b"}}},
		"anyjson": {Type: "object"},
	}}}
	for _, tc := range []struct {
		name string
		bad  func(i int) bool
	}{
		{"AllValid", func(int) bool { return false }},
		{"OneInvalid", func(i int) bool { return i == 77 }},
		{"ManyInvalid", func(i int) bool { return i%3 == 0 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, err := v.newWorker()
			if err != nil {
				t.Fatal(err)
			}
			m := w.blueprint(bp).memo
			if m == nil {
				t.Fatal("no memo")
			}
			var vals []map[string]any
			for i := range 300 {
				e := map[string]any{
					"identifier": fmt.Sprintf("e-%d", i),
					"title":      fmt.Sprintf("E %d", i),
					"properties": map[string]any{
						"url":    fmt.Sprintf("https://x/%d", i),
						"when":   fmt.Sprintf("2024-01-%02dT00:00:00Z", i%28+1),
						"n":      float64(i % 10),
						"labels": []any{"a"},
					},
					"relations": map[string]any{"dep": fmt.Sprintf("e-%d", (i+1)%300)},
				}
				if tc.bad(i) {
					e["identifier"] = fmt.Sprintf("bad id %d", i)
					e["properties"].(map[string]any)["url"] = fmt.Sprintf("no url %d", i)
					e["properties"].(map[string]any)["when"] = fmt.Sprintf("2024-13-%02d", i%28+1)
					e["properties"].(map[string]any)["n"] = float64(11 + i)
					e["properties"].(map[string]any)["labels"] = []any{"a", fmt.Sprint(i)}
				}
				vals = append(vals, e)
			}
			ms := make([]*memo, len(vals))
			for i := range ms {
				ms[i] = m
			}
			w.prime(ms, vals)
			judged := 0
			for _, e := range vals {
				eachField(e, func(field string, x any) bool {
					key, ok := m.fieldKey(field, x)
					if !ok {
						t.Fatalf("no key for %s %v", field, x)
					}
					got, seen := m.values[key]
					if !seen {
						return true // left to known: judged by type or length
					}
					judged++
					if want := w.judge(m, field, x); got != want {
						t.Errorf("%s %v: primed verdict %v, CUE alone says %v", field, x, got, want)
					}
					return true
				})
			}
			if judged < 300*4 {
				t.Errorf("only %d values primed", judged)
			}
			// Relation targets share the identifiers' verdicts.
			k1, _ := m.fieldKey("identifier", "e-5")
			if k2, _ := m.fieldKey("r", "e-5"); k1 != k2 {
				t.Errorf("identifier and relation target keys differ: %v, %v", k1, k2)
			}
		})
	}
}
