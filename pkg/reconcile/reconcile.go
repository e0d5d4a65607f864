package reconcile

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/berth-dev/berth/pkg/catalog"
	"github.com/berth-dev/berth/pkg/gitsource"
	"github.com/berth-dev/berth/pkg/index"
	"github.com/berth-dev/berth/pkg/schema"
	"github.com/berth-dev/berth/pkg/scorecard"
	"github.com/berth-dev/berth/pkg/validate"
)

// Sentinel errors.
var (
	// ErrTransient wraps failures worth retrying: the remote is unreachable,
	// the disk is full. The index keeps serving meanwhile.
	ErrTransient = errors.New("transient failure")
)

// transient wraps err with ErrTransient unless the source says its
// configuration is wrong: a missing branch or catalog directory needs a
// fix, not a retry, and saying "transient" would suggest waiting. (Run
// still retries it with backoff, in case the branch is being created.)
func transient(err error) error {
	if misconfigured(err) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrTransient, err)
}

// misconfigured reports whether err is the source's configuration error.
func misconfigured(err error) bool {
	return errors.Is(err, gitsource.ErrBranchNotFound) || errors.Is(err, gitsource.ErrDirNotFound)
}

// DefaultMassDeleteThreshold is the share of entities one commit may delete
// before it is held.
const DefaultMassDeleteThreshold = 0.5

// massDeleteMinimum is how many deletions the guard ignores whatever their
// share, so that a small catalog can lose a few entities.
const massDeleteMinimum = 10

// Options configure a Reconciler.
type Options struct {
	// MassDeleteThreshold is the largest share (0..1] of entities one
	// commit may delete; berth.yaml's massDeleteThreshold overrides it.
	// Zero means DefaultMassDeleteThreshold.
	MassDeleteThreshold float64
	// AllowMassDelete applies a commit whatever it deletes.
	AllowMassDelete bool
	// Workers validate entities in parallel (default GOMAXPROCS).
	Workers int
	// Log receives one line per reconcile; nil discards.
	Log *slog.Logger
	// Now is the clock (scorecard exemptions, deadlines); nil is time.Now.
	Now func() time.Time
	// Progress, when set, is told each stage of a full load.
	Progress func(validate.Stage)
	// OneShot tells the reconciler that it runs once (berth index): it
	// prepares nothing for an incremental reconcile after this one.
	OneShot bool
}

// Result is what one reconcile did.
type Result struct {
	Commit      string
	Status      index.Status // applied, failed, held or error; "" when already up to date
	Reason      string
	Incremental bool
	Diagnostics catalog.Diagnostics
	Applied     index.ApplyResult
	Duration    time.Duration
	// UpToDate is set when the head was already applied (or already
	// failed): nothing was done.
	UpToDate bool
}

// Reconciler follows one branch into one index. Reconcile calls are
// serialised; Run adds triggers, coalescing and backoff.
type Reconciler struct {
	repo *gitsource.Repo
	db   *index.DB
	v    *schema.Validator
	opts Options
	log  *slog.Logger

	mu   sync.Mutex // one reconcile at a time
	prev *memo      // the last applied catalog, for incremental reconciles

	trigger chan struct{}
	status  statusBox
	metrics *Metrics
	// observed, when set (ServeParent), is told every finished reconcile.
	observed func(observation)
}

// New returns a Reconciler of repo into db, validating with v.
func New(repo *gitsource.Repo, db *index.DB, v *schema.Validator, opts Options) *Reconciler {
	if opts.MassDeleteThreshold <= 0 {
		opts.MassDeleteThreshold = DefaultMassDeleteThreshold
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Reconciler{repo: repo, db: db, v: v, opts: opts, log: log, trigger: make(chan struct{}, 1)}
}

// Reconcile fetches the branch and brings the index to its head. The
// returned error is non-nil only for failures that are not the catalog's
// fault (fetch, storage); they wrap ErrTransient when worth retrying.
// Catalog errors are a Result with Status failed, not an error.
func (r *Reconciler) Reconcile(ctx context.Context) (Result, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	start := time.Now()
	r.status.reconciling(true)
	defer r.status.reconciling(false)

	res, err := r.reconcile(ctx)
	res.Duration = time.Since(start)
	r.status.record(err)
	o := observationOf(res, err)
	r.metrics.observe(o)
	if r.observed != nil {
		r.observed(o)
	}
	switch {
	case err != nil:
		r.log.Error("reconcile", "err", err)
	case res.UpToDate:
		r.log.Debug("reconcile: up to date", "commit", short(res.Commit))
	default:
		errs, warns := res.Diagnostics.Count()
		r.log.Info("reconcile", "commit", short(res.Commit), "status", res.Status, "incremental", res.Incremental,
			"errors", errs, "warnings", warns, "entities", res.Applied.Entities, "upserted", res.Applied.Inserted+res.Applied.Updated,
			"deleted", res.Applied.Deleted, "duration", res.Duration.Round(time.Millisecond), "reason", res.Reason)
	}
	return res, err
}

// Compact merges the packs the fetches left in a remote's clone (see
// gitsource.Repo.Compact); a failure is logged, as the clone stays
// readable. Run does it after each reconcile that brought a commit; a
// caller of Reconcile alone (berth index) does it itself.
func (r *Reconciler) Compact(ctx context.Context) {
	start := time.Now()
	if err := r.repo.Compact(ctx); err != nil && ctx.Err() == nil {
		r.log.Warn("reconcile: compact the clone's packs", "err", err)
	}
	r.log.Debug("reconcile: compact", "duration", time.Since(start).Round(time.Millisecond))
}

func (r *Reconciler) reconcile(ctx context.Context) (Result, error) {
	if err := r.repo.Fetch(ctx); err != nil {
		return Result{}, transient(fmt.Errorf("fetch: %w", err))
	}
	head, err := r.repo.Head(ctx)
	if err != nil {
		return Result{}, transient(fmt.Errorf("resolve branch head: %w", err))
	}
	res := Result{Commit: head.Hash}
	st, err := r.db.State(ctx)
	if err != nil {
		return res, fmt.Errorf("%w: read index state: %w", ErrTransient, err)
	}
	if st.Applied != nil && st.Applied.Commit == head.Hash {
		res.UpToDate = true
		return res, nil
	}
	if st.LastAttempt != nil && st.LastAttempt.Commit == head.Hash && st.LastAttempt.Status == index.StatusFailed {
		res.UpToDate = true // a wrong catalog is not retried until a new commit
		return res, nil
	}

	info := index.RevisionInfo{Commit: head.Hash, Author: head.Author, AuthorEmail: head.AuthorEmail, Message: head.Message,
		CommittedAt: head.When}
	if len(head.Parents) > 0 {
		info.Parent = head.Parents[0]
	}

	next, err := r.build(ctx, head, st)
	if err != nil {
		return res, err
	}
	defer next.stop()
	res.Incremental, res.Diagnostics = next.incremental, next.diags
	info.Started = next.started // the duration recorded runs from the new head to the revision recorded

	if next.diags.HasErrors() {
		return r.fail(ctx, info, res, next)
	}
	step := time.Now()
	snap, deleted, total := r.snapshot(next)
	next.scores, next.computed = nil, nil // the snapshot holds what the index writes of them
	r.log.Debug("reconcile: snapshot", "duration", time.Since(step).Round(time.Millisecond))
	if reason := r.massDelete(next.cat, deleted, total); reason != "" {
		if err := next.settle(); err != nil {
			return res, err
		}
		if next.diags.HasErrors() {
			return r.fail(ctx, info, res, next)
		}
		res.Status, res.Reason, res.Diagnostics = index.StatusHeld, reason, next.diags
		return res, r.recordAttempt(ctx, info, res)
	}

	// The revision is written while a full build's entities may still be
	// validated; it is committed only if they pass, else rolled back.
	step = time.Now()
	staged, err := r.db.Stage(ctx, info, snap)
	if err != nil {
		return res, fmt.Errorf("%w: apply %s: %w", ErrTransient, short(head.Hash), err)
	}
	r.log.Debug("reconcile: staged", "duration", time.Since(step).Round(time.Millisecond))
	if err := next.settle(); err != nil || next.diags.HasErrors() {
		if rerr := staged.Rollback(); rerr != nil {
			return res, errors.Join(err, fmt.Errorf("%w: %w", ErrTransient, rerr))
		}
		if err != nil {
			return res, err
		}
		return r.fail(ctx, info, res, next)
	}
	applied, err := staged.Commit(next.late)
	if err != nil {
		return res, fmt.Errorf("%w: apply %s: %w", ErrTransient, short(head.Hash), err)
	}
	res.Status, res.Applied, res.Diagnostics = index.StatusApplied, applied, next.diags
	r.prev = next.memo
	return res, nil
}

// fail records a commit with errors as a failed attempt; the index keeps
// the revision it has.
func (r *Reconciler) fail(ctx context.Context, info index.RevisionInfo, res Result, n *next) (Result, error) {
	if err := n.settle(); err != nil { // every finding goes into the report
		return res, err
	}
	errs, _ := n.diags.Count()
	res.Status, res.Reason, res.Diagnostics = index.StatusFailed, failReason(errs, n.diags), n.diags
	return res, r.recordAttempt(ctx, info, res)
}

func (r *Reconciler) recordAttempt(ctx context.Context, info index.RevisionInfo, res Result) error {
	if _, err := r.db.RecordAttempt(ctx, info, res.Status, res.Reason, res.Diagnostics); err != nil {
		return fmt.Errorf("%w: record attempt: %w", ErrTransient, err)
	}
	return nil
}

// failReason summarises a failed commit for the status: how many errors,
// the first few, and what happens next.
func failReason(errs int, diags catalog.Diagnostics) string {
	var first []string
	for _, d := range diags {
		if d.Severity == catalog.SeverityError {
			first = append(first, d.String())
			if len(first) == 3 {
				break
			}
		}
	}
	return fmt.Sprintf("%d validation error(s); the index keeps serving the last good revision until a new commit fixes them: %s",
		errs, strings.Join(first, "; "))
}

// massDelete returns why a commit deleting `deleted` of `total` entities is
// held, or "".
func (r *Reconciler) massDelete(cat *catalog.Catalog, deleted, total int) string {
	if r.opts.AllowMassDelete || total == 0 || deleted < massDeleteMinimum {
		return ""
	}
	limit := r.opts.MassDeleteThreshold
	if cat.Config != nil && cat.Config.MassDeleteThreshold > 0 {
		limit = cat.Config.MassDeleteThreshold
	}
	share := float64(deleted) / float64(total)
	if share <= limit {
		return ""
	}
	return fmt.Sprintf("held: the commit would delete %d of %d entities (%.0f%%), over the mass-delete threshold of %.0f%%; "+
		"if that is intended, raise massDeleteThreshold in berth.yaml or run `berth reconcile --once --allow-mass-delete`",
		deleted, total, share*100, limit*100)
}

// snapshot turns a validated catalog into the index's Snapshot, returning
// how many entities it deletes out of the previous total.
func (r *Reconciler) snapshot(n *next) (snap index.Snapshot, deleted, total int) {
	cat := n.cat
	snap.Full = !n.incremental
	snap.SchemaHash = n.memo.schemaKey
	for _, d := range n.diags {
		snap.Diagnostics = append(snap.Diagnostics, d) // warnings only: errors never reach here
	}
	for _, id := range sortedBlueprints(cat) {
		snap.Blueprints = append(snap.Blueprints, cat.Blueprints[id])
	}
	snap.Scorecards, snap.Actions, snap.Pages, snap.Roles = cat.Scorecards, cat.Actions, cat.Pages, cat.Roles

	if n.incremental {
		for _, k := range slices.SortedFunc(maps.Keys(n.upsert), compareKeys) {
			snap.Upserts = append(snap.Upserts, index.Upsert{Entity: cat.Entity(k), Computed: n.computed[k]})
		}
		snap.Deletes = n.deleted
		deleted, total = len(n.deleted), n.prevTotal
	} else {
		snap.Upserts = make([]index.Upsert, len(cat.Entities))
		for i, e := range cat.Entities {
			snap.Upserts[i] = index.Upsert{Entity: e, Computed: n.computed[e.Key()]}
		}
	}
	if !n.incremental && n.prevKeys != nil {
		total = len(n.prevKeys)
		for k := range n.prevKeys {
			if cat.Entity(k) == nil {
				snap.Deletes = append(snap.Deletes, k)
			}
		}
		deleted = len(snap.Deletes)
	}
	// Sized up front: a generated 100k-entity catalog has 61k scorecard
	// results of 367k rules.
	snap.Scores = make([]index.EntityScores, 0, len(n.scores))
	for k, res := range n.scores {
		es := index.EntityScores{Key: k, Results: make([]index.ScorecardResult, 0, len(res))}
		for id, sr := range res {
			es.Results = append(es.Results, toIndexScore(id, sr))
		}
		snap.Scores = append(snap.Scores, es)
	}
	return snap, deleted, total
}

func toIndexScore(id string, r scorecard.Result) index.ScorecardResult {
	out := index.ScorecardResult{Scorecard: id, Level: r.Level, LevelIndex: r.LevelIndex, Passed: r.Passed(), Total: len(r.Rules),
		Rules: make([]index.RuleResult, len(r.Rules))}
	for i, rr := range r.Rules {
		out.Rules[i] = index.RuleResult{Rule: rr.Identifier, Status: string(rr.Status), Exempt: rr.Exempt, EnforceFrom: rr.EnforceFrom}
	}
	return out
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

func compareKeys(a, b catalog.EntityKey) int {
	return cmp.Or(strings.Compare(a.Blueprint, b.Blueprint), strings.Compare(a.Identifier, b.Identifier))
}
