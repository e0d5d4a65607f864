package index_test

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/berth-dev/berth/pkg/index"
)

// revisionView is what a reader sees in one read transaction: the applied
// commit and the distinct values of every entity's rev property.
type revisionView struct {
	commit string
	revs   []int
	count  int
}

func view(ctx context.Context, db *index.DB) (revisionView, error) {
	var v revisionView
	err := db.ReadTx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, "SELECT coalesce(applied_commit, '') FROM state").Scan(&v.commit); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM entities WHERE blueprint = 'service'").Scan(&v.count); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, "SELECT DISTINCT CAST(num AS INTEGER) FROM entity_values WHERE key = 'rev'")
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var r int
			if err := rows.Scan(&r); err != nil {
				return err
			}
			v.revs = append(v.revs, r)
		}
		return rows.Err()
	})
	return v, err
}

// whole reports whether v shows one whole revision: n services, all at the
// revision the state names.
func (v revisionView) whole(n int) error {
	want, err := strconv.Atoi(strings.TrimPrefix(v.commit, "c"))
	if err != nil {
		return fmt.Errorf("commit %q", v.commit)
	}
	if v.count != n || len(v.revs) != 1 || v.revs[0] != want {
		return fmt.Errorf("state at %s but %d services with rev values %v", v.commit, v.count, v.revs)
	}
	return nil
}

func TestDB_ConcurrentReader(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	const n = 50
	mustApply(t, db, rev(1), snapshot(n, 1))

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var reads int
	var readErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			v, err := view(ctx, db)
			if err == nil {
				err = v.whole(n)
			}
			if err != nil {
				readErr = err
				return
			}
			reads++
		}
	}()
	for r := 2; r <= 101; r++ {
		s := snapshot(n, r)
		s.Full = false // incremental: every service changes
		if _, err := db.Apply(ctx, rev(r), s); err != nil {
			t.Error(err)
			break
		}
	}
	close(stop)
	wg.Wait()
	if readErr != nil {
		t.Fatalf("after %d reads: %v", reads, readErr)
	}
	t.Logf("%d consistent reads during 100 applies", reads)
}

const (
	crashEnv     = "BERTH_INDEX_CRASH_DB"
	crashModeEnv = "BERTH_INDEX_CRASH_MODE"
)

// TestDB_ApplyCrash kills a process in the middle of a large Apply, and
// one holding a staged revision, and checks that the index reopens at the
// revision before it.
func TestDB_ApplyCrash(t *testing.T) {
	if path := os.Getenv(crashEnv); path != "" {
		crashChild(path, os.Getenv(crashModeEnv))
		return
	}
	for _, mode := range []string{"mid-apply", "staged"} {
		t.Run(mode, func(t *testing.T) { testCrash(t, mode) })
	}
}

func testCrash(t *testing.T, mode string) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "berth.db")
	db, err := index.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	const n = 100
	mustApply(t, db, rev(1), snapshot(n, 1))
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(os.Args[0], "-test.run=^TestDB_ApplyCrash$")
	cmd.Env = append(os.Environ(), crashEnv+"="+path, crashModeEnv+"="+mode)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	mid := false
	for sc.Scan() {
		if sc.Text() == mode {
			mid = true
			break
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait() // killed: the error is expected
	if !mid {
		t.Fatalf("child never reached %s", mode)
	}
	if fi, err := os.Stat(path + "-wal"); err == nil {
		t.Logf("WAL left by the killed writer: %d bytes", fi.Size())
	}

	db = openPath(t, path)
	v, err := view(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.whole(n); err != nil || v.commit != "c0001" {
		t.Errorf("after crash: %+v (%v), want whole revision c0001", v, err)
	}
	var check string
	if err := db.ReadTx(ctx, func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&check)
	}); err != nil || check != "ok" {
		t.Errorf("integrity_check = %q, %v", check, err)
	}
	// The index takes the next revision as usual.
	mustApply(t, db, rev(2), snapshot(n, 2))
	if v, err := view(ctx, db); err != nil || v.whole(n) != nil || v.commit != "c0002" {
		t.Errorf("after next apply: %+v, %v", v, err)
	}
}

// crashChild starts a large apply and, with every entity row written but
// not committed (mode mid-apply) or with the whole revision staged (mode
// staged), tells the parent and waits to be killed.
func crashChild(path, mode string) {
	ctx := context.Background()
	db, err := index.Open(ctx, path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	if err := index.SetWriterCacheSize(db, 512); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	wait := func() {
		fmt.Println(mode)
		time.Sleep(time.Minute) // the parent kills us first
		os.Exit(4)
	}
	if mode == "staged" {
		if _, err := db.Stage(ctx, rev(2), snapshot(5000, 2)); err != nil {
			fmt.Fprintln(os.Stderr, "stage:", err)
			os.Exit(5)
		}
		wait()
	}
	index.SetAfterUpserts(db, wait)
	_, err = db.Apply(ctx, rev(2), snapshot(5000, 2))
	fmt.Fprintln(os.Stderr, "apply finished:", err)
	os.Exit(5)
}
