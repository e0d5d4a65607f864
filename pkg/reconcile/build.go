package reconcile

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"maps"
	"reflect"
	"runtime"
	"slices"
	"sort"
	"time"

	"github.com/berth-dev/berth/pkg/catalog"
	"github.com/berth-dev/berth/pkg/compute"
	"github.com/berth-dev/berth/pkg/gitsource"
	"github.com/berth-dev/berth/pkg/index"
	"github.com/berth-dev/berth/pkg/query"
	"github.com/berth-dev/berth/pkg/schema"
	"github.com/berth-dev/berth/pkg/scorecard"
	"github.com/berth-dev/berth/pkg/validate"
)

// memo is what the reconciler remembers of the last applied commit, so the
// next one can be incremental. An applied commit has no errors, so all it
// remembers of its diagnostics are warnings, by source.
type memo struct {
	commit    string
	when      time.Time // commit time: the clock of computed values
	cat       *catalog.Catalog
	walkDiags catalog.Diagnostics // of the tree walk (unknown folders and files)
	fileDiags catalog.Diagnostics // of reading each file (empty files)
	// warnings are the computed-property warnings of each entity; nil when
	// unknown (after a restart, until every entity is evaluated again).
	warnings  compute.Warnings
	bpHash    map[string]string // blueprint → schema hash
	schemaKey string            // hash of berth.yaml and policies
	scoredAt  time.Time         // the clock scorecards were evaluated at
}

// next is a validated catalog ready to apply.
type next struct {
	started     time.Time
	incremental bool
	cat         *catalog.Catalog
	diags       catalog.Diagnostics
	memo        *memo
	prog        *compute.Program
	// upsert and deleted are what an incremental commit writes; prevTotal
	// is how many entities the index held before.
	upsert    map[catalog.EntityKey]bool
	deleted   []catalog.EntityKey
	prevTotal int
	// computed holds the values of every entity, or of the upserted ones
	// when partial.
	computed compute.Values
	partial  bool
	scores   map[catalog.EntityKey]map[string]scorecard.Result
	prevKeys map[catalog.EntityKey]bool // full builds over an existing index

	// pending delivers the validation of a full build's entities with CUE
	// while it runs beside computing, scoring and staging the revision;
	// settle waits for it.
	pending chan deferred
	cancel  context.CancelFunc
	// gated are the findings of the steps a commit with errors does not
	// reach (evaluating computed values, scoring): they join diags once
	// the commit is known to have no validation errors.
	gated catalog.Diagnostics
	// late are the findings settle added to diags: the revision was
	// staged without them.
	late catalog.Diagnostics
}

// deferred is the outcome of a deferred entity validation.
type deferred struct {
	diags catalog.Diagnostics
	err   error // the context's, when it ended first
}

// validateLater runs entities on a goroutine of its own; settle or stop
// waits for it.
func (n *next) validateLater(ctx context.Context, entities func(context.Context) catalog.Diagnostics) {
	ctx, n.cancel = context.WithCancel(ctx)
	n.pending = make(chan deferred, 1)
	go func() {
		d := entities(ctx)
		n.pending <- deferred{diags: d, err: ctx.Err()}
	}()
}

// settle waits for a deferred entity validation and adds its findings to
// diags, with the gated ones when it found no errors. The error is
// non-nil when the context ended first: the validation is incomplete.
func (n *next) settle() error {
	if n.pending == nil {
		return nil
	}
	d := <-n.pending
	n.cancel()
	n.pending = nil
	if d.err != nil {
		return fmt.Errorf("%w: validate entities: %w", ErrTransient, d.err)
	}
	n.late = d.diags
	if !d.diags.HasErrors() {
		n.late = append(n.late, n.gated...)
	}
	n.diags = append(n.diags, n.late...).Sort()
	return nil
}

// stop abandons a deferred entity validation still running and waits for
// its goroutine to end.
func (n *next) stop() {
	if n.pending == nil {
		return
	}
	n.cancel()
	<-n.pending
	n.pending = nil
}

// build loads and validates head, incrementally when it can. A full
// build's entities may still be validated when it returns (see
// next.settle); on error nothing of it runs on.
func (r *Reconciler) build(ctx context.Context, head gitsource.Commit, st index.State) (n *next, err error) {
	started := time.Now()
	fsys, err := r.repo.FS(ctx, head.Hash)
	if err != nil {
		return nil, transient(fmt.Errorf("read commit %s: %w", short(head.Hash), err))
	}
	prev := r.prev
	if st.Applied == nil {
		prev = nil
	} else if prev == nil || prev.commit != st.Applied.Commit {
		// A restart: remember the applied commit without re-validating it
		// (it was valid when applied), so this commit can be incremental.
		if prev, err = r.warm(ctx, st); err != nil {
			r.log.Warn("reconcile: cannot reload the applied commit; rebuilding in full", "err", err)
			prev = nil
		}
		r.prev = prev
	}
	var changes []gitsource.Change
	if prev != nil {
		ok, err := r.repo.IsAncestor(ctx, prev.commit, head.Hash)
		if err != nil || !ok {
			r.log.Info("reconcile: head does not descend from the applied commit (force-push?); rebuilding in full",
				"applied", short(prev.commit), "head", short(head.Hash))
			prev = nil
		} else if changes, err = r.repo.Changes(ctx, prev.commit, head.Hash); err != nil {
			return nil, fmt.Errorf("%w: diff %s..%s: %w", ErrTransient, short(prev.commit), short(head.Hash), err)
		} else if touchesGlobal(changes) {
			prev = nil // berth.yaml or policies changed: every entity may be affected
		}
	}

	if prev == nil {
		n, err = r.full(ctx, fsys, head)
	} else {
		n, err = r.incremental(ctx, fsys, head, prev, changes)
	}
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			n.stop()
		}
	}()
	n.started = started
	if st.Applied != nil && !n.incremental {
		keys, err := r.db.EntityKeys(ctx)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrTransient, err)
		}
		n.prevKeys = make(map[catalog.EntityKey]bool, len(keys))
		for _, k := range keys {
			n.prevKeys[k] = true
		}
	}
	step := time.Now()
	if err := r.compute(ctx, n, prev, head); err != nil {
		return nil, err
	}
	r.log.Debug("reconcile: computed", "duration", time.Since(step).Round(time.Millisecond))
	if !n.diags.HasErrors() && !n.gated.HasErrors() {
		step = time.Now()
		if err := r.score(ctx, n, prev); err != nil {
			return nil, err
		}
		r.log.Debug("reconcile: scored", "duration", time.Since(step).Round(time.Millisecond))
	}
	if n.pending == nil {
		n.diags = append(n.diags, n.gated...).Sort()
	}
	return n, nil
}

// compute evaluates computed properties: every entity on a full build,
// else the changed entities, those whose mirrors or aggregations read them,
// and those whose values follow the clock (all join the upserts). The
// others' values and warnings carry over.
func (r *Reconciler) compute(ctx context.Context, n *next, prev *memo, head gitsource.Commit) error {
	prog, diags := compute.CompileWith(n.cat, compute.Options{Filter: query.Matcher(n.cat), Now: func() time.Time { return head.When }})
	n.prog = prog
	n.diags = append(n.diags, diags...).Sort()
	if n.diags.HasErrors() {
		return nil
	}
	var only map[catalog.EntityKey]bool
	if n.incremental {
		changed := slices.Concat(slices.Collect(maps.Keys(n.upsert)), n.deleted)
		for k := range prog.AffectedBetween(prev.cat, n.cat, changed) {
			if n.cat.Entity(k) != nil {
				n.upsert[k] = true
			}
		}
		if clocked := prog.Clocked(); len(clocked) > 0 && !head.When.Equal(prev.when) {
			for _, e := range n.cat.Entities {
				if slices.Contains(clocked, e.Blueprint) && n.cat.Entity(e.Key()) == e {
					n.upsert[e.Key()] = true
				}
			}
		}
		if prev.warnings != nil {
			only = n.upsert // after a restart the warnings are unknown: evaluate all
		}
	}
	vals, warnings, err := prog.EvaluateEach(ctx, n.cat, only)
	if err != nil {
		return err
	}
	if only != nil {
		merged := make(compute.Warnings, len(prev.warnings)+len(warnings))
		for k, w := range prev.warnings {
			if !only[k] && n.cat.Entity(k) != nil {
				merged[k] = w
			}
		}
		maps.Copy(merged, warnings)
		warnings = merged
	}
	n.gated = append(n.gated, prog.Report(n.cat, warnings)...)
	n.computed, n.partial = vals, only != nil
	n.memo.warnings, n.memo.when = warnings, head.When
	return nil
}

// touchesGlobal reports whether a change affects every entity's validation.
func touchesGlobal(changes []gitsource.Change) bool {
	for _, c := range changes {
		for _, p := range []string{c.Path, c.OldPath} {
			if k, _, ok := catalog.KindOf(p); ok && (k == catalog.KindConfig || k == catalog.KindPolicy) {
				return true
			}
		}
	}
	return false
}

// besideWorkers is how many goroutines validate a full build's entities
// while the rest of the reconcile runs: one fewer than workers (default
// GOMAXPROCS), at least one. Computing, scoring and writing the index keep
// the other cores busy, and the index writer, whose single thread decides
// when the revision is in, got less of the CPU the more validators it ran
// beside: a cold 100k-entity index took 12.5-13.0 s with one validator on
// two cores, against 13.1-13.9 s with two (three alternated pairs).
func besideWorkers(workers int) int {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	return max(1, workers-1)
}

// full validates every file of the commit. When the other layers find no
// errors, the entities are validated with CUE beside the rest of the
// reconcile (see next.settle), which is most of a cold import's CPU time
// besides writing the index.
func (r *Reconciler) full(ctx context.Context, fsys fs.FS, head gitsource.Commit) (n *next, err error) {
	res, entities, err := validate.Deferred(ctx, r.v, fsys, validate.Options{Workers: r.opts.Workers, Progress: r.opts.Progress})
	if err != nil {
		return nil, fmt.Errorf("%w: load commit %s: %w", ErrTransient, short(head.Hash), err)
	}
	cat := res.Catalog
	r.log.Debug("reconcile: loaded", "load", res.Timings[validate.StageLoad].Round(time.Millisecond),
		"kinds", res.Timings[validate.StageKinds].Round(time.Millisecond),
		"cross-file", res.Timings[validate.StageCross].Round(time.Millisecond))
	n = &next{cat: cat, diags: res.Diagnostics}
	if n.diags.HasErrors() {
		// The commit fails whatever its entities hold; they are validated
		// now for the report.
		n.diags = append(n.diags, entities(ctx, 0)...).Sort()
	} else {
		n.validateLater(ctx, func(ctx context.Context) catalog.Diagnostics {
			return entities(ctx, besideWorkers(r.opts.Workers))
		})
		defer func() {
			if err != nil {
				n.stop()
			}
		}()
	}
	started := time.Now()
	hist, err := r.repo.FileHistory(ctx, head.Hash)
	if err != nil {
		return nil, fmt.Errorf("%w: read history: %w", ErrTransient, err)
	}
	r.log.Debug("reconcile: read history", "duration", time.Since(started).Round(time.Millisecond))
	// Every blob is read: what go-git cached of them is garbage.
	if err := r.repo.Trim(); err != nil {
		r.log.Warn("reconcile: trim git caches", "err", err)
	}
	for _, e := range cat.Entities {
		if m, ok := hist[e.Doc.File]; ok {
			e.Meta = catalog.Meta{CreatedAt: m.Created.When, CreatedBy: who(m.Created.Author, m.Created.AuthorEmail),
				UpdatedAt: m.Updated.When, UpdatedBy: who(m.Updated.Author, m.Updated.AuthorEmail)}
		}
	}
	n.memo = r.remember(head.Hash, cat)
	return n, nil
}

func who(name, email string) string {
	if email != "" {
		return email
	}
	return name
}

// warm reloads the applied commit without CUE: it was valid when applied.
// Its computed values are evaluated once more, for their warnings.
func (r *Reconciler) warm(ctx context.Context, st index.State) (*memo, error) {
	started := time.Now()
	fsys, err := r.repo.FS(ctx, st.Applied.Commit)
	if err != nil {
		return nil, err
	}
	cat, err := catalog.Load(ctx, fsys, catalog.Options{})
	if err != nil {
		return nil, err
	}
	cat.Build()
	if err := r.repo.Trim(); err != nil {
		r.log.Warn("reconcile: trim git caches", "err", err)
	}
	meta, err := r.db.EntityMeta(ctx)
	if err != nil {
		return nil, err
	}
	for _, e := range cat.Entities {
		e.Meta = meta[e.Key()].Meta
	}
	m := r.remember(st.Applied.Commit, cat)
	when := st.Applied.CommittedAt
	prog, _ := compute.CompileWith(cat, compute.Options{Filter: query.Matcher(cat), Now: func() time.Time { return when }})
	if _, m.warnings, err = prog.EvaluateEach(ctx, cat, nil); err != nil {
		return nil, err
	}
	// The scores were evaluated after the reconcile started, which is no
	// later than this.
	m.when, m.scoredAt = when, st.Applied.ReconciledAt.Add(-st.Applied.Duration)
	r.log.Info("reconcile: loaded the applied commit", "commit", short(m.commit), "entities", cat.KeyCount(),
		"duration", time.Since(started).Round(time.Millisecond))
	return m, nil
}

// Warm loads the applied commit's catalog, unless it is in memory, so that
// the next reconcile is incremental without loading it first: berth serve
// warms after its first reconcile, while the index already serves. A
// reconcile that comes meanwhile waits for it. The error is non-nil when
// the index or the repository cannot be read; reconciles still work, the
// next one loading the commit itself.
func (r *Reconciler) Warm(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	st, err := r.db.State(ctx)
	if err != nil {
		return fmt.Errorf("warm: read index state: %w", err)
	}
	if st.Applied == nil || r.prev != nil && r.prev.commit == st.Applied.Commit {
		return nil
	}
	m, err := r.warm(ctx, st)
	if err != nil {
		return fmt.Errorf("warm: load applied commit %s: %w", short(st.Applied.Commit), err)
	}
	r.prev = m
	return nil
}

// remember returns the memo of a fully loaded commit; its computed-property
// warnings are set by compute.
func (r *Reconciler) remember(commit string, cat *catalog.Catalog) *memo {
	if !r.opts.OneShot {
		cat.Referrers("") // build the reference index now, not in the first incremental commit
	}
	m := &memo{commit: commit, walkDiags: slices.Clone(cat.Diags), cat: cat, bpHash: map[string]string{}}
	for _, f := range cat.Files {
		m.fileDiags = append(m.fileDiags, f.Diags...)
	}
	for id := range cat.Blueprints {
		m.bpHash[id] = r.v.SchemaHash(cat, id)
	}
	h := sha256.New()
	for _, f := range cat.Files {
		if f.Kind == catalog.KindConfig || f.Kind == catalog.KindPolicy {
			fmt.Fprintf(h, "%s\x00%s\x00", f.Path, f.Source)
			for _, d := range f.Docs {
				fmt.Fprintf(h, "%v\x00", d.Value)
			}
		}
	}
	m.schemaKey = hex.EncodeToString(h.Sum(nil)[:12])
	return m
}

// incremental derives head's catalog from the applied one: it re-reads
// the changed files, validates with CUE only their entities (and those of
// blueprints whose schema changed), and checks across files only what the
// change can affect.
func (r *Reconciler) incremental(ctx context.Context, fsys fs.FS, head gitsource.Commit, prev *memo, changes []gitsource.Change) (*next, error) {
	touched := map[string]bool{}
	for _, c := range changes {
		touched[c.Path] = true
		if c.OldPath != "" {
			touched[c.OldPath] = true
		}
	}
	paths := slices.Sorted(maps.Keys(touched))

	// Load: the walk's findings about the touched paths, then their files.
	walk := catalog.Rewalk(prev.walkDiags, fsys, paths)
	limits := prev.cat.EffectiveLimits(catalog.Limits{})
	var fresh []*catalog.File
	var gone []string
	objects := false // a file other than an entity's changed
	for _, p := range paths {
		if k, _, _ := catalog.KindOf(p); k != catalog.KindEntity {
			objects = true
		}
		var f *catalog.File
		if _, err := fs.Stat(fsys, p); err == nil && !catalog.Skipped(p) {
			f, _ = catalog.ReadFile(fsys, p, limits)
		}
		if f == nil {
			gone = append(gone, p)
			continue
		}
		fresh = append(fresh, f)
	}
	fileDiags := carry(prev.fileDiags, func(d catalog.Diagnostic) bool { return !touched[d.File] })
	for _, f := range fresh {
		fileDiags = append(fileDiags, f.Diags...)
	}
	diags := slices.Concat(walk, fileDiags)

	// Layer 1 for changed files only, then the typed catalog from the
	// previous one.
	diags = append(diags, r.v.ValidateDocuments(ctx, catalog.New(slices.Clone(fresh)))...)
	cat, built := catalog.Update(prev.cat, fresh, gone)
	cat.Diags = walk
	diags = append(diags, built...)

	// Layers 2 and 3 for entities of changed files and of blueprints whose
	// schema changed; changed blueprints' entities are all recomputed.
	bpHash, changedSchema, changedBP := prev.bpHash, map[string]bool{}, map[string]bool{}
	if objects {
		bpHash = map[string]string{}
		for id, b := range cat.Blueprints {
			bpHash[id] = r.v.SchemaHash(cat, id)
			if prev.bpHash[id] != bpHash[id] {
				changedSchema[id] = true
			}
			if pb := prev.cat.Blueprints[id]; pb == nil || pb.Doc != b.Doc {
				changedBP[id] = true
			}
		}
	}
	revalidate := []*catalog.Entity{} // not nil: nil validates every entity
	for _, f := range fresh {
		revalidate = append(revalidate, cat.EntitiesOf(f.Path)...)
	}
	if len(changedSchema) > 0 || len(changedBP) > 0 {
		for _, e := range cat.Entities {
			if changedSchema[e.Blueprint] && !touched[e.Doc.File] {
				revalidate = append(revalidate, e)
			}
		}
	}
	diags = append(diags, r.v.ValidateEntities(ctx, cat, schema.EntityOptions{Workers: r.opts.Workers, Entities: revalidate})...)

	// Layer 4. The applied catalog had no errors, and Check reports only
	// errors, so it had no findings to carry.
	diags = append(diags, cat.CheckSince(prev.cat, nil)...)
	diags = diags.Sort()

	n := &next{incremental: true, cat: cat, diags: diags, upsert: map[catalog.EntityKey]bool{}, prevTotal: prev.cat.KeyCount()}
	by := who(head.Author, head.AuthorEmail)
	for _, f := range fresh {
		for _, e := range cat.EntitiesOf(f.Path) {
			switch old := prev.cat.Entity(e.Key()); {
			case old == nil:
				e.Meta = catalog.Meta{CreatedAt: head.When, CreatedBy: by, UpdatedAt: head.When, UpdatedBy: by}
			case sameEntity(old, e):
				e.Meta = old.Meta
			default:
				e.Meta = old.Meta
				e.Meta.UpdatedAt, e.Meta.UpdatedBy = head.When, by
			}
		}
	}
	keys, _ := cat.ChangedSince(prev.cat)
	for _, k := range keys {
		switch {
		case cat.Entity(k) != nil:
			n.upsert[k] = true // new, changed, moved, or now first of a duplicate key
		case prev.cat.Entity(k) != nil:
			n.deleted = append(n.deleted, k)
		}
	}
	if len(changedBP) > 0 {
		for _, e := range cat.Entities {
			if changedBP[e.Blueprint] && cat.Entity(e.Key()) == e {
				n.upsert[e.Key()] = true // computed values may differ
			}
		}
	}
	n.memo = &memo{commit: head.Hash, cat: cat, walkDiags: cat.Diags, fileDiags: fileDiags, bpHash: bpHash, schemaKey: prev.schemaKey}
	return n, nil
}

// carry returns the previous diagnostics that keep holding.
func carry(prev catalog.Diagnostics, keep func(catalog.Diagnostic) bool) catalog.Diagnostics {
	var out catalog.Diagnostics
	for _, d := range prev {
		if keep(d) {
			out = append(out, d)
		}
	}
	return out
}

// sameEntity reports whether two versions of an entity hold the same data.
func sameEntity(a, b *catalog.Entity) bool {
	return a.Title == b.Title && a.Icon == b.Icon && slices.Equal(a.Team, b.Team) &&
		reflect.DeepEqual(a.Properties, b.Properties) && reflect.DeepEqual(a.Relations, b.Relations)
}

// score evaluates scorecards: all entities on a full build, or when rules
// read other entities or scorecards changed; else only the upserted ones.
func (r *Reconciler) score(ctx context.Context, n *next, prev *memo) error {
	prog, diags := scorecard.Compile(n.cat)
	n.gated = append(n.gated, diags...)
	if diags.HasErrors() {
		return nil
	}
	opts := scorecard.Options{Now: r.opts.Now(), Property: func(e *catalog.Entity, key string) (any, bool) {
		v, ok := n.computed[e.Key()][key]
		return v, ok
	}}
	n.memo.scoredAt = opts.Now
	if n.incremental && prog.Local() && sameScorecards(prev.cat, n.cat) && !prog.Clocked(prev.scoredAt, opts.Now) {
		opts.Only = n.upsert
	} else if n.partial {
		// Every entity is scored: every entity's values are needed.
		vals, _, err := n.prog.Evaluate(ctx, n.cat, nil)
		if err != nil {
			return err
		}
		opts.Property = func(e *catalog.Entity, key string) (any, bool) {
			v, ok := vals[e.Key()][key]
			return v, ok
		}
	}
	ev, err := prog.Evaluate(ctx, n.cat, opts)
	if err != nil {
		return err
	}
	n.scores = ev.Results
	if opts.Only != nil {
		// Entities evaluated but no longer scored must be told so.
		for k := range opts.Only {
			if _, ok := n.scores[k]; !ok && n.cat.Entity(k) != nil {
				n.scores[k] = map[string]scorecard.Result{}
			}
		}
		return nil
	}
	for _, e := range n.cat.Entities {
		if _, ok := n.scores[e.Key()]; !ok {
			n.scores[e.Key()] = map[string]scorecard.Result{}
		}
	}
	return nil
}

func sameScorecards(a, b *catalog.Catalog) bool {
	if len(a.Scorecards) != len(b.Scorecards) {
		return false
	}
	for i := range a.Scorecards {
		if !reflect.DeepEqual(a.Scorecards[i].Doc.Value, b.Scorecards[i].Doc.Value) {
			return false
		}
	}
	return true
}

func sortedBlueprints(cat *catalog.Catalog) []string {
	ids := slices.Collect(maps.Keys(cat.Blueprints))
	sort.Strings(ids)
	return ids
}
