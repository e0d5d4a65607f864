package compute

import (
	"slices"

	"github.com/berth-dev/berth/pkg/catalog"
)

// Affected returns the entities of cat whose computed values may change
// when the entities changed (added, modified or deleted) change: the
// changed ones themselves; entities whose mirror paths pass through or end
// at a changed entity, at any hop; entities that aggregate over a changed
// entity, in either direction of the relation. Entities that merely point
// at a changed entity are affected only when a mirror or aggregation reads
// through that relation: nothing else they compute depends on it.
//
// The relations that matter are those of cat. A change can move a relation
// (a deployment now points to another service, or was deleted): the
// entities related before the change are found in the previous catalog, so
// callers use AffectedBetween, or call Affected on both catalogs and take
// the union. Values that depend on Options.Now (averages per period) change
// with time as well; Affected does not cover that.
func (p *Program) Affected(cat *catalog.Catalog, changed []catalog.EntityKey) map[catalog.EntityKey]bool {
	out := make(map[catalog.EntityKey]bool, len(changed))
	byBP := map[string]map[string]bool{}
	for _, k := range changed {
		out[k] = true
		if byBP[k.Blueprint] == nil {
			byBP[k.Blueprint] = map[string]bool{}
		}
		byBP[k.Blueprint][k.Identifier] = true
	}
	g := &graph{cat: cat}
	for _, b := range p.bps {
		for _, m := range b.mirrors {
			for k := len(m.hops); k >= 1; k-- {
				ids := byBP[m.hops[k-1].target]
				for j := k - 1; j >= 0 && len(ids) > 0; j-- {
					ids = g.referrers(m.hops[j].from, m.hops[j].rel, ids)
				}
				for id := range ids {
					out[catalog.EntityKey{Blueprint: b.bp.Identifier, Identifier: id}] = true
				}
			}
		}
		for _, a := range b.aggs {
			ids := byBP[a.target]
			if !a.valid || len(ids) == 0 {
				continue
			}
			for id := range ids {
				x := cat.Entity(catalog.EntityKey{Blueprint: a.target, Identifier: id})
				if x == nil {
					continue
				}
				for _, rel := range a.incoming {
					for _, t := range x.Relations[rel].Targets {
						if k := (catalog.EntityKey{Blueprint: a.bp, Identifier: t}); cat.Entity(k) != nil {
							out[k] = true
						}
					}
				}
			}
			for _, rel := range a.outgoing {
				for id := range g.referrers(a.bp, rel, ids) {
					out[catalog.EntityKey{Blueprint: a.bp, Identifier: id}] = true
				}
			}
		}
	}
	return out
}

// AffectedBetween is Affected over the catalogs before and after a change:
// the union of both. before may be nil (the first revision).
func (p *Program) AffectedBetween(before, after *catalog.Catalog, changed []catalog.EntityKey) map[catalog.EntityKey]bool {
	out := p.Affected(after, changed)
	if before != nil {
		for k := range p.Affected(before, changed) {
			out[k] = true
		}
	}
	return out
}

// graph answers reverse relation questions over one catalog.
type graph struct {
	cat *catalog.Catalog
}

// referrers returns the identifiers of entities of blueprint from whose
// relation rel holds any of ids.
func (g *graph) referrers(from, rel string, ids map[string]bool) map[string]bool {
	out := map[string]bool{}
	for id := range ids {
		for _, r := range g.cat.Referrers(id) {
			if r.Rel == rel && r.From.Blueprint == from {
				out[r.From.Identifier] = true
			}
		}
	}
	return out
}

// Clocked returns the blueprints, sorted, whose computed values depend on
// Options.Now: those with an average per hour, day, week or month. Their
// entities' values change with the clock, so a caller that evaluates only
// what Affected names evaluates these too whenever Now moves.
func (p *Program) Clocked() []string {
	var out []string
	for id, b := range p.bps {
		for _, a := range b.aggs {
			if a.valid && a.period > 0 {
				out = append(out, id)
				break
			}
		}
	}
	slices.Sort(out)
	return out
}
