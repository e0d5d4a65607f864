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
	r := &Result{Timings: map[Stage]time.Duration{}}
	stage := func(s Stage) func() {
		if opts.Progress != nil {
			opts.Progress(s)
		}
		start := time.Now()
		return func() { r.Timings[s] += time.Since(start) }
	}

	done := stage(StageLoad)
	cat, err := catalog.Load(ctx, fsys, catalog.Options{Limits: opts.Limits})
	done()
	if err != nil {
		return nil, fmt.Errorf("load catalog: %w", err)
	}
	r.Catalog = cat
	r.Diagnostics = cat.Diagnostics()

	done = stage(StageKinds)
	r.Diagnostics = append(r.Diagnostics, v.ValidateDocuments(ctx, cat)...)
	r.Diagnostics = append(r.Diagnostics, cat.Build()...)
	done()

	done = stage(StageEntities)
	r.Diagnostics = append(r.Diagnostics, v.ValidateEntities(ctx, cat, schema.EntityOptions{Workers: opts.Workers, Only: opts.Only})...)
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
