package index_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/pkg/catalog"
	"github.com/berth-dev/berth/pkg/index"
)

func TestDB_RecordAttempt(t *testing.T) {
	ctx := context.Background()

	t.Run("KeepsLastGood", func(t *testing.T) {
		db := openDB(t)
		good := mustApply(t, db, rev(1), snapshot(3, 1))
		diags := catalog.Diagnostics{
			catalog.Errorf(catalog.Position{File: "entities/service/x.yaml", Line: 4, Col: 3}, catalog.CodeEntitySchema,
				"replicas must be a number"),
			catalog.Warningf(catalog.Position{File: "entities/service/y.yaml", Line: 1, Col: 1}, catalog.CodeUnknownTeam,
				"team ghosts is unknown"),
		}
		id, err := db.RecordAttempt(ctx, rev(2), index.StatusFailed, "catalog has 1 error: fix and push", diags)
		if err != nil {
			t.Fatal(err)
		}
		st, err := db.State(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.Applied.ID != good.RevisionID || st.Applied.Commit != "c0001" {
			t.Errorf("applied = %+v, want the good revision", st.Applied)
		}
		if st.LastAttempt.ID != id || st.LastAttempt.Status != index.StatusFailed || st.LastAttempt.Errors != 1 ||
			st.LastAttempt.Warnings != 1 || st.LastAttempt.Reason != "catalog has 1 error: fix and push" {
			t.Errorf("last attempt = %+v", st.LastAttempt)
		}
		got, err := db.Diagnostics(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(diags, got); diff != "" {
			t.Errorf("diagnostics (-want +got):\n%s", diff)
		}
		n, err := db.Count(ctx, "", nil)
		if err != nil || n != 13 {
			t.Errorf("entities after failed attempt = %d, %v", n, err)
		}
		if _, err := db.RecordAttempt(ctx, rev(3), index.StatusApplied, "", nil); err == nil {
			t.Error("RecordAttempt(applied) succeeded")
		}
	})

	t.Run("Prune", func(t *testing.T) {
		db := openDB(t)
		index.SetKeepAttempts(db, 5)
		sc := &catalog.Scorecard{Identifier: "prod", Blueprint: "service"}
		s := snapshot(1, 1)
		s.Scorecards = []*catalog.Scorecard{sc}
		s.Scores = []index.EntityScores{{Key: key("service", "svc-000000"),
			Results: []index.ScorecardResult{{Scorecard: "prod", Level: "Gold", LevelIndex: 3}}}}
		first := mustApply(t, db, rev(1), s) // history refers to it
		s.Scores = nil
		applied := mustApply(t, db, rev(2), s)
		for i := range 20 {
			if _, err := db.RecordAttempt(ctx, rev(3+i), index.StatusError, "remote unreachable: retrying",
				catalog.Diagnostics{catalog.Errorf(catalog.Position{File: "x"}, "read", "boom")}); err != nil {
				t.Fatal(err)
			}
		}
		revs, err := db.Revisions(ctx, 100)
		if err != nil {
			t.Fatal(err)
		}
		var ids []int64
		for _, r := range revs {
			ids = append(ids, r.ID)
		}
		want := []int64{22, 21, 20, 19, 18, applied.RevisionID, first.RevisionID}
		if diff := cmp.Diff(want, ids); diff != "" {
			t.Errorf("kept revisions (-want +got):\n%s", diff)
		}
		if d, err := db.Diagnostics(ctx, 3); err != nil || len(d) != 0 {
			t.Errorf("diagnostics of a pruned attempt = %v, %v", d, err)
		}
	})
}
