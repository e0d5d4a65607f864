package api_test

import (
	"context"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/pkg/api"
	"github.com/berth-dev/berth/pkg/catalog"
	"github.com/berth-dev/berth/pkg/index"
	"github.com/berth-dev/berth/pkg/scorecard"
)

// TestServer_EnforceFrom reads an entity whose Silver rule fails but is
// enforced only from 2026-06-01: before that date the rule says so and the
// level stays Gold; once the date passed, the same failure lowers the level
// and the rule is a plain FAILURE. History and summary follow the levels.
func TestServer_EnforceFrom(t *testing.T) {
	ctx := context.Background()
	fsys := fstest.MapFS{
		"blueprints/service.yaml": {Data: []byte("identifier: service\nschema:\n  properties:\n" +
			"    a: {type: boolean}\n    b: {type: boolean}\n")},
		"scorecards/card.yaml": {Data: []byte(`identifier: card
blueprint: service
rules:
  - {identifier: ra, level: Bronze, query: {combinator: and, conditions: [{property: a, operator: "=", value: true}]}}
  - {identifier: rb, level: Silver, enforceFrom: "2026-06-01", query: {combinator: and, conditions: [{property: b, operator: "=", value: true}]}}
`)},
		"entities/service/x.yaml": {Data: []byte("identifier: x\nproperties: {a: true, b: false}\n")},
	}
	cat, err := catalog.Load(ctx, fsys, catalog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if diags := append(cat.Build(), cat.Check()...); diags.HasErrors() {
		t.Fatal(diags)
	}
	prog, diags := scorecard.Compile(cat)
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	day := func(s string) time.Time {
		d, err := time.Parse(time.DateOnly, s)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	before, after := day("2026-05-01"), day("2026-07-01")
	if !prog.Clocked(before, after) {
		t.Fatal("Clocked: the deadline between the two evaluations does not count")
	}
	db := openDB(t)
	h := newServer(t, db, api.Config{}).Handler()
	tests := []struct {
		name  string
		now   time.Time
		level string
		rb    map[string]any
	}{
		{"Before", before, "Gold",
			map[string]any{"identifier": "rb", "status": "FAILURE", "level": "Silver", "enforceFrom": "2026-06-01"}},
		{"After", after, "Bronze",
			map[string]any{"identifier": "rb", "status": "FAILURE", "level": "Silver"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := prog.Evaluate(ctx, cat, scorecard.Options{Now: tt.now})
			if err != nil {
				t.Fatal(err)
			}
			e := cat.Entities[0]
			apply(t, db, i+1, index.Snapshot{Full: true, Blueprints: []*catalog.Blueprint{cat.Blueprints["service"]},
				Scorecards: cat.Scorecards, Upserts: []index.Upsert{{Entity: e}},
				Scores: []index.EntityScores{entityScores(ev, e.Key())}})

			got := do(t, h, "GET", "/v1/blueprints/service/entities/x", nil, nil).want(t, 200, "").obj("entity")
			want := map[string]any{"card": map[string]any{"level": tt.level, "rules": []any{
				map[string]any{"identifier": "ra", "status": "SUCCESS", "level": "Bronze"}, tt.rb}}}
			if diff := cmp.Diff(want, got["scorecards"]); diff != "" {
				t.Errorf("scorecards (-want +got):\n%s", diff)
			}
			if got["scorecardsStats"] != 50.0 {
				t.Errorf("scorecardsStats = %v, want 50 (a rule not yet enforced still fails)", got["scorecardsStats"])
			}

			sum := do(t, h, "GET", "/v1/blueprints/service/scorecards/card/summary", nil, nil).want(t, 200, "").obj("summary")
			wantLevels := []any{}
			for _, l := range []string{"Basic", "Bronze", "Silver", "Gold"} {
				n := 0.0
				if l == tt.level {
					n = 1
				}
				wantLevels = append(wantLevels, map[string]any{"level": l, "entities": n})
			}
			if diff := cmp.Diff(wantLevels, sum["levels"]); diff != "" {
				t.Errorf("summary levels (-want +got):\n%s", diff)
			}
			if rb := sum["rules"].([]any)[1].(map[string]any); rb["failed"] != 1.0 || rb["passRate"] != 0.0 {
				t.Errorf("summary of rb = %v, want failed 1, passRate 0", rb)
			}
		})
	}
	// The level changed when the deadline passed; the failing rules did not.
	hist := do(t, h, "GET", "/v1/blueprints/service/entities/x/scorecards/card/history", nil, nil).want(t, 200, "").Body["history"]
	var levels []any
	for _, p := range hist.([]any) {
		p := p.(map[string]any)
		levels = append(levels, p["level"])
		if diff := cmp.Diff([]any{"rb"}, p["failingRules"]); diff != "" {
			t.Errorf("failingRules at %v (-want +got):\n%s", p["commit"], diff)
		}
	}
	if diff := cmp.Diff([]any{"Gold", "Bronze"}, levels); diff != "" {
		t.Errorf("history levels (-want +got):\n%s", diff)
	}
}
