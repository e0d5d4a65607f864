package compute

import (
	"math"
	"slices"
	"sort"
	"time"

	"github.com/berth-dev/berth/pkg/catalog"
)

// aggProp is a compiled aggregation property.
type aggProp struct {
	bp, name, target string
	spec             catalog.AggregationSpec
	query            catalog.Query
	// incoming are the relations of target that point at bp; outgoing are
	// bp's relations that point at target.
	incoming, outgoing []string
	read, calc         int // how spec.Property is read
	period             time.Duration
	valid              bool
	pos                catalog.Position
}

// Periods of averageOf; a month is 30 days.
var periods = map[string]time.Duration{
	"hour": time.Hour, "day": 24 * time.Hour, "week": 7 * 24 * time.Hour, "month": 30 * 24 * time.Hour, "total": 0,
}

var propertyFuncs = []string{"sum", "min", "max", "median", "average"}

// compileAggs resolves b's aggregation properties.
func (p *Program) compileAggs(cat *catalog.Catalog, b *bpProgram) catalog.Diagnostics {
	var diags catalog.Diagnostics
	bp := b.bp
	for _, name := range sortedKeys(bp.AggregationProperties) {
		ap := bp.AggregationProperties[name]
		a := &aggProp{bp: bp.Identifier, name: name, target: ap.Target, spec: ap.CalculationSpec,
			query: ap.Query, read: readNothing, pos: pos(bp, "aggregationProperties", name)}
		b.aggs = append(b.aggs, a)
		specPos := func(key string) catalog.Position {
			return pos(bp, "aggregationProperties", name, "calculationSpec", key)
		}
		errorf := func(at catalog.Position, format string, args ...any) {
			diags = append(diags, catalog.Errorf(at, catalog.CodeCalculation,
				"blueprint %q: aggregation %s: "+format, append([]any{bp.Identifier, name}, args...)...))
		}
		s := a.spec
		switch s.CalculationBy {
		case "entities":
			switch s.Func {
			case "count":
			case "average":
				period, ok := periods[s.AverageOf]
				if !ok {
					errorf(specPos("averageOf"), "averageOf %q is not one of hour, day, week, month, total", s.AverageOf)
					continue
				}
				a.period = period
				if s.MeasureTimeBy == "" {
					a.spec.MeasureTimeBy = "$createdAt"
				}
			default:
				errorf(specPos("func"), "func %q is not count or average for calculationBy entities", s.Func)
				continue
			}
		case "property":
			if !slices.Contains(propertyFuncs, s.Func) {
				errorf(specPos("func"), "func %q is not one of sum, min, max, median, average", s.Func)
				continue
			}
			if s.Property == "" {
				errorf(specPos("calculationBy"), "calculationBy property needs a property")
				continue
			}
		default:
			errorf(specPos("calculationBy"), "calculationBy %q is not entities or property", s.CalculationBy)
			continue
		}
		tb := cat.Blueprints[a.target]
		if tb == nil {
			continue // catalog.Check reports unknown targets
		}
		if s.CalculationBy == "property" {
			var w *catalog.Diagnostic
			a.read, a.calc, w = p.readable(cat, tb, s.Property)
			if w != nil {
				w.Position = specPos("property")
				w.Message = "blueprint \"" + bp.Identifier + "\": aggregation " + name + ": " + w.Message
				diags = append(diags, *w)
			}
		}
		for _, rel := range sortedKeys(tb.Relations) {
			if tb.Relations[rel].Target == bp.Identifier {
				a.incoming = append(a.incoming, rel)
			}
		}
		for _, rel := range sortedKeys(bp.Relations) {
			if bp.Relations[rel].Target == a.target {
				a.outgoing = append(a.outgoing, rel)
			}
		}
		if len(a.incoming) == 0 && len(a.outgoing) == 0 {
			diags = append(diags, catalog.Warningf(pos(bp, "aggregationProperties", name, "target"), catalog.CodeCalculation,
				"blueprint %q: aggregation %s: blueprint %q has no relation to or from %q; berth aggregates over direct relations only",
				bp.Identifier, name, a.target, bp.Identifier))
		}
		if a.query != nil && p.opts.Filter == nil {
			diags = append(diags, catalog.Warningf(keyPos(bp, "aggregationProperties", name, "query"), catalog.CodeCalculation,
				"blueprint %q: aggregation %s: no query engine is configured; the query is not applied and every related entity is aggregated",
				bp.Identifier, name))
		}
		a.valid = true
	}
	return diags
}

// related returns the entities of a's target related to e, each once.
func (ev *evaluator) related(a *aggProp, e *catalog.Entity) []*catalog.Entity {
	in := ev.incomingIndex(a)[e.Identifier]
	var out []*catalog.Entity
	if len(a.outgoing) == 0 {
		out = in
	} else {
		out = slices.Clone(in)
		seen := make(map[*catalog.Entity]bool, len(in))
		for _, x := range in {
			seen[x] = true
		}
		for _, rel := range a.outgoing {
			for _, id := range e.Relations[rel].Targets {
				if x := ev.entity(a.target, id); x != nil && !seen[x] {
					seen[x] = true
					out = append(out, x)
				}
			}
		}
	}
	return out
}

// incomingIndex maps identifiers of a's blueprint to the target entities
// pointing at them, built once per Evaluate. For a partial evaluation it
// holds only the identifiers evaluated.
func (ev *evaluator) incomingIndex(a *aggProp) map[string][]*catalog.Entity {
	if idx, ok := ev.incoming[a]; ok {
		return idx
	}
	var want map[string]bool
	if ev.only != nil {
		want = map[string]bool{}
		for k := range ev.only {
			if k.Blueprint == a.bp {
				want[k.Identifier] = true
			}
		}
	}
	idx := make(map[string][]*catalog.Entity, len(want))
	if len(a.incoming) > 0 && want != nil && len(want) < len(ev.cat.Entities)/8 {
		// Few entities: ask the catalog's reference index, and order the
		// related entities as the scan below would.
		for id := range want {
			var l []*catalog.Entity
			for _, r := range ev.cat.Referrers(id) {
				if x := r.From; x.Blueprint == a.target && slices.Contains(a.incoming, r.Rel) && ev.cat.Entity(x.Key()) == x {
					l = append(l, x)
				}
			}
			if len(l) > 0 {
				slices.SortFunc(l, catalog.CompareOrder)
				idx[id] = slices.Compact(l)
			}
		}
	} else if len(a.incoming) > 0 {
		for _, x := range ev.cat.Entities {
			if x.Blueprint != a.target {
				continue
			}
			checked := false
			for _, rel := range a.incoming {
				for _, id := range x.Relations[rel].Targets {
					if want != nil && !want[id] {
						continue
					}
					if !checked {
						if ev.cat.Entity(x.Key()) != x {
							break // a duplicate identifier: the first wins
						}
						checked = true
					}
					l := idx[id]
					if len(l) > 0 && l[len(l)-1] == x {
						continue // x points at id twice
					}
					idx[id] = append(l, x)
				}
			}
		}
	}
	ev.incoming[a] = idx
	return idx
}

// aggregate computes aggregation a for entity e.
func (ev *evaluator) aggregate(a *aggProp, e *catalog.Entity) any {
	if !a.valid {
		return nil
	}
	xs := ev.related(a, e)
	if a.query != nil && ev.p.opts.Filter != nil && len(xs) > 0 {
		kept := make([]*catalog.Entity, 0, len(xs))
		for _, x := range xs {
			ok, err := ev.p.opts.Filter(a.query, x)
			if err != nil {
				ev.warn(a, e, keyPos(ev.p.bps[a.bp].bp, "aggregationProperties", a.name, "query"),
					"blueprint %q: aggregation %s of entity %q: query: %v; value is null", a.bp, a.name, e.Identifier, err)
				return nil
			}
			if ok {
				kept = append(kept, x)
			}
		}
		xs = kept
	}
	s := a.spec
	if s.CalculationBy == "entities" {
		if s.Func == "count" {
			return int64(len(xs))
		}
		return ev.averagePerPeriod(a, xs)
	}
	nums := make([]float64, 0, len(xs))
	for _, x := range xs {
		if f, ok := number(ev.read(x, a.read, s.Property, a.calc)); ok {
			nums = append(nums, f)
		}
	}
	return reduce(s.Func, nums)
}

// averagePerPeriod is the number of entities with a time divided by the
// periods from the earliest of them to now.
func (ev *evaluator) averagePerPeriod(a *aggProp, xs []*catalog.Entity) any {
	var n int
	var earliest time.Time
	for _, x := range xs {
		t, ok := measureTime(x, a.spec.MeasureTimeBy)
		if !ok {
			continue
		}
		n++
		if earliest.IsZero() || t.Before(earliest) {
			earliest = t
		}
	}
	if n == 0 {
		return float64(0)
	}
	periods := 1.0
	if a.period > 0 {
		periods = max(1, math.Ceil(float64(ev.now.Sub(earliest))/float64(a.period)))
	}
	return float64(n) / periods
}

// measureTime reads the time an entity is measured by.
func measureTime(x *catalog.Entity, by string) (time.Time, bool) {
	switch by {
	case "$createdAt":
		return x.Meta.CreatedAt, !x.Meta.CreatedAt.IsZero()
	case "$updatedAt":
		return x.Meta.UpdatedAt, !x.Meta.UpdatedAt.IsZero()
	}
	s, ok := x.Properties[by].(string)
	if !ok {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339, s)
	return t, err == nil
}

// number converts a catalog number to float64.
func number(v any) (float64, bool) {
	switch v := v.(type) {
	case int64:
		return float64(v), true
	case float64:
		return v, true
	case int:
		return float64(v), true
	}
	return 0, false
}

// reduce applies a property aggregation function.
func reduce(fn string, nums []float64) any {
	if len(nums) == 0 {
		if fn == "sum" {
			return float64(0)
		}
		return nil
	}
	switch fn {
	case "sum", "average":
		var sum float64
		for _, f := range nums {
			sum += f
		}
		if fn == "average" {
			return sum / float64(len(nums))
		}
		return sum
	case "min":
		return slices.Min(nums)
	case "max":
		return slices.Max(nums)
	case "median":
		sort.Float64s(nums)
		m := len(nums) / 2
		if len(nums)%2 == 1 {
			return nums[m]
		}
		return (nums[m-1] + nums[m]) / 2
	}
	return nil
}
