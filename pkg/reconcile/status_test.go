package reconcile_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/berth-dev/berth/pkg/index"
	"github.com/berth-dev/berth/pkg/reconcile"
	"github.com/berth-dev/berth/pkg/validate"
)

// TestStatus_History: the status lists the last 20 reconciles that
// recorded a revision, newest first, each with its duration.
func TestStatus_History(t *testing.T) {
	f := newFixture(t, base(), reconcile.Options{})
	f.reconcile()
	var heads []string
	for i := range 24 {
		heads = append(heads, f.commit(fmt.Sprintf("replicas %d", i), map[string][]byte{"entities/service/a.yaml": entity("a", "gold", i)}))
		if res := f.reconcile(); res.Status != index.StatusApplied {
			t.Fatalf("commit %d: %+v", i, res)
		}
	}
	st, _ := f.status()
	if len(st.History) != 20 {
		t.Fatalf("history of %d entries, want 20", len(st.History))
	}
	for i, h := range st.History {
		want := heads[len(heads)-1-i]
		if h.Revision != want || h.Status != string(index.StatusApplied) || h.DurationMS <= 0 || h.Entities != 3 ||
			h.Author != "Ada" || h.CommittedAt.IsZero() || h.ReconciledAt.Before(h.CommittedAt) {
			t.Errorf("history[%d] = %+v, want revision %s applied with a duration", i, h, short(want))
		}
	}
}

func short(h string) string { return h[:7] }

// TestStatus_Reconciling: while a reconcile runs, the Reconciling
// condition is True; it is observed from the reconciler's own progress
// callback, so no timing is involved.
func TestStatus_Reconciling(t *testing.T) {
	var mu sync.Mutex
	var rec *reconcile.Reconciler
	seen := map[validate.Stage]string{}
	opts := reconcile.Options{Progress: func(s validate.Stage) {
		mu.Lock()
		defer mu.Unlock()
		st, err := rec.Status(context.Background())
		if err != nil {
			seen[s] = err.Error()
			return
		}
		for _, c := range st.Conditions {
			if c.Type == "Reconciling" {
				seen[s] = c.Status + " " + c.Reason
			}
		}
	}}
	f := newFixture(t, base(), opts)
	rec = f.rec
	f.reconcile()
	mu.Lock()
	defer mu.Unlock()
	if len(seen) == 0 {
		t.Fatal("the progress callback was never called")
	}
	for s, c := range seen {
		if c != "True Progressing" {
			t.Errorf("Reconciling during stage %v: %s", s, c)
		}
	}
	if _, conds := f.status(); conds["Reconciling"].Status != "False" || conds["Reconciling"].Reason != "Idle" {
		t.Errorf("Reconciling after the run: %+v", conds["Reconciling"])
	}
}

// TestStatus_MassDeleteHeld: a held commit leaves Ready False with a
// reason, and the message says how to let the commit through.
func TestStatus_MassDeleteHeld(t *testing.T) {
	f := newFixture(t, services(30), reconcile.Options{})
	f.reconcile()
	good := f.applied()
	held := f.commit("moved the folder", deleteServices(20))
	if res := f.reconcile(); res.Status != index.StatusHeld {
		t.Fatalf("%+v", res)
	}
	st, conds := f.status()
	ready := conds["Ready"]
	if ready.Status != "False" || ready.Reason != "MassDeleteHeld" {
		t.Errorf("Ready = %+v, want False MassDeleteHeld", ready)
	}
	for _, want := range []string{short(good), short(held), "delete 20 of 30 entities", "--allow-mass-delete", "massDeleteThreshold"} {
		if !strings.Contains(ready.Message, want) {
			t.Errorf("Ready's message %q does not say %q", ready.Message, want)
		}
	}
	if st.LastAppliedRevision != good || st.LastAttemptedRevision != held || len(st.Errors) != 0 {
		t.Errorf("status: applied %s, attempted %s, errors %v", st.LastAppliedRevision, st.LastAttemptedRevision, st.Errors)
	}
	if h := st.History[0]; h.Revision != held || h.Status != string(index.StatusHeld) || !strings.Contains(h.Reason, "--allow-mass-delete") {
		t.Errorf("history[0] = %+v", h)
	}
}
