package index_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"

	"github.com/berth-dev/berth/pkg/index"
)

// TestIsBusy: a write refused because another connection (another
// process, in berth serve) holds the write lock is busy; other errors are
// not.
func TestIsBusy(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "berth.db")
	db, err := index.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	holder, err := sql.Open("sqlite3", "file:"+path+"?_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	tx, err := holder.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	other, err := sql.Open("sqlite3", "file:"+path+"?_busy_timeout=0&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	_, err = other.BeginTx(ctx, nil)
	if !index.IsBusy(err) {
		t.Fatalf("IsBusy(%v) = false while another connection writes", err)
	}
	if index.IsBusy(errors.New("database is locked")) || index.IsBusy(nil) || index.IsBusy(sql.ErrTxDone) {
		t.Fatal("IsBusy true for an error that is not SQLite's busy")
	}
}
