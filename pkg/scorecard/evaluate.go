package scorecard

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/berth-dev/berth/pkg/catalog"
	"github.com/berth-dev/berth/pkg/query"
)

// Program is a catalog's scorecards with their filters and rules parsed
// once, ready to evaluate over many entities.
type Program struct {
	cards []*card
}

type card struct {
	sc         *catalog.Scorecard
	blueprint  string
	levels     []string
	filter     *query.Query
	rules      []rule
	exemptions map[exemptKey]catalog.Exemption
}

type rule struct {
	def         catalog.ScorecardRule
	q           *query.Query
	enforceFrom time.Time
}

type exemptKey struct{ entity, rule string }

// Compile parses every scorecard's filter and rule queries. A scorecard
// whose filter or rules do not parse, or use a condition Evaluate cannot
// evaluate (a scorecard condition, a user's context value), is reported
// (with the position of the bad rule) and left out; the others compile.
func Compile(cat *catalog.Catalog) (*Program, catalog.Diagnostics) {
	p := &Program{}
	var diags catalog.Diagnostics
	for _, sc := range cat.Scorecards {
		c, ds := compileCard(sc)
		diags = append(diags, ds...)
		if c != nil {
			p.cards = append(p.cards, c)
		}
	}
	return p, diags
}

func compileCard(sc *catalog.Scorecard) (*card, catalog.Diagnostics) {
	var diags catalog.Diagnostics
	unusable := false // a condition cannot be evaluated: the card is left out
	pos := func(path ...string) catalog.Position {
		if sc.Doc == nil {
			return catalog.Position{}
		}
		return sc.Doc.Pos(path...)
	}
	c := &card{sc: sc, blueprint: sc.ScorecardBlueprint(), levels: sc.LevelTitles(), exemptions: map[exemptKey]catalog.Exemption{}}
	if sc.Filter != nil {
		q, err := query.Parse(sc.Filter)
		if err != nil {
			diags = append(diags, catalog.Errorf(pos("filter"), catalog.CodeSchema, "scorecard %q: filter: %v", sc.Identifier, err))
			return nil, diags
		}
		c.filter = q
		unevaluable(q.Root, sc.Filter, []string{"filter"}, func(path []string, why string) {
			unusable = true
			diags = append(diags, catalog.Errorf(pos(path...), catalog.CodeScorecardQuery,
				"scorecard %q: filter: %s; the filter would leave every entity unscored", sc.Identifier, why))
		})
	}
	for i, r := range sc.Rules {
		cr := rule{def: r}
		if r.Query != nil {
			q, err := query.Parse(r.Query)
			if err != nil {
				diags = append(diags, catalog.Errorf(pos("rules", strconv.Itoa(i), "query"), catalog.CodeSchema,
					"scorecard %q: rule %s: %v", sc.Identifier, r.Identifier, err))
				return nil, diags
			}
			cr.q = q
			unevaluable(q.Root, r.Query, []string{"rules", strconv.Itoa(i), "query"}, func(path []string, why string) {
				unusable = true
				diags = append(diags, catalog.Errorf(pos(path...), catalog.CodeScorecardQuery,
					"scorecard %q: rule %s: %s; the rule would fail for every entity", sc.Identifier, r.Identifier, why))
			})
		}
		if r.EnforceFrom != "" {
			t, ok := parseDate(r.EnforceFrom)
			if !ok {
				diags = append(diags, catalog.Errorf(pos("rules", strconv.Itoa(i), "enforceFrom"), catalog.CodeSchema,
					"scorecard %q: rule %s: enforceFrom %q is not a date (YYYY-MM-DD or RFC 3339)", sc.Identifier, r.Identifier, r.EnforceFrom))
				return nil, diags
			}
			cr.enforceFrom = t
		}
		c.rules = append(c.rules, cr)
	}
	for i, ex := range sc.Exemptions {
		if ex.Expires != "" {
			if _, ok := parseDate(ex.Expires); !ok {
				diags = append(diags, catalog.Errorf(pos("exemptions", strconv.Itoa(i), "expires"), catalog.CodeSchema,
					"scorecard %q: exemption for %s: expires %q is not a date (YYYY-MM-DD or RFC 3339)", sc.Identifier, ex.Entity, ex.Expires))
				continue
			}
		}
		c.exemptions[exemptKey{ex.Entity, ex.Rule}] = ex
	}
	if unusable {
		return nil, diags
	}
	return c, diags
}

// unevaluable reports, with their paths in the scorecard's document, the
// conditions of group g (parsed from raw, written at path) that Evaluate
// cannot evaluate: a scorecard condition, since scorecards are scored side
// by side without each other's results, and context values, since a
// scorecard has no user to bind them to. Left in, such a condition fails
// for every entity without a word.
func unevaluable(g *query.Group, raw map[string]any, path []string, report func(path []string, why string)) {
	key := "rules"
	if _, ok := raw["conditions"]; ok {
		key = "conditions"
	}
	items, _ := raw[key].([]any)
	for i, n := range g.Items {
		at := append(slices.Clone(path), key, strconv.Itoa(i))
		switch n := n.(type) {
		case *query.Group:
			var m map[string]any
			if i < len(items) {
				m, _ = items[i].(map[string]any)
			}
			unevaluable(n, m, at, report)
		case *query.Rule:
			switch {
			case n.Kind == query.KindScorecard:
				report(append(at, "scorecard"), fmt.Sprintf("condition reads scorecard %q, which a scorecard cannot evaluate (scorecards are scored side by side, without each other's results)", n.Scorecard))
			case n.Unbound():
				report(at, "condition uses a user's context value ({context: ...}, \"{{ user.x }}\" or \"My Teams\"), which a scorecard has no user to bind")
			}
		}
	}
}

// Evaluation holds results per entity and scorecard identifier.
type Evaluation struct {
	Results map[catalog.EntityKey]map[string]Result
	// Now is the time the evaluation was made for (exemptions, deadlines).
	Now time.Time
}

// Options configure Evaluate.
type Options struct {
	// Now is the evaluation time for exemptions, enforceFrom and date
	// presets; zero means time.Now().
	Now time.Time
	// Property supplies computed property values (calculation, mirror,
	// aggregation) before stored ones are read.
	Property func(e *catalog.Entity, key string) (any, bool)
	// Only, when non-nil, limits evaluation to these entities.
	Only map[catalog.EntityKey]bool
}

// Evaluate scores every entity of each scorecard's blueprint that matches
// its filter. A rule that cannot be evaluated fails, with the reason in its
// result. Evaluate stops early only when ctx ends.
func (p *Program) Evaluate(ctx context.Context, cat *catalog.Catalog, opts Options) (*Evaluation, error) {
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	env := &query.Env{Catalog: cat, Now: now, Property: opts.Property}
	ev := &Evaluation{Results: map[catalog.EntityKey]map[string]Result{}, Now: now}
	entities := cat.Entities
	if opts.Only != nil && len(opts.Only) < len(cat.Entities)/8 {
		// Few entities: visit just those, rather than test every one.
		entities = make([]*catalog.Entity, 0, len(opts.Only))
		for k := range opts.Only {
			if e := cat.Entity(k); e != nil {
				entities = append(entities, e)
			}
		}
		slices.SortFunc(entities, catalog.CompareOrder)
	}
	for i, e := range entities {
		if i%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		if opts.Only != nil && !opts.Only[e.Key()] {
			continue
		}
		for _, c := range p.cards {
			if c.blueprint != e.Blueprint {
				continue
			}
			r, scored := c.evaluate(env, e, now)
			if !scored {
				continue
			}
			m := ev.Results[e.Key()]
			if m == nil {
				m = map[string]Result{}
				ev.Results[e.Key()] = m
			}
			m[c.sc.Identifier] = r
		}
	}
	return ev, nil
}

// evaluate scores one entity; scored is false when the filter excludes it.
func (c *card) evaluate(env *query.Env, e *catalog.Entity, now time.Time) (res Result, scored bool) {
	if c.filter != nil {
		ok, err := c.filter.Eval(env, e)
		if err != nil || !ok {
			return Result{}, false
		}
	}
	res = Result{Scorecard: c.sc.Identifier, Rules: make([]RuleResult, 0, len(c.rules))}
	for _, r := range c.rules {
		rr := RuleResult{Identifier: r.def.Identifier, Level: r.def.Level, Status: Success}
		if r.q != nil {
			ok, err := r.q.Eval(env, e)
			if err != nil {
				rr.Error = err.Error()
			}
			if !ok {
				rr.Status = Failure
			}
		}
		if rr.Status == Failure {
			if ex, ok := c.exemptions[exemptKey{e.Identifier, r.def.Identifier}]; ok && !expired(ex, now) {
				rr.Status, rr.Exempt, rr.Reason = Success, true, exemptionReason(ex)
			} else if !r.enforceFrom.IsZero() && now.Before(r.enforceFrom) {
				rr.NotEnforced, rr.EnforceFrom = true, r.def.EnforceFrom
				rr.Reason = fmt.Sprintf("enforced from %s", r.enforceFrom.Format(time.DateOnly))
			}
		}
		res.Rules = append(res.Rules, rr)
	}
	res.LevelIndex = level(c.levels, res.Rules)
	res.Level = c.levels[res.LevelIndex]
	return res, true
}

func expired(ex catalog.Exemption, now time.Time) bool {
	if ex.Expires == "" {
		return false
	}
	t, ok := parseDate(ex.Expires)
	return ok && !now.Before(t)
}

func exemptionReason(ex catalog.Exemption) string {
	if ex.Expires == "" {
		return "exempt: " + ex.Reason
	}
	return fmt.Sprintf("exempt until %s: %s", ex.Expires, ex.Reason)
}

// Local reports whether every filter and rule reads only the scored entity
// itself: no relation, relatedTo, path or scorecard rules. Local programs
// can be re-evaluated for just the entities a commit changed; others must
// see every entity again.
func (p *Program) Local() bool {
	return !p.anyRule(func(r *query.Rule) bool {
		switch r.Kind {
		case query.KindRelation, query.KindRelatedTo, query.KindPath, query.KindScorecard:
			return true
		}
		return false
	})
}

// Clocked reports whether scores evaluated at times a and b can differ for
// the same entities: a filter or rule compares dates with the evaluation
// time (a between preset, isExpired), or an exemption expires or a rule's
// enforceFrom passes between a and b. A caller that re-scores only the
// entities a change touched re-scores every entity when it does.
func (p *Program) Clocked(a, b time.Time) bool {
	if a.Equal(b) {
		return false
	}
	if a.After(b) {
		a, b = b, a
	}
	if p.anyRule(func(r *query.Rule) bool {
		return r.Operator == query.OpIsExpired || r.Range != nil && r.Range.Preset != ""
	}) {
		return true
	}
	passes := func(t time.Time) bool { return t.After(a) && !t.After(b) }
	for _, c := range p.cards {
		for _, r := range c.rules {
			if !r.enforceFrom.IsZero() && passes(r.enforceFrom) {
				return true
			}
		}
		for _, ex := range c.exemptions {
			if t, ok := parseDate(ex.Expires); ok && passes(t) {
				return true
			}
		}
	}
	return false
}

// anyRule reports whether f holds for a condition of any filter or rule.
func (p *Program) anyRule(f func(*query.Rule) bool) bool {
	for _, c := range p.cards {
		if c.filter != nil && anyInGroup(c.filter.Root, f) {
			return true
		}
		for _, r := range c.rules {
			if r.q != nil && anyInGroup(r.q.Root, f) {
				return true
			}
		}
	}
	return false
}

func anyInGroup(g *query.Group, f func(*query.Rule) bool) bool {
	if g == nil {
		return false
	}
	for _, n := range g.Items {
		switch n := n.(type) {
		case *query.Group:
			if anyInGroup(n, f) {
				return true
			}
		case *query.Rule:
			if f(n) {
				return true
			}
		}
	}
	return false
}
