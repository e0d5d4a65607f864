package validate

import (
	"context"
	"io/fs"
	"slices"
	"time"

	"github.com/berth-dev/berth/pkg/catalog"
	"github.com/berth-dev/berth/pkg/schema"
)

// Changed validates the catalog in fsys (the head of a change) given base,
// the catalog of the commit it changes, loaded and built but not validated
// with CUE (it was valid when it was merged), and the catalog-relative
// paths that differ between the two: added, modified and deleted files and
// both paths of a rename.
//
// Only the changed files are read from fsys; the others are base's parsed
// files, shared, not copied. Layer 1 (kinds) runs on the changed files,
// layers 2 and 3 (entities against blueprints, policies) on the entities of
// changed files and of blueprints whose schema changed, and layer 4 (cross
// files) on the whole catalog. Findings in unchanged files that base already
// had are therefore not reported again. When base is nil, or berth.yaml or
// a policy changed (every entity may be affected), Changed is Run.
//
// The error is non-nil only when a file cannot be read for a reason other
// than its content, or ctx ends.
func Changed(ctx context.Context, v *schema.Validator, base *catalog.Catalog, fsys fs.FS, changed []string, opts Options) (*Result, error) {
	if base == nil || touchesGlobal(changed) {
		return Run(ctx, v, fsys, opts)
	}
	r := &Result{Timings: map[Stage]time.Duration{}}
	stage := r.stager(opts)

	done := stage(StageLoad)
	limits := base.EffectiveLimits(opts.Limits)
	isChanged := make(map[string]bool, len(changed))
	for _, p := range changed {
		isChanged[p] = true
	}
	files := make([]*catalog.File, 0, len(base.Files)+len(changed))
	for _, f := range base.Files {
		if !isChanged[f.Path] {
			files = append(files, f)
		}
	}
	var fresh []*catalog.File
	walk := catalog.Rewalk(base.Diags, fsys, changed)
	for _, p := range changed {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if catalog.Skipped(p) {
			continue
		}
		if _, err := fs.Stat(fsys, p); err != nil {
			continue // deleted, or the old path of a rename
		}
		if f, ok := catalog.ReadFile(fsys, p, limits); ok {
			files = append(files, f)
			fresh = append(fresh, f)
		}
	}
	cat := catalog.New(files)
	cat.Diags = walk
	done()
	r.Catalog = cat
	r.Diagnostics = cat.Diagnostics()

	done = stage(StageKinds)
	r.Diagnostics = append(r.Diagnostics, v.ValidateDocuments(ctx, catalog.New(slices.Clone(fresh)))...)
	r.Diagnostics = append(r.Diagnostics, cat.Build()...)
	done()

	done = stage(StageEntities)
	changedBP := map[string]bool{}
	for id := range cat.Blueprints {
		if base.Blueprints[id] == nil || v.SchemaHash(base, id) != v.SchemaHash(cat, id) {
			changedBP[id] = true
		}
	}
	only := func(e *catalog.Entity) bool {
		return isChanged[e.Doc.File] || changedBP[e.Blueprint]
	}
	if opts.Only != nil {
		outer := opts.Only
		only = func(e *catalog.Entity) bool { return outer(e) && (isChanged[e.Doc.File] || changedBP[e.Blueprint]) }
	}
	r.Diagnostics = append(r.Diagnostics, v.ValidateEntities(ctx, cat, schema.EntityOptions{Workers: opts.Workers, Only: only})...)
	done()
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	done = stage(StageCross)
	r.Diagnostics = append(r.Diagnostics, cat.Check()...)
	done()

	r.Diagnostics = r.Diagnostics.Sort()
	return r, nil
}

// touchesGlobal reports whether a changed path affects every entity's
// validation: berth.yaml or a policy.
func touchesGlobal(changed []string) bool {
	for _, p := range changed {
		if k, _, ok := catalog.KindOf(p); ok && (k == catalog.KindConfig || k == catalog.KindPolicy) {
			return true
		}
	}
	return false
}

// stager returns a function that starts a stage and returns its end.
func (r *Result) stager(opts Options) func(Stage) func() {
	return func(s Stage) func() {
		if opts.Progress != nil {
			opts.Progress(s)
		}
		start := time.Now()
		return func() { r.Timings[s] += time.Since(start) }
	}
}
