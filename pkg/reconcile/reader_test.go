package reconcile_test

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/pkg/reconcile"
)

// TestReconcile_ReaderSeesWholeRevisions is issue 3's reader test through
// the real reconciler: while 100 commits, each setting every service's rev
// to the commit's number, are reconciled one after the other, a reader
// querying in a loop sees in every read transaction exactly the services
// of the commit the index names as applied, all at that commit's rev.
//
// Under -race it takes about 25 s, half of it writing the commits: the
// fixture's origin gains a pack with each, and go-git reads every pack's
// index to write the next.
func TestReconcile_ReaderSeesWholeRevisions(t *testing.T) {
	const services, commits = 20, 100
	files := func(k int) map[string][]byte {
		m := map[string][]byte{}
		for i := range services {
			m[fmt.Sprintf("entities/service/s%02d.yaml", i)] =
				fmt.Appendf(nil, "identifier: s%02d\ntitle: S%d\nproperties:\n  rev: %d\n", i, i, k)
		}
		return m
	}
	initial := files(0)
	initial["blueprints/service.yaml"] = []byte("identifier: service\ntitle: Service\nschema:\n  properties:\n    rev: {type: number}\n")
	f := newFixture(t, initial, reconcile.Options{})
	var mu sync.Mutex
	revOf := map[string]int{}
	head := func() string {
		st, err := f.db.State(context.Background())
		if err != nil || st.LastAttempt == nil {
			t.Fatalf("state: %v", err)
		}
		return st.LastAttempt.Commit
	}
	f.reconcile()
	revOf[head()] = 0

	ctx := context.Background()
	stop := make(chan struct{})
	done := make(chan error, 1)
	reads := 0
	go func() {
		for {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			var commit string
			var count int
			var revs []int
			err := f.db.ReadTx(ctx, func(tx *sql.Tx) error {
				if err := tx.QueryRowContext(ctx, "SELECT applied_commit FROM state").Scan(&commit); err != nil {
					return err
				}
				if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM entities WHERE blueprint = 'service'").Scan(&count); err != nil {
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
					revs = append(revs, r)
				}
				return rows.Err()
			})
			if err != nil {
				done <- err
				return
			}
			mu.Lock()
			want, known := revOf[commit]
			mu.Unlock()
			if !known || count != services || len(revs) != 1 || revs[0] != want {
				done <- fmt.Errorf("applied %s (rev %d, known %v) but %d services with rev values %v", commit, want, known, count, revs)
				return
			}
			reads++
			// Leave the reconciler most of the CPU: the point is reads
			// interleaved with every apply, not as many as possible.
			time.Sleep(200 * time.Microsecond)
		}
	}()
	for k := 1; k <= commits; k++ {
		h := f.commit(fmt.Sprintf("rev %d", k), files(k))
		mu.Lock()
		revOf[h] = k
		mu.Unlock()
		if res := f.reconcile(); res.Status != "applied" {
			t.Fatalf("commit %d: %s %s", k, res.Status, res.Reason)
		}
	}
	close(stop)
	if err := <-done; err != nil {
		t.Fatalf("after %d consistent reads: %v", reads, err)
	}
	if got := f.applied(); revOf[got] != commits {
		t.Fatalf("applied %s, want the last commit", got)
	}
	t.Logf("%d consistent reads during %d reconciles", reads, commits)
}
