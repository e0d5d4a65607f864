package index_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"

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
		raw, err := sql.Open("sqlite3", path)
		if err != nil {
			t.Fatal(err)
		}
		schema, err := index.ReadMigration("0001_init.sql")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := raw.Exec(schema + "\nPRAGMA user_version = 1;"); err != nil {
			t.Fatal(err)
		}
		if err := raw.Close(); err != nil {
			t.Fatal(err)
		}
		db := openPath(t, path)
		mustApply(t, db, rev(1), snapshot(3, 1))
		if got, want := userVersion(t, path), index.SchemaVersion(); got != want {
			t.Errorf("user_version = %d, want %d", got, want)
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
