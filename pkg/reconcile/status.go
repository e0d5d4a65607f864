package reconcile

import (
	"cmp"
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/berth-dev/berth/pkg/catalog"
	"github.com/berth-dev/berth/pkg/index"
)

// Condition is a Flux-style status condition.
type Condition struct {
	Type    string `json:"type"`   // Ready, Reconciling, Stalled
	Status  string `json:"status"` // True, False
	Reason  string `json:"reason"`
	Message string `json:"message,omitempty"`
	// LastTransitionTime is when Status last changed.
	LastTransitionTime time.Time `json:"lastTransitionTime"`
}

// Status is the reconciler's state as /v1/status reports it.
type Status struct {
	LastAppliedRevision   string      `json:"lastAppliedRevision"`
	LastAttemptedRevision string      `json:"lastAttemptedRevision"`
	Conditions            []Condition `json:"conditions"`
	// Errors are the diagnostics of the last failed attempt.
	Errors  catalog.Diagnostics `json:"errors"`
	History []HistoryEntry      `json:"history"`
	// NextRetry is when a transient failure is retried, if one is pending.
	NextRetry *time.Time `json:"nextRetry,omitempty"`
}

// HistoryEntry is one past reconcile.
type HistoryEntry struct {
	Revision     string    `json:"revision"`
	Status       string    `json:"status"`
	Reason       string    `json:"reason,omitempty"`
	Message      string    `json:"message,omitempty"`
	Author       string    `json:"author,omitempty"`
	CommittedAt  time.Time `json:"committedAt"`
	ReconciledAt time.Time `json:"reconciledAt"`
	DurationMS   int64     `json:"durationMs"`
	Entities     int       `json:"entities"`
	Errors       int       `json:"errors"`
	Warnings     int       `json:"warnings"`
}

// procState is the part of the status only the reconciling process
// knows: whether a reconcile runs, the last transient failure, the next
// retry. A child process sends it to its parent on every change (see
// Process).
type procState struct {
	Running bool   `json:"running"`
	Err     string `json:"err,omitempty"`
	// Reason is the Stalled condition's reason while Err is set; empty
	// means SourceUnavailable.
	Reason    string    `json:"reason,omitempty"`
	ErrAt     time.Time `json:"errAt,omitzero"`
	NextRetry time.Time `json:"nextRetry,omitzero"`
}

// statusBox holds what the index cannot tell: the outcome of the last run,
// including transient failures that record nothing, and the conditions'
// transition times.
type statusBox struct {
	mu          sync.Mutex
	st          procState
	transitions map[string]time.Time
	states      map[string]string
	// notify, when set, is told the state after every change.
	notify func(procState)
}

// update changes the state and tells notify, under the lock so that
// notify sees the states in the order they were set.
func (s *statusBox) update(change func(*procState)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	change(&s.st)
	if s.notify != nil {
		s.notify(s.st)
	}
}

func (s *statusBox) reconciling(on bool) {
	s.update(func(st *procState) { st.Running = on })
}

// record keeps err as the last failure, or clears it.
func (s *statusBox) record(err error) {
	s.update(func(st *procState) {
		st.Err, st.ErrAt = "", time.Time{}
		if err != nil {
			st.Err, st.ErrAt = err.Error(), time.Now()
		}
	})
}

func (s *statusBox) setRetry(t time.Time) {
	s.update(func(st *procState) { st.NextRetry = t })
}

// set replaces the state with a child process's.
func (s *statusBox) set(st procState) {
	s.update(func(p *procState) { *p = st })
}

// condition records a condition's transition time the first time its
// status is seen.
func (s *statusBox) condition(typ, status, reason, msg string) Condition {
	if s.states == nil {
		s.states, s.transitions = map[string]string{}, map[string]time.Time{}
	}
	if s.states[typ] != status {
		s.states[typ] = status
		s.transitions[typ] = time.Now().UTC()
	}
	return Condition{Type: typ, Status: status, Reason: reason, Message: msg, LastTransitionTime: s.transitions[typ]}
}

// Status reports the reconciler's state from the index and this process.
func (r *Reconciler) Status(ctx context.Context) (Status, error) {
	return statusOf(ctx, r.db, &r.status)
}

// statusOf is the status told by db and box.
func statusOf(ctx context.Context, db *index.DB, box *statusBox) (Status, error) {
	st, err := db.State(ctx)
	if err != nil {
		return Status{}, err
	}
	revs, err := db.Revisions(ctx, 20)
	if err != nil {
		return Status{}, err
	}
	out := Status{Errors: catalog.Diagnostics{}, History: []HistoryEntry{}}
	if st.Applied != nil {
		out.LastAppliedRevision = st.Applied.Commit
	}
	if st.LastAttempt != nil {
		out.LastAttemptedRevision = st.LastAttempt.Commit
		if st.LastAttempt.Status == index.StatusFailed || st.LastAttempt.Status == index.StatusHeld {
			diags, err := db.Diagnostics(ctx, st.LastAttempt.ID)
			if err != nil {
				return Status{}, err
			}
			out.Errors = append(out.Errors, diags.Errors()...)
		}
	}
	for _, rv := range revs {
		out.History = append(out.History, HistoryEntry{Revision: rv.Commit, Status: string(rv.Status), Reason: rv.Reason,
			Message: rv.Message, Author: rv.Author, CommittedAt: rv.CommittedAt, ReconciledAt: rv.ReconciledAt,
			DurationMS: rv.Duration.Milliseconds(), Entities: rv.Entities, Errors: rv.Errors, Warnings: rv.Warnings})
	}

	s := box
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.st.NextRetry.IsZero() {
		t := s.st.NextRetry
		out.NextRetry = &t
	}
	// Ready: a revision is applied and the newest attempt is that revision.
	switch {
	case st.Applied == nil && st.LastAttempt == nil:
		out.Conditions = append(out.Conditions, s.condition("Ready", "False", "Initializing", "no revision applied yet"))
	case st.Applied == nil:
		out.Conditions = append(out.Conditions, s.condition("Ready", "False", reasonOf(st.LastAttempt.Status),
			fmt.Sprintf("no revision applied yet; %s", st.LastAttempt.Reason)))
	case st.LastAttempt != nil && st.LastAttempt.Commit != st.Applied.Commit:
		out.Conditions = append(out.Conditions, s.condition("Ready", "False", reasonOf(st.LastAttempt.Status),
			fmt.Sprintf("serving %s; %s %s: %s", short(st.Applied.Commit), short(st.LastAttempt.Commit), st.LastAttempt.Status, st.LastAttempt.Reason)))
	default:
		out.Conditions = append(out.Conditions, s.condition("Ready", "True", "Succeeded",
			fmt.Sprintf("applied revision %s", short(st.Applied.Commit))))
	}
	if s.st.Running {
		out.Conditions = append(out.Conditions, s.condition("Reconciling", "True", "Progressing", "reconcile in progress"))
	} else {
		out.Conditions = append(out.Conditions, s.condition("Reconciling", "False", "Idle", ""))
	}
	// Stalled: the last run could not complete for a reason that is not the
	// catalog's (remote, storage); it is retried.
	if s.st.Err != "" {
		reason := cmp.Or(s.st.Reason, "SourceUnavailable")
		out.Conditions = append(out.Conditions, s.condition("Stalled", "True", reason,
			fmt.Sprintf("%s (since %s; retrying)", s.st.Err, s.st.ErrAt.UTC().Format(time.RFC3339))))
	} else {
		out.Conditions = append(out.Conditions, s.condition("Stalled", "False", "Healthy", ""))
	}
	return out, nil
}

func reasonOf(s index.Status) string {
	switch s {
	case index.StatusFailed:
		return "ValidationFailed"
	case index.StatusHeld:
		return "MassDeleteHeld"
	case index.StatusError:
		return "ApplyFailed"
	}
	return string(s)
}

// Ready reports whether a revision has been applied.
func (r *Reconciler) Ready(ctx context.Context) bool { return ready(ctx, r.db) }

// ready reports whether db has an applied revision.
func ready(ctx context.Context, db *index.DB) bool {
	st, err := db.State(ctx)
	return err == nil && st.Applied != nil
}
