package catalog

import (
	"cmp"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"weak"
)

// TeamRef is the Rel of a Ref made by an entity's team.
const TeamRef = "$team"

// Ref is a reference to an identifier: one of From's relations holds it, or
// From's team names it (Rel is TeamRef).
type Ref struct {
	From *Entity
	Rel  string
}

// delta is how a catalog made by Update differs from the one it came from.
type delta struct {
	// prev is weak: a chain of updates must not keep every catalog alive.
	prev weak.Pointer[Catalog]
	// touched holds every path the update replaced, added or removed.
	touched map[string]bool
	// removed and added are the entities of the touched files before and
	// after.
	removed, added []*Entity
	// keys are the keys of removed and added, sorted.
	keys []EntityKey
	// objects is set when a file of another kind than entity changed, so
	// blueprints, scorecards and the rest were decoded again.
	objects bool
}

// Update returns the catalog prev becomes when the files at the paths in
// gone are removed and files are added, each replacing prev's file of the
// same path if there is one. prev must be built (by Build or Update); it is
// not changed, and it shares with the result every file, document, entity
// and object the change leaves alone, so Update costs what the change
// touches, not what the catalog holds. The result is built: the documents
// of files are decoded as Build does, and the diagnostics returned are
// those Build reports for them (the others decode as they did for prev).
// The result's Diags are prev's.
func Update(prev *Catalog, files []*File, gone []string) (*Catalog, Diagnostics) {
	fresh := make(map[string]*File, len(files))
	touched := make(map[string]bool, len(files)+len(gone))
	for _, p := range gone {
		touched[p] = true
	}
	for _, f := range files {
		fresh[f.Path] = f
		touched[f.Path] = true
	}
	paths := slices.Sorted(maps.Keys(touched))
	d := &delta{prev: weak.Make(prev), touched: touched}
	c := &Catalog{Diags: prev.Diags, delta: d}
	var diags Diagnostics

	c.Files = splice(prev.Files, paths, func(f *File) string { return f.Path }, func(p string) []*File {
		if f := fresh[p]; f != nil {
			return []*File{f}
		}
		return nil
	})
	for _, p := range paths {
		if f := fresh[p]; f != nil && holdsObjects(f) || prev.hasOther(p) {
			d.objects = true
		}
	}
	if d.objects {
		c.others = splice(prev.others, paths, func(f *File) string { return f.Path }, func(p string) []*File {
			if f := fresh[p]; f != nil && holdsObjects(f) {
				return []*File{f}
			}
			return nil
		})
		c.buildObjects(func(f *File) bool { return fresh[f.Path] == f }, &diags)
	} else {
		c.others, c.Config, c.Blueprints = prev.others, prev.Config, prev.Blueprints
		c.Scorecards, c.Actions, c.Pages, c.Roles, c.Permissions = prev.Scorecards, prev.Actions, prev.Pages, prev.Roles, prev.Permissions
	}

	c.Entities = splice(prev.Entities, paths, func(e *Entity) string { return e.Doc.File }, func(p string) []*Entity {
		f := fresh[p]
		if f == nil {
			return nil
		}
		es := fileEntities(f, &diags)
		d.added = append(d.added, es...)
		return es
	})
	for _, p := range paths {
		d.removed = append(d.removed, prev.EntitiesOf(p)...)
	}
	c.rekey(prev, d)
	return c, diags
}

// rekey derives c's key map, duplicates, teams and references from prev's
// for the entities d removed and added.
func (c *Catalog) rekey(prev *Catalog, d *delta) {
	keys := map[EntityKey]bool{}
	gone := make(map[*Entity]bool, len(d.removed))
	for _, e := range d.removed {
		keys[e.Key()] = true
		gone[e] = true
	}
	for _, e := range d.added {
		keys[e.Key()] = true
	}
	d.keys = slices.SortedFunc(maps.Keys(keys), compareKeys)

	c.entities = prev.entities.derive()
	c.same, c.teams = prev.same, prev.teams
	sameCopied, teamsCopied := false, false
	for _, k := range d.keys {
		var defs []*Entity
		if l, ok := prev.same[k]; ok {
			defs = slices.Clone(l)
		} else if e := prev.Entity(k); e != nil {
			defs = []*Entity{e}
		}
		defs = slices.DeleteFunc(defs, func(e *Entity) bool { return gone[e] })
		for _, e := range d.added {
			if e.Key() == k {
				defs = append(defs, e)
			}
		}
		slices.SortFunc(defs, CompareOrder)
		var first *Entity
		if len(defs) > 0 {
			first = defs[0]
		}
		c.entities.set(k, first)
		if _, was := prev.same[k]; was || len(defs) > 1 {
			if !sameCopied {
				c.same, sameCopied = maps.Clone(prev.same), true
			}
			if len(defs) > 1 {
				c.same[k] = defs
			} else {
				delete(c.same, k)
			}
		}
		if k.Blueprint == TeamBlueprint {
			if !teamsCopied {
				c.teams, teamsCopied = maps.Clone(prev.teams), true
			}
			if len(defs) > 0 {
				c.teams[k.Identifier] = len(defs)
			} else {
				delete(c.teams, k.Identifier)
			}
		}
	}
	c.entities.fold()

	c.refs = &refIndex{}
	if base := prev.refs.built(); base != nil {
		m := base.derive()
		edits := map[string][]Ref{}
		drop := map[string]bool{}
		for _, e := range d.removed {
			for _, r := range refsOf(e) {
				drop[r.id] = true
			}
		}
		for _, e := range d.added {
			for _, r := range refsOf(e) {
				edits[r.id] = append(edits[r.id], r.Ref)
			}
		}
		for id := range drop {
			if _, ok := edits[id]; !ok {
				edits[id] = nil
			}
		}
		for id, add := range edits {
			old := m.get(id)
			l := make([]Ref, 0, len(old)+len(add))
			for _, r := range old {
				if !gone[r.From] {
					l = append(l, r)
				}
			}
			m.set(id, append(l, add...))
		}
		m.fold()
		c.refs.m = m
	}
}

// splice returns a copy of the sorted list with the items whose key is one
// of the sorted paths replaced by with(path).
func splice[T any](list []T, paths []string, key func(T) string, with func(string) []T) []T {
	out := make([]T, 0, len(list)+len(paths))
	rest := list
	for _, p := range paths {
		lo := sort.Search(len(rest), func(i int) bool { return key(rest[i]) >= p })
		hi := lo + sort.Search(len(rest)-lo, func(i int) bool { return key(rest[lo+i]) > p })
		out = append(out, rest[:lo]...)
		out = append(out, with(p)...)
		rest = rest[hi:]
	}
	return append(out, rest...)
}

// hasOther reports whether c holds a file of another kind than entity at p.
func (c *Catalog) hasOther(p string) bool {
	_, ok := slices.BinarySearchFunc(c.others, p, func(f *File, p string) int { return strings.Compare(f.Path, p) })
	return ok
}

// EntitiesOf returns the entities of the file at path p, in file order, or
// nil. It is valid after Build or Update; the slice must not be modified.
func (c *Catalog) EntitiesOf(p string) []*Entity {
	lo := sort.Search(len(c.Entities), func(i int) bool { return c.Entities[i].Doc.File >= p })
	hi := lo
	for hi < len(c.Entities) && c.Entities[hi].Doc.File == p {
		hi++
	}
	return c.Entities[lo:hi:hi]
}

// ChangedSince returns, when c was made by Update(prev, ...), the keys of
// the entities defined in the files the update touched, before or after
// it, sorted; ok is false for any other catalog.
func (c *Catalog) ChangedSince(prev *Catalog) (keys []EntityKey, ok bool) {
	if !c.updatedFrom(prev) {
		return nil, false
	}
	return c.delta.keys, true
}

// updatedFrom reports whether c was made by Update(prev, ...).
func (c *Catalog) updatedFrom(prev *Catalog) bool {
	return c.delta != nil && prev != nil && c.delta.prev.Value() == prev
}

// KeyCount returns how many distinct entity keys c holds. It is valid after
// Build or Update.
func (c *Catalog) KeyCount() int {
	if c.entities == nil {
		return 0
	}
	return c.entities.n
}

// Referrers returns the references to identifier id: for every entity of
// the catalog (duplicates included) and every relation of it holding id,
// and for its team when it names id. The targets' blueprints are not
// considered: callers filter by From's blueprint and Rel. The order is
// unspecified and the slice must not be modified. The index behind it is
// built on first use, then derived by Update at the cost of the change.
func (c *Catalog) Referrers(id string) []Ref {
	if c.refs == nil {
		return nil
	}
	return c.refs.get(c).get(id)
}

// refIndex maps identifiers to the references to them.
type refIndex struct {
	mu sync.Mutex
	m  *layered[string, []Ref]
}

// get returns the index of c, building it on first use.
func (x *refIndex) get(c *Catalog) *layered[string, []Ref] {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.m == nil {
		base := map[string][]Ref{}
		for _, e := range c.Entities {
			for _, r := range refsOf(e) {
				base[r.id] = append(base[r.id], r.Ref)
			}
		}
		x.m = newLayered(base, func(l []Ref) bool { return len(l) == 0 })
	}
	return x.m
}

// built returns the index if it was built, else nil.
func (x *refIndex) built() *layered[string, []Ref] {
	if x == nil {
		return nil
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.m
}

type idRef struct {
	id string
	Ref
}

// refsOf lists the references e makes.
func refsOf(e *Entity) []idRef {
	var out []idRef
	for rel, rv := range e.Relations {
		for _, t := range rv.Targets {
			out = append(out, idRef{t, Ref{From: e, Rel: rel}})
		}
	}
	for _, t := range e.Team {
		out = append(out, idRef{t, Ref{From: e, Rel: TeamRef}})
	}
	return out
}

// CompareOrder orders entities as Catalog.Entities lists them: by file,
// then place in the file. It suits slices.SortFunc.
func CompareOrder(a, b *Entity) int {
	return cmp.Or(strings.Compare(a.Doc.File, b.Doc.File), cmp.Compare(a.Doc.Index, b.Doc.Index))
}

func compareKeys(a, b EntityKey) int {
	return cmp.Or(strings.Compare(a.Blueprint, b.Blueprint), strings.Compare(a.Identifier, b.Identifier))
}

// layered is a map a catalog shares with the catalogs updated from it.
// Reads look in a small top layer, then in a base that is never written
// once shared; deriving copies the top layer only, and folding merges a
// top layer grown past a share of the base into a new base. A value for
// which absent reports true hides the base's entry.
type layered[K comparable, V any] struct {
	base   map[K]V
	top    map[K]V
	absent func(V) bool
	n      int // present keys
}

func newLayered[K comparable, V any](base map[K]V, absent func(V) bool) *layered[K, V] {
	return &layered[K, V]{base: base, absent: absent, n: len(base)}
}

func (m *layered[K, V]) get(k K) V {
	if v, ok := m.top[k]; ok {
		return v
	}
	return m.base[k]
}

// derive returns a copy of m to write to.
func (m *layered[K, V]) derive() *layered[K, V] {
	top := make(map[K]V, len(m.top)+16)
	maps.Copy(top, m.top)
	return &layered[K, V]{base: m.base, top: top, absent: m.absent, n: m.n}
}

// set writes k in a map returned by derive.
func (m *layered[K, V]) set(k K, v V) {
	was, is := !m.absent(m.get(k)), !m.absent(v)
	switch {
	case was && !is:
		m.n--
	case !was && is:
		m.n++
	}
	m.top[k] = v
}

// fold merges the top layer into a new base once it has grown.
func (m *layered[K, V]) fold() {
	if len(m.top) <= max(1024, len(m.base)/32) {
		return
	}
	base := maps.Clone(m.base)
	for k, v := range m.top {
		if m.absent(v) {
			delete(base, k)
		} else {
			base[k] = v
		}
	}
	m.base, m.top = base, nil
}
