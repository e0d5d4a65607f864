package reconcile_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/berth-dev/berth/pkg/index"
	"github.com/berth-dev/berth/pkg/reconcile"
)

// maxBackoff is the longest wait between retries that the issue's "capped
// backoff" allows here (run.go's maxBackoff).
const maxBackoff = 5 * time.Minute

// eventually polls cond until it holds, failing the test after a deadline
// generous enough for a loaded machine.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// run starts f's reconciler's Run and stops it at the end of the test.
func (f *fixture) run() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.rec.Run(ctx) }()
	f.t.Cleanup(func() { cancel(); <-done })
}

// status returns the reconciler's status and its conditions by type.
func (f *fixture) status() (reconcile.Status, map[string]reconcile.Condition) {
	f.t.Helper()
	st, err := f.rec.Status(context.Background())
	if err != nil {
		f.t.Fatal(err)
	}
	conds := map[string]reconcile.Condition{}
	for _, c := range st.Conditions {
		conds[c.Type] = c
	}
	return st, conds
}

// TestRun_RetryWithCappedBackoff runs the reconciler with its remote gone:
// the index keeps serving, the status says it is stalled and when it
// retries, each trigger fails again with a longer wait up to the cap, and
// once the remote is back a trigger applies the new head.
func TestRun_RetryWithCappedBackoff(t *testing.T) {
	f := newFixture(t, base(), reconcile.Options{})
	f.reconcile()
	good := f.applied()
	head := f.commit("new", map[string][]byte{"entities/service/d.yaml": entity("d", "gold", 1)})
	hidden := f.remote + ".away"
	if err := os.Rename(f.remote, hidden); err != nil {
		t.Fatal(err)
	}
	f.run()

	// Every failure sets a new retry time; triggers during the backoff
	// fail at once, so the wait doubles until it reaches the cap. A
	// failure's wait lies between its NextRetry less the time after it was
	// seen and its NextRetry less the time before the trigger.
	var last time.Time
	var longest time.Duration
	for i := 0; longest < maxBackoff; i++ {
		if i == 15 {
			t.Fatalf("after %d failures the longest wait is %v, want the cap %v", i, longest, maxBackoff)
		}
		before := time.Now()
		if i > 0 {
			f.rec.Trigger()
		}
		var st reconcile.Status
		var conds map[string]reconcile.Condition
		eventually(t, "a failed retry", func() bool {
			st, conds = f.status()
			return st.NextRetry != nil && !st.NextRetry.Equal(last)
		})
		after := time.Now()
		last = *st.NextRetry
		if atLeast := last.Sub(after); atLeast > maxBackoff {
			t.Fatalf("failure %d: retry in at least %v, over the cap %v", i+1, atLeast, maxBackoff)
		}
		longest = max(longest, last.Sub(before))
		if c := conds["Stalled"]; c.Status != "True" || c.Reason != "SourceUnavailable" {
			t.Errorf("failure %d: Stalled = %+v", i+1, c)
		}
		// The attempt is not the catalog's fault and records nothing: the
		// applied revision is still served and ready.
		if c := conds["Ready"]; c.Status != "True" || st.LastAppliedRevision != good || f.applied() != good {
			t.Errorf("failure %d: Ready = %+v, applied %s, want %s", i+1, c, st.LastAppliedRevision, good)
		}
	}

	if err := os.Rename(hidden, f.remote); err != nil {
		t.Fatal(err)
	}
	f.rec.Trigger()
	eventually(t, "the new head applied", func() bool { return f.applied() == head })
	eventually(t, "the retry cleared", func() bool { st, _ := f.status(); return st.NextRetry == nil })
	st, conds := f.status()
	if conds["Stalled"].Status != "False" || conds["Ready"].Status != "True" || st.History[0].Status != string(index.StatusApplied) {
		t.Errorf("after the remote came back: %+v", st)
	}
}

// TestRun_CompactsClone has Run reconcile 18 commits fetched one by one,
// each adding a pack to the clone: the clone's 19 packs are merged on the
// side down to the 16 it keeps at most, and the commits after that apply
// as before.
func TestRun_CompactsClone(t *testing.T) {
	f := newFixture(t, base(), reconcile.Options{})
	f.run()
	eventually(t, "the initial catalog applied", func() bool { return f.applied() != "" })
	packs := func() int {
		m, err := filepath.Glob(filepath.Join(f.dataDir, "git", "*", "objects", "pack", "pack-*.pack"))
		if err != nil {
			t.Fatal(err)
		}
		return len(m)
	}
	for i := range 18 {
		head := f.commit(fmt.Sprintf("commit %d", i), map[string][]byte{"entities/service/d.yaml": entity("d", "gold", i)})
		f.rec.Trigger()
		eventually(t, fmt.Sprintf("commit %d applied", i), func() bool { return f.applied() == head })
	}
	eventually(t, "the packs merged", func() bool { return packs() <= 16 })
	head := f.commit("after the merge", map[string][]byte{"entities/service/e.yaml": entity("e", "gold", 1)})
	f.rec.Trigger()
	eventually(t, "the commit after the merge applied", func() bool { return f.applied() == head })
}
