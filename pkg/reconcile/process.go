package reconcile

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"sync"
	"time"

	"github.com/berth-dev/berth/pkg/index"
)

// A reconciler in a process of its own.
//
// berth serve runs its Reconciler in a child process and answers reads in
// the parent. The reconciler keeps the applied catalog in memory for
// incremental reconciles (≈300 MB and millions of objects at 100k
// entities); in the API's process every garbage collection had to mark
// it, and the reads queued behind the collector (a get's p99 at 32
// connections: 20 ms with the catalog in the heap, 6 ms without). Apart,
// the API's heap is small and its collections short, and a reconciler that
// crashes or runs out of memory leaves the API serving the last good
// revision while it is restarted. The index is SQLite in WAL mode, which
// both processes open; the child writes revisions, the parent reads them.
//
// The protocol: the parent writes one line to the child's stdin per
// trigger and closes it to stop the child; the child writes JSON events,
// one per line, to a pipe of its own (not its stdout, which is the
// parent's).

// ErrNotStarted means the first reconciler process exited before it had
// opened the source and the index: berth serve cannot start. Its own error
// went to its stderr.
var ErrNotStarted = errors.New("reconciler process exited before starting")

// event is one line a child writes to its parent.
type event struct {
	// Started: the child opened the source and the index.
	Started bool `json:"started,omitempty"`
	// State is the child's status after a change.
	State *procState `json:"state,omitempty"`
	// Observed is a finished reconcile, for the parent's metrics.
	Observed *observation `json:"observed,omitempty"`
}

// emitter writes events as JSON lines; its methods may be called from
// several goroutines. A write error (the parent is gone) is kept and the
// next events are dropped: the child stops when its stdin ends.
type emitter struct {
	mu  sync.Mutex
	enc *json.Encoder
	err error
}

func (e *emitter) send(ev event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.err == nil {
		e.err = e.enc.Encode(ev)
	}
}

// LineTriggers reads a parent's stdin, in, for ServeParent: a trigger per
// line (coalesced, never blocking the reading), and cancel at its end (the
// parent closed it or died). Start it before opening the repository, so
// that the end of stdin also cancels a long first clone.
func LineTriggers(in io.Reader, cancel context.CancelFunc) <-chan struct{} {
	triggers := make(chan struct{}, 1)
	go func() {
		defer cancel()
		sc := bufio.NewScanner(in)
		for sc.Scan() {
			poke(triggers)
		}
	}()
	return triggers
}

// ServeParent runs r for a parent's Process: it reconciles at once and
// again for every trigger (coalescing as Run does; see LineTriggers), and
// writes its events to out. It returns nil when ctx ends; a Reconciler
// serves one parent.
func (r *Reconciler) ServeParent(ctx context.Context, triggers <-chan struct{}, out io.Writer) error {
	em := &emitter{enc: json.NewEncoder(out)}
	r.status.mu.Lock()
	r.status.notify = func(st procState) { em.send(event{State: &st}) }
	st := r.status.st
	r.status.mu.Unlock()
	r.observed = func(o observation) { em.send(event{Observed: &o}) }
	em.send(event{Started: true, State: &st})
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-triggers:
				r.Trigger()
			}
		}
	}()
	_ = r.Run(ctx) // it returns only once ctx has ended
	return nil
}

// Process runs a Reconciler in a child process (see ServeParent) and
// reports on it as a Reconciler does: berth serve's API asks it for the
// status, readiness and metrics, and hands it triggers. Start it with Run.
type Process struct {
	db      *index.DB
	command func() *exec.Cmd
	log     *slog.Logger
	status  statusBox
	metrics *Metrics
	trigger chan struct{}
	// grace is how long a stopping child may take before it is killed.
	grace time.Duration
}

// NewProcess returns a Process reading its status from db and starting
// children with command, which returns a new, unstarted command that runs
// ServeParent with its stdin as in and its first extra file (fd 3) as out.
// Run sets the command's stdin and ExtraFiles; its stdout and stderr are
// the command's to set. grace bounds a child's graceful stop.
func NewProcess(db *index.DB, command func() *exec.Cmd, grace time.Duration, log *slog.Logger) *Process {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Process{db: db, command: command, grace: grace, log: log, trigger: make(chan struct{}, 1)}
}

// SetMetrics attaches metrics to p; call before Run.
func (p *Process) SetMetrics(m *Metrics) { p.metrics = m }

// Trigger asks for a reconcile; it never blocks and coalesces as
// Reconciler.Trigger does. A trigger while no child runs is kept for the
// next one (which reconciles when it starts anyway).
func (p *Process) Trigger() { poke(p.trigger) }

// Status reports the child's state from the index and its last events.
func (p *Process) Status(ctx context.Context) (Status, error) { return statusOf(ctx, p.db, &p.status) }

// Ready reports whether a revision has been applied.
func (p *Process) Ready(ctx context.Context) bool { return ready(ctx, p.db) }

// Refresh updates the gauges read from the index; /metrics calls it.
func (p *Process) Refresh(ctx context.Context) error { return p.metrics.refresh(ctx, p.db) }

// Run starts a child and keeps one running until ctx ends, then stops it:
// its stdin is closed and it is killed if it has not exited after the
// grace period. A child that exits is started again after a capped
// exponential backoff, the status saying why meanwhile (Stalled,
// ReconcilerExited); the index keeps serving. Run returns nil once ctx
// ends, or an error wrapping ErrNotStarted when the first child exits
// before it starts.
func (p *Process) Run(ctx context.Context) error {
	backoff := time.Duration(0)
	for first := true; ctx.Err() == nil; first = false {
		begin := time.Now()
		started, err := p.runChild(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if first && !started {
			return fmt.Errorf("%w: %w", ErrNotStarted, err)
		}
		if time.Since(begin) > maxBackoff {
			backoff = 0 // it ran well for a while: start again soon
		}
		backoff = nextBackoff(backoff)
		p.metrics.restarted()
		p.log.Error("reconciler process exited; starting another", "err", err, "in", backoff)
		p.status.set(procState{Err: fmt.Sprintf("reconciler process exited: %v", err), Reason: "ReconcilerExited",
			ErrAt: time.Now(), NextRetry: time.Now().Add(backoff)})
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
	}
	return nil
}

// runChild runs one child until it exits or ctx ends, forwarding triggers.
// It reports whether the child started and why it exited.
func (p *Process) runChild(ctx context.Context) (started bool, err error) {
	cmd := p.command()
	in, err := cmd.StdinPipe()
	if err != nil {
		return false, fmt.Errorf("reconciler process: %w", err)
	}
	evr, evw, err := os.Pipe()
	if err != nil {
		in.Close()
		return false, fmt.Errorf("reconciler process: %w", err)
	}
	cmd.ExtraFiles = []*os.File{evw}
	err = cmd.Start()
	evw.Close() // the child has its own copy
	if err != nil {
		in.Close()
		evr.Close()
		return false, fmt.Errorf("start reconciler process: %w", err)
	}
	type exit struct {
		started bool
		err     error
	}
	exited := make(chan exit, 1)
	read := make(chan bool, 1)
	go func() { read <- p.read(evr, cmd.Process.Pid) }()
	go func() {
		err := cmd.Wait()
		// A process the child started may hold the pipe's write end: read
		// what is buffered, then stop waiting for its end.
		_ = evr.SetReadDeadline(time.Now().Add(time.Second))
		sawStart := <-read
		evr.Close()
		exited <- exit{sawStart, err}
	}()
	for {
		select {
		case <-ctx.Done():
			in.Close() // the child stops at the end of its stdin
			var e exit
			select {
			case e = <-exited:
			case <-time.After(p.grace):
				p.log.Error("reconciler process did not stop in time; killing it", "pid", cmd.Process.Pid)
				_ = cmd.Process.Kill()
				e = <-exited
			}
			return e.started, nil
		case <-p.trigger:
			// The child reads its stdin from its start; a failed write
			// means it is exiting, and exited says why.
			_, _ = io.WriteString(in, "reconcile\n")
		case e := <-exited:
			in.Close()
			if e.err == nil {
				e.err = errors.New("exited")
			}
			return e.started, e.err
		}
	}
}

// read applies the events of child pid until its pipe ends, logging its
// first "started" event, and reports whether it saw one.
func (p *Process) read(r io.Reader, pid int) (started bool) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		var ev event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			p.log.Warn("reconciler process: unreadable event", "err", err)
			continue
		}
		if ev.State != nil {
			p.status.set(*ev.State)
		}
		if ev.Observed != nil {
			p.metrics.observe(*ev.Observed)
		}
		if ev.Started && !started {
			started = true
			p.log.Info("reconciler process started", "pid", pid)
		}
	}
	if err := sc.Err(); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
		p.log.Warn("reconciler process: events no longer read", "err", err)
	}
	// Drain what a child writes after an over-long line, so it never
	// blocks on a full pipe.
	_, _ = io.Copy(io.Discard, r)
	return started
}
