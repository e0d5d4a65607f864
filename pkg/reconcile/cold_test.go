package reconcile_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/pkg/catalog"
	"github.com/berth-dev/berth/pkg/index"
	"github.com/berth-dev/berth/pkg/reconcile"
)

// tableCounts returns the schema of the index (tables and indexes, which a
// cold load drops and rebuilds) and the row count of every table but the
// attempt log (revisions, diagnostics).
func tableCounts(t *testing.T, db *index.DB) map[string]string {
	t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	err := db.ReadTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, "SELECT type, name, coalesce(sql, '') FROM sqlite_master")
		if err != nil {
			return err
		}
		var tables []string
		for rows.Next() {
			var typ, name, def string
			if err := rows.Scan(&typ, &name, &def); err != nil {
				return errors.Join(err, rows.Close())
			}
			out[typ+" "+name] = def
			if typ == "table" && name != "revisions" && name != "diagnostics" {
				tables = append(tables, name)
			}
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return err
		}
		for _, name := range tables {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM "`+name+`"`).Scan(&n); err != nil {
				return err
			}
			out["rows "+name] = fmt.Sprint(n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// bulk returns base() with n more services, enough for the index to take
// the bulk-load path (secondary indexes dropped and rebuilt).
func bulk(n int) map[string][]byte {
	files := base()
	for i := range n {
		files[fmt.Sprintf("entities/service/s%05d.yaml", i)] = entity(fmt.Sprintf("s%05d", i), "silver", i%4, "a")
	}
	return files
}

// TestReconcile_ColdInvalid: a full build whose entities break their
// blueprint is written to the index while they are validated, and rolled
// back: the index is exactly as before, and the attempt is recorded.
func TestReconcile_ColdInvalid(t *testing.T) {
	ctx := context.Background()
	invalid := func(files map[string][]byte) map[string][]byte {
		// An enum value CUE rejects: only the deferred layer finds it.
		files["entities/service/s01234.yaml"] = []byte("identifier: s01234\nproperties: {tier: platinum}\n")
		return files
	}
	for _, tc := range []struct {
		name string
		// first is applied before the invalid commit, when not nil.
		first map[string][]byte
	}{
		{name: "FirstImport"},
		{name: "RebuildAfterForcePush", first: base()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var f *fixture
			if tc.first != nil {
				f = newFixture(t, tc.first, reconcile.Options{})
				if res := f.reconcile(); res.Status != index.StatusApplied {
					t.Fatalf("first commit: %+v", res)
				}
			} else {
				f = newFixture(t, invalid(bulk(2500)), reconcile.Options{})
			}
			good := f.applied()
			before, entities := tableCounts(t, f.db), dumpIndex(t, f.db)
			if tc.first != nil {
				// A new history: the head does not descend from the applied commit.
				if err := os.RemoveAll(f.remote); err != nil {
					t.Fatal(err)
				}
				f.commit("rewritten history", invalid(bulk(2500)))
			}

			res := f.reconcile()
			if res.Status != index.StatusFailed || res.Incremental {
				t.Fatalf("invalid commit: %+v", res)
			}
			var schemaErrs int
			for _, d := range res.Diagnostics {
				if d.Code == catalog.CodeEntitySchema && d.File == "entities/service/s01234.yaml" {
					schemaErrs++
				}
			}
			if schemaErrs == 0 {
				t.Errorf("the entity's schema error is not reported: %v", res.Diagnostics)
			}
			if f.applied() != good {
				t.Errorf("applied %q after the invalid commit, want %q", f.applied(), good)
			}
			if diff := cmp.Diff(before, tableCounts(t, f.db)); diff != "" {
				t.Errorf("tables (-before +after):\n%s", diff)
			}
			if diff := cmp.Diff(entities, dumpIndex(t, f.db)); diff != "" {
				t.Errorf("entities (-before +after):\n%s", diff)
			}
			st, err := f.db.State(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if st.LastAttempt == nil || st.LastAttempt.Commit != res.Commit || st.LastAttempt.Status != index.StatusFailed {
				t.Errorf("last attempt %+v, want the failed commit", st.LastAttempt)
			}

			// The next commit fixes it and is applied whole.
			files := bulk(2500)
			f.commit("fix", map[string][]byte{"entities/service/s01234.yaml": files["entities/service/s01234.yaml"]})
			if res := f.reconcile(); res.Status != index.StatusApplied || res.Applied.Entities != 2503 {
				t.Fatalf("fix: %+v", res)
			}
		})
	}
}
