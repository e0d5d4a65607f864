package main

import (
	"context"
	"maps"
	"time"

	"github.com/berth-dev/berth/pkg/catalog"
	"github.com/berth-dev/berth/pkg/compute"
	"github.com/berth-dev/berth/pkg/query"
	"github.com/berth-dev/berth/pkg/review"
	"github.com/berth-dev/berth/pkg/scorecard"
)

// scored is one side of a check with its computed properties and scorecard
// evaluation.
type scored struct {
	side   review.Side
	values compute.Values
	// diags are the findings of compiling and evaluating computed
	// properties and scorecards.
	diags catalog.Diagnostics
}

// scoreSide computes the catalog's computed properties and evaluates its
// scorecards with them. Scorecards that do not compile are reported and
// left out.
func scoreSide(ctx context.Context, cat *catalog.Catalog, now time.Time) (scored, error) {
	return score(ctx, cat, now, nil, scored{})
}

// scoreChange scores head from base, the scored side it changes: only the
// entities of the changed files, and those whose mirrors or aggregations
// read them, are evaluated; the others keep base's values and results,
// which are theirs too. ok is false when the change may move every
// entity's scores (a blueprint, scorecard or berth.yaml changed, or a
// scorecard reads other entities): then head needs scoreSide.
func scoreChange(ctx context.Context, base scored, baseCat, head *catalog.Catalog, changed []string, now time.Time) (_ scored, ok bool, _ error) {
	if base.side.Scores == nil {
		return scored{}, false, nil
	}
	inChange := make(map[string]bool, len(changed))
	for _, p := range changed {
		switch k, _, _ := catalog.KindOf(p); k {
		case catalog.KindBlueprint, catalog.KindScorecard, catalog.KindConfig:
			return scored{}, false, nil
		}
		inChange[p] = true
	}
	if prog, _ := scorecard.Compile(head); !prog.Local() {
		return scored{}, false, nil
	}
	var keys []catalog.EntityKey
	for _, cat := range []*catalog.Catalog{baseCat, head} {
		for _, e := range cat.Entities {
			if e.Doc != nil && inChange[e.Doc.File] {
				keys = append(keys, e.Key())
			}
		}
	}
	prog, _ := compute.CompileWith(head, computeOptions(head, now))
	only := prog.AffectedBetween(baseCat, head, keys)
	for _, k := range keys {
		only[k] = true
	}
	s, err := score(ctx, head, now, only, base)
	return s, err == nil, err
}

// score evaluates cat's computed properties and scorecards: for every
// entity when only is nil, else for those in only, taking the others'
// from from.
func score(ctx context.Context, cat *catalog.Catalog, now time.Time, only map[catalog.EntityKey]bool, from scored) (scored, error) {
	out := scored{side: review.Side{Catalog: cat}}
	prog, diags := compute.CompileWith(cat, computeOptions(cat, now))
	values, ds, err := prog.Evaluate(ctx, cat, only)
	if err != nil {
		return out, err
	}
	diags = append(diags, ds...)
	if only != nil {
		merged := make(compute.Values, len(from.values)+len(values))
		for _, e := range cat.Entities {
			k := e.Key()
			if v, ok := values[k]; ok {
				merged[k] = v
			} else if v, ok := from.values[k]; ok && !only[k] {
				merged[k] = v
			}
		}
		values = merged
	}
	out.values = values
	out.side.Property = func(e *catalog.Entity, key string) (any, bool) {
		v, ok := values[e.Key()][key]
		return v, ok
	}
	sp, ds := scorecard.Compile(cat)
	diags = append(diags, ds...)
	ev, err := sp.Evaluate(ctx, cat, scorecard.Options{Now: now, Property: out.side.Property, Only: only})
	if err != nil {
		return out, err
	}
	if only != nil {
		results := maps.Clone(from.side.Scores.Results)
		for k := range only {
			delete(results, k)
		}
		maps.Copy(results, ev.Results)
		ev.Results = results
	}
	out.side.Scores = ev
	out.diags = diags
	return out, nil
}

func computeOptions(cat *catalog.Catalog, now time.Time) compute.Options {
	return compute.Options{Filter: query.MatcherAt(cat, now), Now: func() time.Time { return now }}
}
