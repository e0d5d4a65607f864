package compute

import (
	"slices"
	"strings"

	"github.com/berth-dev/berth/pkg/catalog"
)

// hop is one relation step of a mirror path: from a blueprint, through a
// relation, to its target blueprint.
type hop struct {
	from, rel, target string
}

// Kinds of value a mirror (or an aggregation by property) reads.
const (
	readStored = iota
	readCalc
	readMeta
	readNothing // a mirror or aggregation property: not readable
)

// mirrorProp is a compiled mirror property.
type mirrorProp struct {
	bp, name string
	hops     []hop
	many     bool
	prop     string // the property or meta-property at the end
	read     int
	calc     int // index into the last blueprint's calcs, for readCalc
	pos      catalog.Position
}

// compileMirrors resolves b's mirror paths. Paths that do not resolve are
// catalog.Check's to report; they compile to a mirror that reads nothing.
func (p *Program) compileMirrors(cat *catalog.Catalog, b *bpProgram) catalog.Diagnostics {
	var diags catalog.Diagnostics
	for _, name := range sortedKeys(b.bp.MirrorProperties) {
		m := &mirrorProp{bp: b.bp.Identifier, name: name, read: readNothing,
			pos: pos(b.bp, "mirrorProperties", name, "path")}
		b.mirrors = append(b.mirrors, m)
		parts := strings.Split(b.bp.MirrorProperties[name].Path, ".")
		if len(parts) < 2 {
			continue
		}
		cur := b.bp
		ok := true
		for _, rel := range parts[:len(parts)-1] {
			def, has := cur.Relations[rel]
			next := cat.Blueprints[def.Target]
			if !has || next == nil {
				ok = false
				break
			}
			m.hops = append(m.hops, hop{from: cur.Identifier, rel: rel, target: def.Target})
			m.many = m.many || def.Many
			cur = next
		}
		if !ok {
			m.hops = nil
			continue
		}
		m.prop = parts[len(parts)-1]
		var d *catalog.Diagnostic
		m.read, m.calc, d = p.readable(cat, cur, m.prop)
		if d != nil {
			d.Position = m.pos
			d.Message = "blueprint \"" + m.bp + "\": mirror property " + name + ": " + d.Message
			diags = append(diags, *d)
		}
	}
	return diags
}

// readable says how a property of blueprint t is read by mirrors and
// aggregations, with a warning when it cannot be.
func (p *Program) readable(cat *catalog.Catalog, t *catalog.Blueprint, prop string) (read, calc int, warn *catalog.Diagnostic) {
	if strings.HasPrefix(prop, "$") {
		if slices.Contains(catalog.MetaProperties, prop) {
			return readMeta, 0, nil
		}
		return readNothing, 0, nil
	}
	// Calculations of t compiled before any mirror; look them up there.
	if tb := p.bps[t.Identifier]; tb != nil {
		if i, ok := tb.calcIdx[prop]; ok {
			tb.calcsRead = true
			return readCalc, i, nil
		}
	}
	if _, ok := t.Schema.Properties[prop]; ok {
		return readStored, 0, nil
	}
	_, mirror := t.MirrorProperties[prop]
	_, agg := t.AggregationProperties[prop]
	if mirror || agg {
		w := catalog.Warningf(catalog.Position{}, catalog.CodeCalculation,
			"%s of blueprint %q is a mirror or aggregation property, which mirrors and aggregations cannot read; the value is null",
			prop, t.Identifier)
		return readNothing, 0, &w
	}
	return readNothing, 0, nil
}

// mirror computes mirror m for entity e.
func (ev *evaluator) mirror(m *mirrorProp, e *catalog.Entity) any {
	if m.read == readNothing {
		if m.many {
			return []any{}
		}
		return nil
	}
	cur := []*catalog.Entity{e}
	for _, h := range m.hops {
		cur = ev.follow(cur, h)
	}
	if !m.many {
		if len(cur) == 0 {
			return nil
		}
		return ev.read(cur[0], m.read, m.prop, m.calc)
	}
	out := make([]any, 0, len(cur))
	for _, x := range cur {
		if v := ev.read(x, m.read, m.prop, m.calc); v != nil {
			out = append(out, v)
		}
	}
	return out
}

// follow returns the entities the given ones reach through relation h,
// each once, in the order of the relation values.
func (ev *evaluator) follow(from []*catalog.Entity, h hop) []*catalog.Entity {
	var out []*catalog.Entity
	var seen map[*catalog.Entity]bool
	for _, e := range from {
		for _, id := range e.Relations[h.rel].Targets {
			x := ev.entity(h.target, id)
			if x == nil {
				continue
			}
			if len(from) > 1 || len(e.Relations[h.rel].Targets) > 1 {
				if seen == nil {
					seen = map[*catalog.Entity]bool{}
				}
				if seen[x] {
					continue
				}
				seen[x] = true
			}
			out = append(out, x)
		}
	}
	return out
}

// read returns property prop of entity x.
func (ev *evaluator) read(x *catalog.Entity, read int, prop string, calc int) any {
	switch read {
	case readStored:
		return x.Properties[prop]
	case readCalc:
		return ev.calcs(ev.p.bps[x.Blueprint], x)[calc]
	case readMeta:
		return metaValue(x, prop)
	}
	return nil
}

// metaValue returns a meta-property of x as Port shows it.
func metaValue(x *catalog.Entity, prop string) any {
	switch prop {
	case "$identifier":
		return x.Identifier
	case "$title":
		return nonEmpty(x.Title)
	case "$icon":
		return nonEmpty(x.Icon)
	case "$blueprint":
		return x.Blueprint
	case "$team":
		out := make([]any, len(x.Team))
		for i, t := range x.Team {
			out[i] = t
		}
		return out
	case "$createdAt":
		return timeJSON(x.Meta.CreatedAt)
	case "$updatedAt":
		return timeJSON(x.Meta.UpdatedAt)
	case "$createdBy":
		return nonEmpty(x.Meta.CreatedBy)
	case "$updatedBy":
		return nonEmpty(x.Meta.UpdatedBy)
	}
	return nil
}
