package reconcile

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"maps"
	"reflect"
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
// next one can be incremental.
type memo struct {
	commit    string
	files     map[string]*catalog.File
	walkDiags catalog.Diagnostics // diagnostics of the tree walk (unknown folders)
	diags     catalog.Diagnostics // every diagnostic of the commit (warnings)
	cat       *catalog.Catalog
	bpHash    map[string]string // blueprint → schema hash
	schemaKey string            // hash of berth.yaml and policies
	computed  compute.Values    // computed property values of every entity
}

// next is a validated catalog ready to apply.
type next struct {
	started     time.Time
	incremental bool
	cat         *catalog.Catalog
	diags       catalog.Diagnostics
	memo        *memo
	upsert      map[catalog.EntityKey]bool // incremental only
	computed    map[catalog.EntityKey]map[string]any
	scores      map[catalog.EntityKey]map[string]scorecard.Result
	prevKeys    map[catalog.EntityKey]bool
}

// build loads and validates head, incrementally when it can.
func (r *Reconciler) build(ctx context.Context, head gitsource.Commit, st index.State) (*next, error) {
	started := time.Now()
	fsys, err := r.repo.FS(ctx, head.Hash)
	if err != nil {
		return nil, fmt.Errorf("%w: read commit %s: %w", ErrTransient, short(head.Hash), err)
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

	var n *next
	if prev == nil {
		n, err = r.full(ctx, fsys, head)
	} else {
		n, err = r.incremental(ctx, fsys, head, prev, changes)
	}
	if err != nil {
		return nil, err
	}
	n.started = started
	if st.Applied != nil && n.prevKeys == nil {
		keys, err := r.db.EntityKeys(ctx)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrTransient, err)
		}
		n.prevKeys = make(map[catalog.EntityKey]bool, len(keys))
		for _, k := range keys {
			n.prevKeys[k] = true
		}
	}
	if err := r.compute(ctx, n, prev, head); err != nil {
		return nil, err
	}
	if !n.diags.HasErrors() {
		if err := r.score(ctx, n, prev); err != nil {
			return nil, err
		}
	}
	return n, nil
}

// compute evaluates computed properties: every entity on a full build, else
// the changed entities and those whose mirrors or aggregations read them
// (which join the upserts). Values of the others carry over.
func (r *Reconciler) compute(ctx context.Context, n *next, prev *memo, head gitsource.Commit) error {
	prog, diags := compute.CompileWith(n.cat, compute.Options{Filter: query.Matcher(n.cat), Now: func() time.Time { return head.When }})
	n.diags = append(n.diags, diags...).Sort()
	if n.diags.HasErrors() {
		return nil
	}
	var only map[catalog.EntityKey]bool
	if n.incremental {
		changed := make([]catalog.EntityKey, 0, len(n.upsert))
		for k := range n.upsert {
			changed = append(changed, k)
		}
		for k := range n.prevKeys {
			if n.cat.Entity(k) == nil {
				changed = append(changed, k)
			}
		}
		for k := range prog.AffectedBetween(prev.cat, n.cat, changed) {
			if n.cat.Entity(k) != nil {
				n.upsert[k] = true
			}
		}
		if prev.computed != nil {
			only = n.upsert // after a restart nothing is remembered: evaluate all
		}
	}
	vals, diags, err := prog.Evaluate(ctx, n.cat, only)
	if err != nil {
		return err
	}
	n.diags = append(n.diags, diags...).Sort()
	if n.incremental && prev.computed != nil {
		merged := make(compute.Values, len(n.cat.Entities))
		for _, e := range n.cat.Entities {
			if v, ok := vals[e.Key()]; ok {
				merged[e.Key()] = v
			} else if v, ok := prev.computed[e.Key()]; ok {
				merged[e.Key()] = v
			}
		}
		vals = merged
	}
	n.computed = vals
	n.memo.computed = vals
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

// full validates every file of the commit.
func (r *Reconciler) full(ctx context.Context, fsys fs.FS, head gitsource.Commit) (*next, error) {
	res, err := validate.Run(ctx, r.v, fsys, validate.Options{Workers: r.opts.Workers, Progress: r.opts.Progress})
	if err != nil {
		return nil, fmt.Errorf("%w: load commit %s: %w", ErrTransient, short(head.Hash), err)
	}
	cat := res.Catalog
	hist, err := r.repo.FileHistory(ctx, head.Hash)
	if err != nil {
		return nil, fmt.Errorf("%w: read history: %w", ErrTransient, err)
	}
	for _, e := range cat.Entities {
		if m, ok := hist[e.Doc.File]; ok {
			e.Meta = catalog.Meta{CreatedAt: m.Created.When, CreatedBy: who(m.Created.Author, m.Created.AuthorEmail),
				UpdatedAt: m.Updated.When, UpdatedBy: who(m.Updated.Author, m.Updated.AuthorEmail)}
		}
	}
	n := &next{cat: cat, diags: res.Diagnostics}
	n.memo = r.remember(head.Hash, cat, res.Diagnostics, walkDiagnostics(cat))
	return n, nil
}

// walkDiagnostics are the load diagnostics not tied to a file's content.
func walkDiagnostics(cat *catalog.Catalog) catalog.Diagnostics { return slices.Clone(cat.Diags) }

func who(name, email string) string {
	if email != "" {
		return email
	}
	return name
}

// warm reloads the applied commit without CUE: it was valid when applied,
// and its warnings are in the index.
func (r *Reconciler) warm(ctx context.Context, st index.State) (*memo, error) {
	fsys, err := r.repo.FS(ctx, st.Applied.Commit)
	if err != nil {
		return nil, err
	}
	cat, err := catalog.Load(ctx, fsys, catalog.Options{})
	if err != nil {
		return nil, err
	}
	cat.Build()
	meta, err := r.db.EntityMeta(ctx)
	if err != nil {
		return nil, err
	}
	for _, e := range cat.Entities {
		e.Meta = meta[e.Key()].Meta
	}
	diags, err := r.db.Diagnostics(ctx, st.Applied.ID)
	if err != nil {
		return nil, err
	}
	return r.remember(st.Applied.Commit, cat, diags, walkDiagnostics(cat)), nil
}

func (r *Reconciler) remember(commit string, cat *catalog.Catalog, diags, walk catalog.Diagnostics) *memo {
	m := &memo{commit: commit, files: make(map[string]*catalog.File, len(cat.Files)), walkDiags: walk, diags: diags,
		cat: cat, bpHash: map[string]string{}}
	for _, f := range cat.Files {
		m.files[f.Path] = f
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

// incremental re-reads the changed files and re-validates with CUE only
// what they (and changed blueprints) affect.
func (r *Reconciler) incremental(ctx context.Context, fsys fs.FS, head gitsource.Commit, prev *memo, changes []gitsource.Change) (*next, error) {
	limits := prev.cat.EffectiveLimits(catalog.Limits{})
	files := maps.Clone(prev.files)
	changed := map[string]bool{}
	var changedFiles []*catalog.File
	for _, c := range changes {
		if c.OldPath != "" {
			delete(files, c.OldPath)
			changed[c.OldPath] = true
		}
		changed[c.Path] = true
		delete(files, c.Path)
		if c.Op == gitsource.Deleted {
			continue
		}
		if f, ok := catalog.ReadFile(fsys, c.Path, limits); ok {
			files[c.Path] = f
			changedFiles = append(changedFiles, f)
		}
	}
	all := slices.Collect(maps.Values(files))
	cat := catalog.New(all)
	cat.Diags = slices.Clone(prev.walkDiags)

	var diags catalog.Diagnostics
	for _, f := range all {
		diags = append(diags, f.Diags...)
	}
	diags = append(diags, cat.Diags...)

	// Layer 1 for changed files only: each document stands alone.
	diags = append(diags, r.v.ValidateDocuments(ctx, catalog.New(slices.Clone(changedFiles)))...)
	diags = append(diags, carry(prev.diags, func(d catalog.Diagnostic) bool {
		return d.Code == catalog.CodeSchema && !changed[d.File]
	})...)
	diags = append(diags, cat.Build()...)

	// Layers 2 and 3 for entities in changed files or of changed blueprints.
	bpHash := map[string]string{}
	changedBP := map[string]bool{}
	for id := range cat.Blueprints {
		bpHash[id] = r.v.SchemaHash(cat, id)
		if prev.bpHash[id] != bpHash[id] {
			changedBP[id] = true
		}
	}
	revalidate := map[string]bool{} // files whose entities are validated again
	for _, e := range cat.Entities {
		if changed[e.Doc.File] || changedBP[e.Blueprint] {
			revalidate[e.Doc.File] = true
		}
	}
	only := func(e *catalog.Entity) bool { return revalidate[e.Doc.File] }
	diags = append(diags, r.v.ValidateEntities(ctx, cat, schema.EntityOptions{Workers: r.opts.Workers, Only: only})...)
	diags = append(diags, carry(prev.diags, func(d catalog.Diagnostic) bool {
		return (d.Code == catalog.CodeEntitySchema || d.Code == catalog.CodePolicy) && !revalidate[d.File] && files[d.File] != nil
	})...)

	// Layer 4 sees the whole catalog.
	diags = append(diags, cat.Check()...)
	diags = diags.Sort()

	n := &next{incremental: true, cat: cat, diags: diags, upsert: map[catalog.EntityKey]bool{}, prevKeys: map[catalog.EntityKey]bool{}}
	for _, e := range prev.cat.Entities {
		n.prevKeys[e.Key()] = true
	}
	for _, e := range cat.Entities {
		old := prev.cat.Entity(e.Key())
		switch {
		case old == nil:
			e.Meta = catalog.Meta{CreatedAt: head.When, CreatedBy: who(head.Author, head.AuthorEmail),
				UpdatedAt: head.When, UpdatedBy: who(head.Author, head.AuthorEmail)}
			n.upsert[e.Key()] = true
		case !changed[e.Doc.File] || sameEntity(old, e):
			e.Meta = old.Meta
			if changed[e.Doc.File] || changedBP[e.Blueprint] {
				n.upsert[e.Key()] = true // position or computed values may differ
			}
		default:
			e.Meta = old.Meta
			e.Meta.UpdatedAt, e.Meta.UpdatedBy = head.When, who(head.Author, head.AuthorEmail)
			n.upsert[e.Key()] = true
		}
	}
	n.memo = &memo{commit: head.Hash, files: files, walkDiags: prev.walkDiags, diags: diags, cat: cat, bpHash: bpHash, schemaKey: prev.schemaKey}
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
	n.diags = append(n.diags, diags...).Sort()
	if diags.HasErrors() {
		return nil
	}
	opts := scorecard.Options{Now: r.opts.Now(), Property: func(e *catalog.Entity, key string) (any, bool) {
		v, ok := n.computed[e.Key()][key]
		return v, ok
	}}
	if n.incremental && prog.Local() && sameScorecards(prev.cat, n.cat) {
		opts.Only = n.upsert
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
