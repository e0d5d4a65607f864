// Package validate runs every validation layer over a catalog tree, in
// order: parse (catalog.Load), each file kind against its CUE definition,
// typed decoding, each entity against its blueprint and the catalog's CUE
// policies, and the checks that span files. It is the one place that knows
// the order, so `berth validate`, the reconciler and `berth check` agree.
package validate

import (
	"context"
	"fmt"
	"io/fs"
	"time"

	"github.com/berth-dev/berth/pkg/catalog"
	"github.com/berth-dev/berth/pkg/schema"
	"github.com/berth-dev/berth/pkg/scorecard"
)

// Options configure Run.
type Options struct {
	// Limits bound each file's cost when loading.
	Limits catalog.Limits
	// Workers is how many goroutines validate entities (default GOMAXPROCS).
	Workers int
	// Only, when set, limits entity validation with CUE to the entities it
	// accepts; the other layers always see the whole catalog.
	Only func(*catalog.Entity) bool
	// Progress, when set, is told each stage as it starts.
	Progress func(stage Stage)
}

// Stage names a step of Run, for progress output.
type Stage string

// The stages of Run.
const (
	StageLoad     Stage = "load"
	StageKinds    Stage = "kinds"
	StageEntities Stage = "entities"
	StageCross    Stage = "cross-file"
)

// Result is a validated catalog and every finding about it.
type Result struct {
	Catalog     *catalog.Catalog
	Diagnostics catalog.Diagnostics
	// Timings holds how long each stage took.
	Timings map[Stage]time.Duration
}

// Run loads the catalog in fsys and validates it with v. Findings are in
// the Result; the error is non-nil only when the tree cannot be read or ctx
// ends.
func Run(ctx context.Context, v *schema.Validator, fsys fs.FS, opts Options) (*Result, error) {
	r, err := load(ctx, v, fsys, opts)
	if err != nil {
		return nil, err
	}
	r.Diagnostics = append(r.Diagnostics, r.entities(ctx, v, opts)...)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r.Diagnostics = append(r.Diagnostics, r.cross(opts)...)
	r.Diagnostics = r.Diagnostics.Sort()
	return r, nil
}

// Deferred is Run with the validation of entities against their
// blueprints and the policies (layers 2 and 3, CUE's share of the work)
// left to the returned function, so that a caller can start on the rest
// meanwhile: the reconciler writes the index while the entities are
// validated, and commits only if they pass. The Result holds every other
// finding, sorted; entities returns the deferred ones, sorted, and may run
// on any goroutine while the catalog is only read, one call at a time; it
// sets the Result's Timings[StageEntities] as it returns. Its findings
// together with the Result's are Run's. The error is Run's. entities
// validates with workers goroutines, or opts.Workers when workers is 0: a
// caller running it beside other work may want fewer than it would alone.
func Deferred(ctx context.Context, v *schema.Validator, fsys fs.FS, opts Options) (
	res *Result, entities func(ctx context.Context, workers int) catalog.Diagnostics, err error) {
	r, err := load(ctx, v, fsys, opts)
	if err != nil {
		return nil, nil, err
	}
	r.Diagnostics = append(r.Diagnostics, r.cross(opts)...).Sort()
	return r, func(ctx context.Context, workers int) catalog.Diagnostics {
		o := opts
		if workers > 0 {
			o.Workers = workers
		}
		return r.entities(ctx, v, o).Sort()
	}, nil
}

// stage times one step of Run and tells opts.Progress it started.
func (r *Result) stage(opts Options, s Stage) func() {
	if opts.Progress != nil {
		opts.Progress(s)
	}
	start := time.Now()
	return func() { r.Timings[s] += time.Since(start) }
}

// load reads the catalog and runs the layers that come before entity
// validation: each document against its kind, then typed decoding.
func load(ctx context.Context, v *schema.Validator, fsys fs.FS, opts Options) (*Result, error) {
	r := &Result{Timings: map[Stage]time.Duration{}}
	done := r.stage(opts, StageLoad)
	cat, err := catalog.Load(ctx, fsys, catalog.Options{Limits: opts.Limits})
	done()
	if err != nil {
		return nil, fmt.Errorf("load catalog: %w", err)
	}
	r.Catalog = cat
	r.Diagnostics = cat.Diagnostics()

	done = r.stage(opts, StageKinds)
	r.Diagnostics = append(r.Diagnostics, v.ValidateDocuments(ctx, cat)...)
	r.Diagnostics = append(r.Diagnostics, cat.Build()...)
	done()
	return r, nil
}

// entities validates each entity with CUE (layers 2 and 3).
func (r *Result) entities(ctx context.Context, v *schema.Validator, opts Options) catalog.Diagnostics {
	done := r.stage(opts, StageEntities)
	defer done()
	return v.ValidateEntities(ctx, r.Catalog, schema.EntityOptions{Workers: opts.Workers, Only: opts.Only})
}

// cross runs the checks that span files (layer 4), and compiles the
// scorecards: a filter or rule that parses but cannot be evaluated would
// otherwise fail silently when scored.
func (r *Result) cross(opts Options) catalog.Diagnostics {
	done := r.stage(opts, StageCross)
	defer done()
	_, scoring := scorecard.Compile(r.Catalog)
	return append(r.Catalog.Check(), scoring...)
}
