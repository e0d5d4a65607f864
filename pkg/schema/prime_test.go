package schema

import (
	"fmt"
	"slices"
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
		"times":   {Type: "array", Items: &catalog.Property{Type: "string", Format: "date-time"}},
	}}}
	// A date-time is a time or a date: prime tries time.Time alone first.
	when := func(i int) string {
		switch i % 3 {
		case 0:
			return fmt.Sprintf("2024-01-%02d", i%28+1)
		case 1:
			return fmt.Sprintf("2024-01-%02dT10:00:00.5+02:00", i%28+1)
		}
		return fmt.Sprintf("2024-01-%02dT00:00:00Z", i%28+1)
	}
	badWhen := func(i int) string {
		if i%2 == 0 {
			return fmt.Sprintf("2024-13-%02d", i%28+1)
		}
		return fmt.Sprintf("2024-01-%02dT25:00:00Z", i%28+1)
	}
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
						"when":   when(i),
						"times":  []any{when(i), when(i + 1)},
						"n":      float64(i % 10),
						"labels": []any{"a"},
					},
					"relations": map[string]any{"dep": fmt.Sprintf("e-%d", (i+1)%300)},
				}
				if tc.bad(i) {
					e["identifier"] = fmt.Sprintf("bad id %d", i)
					e["properties"].(map[string]any)["url"] = fmt.Sprintf("no url %d", i)
					e["properties"].(map[string]any)["when"] = badWhen(i)
					e["properties"].(map[string]any)["times"] = []any{when(i), badWhen(i)}
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
					got, seen := m.verdicts.values[key]
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

// TestWorker_VerdictsAcrossBlueprints checks that one worker's blueprints
// share verdicts on values of the same constraint (an identifier of one,
// the relation target of another; a date property of both), keep apart
// those of different constraints under the same property name, and that a
// property one blueprint lacks stays invalid there whatever another
// blueprint found.
func TestWorker_VerdictsAcrossBlueprints(t *testing.T) {
	v, err := New()
	if err != nil {
		t.Fatal(err)
	}
	five, hundred := 5.0, 100.0
	team := &catalog.Blueprint{Identifier: "team", Schema: catalog.BlueprintSchema{Properties: map[string]catalog.Property{
		"founded": {Type: "string", Format: "date-time"},
		"size":    {Type: "number", Maximum: &hundred},
		"budget":  {Type: "number"},
	}}}
	svc := &catalog.Blueprint{Identifier: "svc", Schema: catalog.BlueprintSchema{Properties: map[string]catalog.Property{
		"created": {Type: "string", Format: "date-time"},
		"size":    {Type: "number", Maximum: &five},
	}}}
	w, err := v.newWorker()
	if err != nil {
		t.Fatal(err)
	}
	mt, ms := w.blueprint(team).memo, w.blueprint(svc).memo
	if mt == nil || ms == nil {
		t.Fatal("no memo")
	}
	const when = "2024-05-01T10:00:00Z"
	teams := []map[string]any{
		{"identifier": "payments", "properties": map[string]any{"founded": when, "size": 8.0, "budget": 7.0}},
		{"identifier": "search", "properties": map[string]any{"founded": "2023-02-03", "size": 9.0, "budget": 7.0}},
	}
	w.prime([]*memo{mt, mt}, teams)
	for _, tc := range []struct {
		field string
		value any
		want  bool
	}{
		{"r", "payments", true},           // judged as team's identifier
		{"p:created", when, true},         // judged as team's founded
		{"p:created", "2023-02-03", true}, // a date alone
		{"identifier", "search", true},    // the same #EntityID
	} {
		key, ok := ms.fieldKey(tc.field, tc.value)
		if !ok {
			t.Fatalf("%s %v: no key", tc.field, tc.value)
		}
		got, seen := ms.verdicts.values[key]
		if !seen || got != tc.want {
			t.Errorf("svc %s %v: verdict %v (seen %v) after judging team, want %v shared", tc.field, tc.value, got, seen, tc.want)
		}
	}
	// size is "number & <=100" for team and "number & <=5" for svc, both
	// judged by value: 8 is valid for one and not the other.
	mt.shapes[shapeKey(teams[0])] = true
	if !w.known(mt, teams[0]) {
		t.Error("team payments: not known valid")
	}
	big := map[string]any{"identifier": "api", "properties": map[string]any{"size": 8.0}}
	ms.shapes[shapeKey(big)] = true // the shape is valid: only the value decides
	if w.known(ms, big) {
		t.Error("svc with size 8: known valid though svc allows at most 5")
	}
	// budget is team's, not svc's: valid for team, never for svc. (An
	// unknown field's key cannot meet a constraint's anyway: field names
	// are not CUE expressions; the NUL prefix makes that explicit.)
	withBudget := map[string]any{"identifier": "api", "properties": map[string]any{"budget": 7.0}}
	ms.shapes[shapeKey(withBudget)] = true
	if w.known(ms, withBudget) {
		t.Error("svc with budget: known valid though svc has no such property")
	}
}

// TestWorker_JudgeNarrow checks the date-time fast path: a scalar
// date-time property has a narrow definition (time.Time alone), a list of
// date-times does not; a batch of times is recorded valid by it, a string
// of a date's length is left to the full definition untried, and a batch
// holding a bad time is left to it whole.
func TestWorker_JudgeNarrow(t *testing.T) {
	v, err := New()
	if err != nil {
		t.Fatal(err)
	}
	bp := &catalog.Blueprint{Identifier: "svc", Schema: catalog.BlueprintSchema{Properties: map[string]catalog.Property{
		"when":  {Type: "string", Format: "date-time"},
		"times": {Type: "array", Items: &catalog.Property{Type: "string", Format: "date-time"}},
		"url":   {Type: "string", Format: "url"},
	}}}
	w, err := v.newWorker()
	if err != nil {
		t.Fatal(err)
	}
	m := w.blueprint(bp).memo
	narrow, ok := m.narrow.lookup("p:when")
	if !ok {
		t.Fatal("p:when has no narrow definition")
	}
	for _, f := range []string{"p:times", "p:url", "identifier"} {
		if _, ok := m.narrow.lookup(f); ok {
			t.Errorf("%s has a narrow definition", f)
		}
	}
	keys := func(vals []any) []verdictKey {
		var ks []verdictKey
		for _, x := range vals {
			k, _ := m.fieldKey("p:when", x)
			ks = append(ks, k)
		}
		return ks
	}
	times := []any{"2024-01-02T03:04:05Z", "2024-02-03T04:05:06.5+02:00"}
	date := "2024-03-04"

	vals := append(slices.Clone(times), date)
	restKeys, rest := w.judgeNarrow(m, narrow, keys(vals), vals)
	if !slices.Equal(rest, []any{date}) || len(restKeys) != 1 {
		t.Errorf("left %v, want the date alone", rest)
	}
	for i, k := range keys(times) {
		if ok, seen := m.verdicts.values[k]; !seen || !ok {
			t.Errorf("%v: verdict %v (seen %v), want valid", times[i], ok, seen)
		}
	}

	bad := "2024-01-02T25:00:00Z"
	vals = []any{"2024-05-06T07:08:09Z", bad, date}
	_, rest = w.judgeNarrow(m, narrow, keys(vals), vals)
	if len(rest) != 3 {
		t.Errorf("left %v, want the whole batch and the date", rest)
	}
	if _, seen := m.verdicts.values[keys([]any{bad})[0]]; seen {
		t.Errorf("%s: judged by the narrow definition", bad)
	}
}
