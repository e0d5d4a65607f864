package index_test

import (
	"context"
	"database/sql"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/berth-dev/berth/pkg/catalog"
	"github.com/berth-dev/berth/pkg/index"
)

func TestDB_ScorecardHistory(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	scorecards := []*catalog.Scorecard{{Identifier: "prod", Blueprint: "service"}}
	result := func(level string, idx int, failing ...string) []index.ScorecardResult {
		r := index.ScorecardResult{Scorecard: "prod", Level: level, LevelIndex: idx, Total: 2, Passed: 2 - len(failing)}
		for _, rule := range []string{"r2", "r1"} { // unsorted on purpose
			st := "SUCCESS"
			for _, f := range failing {
				if f == rule {
					st = "FAILURE"
				}
			}
			r.Rules = append(r.Rules, index.RuleResult{Rule: rule, Status: st, Exempt: rule == "r1"})
		}
		return []index.ScorecardResult{r}
	}
	svc0, svc1 := key("service", "svc-000000"), key("service", "svc-000001")
	steps := []struct {
		name        string
		scores      []index.EntityScores
		deletes     []catalog.EntityKey
		wantHistory int
	}{
		{"First", []index.EntityScores{{svc0, result("Bronze", 1, "r2")}, {svc1, result("Gold", 3)}}, nil, 2},
		{"Same", []index.EntityScores{{svc0, result("Bronze", 1, "r2")}, {svc1, result("Gold", 3)}}, nil, 0},
		{"Up", []index.EntityScores{{svc0, result("Silver", 2)}}, nil, 1},
		{"LeavesFilter", []index.EntityScores{{svc0, nil}}, nil, 1},
		{"Deleted", nil, []catalog.EntityKey{svc1}, 1},
		{"Back", []index.EntityScores{{svc0, result("Silver", 2)}}, nil, 1},
		{"SameAgain", []index.EntityScores{{svc0, result("Silver", 2)}}, nil, 0},
	}
	for i, st := range steps {
		s := index.Snapshot{Blueprints: blueprints(), Scorecards: scorecards, Scores: st.scores, Deletes: st.deletes}
		if i == 0 {
			s = snapshot(2, 1)
			s.Scorecards, s.Scores = scorecards, st.scores
		}
		if res := mustApply(t, db, rev(i+1), s); res.History != st.wantHistory {
			t.Errorf("%s: %d history rows, want %d", st.name, res.History, st.wantHistory)
		}
	}
	ignore := cmpopts.IgnoreFields(index.HistoryEntry{}, "At")
	got, err := db.ScorecardHistory(ctx, "service", "svc-000000", "prod")
	if err != nil {
		t.Fatal(err)
	}
	want := []index.HistoryEntry{
		{RevisionID: 1, Commit: "c0001", Level: "Bronze", FailingRules: []string{"r2"}},
		{RevisionID: 3, Commit: "c0003", Level: "Silver", FailingRules: []string{}},
		{RevisionID: 4, Commit: "c0004", Level: "", FailingRules: []string{}},
		{RevisionID: 6, Commit: "c0006", Level: "Silver", FailingRules: []string{}},
	}
	if diff := cmp.Diff(want, got, ignore); diff != "" {
		t.Errorf("svc-000000 history (-want +got):\n%s", diff)
	}
	got, err = db.ScorecardHistory(ctx, "service", "svc-000001", "prod")
	if err != nil {
		t.Fatal(err)
	}
	want = []index.HistoryEntry{
		{RevisionID: 1, Commit: "c0001", Level: "Gold", FailingRules: []string{}},
		{RevisionID: 5, Commit: "c0005", Level: "", FailingRules: []string{}},
	}
	if diff := cmp.Diff(want, got, ignore); diff != "" {
		t.Errorf("svc-000001 history (-want +got):\n%s", diff)
	}
	scores, err := db.Scores(ctx, "service", "svc-000000")
	if err != nil {
		t.Fatal(err)
	}
	wantScores := []index.ScorecardResult{{Scorecard: "prod", Level: "Silver", LevelIndex: 2, Passed: 2, Total: 2,
		Rules: []index.RuleResult{{Rule: "r1", Status: "SUCCESS", Exempt: true}, {Rule: "r2", Status: "SUCCESS"}}}}
	if diff := cmp.Diff(wantScores, scores); diff != "" {
		t.Errorf("scores (-want +got):\n%s", diff)
	}

	// Dropping the scorecard drops its results.
	mustApply(t, db, rev(8), index.Snapshot{Blueprints: blueprints()})
	if scores, err := db.Scores(ctx, "service", "svc-000000"); err != nil || len(scores) != 0 {
		t.Errorf("scores after the scorecard is gone = %v, %v", scores, err)
	}
}

// TestDB_EnforceFrom writes a failing rule that is not enforced yet through
// each write path — a bulk load, an upserted entity's scores, and scores of
// an entity the revision does not upsert — and reads it back from both
// readers; scored again as enforced, the rule loses its date.
func TestDB_EnforceFrom(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	scorecards := []*catalog.Scorecard{{Identifier: "prod", Blueprint: "service"}}
	result := func(from string) []index.ScorecardResult {
		return []index.ScorecardResult{{Scorecard: "prod", Level: "Gold", LevelIndex: 3, Passed: 1, Total: 2,
			Rules: []index.RuleResult{{Rule: "r1", Status: "SUCCESS"}, {Rule: "r2", Status: "FAILURE", EnforceFrom: from}}}}
	}
	const n = 2500 // above the bulk load threshold
	bulk := snapshot(n, 1)
	bulk.Scorecards = scorecards
	for i := range n {
		bulk.Scores = append(bulk.Scores, index.EntityScores{Key: service(i, n, 1).Key(), Results: result("2026-06-01")})
	}
	upsert := index.Snapshot{Blueprints: blueprints(), Scorecards: scorecards,
		Upserts: []index.Upsert{{Entity: service(1, n, 2)}},
		Scores:  []index.EntityScores{{Key: key("service", "svc-000001"), Results: result("2026-07-01T00:00:00Z")}}}
	rescore := index.Snapshot{Blueprints: blueprints(), Scorecards: scorecards,
		Scores: []index.EntityScores{{Key: key("service", "svc-000002"), Results: result("2026-08-01")}}}
	enforced := index.Snapshot{Blueprints: blueprints(), Scorecards: scorecards,
		Scores: []index.EntityScores{{Key: key("service", "svc-000000"), Results: result("")}}}
	steps := []struct {
		name string
		snap index.Snapshot
		id   string
		want string
	}{
		{"BulkLoad", bulk, "svc-000000", "2026-06-01"},
		{"Upsert", upsert, "svc-000001", "2026-07-01T00:00:00Z"},
		{"Rescore", rescore, "svc-000002", "2026-08-01"},
		{"Enforced", enforced, "svc-000000", ""},
	}
	for i, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			mustApply(t, db, rev(i+1), st.snap)
			want := result(st.want)
			got, err := db.Scores(ctx, "service", st.id)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Scores (-want +got):\n%s", diff)
			}
			e, err := db.Entity(ctx, "service", st.id)
			if err != nil {
				t.Fatal(err)
			}
			var listed map[int64][]index.ScorecardResult
			if err := db.ReadTx(ctx, func(tx *sql.Tx) error {
				listed, err = index.ScoresTx(ctx, tx, []int64{e.ID})
				return err
			}); err != nil {
				t.Fatal(err)
			}
			want[0].Rules = want[0].Rules[1:] // ScoresTx lists the rules that did not pass
			if diff := cmp.Diff(want, listed[e.ID]); diff != "" {
				t.Errorf("ScoresTx (-want +got):\n%s", diff)
			}
		})
	}
	// The bulk load's other entities keep theirs.
	got, err := db.Scores(ctx, "service", "svc-002499")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(result("2026-06-01"), got); diff != "" {
		t.Errorf("svc-002499 (-want +got):\n%s", diff)
	}
}
