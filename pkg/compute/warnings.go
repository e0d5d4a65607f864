package compute

import (
	"slices"
	"sort"

	"github.com/berth-dev/berth/pkg/catalog"
)

// Warnings are evaluation warnings per entity, before the cap on warnings
// per property.
type Warnings map[catalog.EntityKey][]Warning

// Warning is one evaluation warning about one computed property of one
// entity.
type Warning struct {
	// Property names the property, as in `blueprint "service": calculation
	// x`.
	Property string
	catalog.Diagnostic
}

// Report returns the diagnostics of warnings w about entities of cat,
// capped per property at Options.MaxWarnings: the first ones in catalog
// order, then one that counts the rest, at the position of the last. The
// result depends only on w and the order of the entities, so warnings kept
// from several partial evaluations report as one full evaluation would.
// Warnings of entities cat does not hold are left out.
func (p *Program) Report(cat *catalog.Catalog, w Warnings) catalog.Diagnostics {
	ents := make([]*catalog.Entity, 0, len(w))
	for k := range w {
		if e := cat.Entity(k); e != nil {
			ents = append(ents, e)
		}
	}
	slices.SortFunc(ents, catalog.CompareOrder) // a total order: one file, one place
	limit := p.opts.MaxWarnings
	count := map[string]int{}
	last := map[string]catalog.Position{}
	var out catalog.Diagnostics
	for _, e := range ents {
		for _, x := range w[e.Key()] {
			n := count[x.Property]
			count[x.Property] = n + 1
			if limit > 0 && n >= limit {
				last[x.Property] = x.Position
				continue
			}
			out = append(out, x.Diagnostic)
		}
	}
	var more []catalog.Diagnostic
	for prop, n := range count {
		if limit > 0 && n > limit {
			more = append(more, catalog.Warningf(last[prop], catalog.CodeCalculation,
				"%s: %d more entities with the same problem", prop, n-limit))
		}
	}
	sort.Slice(more, func(i, j int) bool { return more[i].Message < more[j].Message })
	return append(out, more...)
}
