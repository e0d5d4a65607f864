package query

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/berth-dev/berth/pkg/catalog"
)

// Env is what in-memory evaluation reads besides the entity itself.
type Env struct {
	// Catalog resolves relations: relatedTo, matchAny, relation rules on
	// $title. Rules on plain properties need none.
	Catalog *catalog.Catalog
	// Now anchors date presets and isExpired; zero means time.Now().
	Now time.Time
	// Property, when set, supplies property values before e.Properties is
	// read: computed (calculation, mirror, aggregation) properties.
	Property func(e *catalog.Entity, key string) (value any, ok bool)
	// Scorecard returns an entity's level title in a scorecard.
	Scorecard func(e *catalog.Entity, scorecard string) (level string, ok bool)
	// ScorecardRule returns a scorecard rule's status for an entity
	// (SUCCESS or FAILURE).
	ScorecardRule func(e *catalog.Entity, scorecard, rule string) (status string, ok bool)
	// Visible, when set, says which entities the caller may read: as with
	// CompileOptions.Visible, relatedTo, matchAny and a relation's $title
	// then reach visible entities only. Eval does not apply it to the
	// entity it is given.
	Visible func(e *catalog.Entity) bool
}

// Eval reports whether entity e matches the query. It fails with
// ErrUnbound when the query needs Bind first, ErrNoCatalog when a relation
// rule runs without env.Catalog, and ErrNoScorecards when a scorecard rule
// runs without the lookups; the error names the rule's path.
func (q *Query) Eval(env *Env, e *catalog.Entity) (bool, error) {
	if q.unbound > 0 {
		return false, ErrUnbound
	}
	ev := evaluator{env: Env{}}
	if env != nil {
		ev.env = *env
	}
	if ev.env.Now.IsZero() {
		ev.env.Now = time.Now()
	}
	return ev.group(q.Root, e)
}

type evaluator struct{ env Env }

func (ev *evaluator) group(g *Group, e *catalog.Entity) (bool, error) {
	result := true
	if len(g.Items) > 0 {
		result = g.Combinator == And
		for _, it := range g.Items {
			var ok bool
			var err error
			switch n := it.(type) {
			case *Group:
				ok, err = ev.group(n, e)
			case *Rule:
				ok, err = ev.rule(n, e)
			}
			if err != nil {
				return false, err
			}
			if g.Combinator == Or && ok {
				result = true
				break
			}
			if g.Combinator == And && !ok {
				result = false
				break
			}
		}
	}
	return result != g.Not, nil
}

func (ev *evaluator) rule(r *Rule, e *catalog.Entity) (bool, error) {
	var ok bool
	var err error
	switch r.Kind {
	case KindRelatedTo:
		ok, err = ev.relatedTo(r, e)
	case KindPath:
		ok, err = ev.matchAny(r, e)
	default:
		var items []IndexValue
		items, err = ev.items(r, e)
		if err == nil {
			ok = matchItems(r, items, ev.env.Now)
		}
	}
	if err != nil {
		return false, &Error{Path: r.path, Err: err}
	}
	return ok != r.Not, nil
}

// matchItems applies a comparison operator to the values a rule reads. A
// positive operator holds when some item matches some rule value; a
// negative one is the positive one's negation.
func matchItems(r *Rule, items []IndexValue, now time.Time) bool {
	if pos, neg := negated[r.Operator]; neg {
		return !matchPositive(pos, r, items, now)
	}
	return matchPositive(r.Operator, r, items, now)
}

func matchPositive(op Operator, r *Rule, items []IndexValue, now time.Time) bool {
	switch op {
	case OpIsEmpty:
		return len(items) == 0
	case OpIsExpired, OpIsNotExpired:
		t := Epoch(now)
		for _, it := range items {
			if it.Typ == "s" && it.HasNum && (it.Num <= t) == (op == OpIsExpired) {
				return true
			}
		}
		return false
	case OpBetween:
		from, to := r.Range.bounds(now)
		for _, it := range items {
			if inRange(it, r.Range.Numeric, from, to) {
				return true
			}
		}
		return false
	}
	for _, it := range items {
		for _, v := range r.Values {
			if matchItem(op, it, v) {
				return true
			}
		}
	}
	return false
}

func inRange(it IndexValue, numeric bool, from, to float64) bool {
	if numeric {
		return it.Typ == "n" && it.Num >= from && it.Num <= to
	}
	return it.Typ == "s" && it.HasNum && it.Num >= from && it.Num <= to
}

func matchItem(op Operator, it IndexValue, v any) bool {
	switch op {
	case OpEq, OpIn, OpContainsAny:
		switch x := v.(type) {
		case string:
			if it.Typ != "s" {
				return false
			}
			if t, isDate := ParseTime(x); isDate && it.HasNum {
				return it.Num == Epoch(t)
			}
			return it.Str == x
		case float64:
			return it.Typ == "n" && it.Num == x
		case bool:
			return it.Typ == "b" && (it.Num == 1) == x
		}
	case OpContains, OpBeginsWith, OpEndsWith:
		x, ok := v.(string)
		if !ok || it.Typ != "s" {
			return false
		}
		s, x := foldASCII(it.Str), foldASCII(x)
		switch op {
		case OpContains:
			return strings.Contains(s, x)
		case OpBeginsWith:
			return strings.HasPrefix(s, x)
		default:
			return strings.HasSuffix(s, x)
		}
	case OpGt, OpGte, OpLt, OpLte:
		var want float64
		switch x := v.(type) {
		case float64:
			if it.Typ != "n" {
				return false
			}
			want = x
		case string:
			t, isDate := ParseTime(x)
			if !isDate || it.Typ != "s" || !it.HasNum {
				return false
			}
			want = Epoch(t)
		default:
			return false
		}
		switch op {
		case OpGt:
			return it.Num > want
		case OpGte:
			return it.Num >= want
		case OpLt:
			return it.Num < want
		default:
			return it.Num <= want
		}
	}
	return false
}

// text is a plain-text item: meta-properties, identifiers, titles and
// levels are compared as text, never as dates.
func text(s string) []IndexValue {
	if s == "" {
		return nil
	}
	return []IndexValue{{Idx: -1, Typ: "s", Str: s}}
}

func metaTime(t time.Time) []IndexValue {
	if t.IsZero() {
		return nil
	}
	return []IndexValue{{Idx: -1, Typ: "s", Str: FormatTime(t), Num: Epoch(t.Truncate(time.Second)), HasNum: true}}
}

// items returns the values a comparison rule reads from e.
func (ev *evaluator) items(r *Rule, e *catalog.Entity) ([]IndexValue, error) {
	switch r.Kind {
	case KindConstant:
		out := make([]IndexValue, 0, len(r.Subject))
		for _, v := range r.Subject {
			out = append(out, scalarValue(-1, v))
		}
		return out, nil
	case KindScorecard:
		if r.ScorecardRule != "" {
			if ev.env.ScorecardRule == nil {
				return nil, ErrNoScorecards
			}
			if s, ok := ev.env.ScorecardRule(e, r.Scorecard, r.ScorecardRule); ok {
				return text(s), nil
			}
			return nil, nil
		}
		if ev.env.Scorecard == nil {
			return nil, ErrNoScorecards
		}
		if s, ok := ev.env.Scorecard(e, r.Scorecard); ok {
			return text(s), nil
		}
		return nil, nil
	case KindRelation:
		targets := e.Relations[r.Relation].Targets
		var out []IndexValue
		if r.TargetProperty == MetaIdentifier {
			for _, t := range targets {
				out = append(out, text(t)...)
			}
			return out, nil
		}
		if ev.env.Catalog == nil {
			return nil, ErrNoCatalog
		}
		for _, t := range ev.follow(e, r.Relation) {
			out = append(out, text(t.Title)...)
		}
		return out, nil
	}
	switch r.Property {
	case MetaIdentifier:
		return text(e.Identifier), nil
	case MetaTitle:
		return text(e.Title), nil
	case MetaIcon:
		return text(e.Icon), nil
	case MetaBlueprint:
		return text(e.Blueprint), nil
	case MetaTeam:
		var out []IndexValue
		for _, t := range e.Team {
			out = append(out, IndexValue{Idx: len(out), Typ: "s", Str: t})
		}
		return out, nil
	case MetaCreatedAt:
		return metaTime(e.Meta.CreatedAt), nil
	case MetaUpdatedAt:
		return metaTime(e.Meta.UpdatedAt), nil
	case MetaCreatedBy:
		return text(e.Meta.CreatedBy), nil
	case MetaUpdatedBy:
		return text(e.Meta.UpdatedBy), nil
	}
	if ev.env.Property != nil {
		if v, ok := ev.env.Property(e, r.Property); ok {
			return IndexValues(v), nil
		}
	}
	return IndexValues(e.Properties[r.Property]), nil
}

// relationDef returns the definition of e's relation rel, if its blueprint
// has one.
func (ev *evaluator) relationDef(bp, rel string) (catalog.RelationDef, bool) {
	b := ev.env.Catalog.Blueprints[bp]
	if b == nil {
		return catalog.RelationDef{}, false
	}
	d, ok := b.Relations[rel]
	return d, ok
}

// follow returns the existing entities e's relation rel points to.
func (ev *evaluator) follow(e *catalog.Entity, rel string) []*catalog.Entity {
	def, ok := ev.relationDef(e.Blueprint, rel)
	if !ok {
		return nil
	}
	var out []*catalog.Entity
	for _, t := range e.Relations[rel].Targets {
		if te := ev.lookup(def.Target, t); te != nil {
			out = append(out, te)
		}
	}
	return out
}

// lookup returns the entity with the given key when it exists and is
// visible.
func (ev *evaluator) lookup(bp, id string) *catalog.Entity {
	x := ev.env.Catalog.Entity(catalog.EntityKey{Blueprint: bp, Identifier: id})
	if x == nil || (ev.env.Visible != nil && !ev.env.Visible(x)) {
		return nil
	}
	return x
}

// pointsTo reports whether some relation of src (with the given
// required-ness, when set) targets dst.
func (ev *evaluator) pointsTo(src, dst *catalog.Entity, required *bool) bool {
	for rel, rv := range src.Relations {
		def, ok := ev.relationDef(src.Blueprint, rel)
		if !ok || def.Target != dst.Blueprint || (required != nil && def.Required != *required) {
			continue
		}
		if slices.Contains(rv.Targets, dst.Identifier) {
			return true
		}
	}
	return false
}

func (ev *evaluator) relatedTo(r *Rule, e *catalog.Entity) (bool, error) {
	if ev.env.Catalog == nil {
		return false, ErrNoCatalog
	}
	for _, v := range r.Values {
		id, _ := v.(string)
		other := ev.lookup(r.Blueprint, id)
		if other == nil {
			continue
		}
		if r.Direction != DirectionDownstream && ev.pointsTo(other, e, r.Required) {
			return true, nil
		}
		if r.Direction != DirectionUpstream && ev.pointsTo(e, other, r.Required) {
			return true, nil
		}
	}
	return false, nil
}

func (ev *evaluator) matchAny(r *Rule, e *catalog.Entity) (bool, error) {
	if ev.env.Catalog == nil {
		return false, ErrNoCatalog
	}
	steps := r.Path.Steps
	if r.Path.FromBlueprint != "" {
		var start []*catalog.Entity
		for _, v := range r.Values {
			id, _ := v.(string)
			if s := ev.lookup(r.Path.FromBlueprint, id); s != nil {
				start = append(start, s)
			}
		}
		for _, x := range ev.walk(start, steps) {
			if x == e {
				return true, nil
			}
		}
		return false, nil
	}
	for _, x := range ev.walk([]*catalog.Entity{e}, steps) {
		if slices.Contains(r.Values, any(x.Identifier)) {
			return true, nil
		}
	}
	return false, nil
}

// walk follows steps from start and returns the distinct entities reached.
func (ev *evaluator) walk(start []*catalog.Entity, steps []PathStep) []*catalog.Entity {
	front := start
	for _, s := range steps {
		if s.MaxHops == 0 {
			front = ev.step(front, s.Relation)
			continue
		}
		var reached []*catalog.Entity
		seen := map[*catalog.Entity]bool{}
		cur := front
		for h := 1; h <= s.MaxHops && len(cur) > 0; h++ {
			cur = ev.step(cur, s.Relation)
			for _, x := range cur {
				if !seen[x] {
					seen[x] = true
					reached = append(reached, x)
				}
			}
		}
		front = reached
	}
	return front
}

// step follows rel once from every entity of front.
func (ev *evaluator) step(front []*catalog.Entity, rel string) []*catalog.Entity {
	seen := make(map[*catalog.Entity]bool)
	var out []*catalog.Entity
	for _, x := range front {
		for _, t := range ev.follow(x, rel) {
			if !seen[t] {
				seen[t] = true
				out = append(out, t)
			}
		}
	}
	return out
}

// String returns the rule's path and operator, for debugging.
func (r *Rule) String() string { return fmt.Sprintf("%s %s", r.path, r.Operator) }
