package compute

import (
	"context"
	"sync"
	"time"

	"github.com/berth-dev/berth/pkg/catalog"
)

// inputBuilder builds the entity JSON that calculations read, reusing its
// maps from one entity to the next: evaluations never overlap, and results
// are copied out of gojq's values (fromJQ), so nothing outlives a run.
type inputBuilder struct {
	root, props, rels map[string]any
}

// emptyList is an empty JSON list; gojq never changes its input.
var emptyList = []any{}

// build returns e's Port JSON. skip names properties that formulas compute:
// they are not stored values. Meta values that are unknown are null.
func (ib *inputBuilder) build(e *catalog.Entity, skip map[string]bool) map[string]any {
	if ib.root == nil {
		ib.root = make(map[string]any, 11)
		ib.props = map[string]any{}
		ib.rels = map[string]any{}
	}
	// Stored properties convert to gojq's number types; when none needs
	// converting or skipping, the entity's own map is read as it is.
	clear(ib.props)
	props, copied := e.Properties, false
	for k, v := range e.Properties {
		if skip[k] {
			copied = true
			continue
		}
		y, changed := toJQChanged(v)
		copied = copied || changed
		ib.props[k] = y
	}
	if copied {
		props = ib.props
	} else if props == nil {
		props = ib.props
	}
	clear(ib.rels)
	for name, r := range e.Relations {
		ib.rels[name] = relationJSON(r)
	}
	var team []any
	if len(e.Team) > 0 {
		team = make([]any, len(e.Team))
		for i, t := range e.Team {
			team[i] = t
		}
	} else {
		team = emptyList
	}
	r := ib.root
	r["identifier"] = e.Identifier
	r["title"] = nonEmpty(e.Title)
	r["icon"] = nonEmpty(e.Icon)
	r["blueprint"] = e.Blueprint
	r["team"] = team
	r["properties"] = props
	r["relations"] = ib.rels
	r["createdAt"] = timeJSON(e.Meta.CreatedAt)
	r["updatedAt"] = timeJSON(e.Meta.UpdatedAt)
	r["createdBy"] = nonEmpty(e.Meta.CreatedBy)
	r["updatedBy"] = nonEmpty(e.Meta.UpdatedBy)
	return r
}

// budget is the context of one calculation run at a time: a deadline
// re-armed for each run. It replaces a context.WithTimeout per run, whose
// allocations and timer cost more than many short programs do.
type budget struct {
	parent  context.Context
	timeout time.Duration
	timer   *time.Timer
	stop    func() bool

	mu      sync.Mutex
	done    chan struct{} // replaced after it is closed; read by the running goroutine only
	err     error
	armed   bool
	armedAt time.Time
}

func newBudget(parent context.Context, timeout time.Duration) *budget {
	b := &budget{parent: parent, timeout: timeout, done: make(chan struct{})}
	b.timer = time.AfterFunc(time.Hour, func() { b.fire(context.DeadlineExceeded, true) })
	b.timer.Stop()
	b.stop = context.AfterFunc(parent, func() { b.fire(parent.Err(), false) })
	return b
}

// arm starts a run's deadline.
func (b *budget) arm() error {
	if err := b.parent.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	if b.err != nil {
		b.done, b.err = make(chan struct{}), nil
	}
	b.armed, b.armedAt = true, time.Now()
	b.mu.Unlock()
	b.timer.Reset(b.timeout)
	return nil
}

// disarm ends a run.
func (b *budget) disarm() {
	b.timer.Stop()
	b.mu.Lock()
	b.armed = false
	b.mu.Unlock()
}

// fire ends the armed run with err. A timer that fires late, for a run
// that already ended and a new one that has not yet used its time, is
// ignored.
func (b *budget) fire(err error, timer bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.armed || b.err != nil {
		return
	}
	if timer && time.Since(b.armedAt) < b.timeout {
		return
	}
	b.err = err
	close(b.done)
}

// close releases the timer and the parent's callback.
func (b *budget) close() {
	b.timer.Stop()
	b.stop()
}

// Deadline is the armed run's deadline.
func (b *budget) Deadline() (time.Time, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.armedAt.Add(b.timeout), true
}

// Done is closed when the armed run must stop.
func (b *budget) Done() <-chan struct{} { return b.done }

// Err says why the armed run stopped.
func (b *budget) Err() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}

// Value returns the parent's values.
func (b *budget) Value(key any) any { return b.parent.Value(key) }
