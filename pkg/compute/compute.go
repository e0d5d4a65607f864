package compute

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/berth-dev/berth/pkg/catalog"
)

// DefaultTimeout bounds one evaluation of one calculation for one entity
// when Options.Timeout is zero.
const DefaultTimeout = 100 * time.Millisecond

// MaxTimeouts is how many times one calculation may time out within one
// Evaluate before it is skipped for the remaining entities.
const MaxTimeouts = 3

// DefaultMaxWarnings is how many evaluation warnings one computed property
// reports per Evaluate, when Options.MaxWarnings is zero; a last warning
// counts the rest.
const DefaultMaxWarnings = 20

// Options configure a Program.
type Options struct {
	// Filter decides whether entity e matches an aggregation's query. It is
	// how the query engine plugs in; when nil, aggregations with a query
	// aggregate every related entity and Compile warns about each.
	Filter func(q catalog.Query, e *catalog.Entity) (bool, error)
	// Timeout bounds each evaluation of a calculation; 0 means
	// DefaultTimeout.
	Timeout time.Duration
	// Now is the time averages per period are measured to; nil means
	// time.Now. A reconciler passes the commit time to keep values
	// reproducible.
	Now func() time.Time
	// MaxWarnings caps the evaluation warnings reported per computed
	// property and Evaluate; 0 means DefaultMaxWarnings, negative means no
	// cap.
	MaxWarnings int
}

// Values are computed property values: per entity, per property
// identifier. Every computed property of an entity's blueprint has a key;
// a value that could not be computed is nil. Mirrored values may share
// storage with the catalog's entities: treat them as read-only.
type Values map[catalog.EntityKey]map[string]any

// Program is the compiled form of a catalog's computed properties. It is
// tied to the blueprints it was compiled from, not to the entities: the
// same Program evaluates any catalog with those blueprints. It is safe for
// concurrent use.
type Program struct {
	opts Options
	bps  map[string]*bpProgram
}

// bpProgram holds one blueprint's computed properties.
type bpProgram struct {
	bp      *catalog.Blueprint
	calcs   []*calcProp
	calcIdx map[string]int
	mirrors []*mirrorProp
	aggs    []*aggProp
	// calcsRead is set when mirrors or aggregations read these
	// calculations of other entities: only then are values memoized.
	calcsRead bool
	// formulaProps are the stored-property names that formulas compute:
	// they are left out of a calculation's input.
	formulaProps map[string]bool
}

func (b *bpProgram) size() int { return len(b.calcs) + len(b.mirrors) + len(b.aggs) }

// Compile compiles the computed properties of every blueprint of cat with
// default Options. See CompileWith.
func Compile(cat *catalog.Catalog) (*Program, catalog.Diagnostics) {
	return CompileWith(cat, Options{})
}

// CompileWith compiles the computed properties of every blueprint of the
// built catalog cat. A calculation or formula that does not parse or
// compile, or an invalid aggregation spec, is an error diagnostic
// (catalog.CodeCalculation) and that property evaluates to null. Mirror
// paths and aggregation targets that do not resolve are left to
// catalog.Check to report; they evaluate to null too. The Program is usable
// even when the diagnostics hold errors.
func CompileWith(cat *catalog.Catalog, opts Options) (*Program, catalog.Diagnostics) {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxWarnings == 0 {
		opts.MaxWarnings = DefaultMaxWarnings
	}
	p := &Program{opts: opts, bps: map[string]*bpProgram{}}
	var diags catalog.Diagnostics
	ids := make([]string, 0, len(cat.Blueprints))
	for id := range cat.Blueprints {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	// Calculations first: mirrors and aggregations resolve names against
	// other blueprints' calculations.
	for _, id := range ids {
		b := cat.Blueprints[id]
		bp := &bpProgram{bp: b, calcIdx: map[string]int{}, formulaProps: map[string]bool{}}
		diags = append(diags, bp.compileCalcs()...)
		p.bps[id] = bp
	}
	for _, id := range ids {
		bp := p.bps[id]
		diags = append(diags, p.compileMirrors(cat, bp)...)
		diags = append(diags, p.compileAggs(cat, bp)...)
	}
	for id, bp := range p.bps {
		if bp.size() == 0 {
			delete(p.bps, id)
		}
	}
	return p, diags
}

// pos returns the position of path in b's file, or nothing for built-ins.
func pos(b *catalog.Blueprint, path ...string) catalog.Position {
	if b.Doc == nil {
		return catalog.Position{}
	}
	return b.Doc.Pos(path...)
}

// keyPos returns the position of the key naming path in b's file.
func keyPos(b *catalog.Blueprint, path ...string) catalog.Position {
	if b.Doc == nil {
		return catalog.Position{}
	}
	return b.Doc.KeyPos(path...)
}

// Names returns the computed property identifiers of blueprint bp, sorted.
func (p *Program) Names(bp string) []string {
	b := p.bps[bp]
	if b == nil {
		return nil
	}
	var out []string
	for _, c := range b.calcs {
		out = append(out, c.name)
	}
	for _, m := range b.mirrors {
		out = append(out, m.name)
	}
	for _, a := range b.aggs {
		out = append(out, a.name)
	}
	sort.Strings(out)
	return out
}

// Evaluate computes the values of every entity of cat whose blueprint has
// computed properties, or, when only is not nil, of those in only. The
// values of related entities that mirrors and aggregations read are
// computed as needed, whether or not they are in only. Problems met while
// evaluating are warnings (catalog.CodeCalculation), reported only for the
// entities evaluated and capped per property as Report does. The error is
// non-nil only when ctx ends; the values are then incomplete.
func (p *Program) Evaluate(ctx context.Context, cat *catalog.Catalog, only map[catalog.EntityKey]bool) (Values, catalog.Diagnostics, error) {
	vals, warnings, err := p.EvaluateEach(ctx, cat, only)
	return vals, p.Report(cat, warnings), err
}

// EvaluateEach is Evaluate with the warnings of each entity evaluated, not
// capped: a caller that evaluates a few entities at a time keeps them, to
// Report what one evaluation of every entity would.
func (p *Program) EvaluateEach(ctx context.Context, cat *catalog.Catalog, only map[catalog.EntityKey]bool) (Values, Warnings, error) {
	ev := newEvaluator(ctx, p, cat, only)
	defer ev.budget.close()
	targets := ev.targets()
	out := make(Values, len(targets))
	for i, e := range targets {
		if i%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return out, ev.warnings, fmt.Errorf("compute: %w", err)
			}
		}
		bp := p.bps[e.Blueprint]
		vals := make(map[string]any, bp.size())
		calcs := ev.calcs(bp, e)
		for i, c := range bp.calcs {
			vals[c.name] = calcs[i]
		}
		for _, m := range bp.mirrors {
			vals[m.name] = ev.mirror(m, e)
		}
		for _, a := range bp.aggs {
			vals[a.name] = ev.aggregate(a, e)
		}
		out[e.Key()] = vals
	}
	if err := ev.err; err != nil {
		return out, ev.warnings, fmt.Errorf("compute: %w", err)
	}
	return out, ev.warnings, nil
}

// evaluator is the state of one Evaluate call.
type evaluator struct {
	ctx  context.Context
	p    *Program
	cat  *catalog.Catalog
	only map[catalog.EntityKey]bool
	now  time.Time

	// memo holds each entity's calculation values, in bpProgram.calcs order.
	memo   map[*catalog.Entity][]any
	input  inputBuilder
	budget *budget
	// incoming indexes, per aggregation, the target entities pointing at
	// each entity of the aggregating blueprint.
	incoming map[*aggProp]map[string][]*catalog.Entity
	timeouts map[*calcProp]int
	warnings Warnings
	err      error
}

func newEvaluator(ctx context.Context, p *Program, cat *catalog.Catalog, only map[catalog.EntityKey]bool) *evaluator {
	return &evaluator{
		ctx: ctx, p: p, cat: cat, only: only, now: p.opts.Now(),
		memo:     make(map[*catalog.Entity][]any, memoSize(p, cat, only)),
		budget:   newBudget(ctx, p.opts.Timeout),
		incoming: map[*aggProp]map[string][]*catalog.Entity{},
		timeouts: map[*calcProp]int{},
		warnings: Warnings{},
	}
}

// memoSize guesses how many entities' calculations an evaluation keeps.
func memoSize(p *Program, cat *catalog.Catalog, only map[catalog.EntityKey]bool) int {
	if only != nil {
		return len(only)
	}
	n := 0
	for _, e := range cat.Entities {
		if bp := p.bps[e.Blueprint]; bp != nil && bp.calcsRead {
			n++
		}
	}
	return n
}

// targets returns the entities to evaluate: those with computed properties,
// all of them or the ones in only, in catalog order. Of two entities with
// one key (an error Check reports) the first wins.
func (ev *evaluator) targets() []*catalog.Entity {
	var out []*catalog.Entity
	if ev.only != nil && len(ev.only) < len(ev.cat.Entities)/8 {
		keys := make([]catalog.EntityKey, 0, len(ev.only))
		for k := range ev.only {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool {
			return keys[i].Blueprint < keys[j].Blueprint ||
				keys[i].Blueprint == keys[j].Blueprint && keys[i].Identifier < keys[j].Identifier
		})
		for _, k := range keys {
			if e := ev.cat.Entity(k); e != nil && ev.p.bps[k.Blueprint] != nil {
				out = append(out, e)
			}
		}
		return out
	}
	for _, e := range ev.cat.Entities {
		if ev.p.bps[e.Blueprint] == nil || (ev.only != nil && !ev.only[e.Key()]) || ev.cat.Entity(e.Key()) != e {
			continue
		}
		out = append(out, e)
	}
	return out
}

// reports says whether problems with e's values are reported.
func (ev *evaluator) reports(e *catalog.Entity) bool {
	return ev.only == nil || ev.only[e.Key()]
}

// warn records a warning about property prop (a *calcProp, *mirrorProp or
// *aggProp) of entity e.
func (ev *evaluator) warn(prop any, e *catalog.Entity, at catalog.Position, format string, args ...any) {
	if !ev.reports(e) {
		return
	}
	ev.warnings[e.Key()] = append(ev.warnings[e.Key()],
		Warning{Property: propLabel(prop), Diagnostic: catalog.Warningf(at, catalog.CodeCalculation, format, args...)})
}

func propLabel(prop any) string {
	switch p := prop.(type) {
	case *calcProp:
		return fmt.Sprintf("blueprint %q: %s %s", p.bp, p.kind(), p.name)
	case *mirrorProp:
		return fmt.Sprintf("blueprint %q: mirror property %s", p.bp, p.name)
	case *aggProp:
		return fmt.Sprintf("blueprint %q: aggregation %s", p.bp, p.name)
	}
	return fmt.Sprint(prop)
}

// entity returns the entity of blueprint bp with identifier id, or nil.
func (ev *evaluator) entity(bp, id string) *catalog.Entity {
	return ev.cat.Entity(catalog.EntityKey{Blueprint: bp, Identifier: id})
}
