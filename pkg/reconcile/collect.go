package reconcile

import (
	"runtime"
	"runtime/metrics"
)

// collector runs the garbage collector between reconciles when the next
// ones would start it anyway. berth serve holds a large catalog (460 MB of
// live heap at 100k entities) and each commit allocates some 20 MB, so a
// collection comes every few commits and costs a few hundred milliseconds
// of two cores; started by an allocation in the middle of a reconcile, it
// doubled that commit's time. Started right after a reconcile, it runs
// while the server waits for the next commit. Collections are hardly
// added: one starts only when the heap is within two reconciles'
// allocations of the earliest point at which the runtime would start one
// (see collectDue).
type collector struct {
	samples []metrics.Sample
	// perRun is the most a reconcile allocated lately, in bytes.
	perRun uint64
	// allocs is the heap allocation count at the start of the reconcile.
	allocs uint64
	// job runs the collection.
	job sideJob
}

// Metric names read by collector.
const (
	metricAllocs  = "/gc/heap/allocs:bytes"
	metricGoal    = "/gc/heap/goal:bytes"
	metricObjects = "/memory/classes/heap/objects:bytes"
	metricLive    = "/gc/heap/live:bytes"
)

func newCollector() *collector {
	return &collector{samples: []metrics.Sample{{Name: metricAllocs}, {Name: metricGoal}, {Name: metricObjects},
		{Name: metricLive}}}
}

// heap is what collector reads of the runtime, in bytes.
type heap struct {
	allocs  uint64 // allocated so far
	goal    uint64 // the heap size the current cycle aims to stay under
	objects uint64 // the heap in use: live objects and garbage not yet swept
	live    uint64 // marked live by the last collection
}

func (c *collector) read() heap {
	metrics.Read(c.samples)
	v := func(i int) uint64 {
		if c.samples[i].Value.Kind() != metrics.KindUint64 {
			return 0
		}
		return c.samples[i].Value.Uint64()
	}
	return heap{allocs: v(0), goal: v(1), objects: v(2), live: v(3)}
}

// start notes the allocation count before a reconcile.
func (c *collector) start() { c.allocs = c.read().allocs }

// end records what an incremental reconcile allocated (worked; a full one
// allocates far more than the commits that follow) and starts a
// collection when one is due (see collectDue) and none is running.
func (c *collector) end(worked bool) {
	h := c.read()
	if !worked {
		return
	}
	c.perRun = max(c.perRun-c.perRun/8, h.allocs-c.allocs) // the largest lately, decaying
	if collectDue(h, c.perRun) {
		c.job.startIfIdle(runtime.GC)
	}
}

// collectDue reports whether heap h could see a collection start within
// two reconciles allocating perRun bytes each. The runtime starts one
// between 70% and 95% of the way from the live heap to the goal; 70% is
// taken.
func collectDue(h heap, perRun uint64) bool {
	if h.goal <= h.live || perRun == 0 {
		return false
	}
	earliest := h.live + (h.goal-h.live)*7/10
	return h.objects+2*perRun >= earliest
}

// sideJob runs work beside the reconciles, one at a time: the garbage
// collection and the merging of packs that Run starts after a reconcile.
type sideJob struct {
	done chan struct{} // closed when the last started work ends; nil before
}

// startIfIdle runs f on a goroutine of its own unless the last work
// started is still running.
func (j *sideJob) startIfIdle(f func()) {
	if j.done != nil {
		select {
		case <-j.done:
		default:
			return
		}
	}
	done := make(chan struct{})
	j.done = done
	go func() {
		defer close(done)
		f()
	}()
}

// wait waits for the work running, if any.
func (j *sideJob) wait() {
	if j.done != nil {
		<-j.done
	}
}
