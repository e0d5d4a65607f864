package reconcile

import (
	"runtime"
	"testing"
)

func TestCollectDue(t *testing.T) {
	const mb = 1 << 20
	// Live 430 MB, goal 730 MB: the runtime may start a collection from
	// 640 MB on.
	at := func(objects uint64) heap { return heap{objects: objects, live: 430 * mb, goal: 730 * mb} }
	for _, tc := range []struct {
		name   string
		h      heap
		perRun uint64
		want   bool
	}{
		{"JustCollected", at(440 * mb), 20 * mb, false},
		{"ThreeRunsAway", at(579 * mb), 20 * mb, false},
		{"WithinTwoRuns", at(601 * mb), 20 * mb, true},
		{"PastTrigger", at(700 * mb), 20 * mb, true},
		{"NothingMeasured", at(700 * mb), 0, false},
		{"NoGoal", heap{objects: 700 * mb}, 20 * mb, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := collectDue(tc.h, tc.perRun); got != tc.want {
				t.Errorf("collectDue(%+v, %d) = %v, want %v", tc.h, tc.perRun, got, tc.want)
			}
		})
	}
}

func TestCollector(t *testing.T) {
	c := newCollector()
	if h := c.read(); h.goal == 0 || h.objects == 0 || h.allocs == 0 {
		t.Fatalf("metrics read as %+v", h)
	}
	// A reconcile that allocated as much as the heap's goal makes a
	// collection due; it runs, and wait waits for it to end.
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	c.start()
	c.allocs -= c.read().goal
	c.end(true)
	if c.job.done == nil {
		t.Fatal("no collection started")
	}
	c.job.wait()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if after.NumForcedGC <= before.NumForcedGC {
		t.Errorf("no forced collection had ended by wait's return (%d before, %d after)", before.NumForcedGC, after.NumForcedGC)
	}
	// Reconciles with nothing to do are not measured.
	perRun := c.perRun
	c.start()
	c.end(false)
	if c.perRun != perRun {
		t.Errorf("perRun %d after an idle reconcile, want %d", c.perRun, perRun)
	}
}

// TestSideJob: work started while other work runs is skipped; once that
// ends, the next start runs.
func TestSideJob(t *testing.T) {
	var j sideJob
	j.wait() // nothing started: returns
	release := make(chan struct{})
	ran := 0
	j.startIfIdle(func() { <-release; ran++ })
	j.startIfIdle(func() { ran += 10 }) // skipped: the first runs
	close(release)
	j.wait()
	j.startIfIdle(func() { ran += 100 })
	j.wait()
	if ran != 101 {
		t.Fatalf("ran %d, want 101 (the first and the third)", ran)
	}
}
