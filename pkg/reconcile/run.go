package reconcile

import (
	"context"
	"time"
)

// Backoff bounds for retrying transient failures.
const (
	minBackoff = time.Second
	maxBackoff = 5 * time.Minute
)

// Trigger asks for a reconcile. It never blocks: triggers that arrive while
// one is pending or running coalesce into one more run.
func (r *Reconciler) Trigger() { poke(r.trigger) }

// poke sends on ch, a channel of capacity one, unless a value is already
// waiting there: triggers that come before it is read coalesce.
func poke(ch chan<- struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// nextBackoff is the wait after another failure, following a wait of d:
// doubled, from minBackoff up to maxBackoff.
func nextBackoff(d time.Duration) time.Duration { return min(max(d*2, minBackoff), maxBackoff) }

// Run reconciles once at start and then on every Trigger, until ctx ends.
// After the first reconcile it warms the reconciler (see Warm), so that
// the first commit after a restart is as quick as the next ones.
// Transient failures are retried with capped exponential backoff while the
// index keeps serving; a trigger during a backoff runs at once. A garbage
// collection due soon is started right after an incremental reconcile
// rather than left to interrupt the next one (see collector). After a
// reconcile that brought a commit, the packs the fetches left in a remote's
// clone are merged (gitsource.Repo.Compact) on a goroutine that the next
// reconcile does not wait for; Run waits for it before it returns.
func (r *Reconciler) Run(ctx context.Context) error {
	backoff := time.Duration(0)
	var retry <-chan time.Time
	gc := newCollector()
	defer gc.job.wait()
	var compaction sideJob
	defer compaction.wait()
	for first := true; ; first = false {
		gc.start()
		res, err := r.Reconcile(ctx)
		gc.end(err == nil && res.Incremental && !res.UpToDate)
		if err == nil && !res.UpToDate {
			compaction.startIfIdle(func() { r.Compact(ctx) })
		}
		if first && err == nil {
			if err := r.Warm(ctx); err != nil && ctx.Err() == nil {
				r.log.Warn("reconcile: cannot load the applied commit ahead of the next one", "err", err)
			}
		}
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil:
			backoff = nextBackoff(backoff)
			r.status.setRetry(time.Now().Add(backoff))
			retry = time.After(backoff)
		default:
			backoff, retry = 0, nil
			r.status.setRetry(time.Time{})
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-r.trigger:
		case <-retry:
		}
	}
}
