package index_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/pkg/catalog"
	"github.com/berth-dev/berth/pkg/index"
)

// dumpAll returns every row of every table and the schema (tables and
// indexes) as readers see them: what "the index is exactly as before"
// compares.
func dumpAll(tb testing.TB, db *index.DB) map[string][]string {
	tb.Helper()
	ctx := context.Background()
	out := map[string][]string{}
	err := db.ReadTx(ctx, func(tx *sql.Tx) error {
		var tables []string
		rows, err := tx.QueryContext(ctx, "SELECT type, name, coalesce(sql, '') FROM sqlite_master ORDER BY type, name")
		if err != nil {
			return err
		}
		for rows.Next() {
			var typ, name, def string
			if err := rows.Scan(&typ, &name, &def); err != nil {
				return errors.Join(err, rows.Close())
			}
			out["schema"] = append(out["schema"], typ+" "+name+" "+def)
			if typ == "table" {
				tables = append(tables, name)
			}
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return err
		}
		for _, t := range tables {
			rows, err := tx.QueryContext(ctx, `SELECT * FROM "`+t+`"`)
			if err != nil {
				return err
			}
			cols, err := rows.Columns()
			if err != nil {
				return errors.Join(err, rows.Close())
			}
			for rows.Next() {
				vals := make([]any, len(cols))
				ptrs := make([]any, len(cols))
				for i := range vals {
					ptrs[i] = &vals[i]
				}
				if err := rows.Scan(ptrs...); err != nil {
					return errors.Join(err, rows.Close())
				}
				var b strings.Builder
				for _, v := range vals {
					if s, ok := v.([]byte); ok {
						v = string(s)
					}
					fmt.Fprintf(&b, "%v|", v)
				}
				out[t] = append(out[t], b.String())
			}
			if err := errors.Join(rows.Err(), rows.Close()); err != nil {
				return err
			}
			slices.Sort(out[t])
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// settingsRestored fails unless the writer's page cache, sorter threads and
// foreign key checks are back at their settings from Open after a bulk
// load changed them.
func settingsRestored(t *testing.T, db *index.DB) {
	t.Helper()
	if n, err := index.WriterThreads(db); err != nil || n != 0 {
		t.Errorf("writer threads %d, %v; want 0 restored", n, err)
	}
	if n, err := index.WriterCacheSize(db); err != nil || n != -65536 {
		t.Errorf("writer cache_size %d, %v; want -65536 restored", n, err)
	}
	if on, err := index.WriterForeignKeys(db); err != nil || !on {
		t.Errorf("writer foreign_keys %v, %v; want on", on, err)
	}
}

func TestDB_Stage(t *testing.T) {
	ctx := context.Background()
	const n = 3000 // over bulkLoad: a cold stage drops and rebuilds indexes
	warn := catalog.Warningf(catalog.Position{File: "entities/service/a.yaml", Line: 3, Col: 1}, "late", "found while staged")

	t.Run("RollbackCold", func(t *testing.T) {
		db := openDB(t)
		before := dumpAll(t, db)
		st, err := db.Stage(ctx, rev(1), snapshot(n, 1))
		if err != nil {
			t.Fatal(err)
		}
		// Readers see the index as it was while the revision is staged.
		if diff := cmp.Diff(before, dumpAll(t, db)); diff != "" {
			t.Errorf("while staged (-before +now):\n%s", diff)
		}
		if err := st.Rollback(); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(before, dumpAll(t, db)); diff != "" {
			t.Errorf("after rollback (-before +now):\n%s", diff)
		}
		settingsRestored(t, db)
		if _, err := st.Commit(nil); !errors.Is(err, index.ErrStagedDone) {
			t.Errorf("Commit after Rollback: %v, want ErrStagedDone", err)
		}
		// The writer is free again.
		mustApply(t, db, rev(1), snapshot(10, 1))
	})

	t.Run("RollbackOverRevision", func(t *testing.T) {
		db := openDB(t)
		mustApply(t, db, rev(1), snapshot(50, 1))
		before := dumpAll(t, db)
		st, err := db.Stage(ctx, rev(2), snapshot(40, 2))
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Rollback(); err != nil {
			t.Fatal(err)
		}
		if err := st.Rollback(); err != nil {
			t.Errorf("second Rollback: %v", err)
		}
		if diff := cmp.Diff(before, dumpAll(t, db)); diff != "" {
			t.Errorf("after rollback (-before +now):\n%s", diff)
		}
	})

	t.Run("CommitWithLateDiagnostics", func(t *testing.T) {
		db := openDB(t)
		s := snapshot(n, 1)
		early := catalog.Warningf(catalog.Position{File: "blueprints/service.yaml", Line: 1, Col: 1}, "early", "known when staged")
		s.Diagnostics = catalog.Diagnostics{early}
		st, err := db.Stage(ctx, rev(1), s)
		if err != nil {
			t.Fatal(err)
		}
		res, err := st.Commit(catalog.Diagnostics{warn})
		if err != nil {
			t.Fatal(err)
		}
		if res.Entities != n+10 || res.Inserted != n+10 {
			t.Errorf("result %+v, want %d entities inserted", res, n+10)
		}
		settingsRestored(t, db)
		if _, err := st.Commit(nil); !errors.Is(err, index.ErrStagedDone) {
			t.Errorf("second Commit: %v, want ErrStagedDone", err)
		}
		if err := st.Rollback(); err != nil {
			t.Errorf("Rollback after Commit: %v", err)
		}
		state, err := db.State(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if state.Applied == nil || state.Applied.Commit != "c0001" || state.Applied.Warnings != 2 {
			t.Fatalf("applied %+v, want c0001 with 2 warnings", state.Applied)
		}
		got, err := db.Diagnostics(ctx, res.RevisionID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(catalog.Diagnostics{early, warn}, got); diff != "" {
			t.Errorf("diagnostics (-want +got):\n%s", diff)
		}
		// The same revision applied in one call leaves the same index.
		other := openDB(t)
		s.Diagnostics = catalog.Diagnostics{early, warn}
		mustApply(t, other, rev(1), s)
		want, have := dumpAll(t, other), dumpAll(t, db)
		if len(have["entities"]) != n+10 || len(have["entity_values"]) == 0 {
			t.Fatalf("dump holds %d entities, %d values", len(have["entities"]), len(have["entity_values"]))
		}
		for _, d := range []map[string][]string{want, have} {
			delete(d, "revisions") // reconciled_at and duration differ
		}
		if diff := cmp.Diff(want, have); diff != "" {
			t.Errorf("staged and committed vs applied (-applied +staged):\n%s", diff)
		}
	})

	t.Run("Cancelled", func(t *testing.T) {
		db := openDB(t) // empty: the bulk load path, which shrinks the cache
		before := dumpAll(t, db)
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		index.SetAfterUpserts(db, cancel)
		st, err := db.Stage(ctx, rev(2), snapshot(n, 2))
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Stage with its context cancelled midway: %v, %v", st, err)
		}
		index.SetAfterUpserts(db, nil)
		if diff := cmp.Diff(before, dumpAll(t, db)); diff != "" {
			t.Errorf("after a cancelled stage (-before +now):\n%s", diff)
		}
		settingsRestored(t, db)
		mustApply(t, db, rev(3), snapshot(50, 3))
	})
}
