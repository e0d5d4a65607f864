package reconcile

import (
	"runtime"
	"testing"
)

// TestBesideWorkers: the validation beside the rest of a full build leaves
// one core of those it is given, and always has a worker.
func TestBesideWorkers(t *testing.T) {
	for _, tc := range []struct{ workers, want int }{
		{0, max(1, runtime.GOMAXPROCS(0)-1)},
		{-3, max(1, runtime.GOMAXPROCS(0)-1)},
		{1, 1},
		{2, 1},
		{8, 7},
	} {
		if got := besideWorkers(tc.workers); got != tc.want {
			t.Errorf("besideWorkers(%d) = %d, want %d", tc.workers, got, tc.want)
		}
	}
}
