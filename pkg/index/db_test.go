package index_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/pkg/catalog"
	"github.com/berth-dev/berth/pkg/index"
)

func userVersion(t *testing.T, path string) int {
	t.Helper()
	raw, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var v int
	if err := raw.QueryRow("PRAGMA user_version").Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// writtenAt creates an index file at path as a berth that knew only the
// given migrations would have left it, then runs more (rows to migrate).
func writtenAt(t *testing.T, path string, migrations []string, more string) {
	t.Helper()
	raw, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range migrations {
		schema, err := index.ReadMigration(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := raw.Exec(schema); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	if _, err := raw.Exec(fmt.Sprintf("PRAGMA user_version = %d;\n", len(migrations)) + more); err != nil {
		t.Fatal(err)
	}
	if err := raw.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestOpen(t *testing.T) {
	ctx := context.Background()
	t.Run("Empty", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "berth.db")
		db := openPath(t, path)
		st, err := db.State(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.Applied != nil || st.LastAttempt != nil {
			t.Errorf("fresh index has state %+v", st)
		}
		if got, want := userVersion(t, path), index.SchemaVersion(); got != want || want < 2 {
			t.Errorf("user_version = %d, want %d (>= 2)", got, want)
		}
	})
	t.Run("Reopen", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "berth.db")
		db, err := index.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		mustApply(t, db, rev(1), snapshot(5, 1))
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			db, err := index.Open(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			st, err := db.State(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if st.Applied == nil || st.Applied.Commit != "c0001" || st.Applied.Entities != 15 {
				t.Errorf("after reopen: applied %+v", st.Applied)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
		}
		if got, want := userVersion(t, path), index.SchemaVersion(); got != want {
			t.Errorf("user_version = %d, want %d", got, want)
		}
	})
	t.Run("FromVersion1", func(t *testing.T) {
		// An index written by a berth that knew only 0001 gains 0002.
		path := filepath.Join(t.TempDir(), "berth.db")
		writtenAt(t, path, []string{"0001_init.sql"}, "")
		db := openPath(t, path)
		mustApply(t, db, rev(1), snapshot(3, 1))
		if got, want := userVersion(t, path), index.SchemaVersion(); got != want {
			t.Errorf("user_version = %d, want %d", got, want)
		}
	})
	t.Run("FromVersion3", func(t *testing.T) {
		// An index at 0003 with a scored entity gains 0004: the old rule
		// rows read as enforced, and new ones keep their deadline.
		path := filepath.Join(t.TempDir(), "berth.db")
		writtenAt(t, path, []string{"0001_init.sql", "0002_history_indexes.sql", "0003_audit.sql"}, `
			INSERT INTO entities (id, blueprint, identifier, file, line, doc) VALUES (1, 'service', 'old', 'old.yaml', 1, '{}');
			INSERT INTO scorecard_results VALUES (1, 'prod', 'Bronze', 1, 1, 2);
			INSERT INTO scorecard_rule_results (entity_id, scorecard, rule, status, exempt) VALUES (1, 'prod', 'r1', 'SUCCESS', 0), (1, 'prod', 'r2', 'FAILURE', 0);`)
		db := openPath(t, path)
		if got, want := userVersion(t, path), index.SchemaVersion(); got != want || want < 4 {
			t.Errorf("user_version = %d, want %d (>= 4)", got, want)
		}
		got, err := db.Scores(ctx, "service", "old")
		if err != nil {
			t.Fatal(err)
		}
		want := []index.ScorecardResult{{Scorecard: "prod", Level: "Bronze", LevelIndex: 1, Passed: 1, Total: 2,
			Rules: []index.RuleResult{{Rule: "r1", Status: "SUCCESS"}, {Rule: "r2", Status: "FAILURE"}}}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("scores written at version 3 (-want +got):\n%s", diff)
		}
		s := snapshot(1, 1)
		s.Scorecards = []*catalog.Scorecard{{Identifier: "prod", Blueprint: "service"}}
		s.Scores = []index.EntityScores{{Key: catalog.EntityKey{Blueprint: "service", Identifier: "svc-000000"},
			Results: []index.ScorecardResult{{Scorecard: "prod", Level: "Gold", LevelIndex: 3, Passed: 1, Total: 2,
				Rules: []index.RuleResult{{Rule: "r1", Status: "SUCCESS"}, {Rule: "r2", Status: "FAILURE", EnforceFrom: "2026-06-01"}}}}}}
		mustApply(t, db, rev(2), s)
		if got, err = db.Scores(ctx, "service", "svc-000000"); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(s.Scores[0].Results, got); diff != "" {
			t.Errorf("scores written at version 4 (-want +got):\n%s", diff)
		}
	})
	t.Run("FromVersion4", func(t *testing.T) {
		// An index at 0004 with value rows gains 0005: entity_values_num
		// is rebuilt partial, and a numeric rule still searches it.
		path := filepath.Join(t.TempDir(), "berth.db")
		writtenAt(t, path, []string{"0001_init.sql", "0002_history_indexes.sql", "0003_audit.sql", "0004_enforce_from.sql"}, `
			INSERT INTO entities (id, blueprint, identifier, file, line, doc) VALUES (1, 'service', 'a', 'a.yaml', 1, '{}'),
				(2, 'service', 'b', 'b.yaml', 1, '{}');
			INSERT INTO entity_values (entity_id, key, idx, typ, str, num) VALUES (1, 'replicas', -1, 'n', NULL, 3),
				(2, 'replicas', -1, 'n', NULL, 1), (1, 'language', -1, 's', 'go', NULL);`)
		db := openPath(t, path)
		if got, want := userVersion(t, path), index.SchemaVersion(); got != want || want < 5 {
			t.Errorf("user_version = %d, want %d (>= 5)", got, want)
		}
		err := db.ReadTx(ctx, func(tx *sql.Tx) error {
			var check string
			if err := tx.QueryRow("PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
				return fmt.Errorf("integrity_check: %q, %v", check, err)
			}
			// INDEXED BY fails the statement when the index cannot serve it.
			var ids []int64
			rows, err := tx.Query("SELECT entity_id FROM entity_values INDEXED BY entity_values_num WHERE key = 'replicas' AND num >= 2")
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var id int64
				if err := rows.Scan(&id); err != nil {
					return err
				}
				ids = append(ids, id)
			}
			if err := rows.Err(); err != nil {
				return err
			}
			if !slices.Equal(ids, []int64{1}) {
				return fmt.Errorf("replicas >= 2: entities %v, want [1]", ids)
			}
			return nil
		})
		if err != nil {
			t.Error(err)
		}
	})
	t.Run("TooNew", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "berth.db")
		raw, err := sql.Open("sqlite3", path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := raw.Exec("PRAGMA user_version = 999"); err != nil {
			t.Fatal(err)
		}
		if err := raw.Close(); err != nil {
			t.Fatal(err)
		}
		db, err := index.Open(ctx, path)
		if !errors.Is(err, index.ErrSchemaTooNew) {
			if db != nil {
				db.Close()
			}
			t.Fatalf("Open = %v, want ErrSchemaTooNew", err)
		}
	})
}
