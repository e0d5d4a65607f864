package query

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/berth-dev/berth/pkg/catalog"
)

// Limits bound the cost of a query, so the API can refuse hostile ones.
// A zero field takes its default.
type Limits struct {
	// MaxDepth is the deepest group nesting (the root group is depth 1).
	MaxDepth int
	// MaxRules is the number of rules and groups in the whole query.
	MaxRules int
	// MaxValues is the number of values one rule may list.
	MaxValues int
}

// DefaultLimits are the limits Parse applies when given none.
var DefaultLimits = Limits{MaxDepth: 16, MaxRules: 500, MaxValues: 1000}

// MaxHops is the largest maxHops of a matchAny path step (Port's limit).
const MaxHops = 15

func (l Limits) withDefaults() Limits {
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultLimits.MaxDepth
	}
	if l.MaxRules <= 0 {
		l.MaxRules = DefaultLimits.MaxRules
	}
	if l.MaxValues <= 0 {
		l.MaxValues = DefaultLimits.MaxValues
	}
	return l
}

// Option adjusts parsing.
type Option func(*Limits)

// WithLimits parses under lim instead of DefaultLimits.
func WithLimits(lim Limits) Option { return func(l *Limits) { *l = lim } }

// Parse parses a query or scorecard condition group as loaded from YAML or
// JSON: {combinator, rules | conditions, not?}. Every error is an *Error
// naming the path to the bad rule and what was expected, and wraps one of
// ErrSyntax, ErrUnknownOperator, ErrBadValue or ErrTooComplex.
func Parse(q catalog.Query, opts ...Option) (*Query, error) {
	lim := DefaultLimits
	for _, o := range opts {
		o(&lim)
	}
	p := &parser{lim: lim.withDefaults()}
	if q == nil {
		return nil, p.errf("", ErrSyntax, "want a query object {combinator, rules}")
	}
	g, err := p.group("", q, 1)
	if err != nil {
		return nil, err
	}
	return &Query{Root: g, unbound: p.unbound}, nil
}

// ParseJSON parses a query from JSON, as in an API request body. Numbers
// keep their full text until converted to float64.
func ParseJSON(b []byte, opts ...Option) (*Query, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, &Error{Err: fmt.Errorf("%w: %v", ErrSyntax, err)}
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, &Error{Err: fmt.Errorf("%w: data after the query object", ErrSyntax)}
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, &Error{Err: fmt.Errorf("%w: want a query object {combinator, rules}, got %s", ErrSyntax, describe(v))}
	}
	return Parse(m, opts...)
}

type parser struct {
	lim     Limits
	rules   int
	unbound int
}

func (p *parser) errf(path string, sentinel error, format string, args ...any) error {
	sep := ": "
	if sentinel == ErrUnknownOperator {
		sep = " " // unknown operator "equals" (want one of ...)
	}
	return &Error{Path: path, Err: fmt.Errorf("%w%s%s", sentinel, sep, fmt.Sprintf(format, args...))}
}

var plainKey = regexp.MustCompile(`^[A-Za-z0-9_$@-]+$`)

// join appends key to path; keys that are not plain identifiers are quoted
// so a hostile key cannot fake a path.
func join(path, key string) string {
	if !plainKey.MatchString(key) {
		return fmt.Sprintf("%s[%q]", path, key)
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

func (p *parser) count(path string) error {
	p.rules++
	if p.rules > p.lim.MaxRules {
		return p.errf(path, ErrTooComplex, "more than %d rules", p.lim.MaxRules)
	}
	return nil
}

func (p *parser) group(path string, m map[string]any, depth int) (*Group, error) {
	if depth > p.lim.MaxDepth {
		return nil, p.errf(path, ErrTooComplex, "groups nested deeper than %d", p.lim.MaxDepth)
	}
	if err := p.count(path); err != nil {
		return nil, err
	}
	if err := knownKeys(p, path, m, "combinator", "rules", "conditions", "not"); err != nil {
		return nil, err
	}
	g := &Group{}
	switch c := m["combinator"].(type) {
	case string:
		g.Combinator = Combinator(strings.ToLower(c))
		if g.Combinator != And && g.Combinator != Or {
			return nil, p.errf(join(path, "combinator"), ErrSyntax, `unknown combinator %q (want "and" or "or")`, c)
		}
	case nil:
		return nil, p.errf(join(path, "combinator"), ErrSyntax, `missing (want "and" or "or")`)
	default:
		return nil, p.errf(join(path, "combinator"), ErrSyntax, "want \"and\" or \"or\", got %s", describe(c))
	}
	not, err := p.boolKey(path, m, "not")
	if err != nil {
		return nil, err
	}
	g.Not = not
	key := "rules"
	if _, ok := m["conditions"]; ok {
		if _, both := m["rules"]; both {
			return nil, p.errf(path, ErrSyntax, "both rules and conditions given (want one)")
		}
		key = "conditions"
	}
	raw, present := m[key]
	if !present {
		return nil, p.errf(join(path, "rules"), ErrSyntax, "missing (want a list of rules)")
	}
	items, ok := raw.([]any)
	if !ok && raw != nil {
		return nil, p.errf(join(path, key), ErrSyntax, "want a list of rules, got %s", describe(raw))
	}
	for i, it := range items {
		ip := fmt.Sprintf("%s[%d]", join(path, key), i)
		im, ok := it.(map[string]any)
		if !ok {
			return nil, p.errf(ip, ErrSyntax, "want a rule or group object, got %s", describe(it))
		}
		if _, isGroup := im["combinator"]; isGroup {
			sub, err := p.group(ip, im, depth+1)
			if err != nil {
				return nil, err
			}
			g.Items = append(g.Items, sub)
			continue
		}
		r, err := p.rule(ip, im)
		if err != nil {
			return nil, err
		}
		g.Items = append(g.Items, r)
	}
	return g, nil
}

func knownKeys(p *parser, path string, m map[string]any, keys ...string) error {
	var unknown []string
	for k := range m {
		if !slices.Contains(keys, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	return p.errf(join(path, unknown[0]), ErrSyntax, "unknown key (want one of %s)", strings.Join(keys, ", "))
}

func (p *parser) boolKey(path string, m map[string]any, key string) (bool, error) {
	switch v := m[key].(type) {
	case nil:
		return false, nil
	case bool:
		return v, nil
	default:
		return false, p.errf(join(path, key), ErrSyntax, "want true or false, got %s", describe(v))
	}
}

func (p *parser) stringKey(path string, m map[string]any, key string, required bool) (string, error) {
	switch v := m[key].(type) {
	case string:
		if v == "" && required {
			return "", p.errf(join(path, key), ErrSyntax, "empty (want a non-empty string)")
		}
		return v, nil
	case nil:
		if required {
			return "", p.errf(join(path, key), ErrSyntax, "missing (want a string)")
		}
		return "", nil
	default:
		return "", p.errf(join(path, key), ErrSyntax, "want a string, got %s", describe(v))
	}
}

// Operators allowed on relation and scorecard rules: they read identifiers,
// titles, levels and statuses, which are plain text.
var textOperators = []Operator{
	OpEq, OpNeq, OpIn, OpNotIn, OpContainsAny, OpContains, OpDoesNotContains,
	OpBeginsWith, OpDoesNotBeginsWith, OpEndsWith, OpDoesNotEndsWith, OpIsEmpty, OpIsNotEmpty,
}

func (p *parser) rule(path string, m map[string]any) (*Rule, error) {
	if err := p.count(path); err != nil {
		return nil, err
	}
	r := &Rule{path: path}
	op, err := p.stringKey(path, m, "operator", true)
	if err != nil {
		return nil, err
	}
	r.Operator = Operator(op)
	if !slices.Contains(Operators, r.Operator) {
		return nil, p.errf(join(path, "operator"), ErrUnknownOperator, "%q (want one of %s)", op, operatorList())
	}
	if r.Not, err = p.boolKey(path, m, "not"); err != nil {
		return nil, err
	}
	switch {
	case r.Operator == OpRelatedTo:
		err = p.relatedTo(path, m, r)
	case r.Operator == OpMatchAny:
		err = p.matchAny(path, m, r)
	case m["relation"] != nil:
		r.Kind = KindRelation
		err = p.relationRule(path, m, r)
	case m["scorecard"] != nil:
		r.Kind = KindScorecard
		err = p.scorecardRule(path, m, r)
	default:
		err = p.propertyRule(path, m, r)
	}
	if err != nil {
		return nil, err
	}
	return r, nil
}

func (p *parser) relatedTo(path string, m map[string]any, r *Rule) error {
	r.Kind = KindRelatedTo
	if err := knownKeys(p, path, m, "operator", "blueprint", "value", "direction", "required", "not"); err != nil {
		return err
	}
	var err error
	if r.Blueprint, err = p.stringKey(path, m, "blueprint", true); err != nil {
		return err
	}
	dir, err := p.stringKey(path, m, "direction", false)
	if err != nil {
		return err
	}
	r.Direction = Direction(dir)
	if r.Direction != DirectionAny && r.Direction != DirectionUpstream && r.Direction != DirectionDownstream {
		return p.errf(join(path, "direction"), ErrBadValue, "%q (want upstream or downstream)", dir)
	}
	if v, ok := m["required"]; ok && v != nil {
		b, err := p.boolKey(path, m, "required")
		if err != nil {
			return err
		}
		r.Required = &b
	}
	return p.identifiers(path, m, r)
}

// identifiers reads the value of relatedTo and matchAny: an entity
// identifier, a list of them, or a context value.
func (p *parser) identifiers(path string, m map[string]any, r *Rule) error {
	vp := join(path, "value")
	if ok, err := p.contextValue(vp, m["value"], r, false); ok || err != nil {
		return err
	}
	vals, err := p.list(vp, m["value"])
	if err != nil {
		return err
	}
	if len(vals) == 0 {
		return p.errf(vp, ErrBadValue, "want an entity identifier or a non-empty list of them")
	}
	for i, v := range vals {
		if _, ok := v.(string); !ok {
			return p.errf(fmt.Sprintf("%s[%d]", vp, i), ErrBadValue, "want an entity identifier, got %s", describe(v))
		}
	}
	r.Values = vals
	return nil
}

func (p *parser) matchAny(path string, m map[string]any, r *Rule) error {
	r.Kind = KindPath
	if err := knownKeys(p, path, m, "operator", "property", "value", "not"); err != nil {
		return err
	}
	pp := join(path, "property")
	pm, ok := m["property"].(map[string]any)
	if !ok {
		return p.errf(pp, ErrSyntax, "want {path: [relations...], fromBlueprint?} for matchAny, got %s", describe(m["property"]))
	}
	if err := knownKeys(p, pp, pm, "path", "fromBlueprint"); err != nil {
		return err
	}
	rp := &RelationPath{}
	var err error
	if rp.FromBlueprint, err = p.stringKey(pp, pm, "fromBlueprint", false); err != nil {
		return err
	}
	steps, ok := pm["path"].([]any)
	if !ok || len(steps) == 0 {
		return p.errf(join(pp, "path"), ErrSyntax, "want a non-empty list of relations, got %s", describe(pm["path"]))
	}
	if len(steps) > MaxHops {
		return p.errf(join(pp, "path"), ErrTooComplex, "more than %d steps", MaxHops)
	}
	hopsSeen := false
	for i, s := range steps {
		sp := fmt.Sprintf("%s.path[%d]", pp, i)
		switch s := s.(type) {
		case string:
			if s == "" {
				return p.errf(sp, ErrSyntax, "empty relation identifier")
			}
			rp.Steps = append(rp.Steps, PathStep{Relation: s})
		case map[string]any:
			if err := knownKeys(p, sp, s, "relation", "maxHops"); err != nil {
				return err
			}
			rel, err := p.stringKey(sp, s, "relation", true)
			if err != nil {
				return err
			}
			step := PathStep{Relation: rel}
			if h, present := s["maxHops"]; present {
				f, ok := toNumber(h)
				if !ok || f != float64(int(f)) || f < 1 || f > MaxHops {
					return p.errf(sp+".maxHops", ErrBadValue, "want a whole number from 1 to %d, got %s", MaxHops, describe(h))
				}
				if hopsSeen {
					return p.errf(sp+".maxHops", ErrBadValue, "maxHops may appear once per path")
				}
				hopsSeen = true
				step.MaxHops = int(f)
			}
			rp.Steps = append(rp.Steps, step)
		default:
			return p.errf(sp, ErrSyntax, "want a relation identifier or {relation, maxHops}, got %s", describe(s))
		}
	}
	r.Path = rp
	return p.identifiers(path, m, r)
}

func (p *parser) relationRule(path string, m map[string]any, r *Rule) error {
	if err := knownKeys(p, path, m, "operator", "relation", "targetProperty", "value", "not"); err != nil {
		return err
	}
	var err error
	if r.Relation, err = p.stringKey(path, m, "relation", true); err != nil {
		return err
	}
	if r.TargetProperty, err = p.stringKey(path, m, "targetProperty", false); err != nil {
		return err
	}
	switch r.TargetProperty {
	case "":
		r.TargetProperty = MetaIdentifier
	case MetaIdentifier, MetaTitle:
	default:
		return p.errf(join(path, "targetProperty"), ErrBadValue, "%q (want $identifier or $title)", r.TargetProperty)
	}
	return p.operands(path, m, r, textOperators)
}

func (p *parser) scorecardRule(path string, m map[string]any, r *Rule) error {
	if err := knownKeys(p, path, m, "operator", "scorecard", "scorecardRule", "value", "not"); err != nil {
		return err
	}
	var err error
	if r.Scorecard, err = p.stringKey(path, m, "scorecard", true); err != nil {
		return err
	}
	if r.ScorecardRule, err = p.stringKey(path, m, "scorecardRule", false); err != nil {
		return err
	}
	return p.operands(path, m, r, textOperators)
}

func (p *parser) propertyRule(path string, m map[string]any, r *Rule) error {
	if err := knownKeys(p, path, m, "operator", "property", "value", "not"); err != nil {
		return err
	}
	pp := join(path, "property")
	switch v := m["property"].(type) {
	case string:
		if v == "" {
			return p.errf(pp, ErrSyntax, "empty (want a property identifier or meta-property)")
		}
		if strings.HasPrefix(v, "$") && !slices.Contains(metaProperties, v) {
			return p.errf(pp, ErrBadValue, "unknown meta-property %q (want one of %s)", v, strings.Join(metaProperties, ", "))
		}
		r.Kind, r.Property = KindProperty, v
	case map[string]any:
		ref, err := p.contextRef(pp, v)
		if err != nil {
			return err
		}
		r.Kind, r.subject = KindConstant, ref
		p.unbound++
	case nil:
		return p.errf(pp, ErrSyntax, "missing (want property, relation or scorecard)")
	default:
		return p.errf(pp, ErrSyntax, "want a property identifier or {context, property}, got %s", describe(v))
	}
	return p.operands(path, m, r, nil)
}

var templateRE = regexp.MustCompile(`^\{\{\s*user\.([A-Za-z0-9_$@=-]+)\s*\}\}$`)

// contextValue reads v as a context value when it is one: {context,
// property} or a "{{ user.x }}" template.
func (p *parser) contextValue(path string, v any, r *Rule, allowTemplate bool) (bool, error) {
	switch x := v.(type) {
	case map[string]any:
		if _, ok := x["context"]; !ok {
			return false, nil
		}
		ref, err := p.contextRef(path, x)
		if err != nil {
			return true, err
		}
		r.value = ref
		p.unbound++
		return true, nil
	case string:
		if mm := templateRE.FindStringSubmatch(x); mm != nil && allowTemplate {
			r.value = &contextRef{Context: "user", Property: mm[1]}
			p.unbound++
			return true, nil
		}
	}
	return false, nil
}

func (p *parser) contextRef(path string, m map[string]any) (*contextRef, error) {
	if err := knownKeys(p, path, m, "context", "property"); err != nil {
		return nil, err
	}
	c, err := p.stringKey(path, m, "context", true)
	if err != nil {
		return nil, err
	}
	if c != "user" && c != "userTeams" {
		return nil, p.errf(join(path, "context"), ErrBadValue, "%q (want user or userTeams)", c)
	}
	prop, err := p.stringKey(path, m, "property", false)
	if err != nil {
		return nil, err
	}
	return &contextRef{Context: c, Property: prop}, nil
}

// list reads a scalar or a list of scalars.
func (p *parser) list(path string, v any) ([]any, error) {
	items, isList := v.([]any)
	if !isList {
		items = []any{v}
	}
	if len(items) > p.lim.MaxValues {
		return nil, p.errf(path, ErrTooComplex, "more than %d values", p.lim.MaxValues)
	}
	out := make([]any, 0, len(items))
	for i, it := range items {
		n, ok := normalize(it)
		if !ok {
			ip := path
			if isList {
				ip = fmt.Sprintf("%s[%d]", path, i)
			}
			return nil, p.errf(ip, ErrBadValue, "want a string, number or boolean, got %s", describe(it))
		}
		out = append(out, n)
	}
	return out, nil
}

// operands reads the value of a comparison rule; allowed, when set, limits
// the operators.
func (p *parser) operands(path string, m map[string]any, r *Rule, allowed []Operator) error {
	op := r.Operator
	if allowed != nil && !slices.Contains(allowed, op) {
		names := make([]string, len(allowed))
		for i, a := range allowed {
			names[i] = string(a)
		}
		return p.errf(join(path, "operator"), ErrBadValue, "operator %q does not apply to relation or scorecard rules (want one of %s)", op, strings.Join(names, ", "))
	}
	vp := join(path, "value")
	v, present := m["value"]
	switch op {
	case OpIsEmpty, OpIsNotEmpty, OpIsExpired, OpIsNotExpired:
		if present && v != nil {
			return p.errf(vp, ErrBadValue, "%s takes no value", op)
		}
		return nil
	case OpBetween, OpNotBetween:
		return p.rangeValue(vp, v, r)
	}
	if ok, err := p.contextValue(vp, v, r, true); ok || err != nil {
		return err
	}
	if !present {
		return p.errf(vp, ErrBadValue, "missing (%s needs a value)", op)
	}
	switch op {
	case OpEq, OpNeq:
		if v == nil {
			// "= null" is isEmpty, as the UI writes it.
			r.Operator = map[Operator]Operator{OpEq: OpIsEmpty, OpNeq: OpIsNotEmpty}[op]
			return nil
		}
		if _, isList := v.([]any); isList {
			return p.errf(vp, ErrBadValue, "%s wants one string, number or boolean; use in for a list", op)
		}
	case OpIn, OpNotIn, OpContainsAny:
	case OpContains, OpDoesNotContains, OpBeginsWith, OpDoesNotBeginsWith, OpEndsWith, OpDoesNotEndsWith:
		if _, ok := v.(string); !ok {
			return p.errf(vp, ErrBadValue, "%s wants a string, got %s", op, describe(v))
		}
	case OpGt, OpGte, OpLt, OpLte:
		if s, ok := v.(string); ok {
			if _, isDate := ParseTime(s); !isDate {
				return p.errf(vp, ErrBadValue, "%s wants a number or a date (RFC 3339 or YYYY-MM-DD), got %q", op, s)
			}
		} else if _, ok := toNumber(v); !ok {
			return p.errf(vp, ErrBadValue, "%s wants a number or a date, got %s", op, describe(v))
		}
	}
	vals, err := p.list(vp, v)
	if err != nil {
		return err
	}
	r.Values = vals
	if r.Kind == KindProperty && r.Property == MetaTeam && (op == OpIn || op == OpNotIn || op == OpContainsAny) {
		if slices.Contains(vals, any("My Teams")) {
			r.myTeams = true
			p.unbound++
		}
	}
	return nil
}

func (p *parser) rangeValue(path string, v any, r *Rule) error {
	if s, ok := v.(string); ok {
		// A bare preset: the seed's timeframe: last30days.
		v = map[string]any{"preset": s}
	}
	m, ok := v.(map[string]any)
	if !ok {
		return p.errf(path, ErrBadValue, "%s wants {preset} or {from, to}, got %s", r.Operator, describe(v))
	}
	if err := knownKeys(p, path, m, "preset", "from", "to", "timeframe"); err != nil {
		return err
	}
	rg := &Range{}
	preset := m["preset"]
	if preset == nil {
		preset = m["timeframe"]
	}
	if preset != nil {
		s, ok := preset.(string)
		if _, known := Presets[s]; !ok || !known {
			return p.errf(join(path, "preset"), ErrBadValue, "unknown preset %s (want one of %s)", describe(preset), presetNames())
		}
		if m["from"] != nil || m["to"] != nil {
			return p.errf(path, ErrBadValue, "give a preset or from/to, not both")
		}
		rg.Preset = s
		r.Range = rg
		return nil
	}
	var kinds [2]string
	for i, key := range []string{"from", "to"} {
		x := m[key]
		var f float64
		switch {
		case x == nil:
			return p.errf(join(path, key), ErrBadValue, "missing (want a date or a number)")
		default:
			if s, ok := x.(string); ok {
				t, isDate := ParseTime(s)
				if !isDate {
					return p.errf(join(path, key), ErrBadValue, "want a date (RFC 3339 or YYYY-MM-DD), got %q", s)
				}
				f, kinds[i] = Epoch(t), "date"
			} else if n, ok := toNumber(x); ok {
				f, kinds[i] = n, "number"
			} else {
				return p.errf(join(path, key), ErrBadValue, "want a date or a number, got %s", describe(x))
			}
		}
		if i == 0 {
			rg.From = f
		} else {
			rg.To = f
		}
	}
	if kinds[0] != kinds[1] {
		return p.errf(path, ErrBadValue, "from is a %s but to is a %s", kinds[0], kinds[1])
	}
	rg.Numeric = kinds[0] == "number"
	r.Range = rg
	return nil
}

// describe names a value's JSON type for error messages, without echoing
// long hostile input.
func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		if len(x) > 40 {
			x = x[:40] + "..."
		}
		return fmt.Sprintf("string %q", x)
	case bool:
		return fmt.Sprintf("boolean %v", x)
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	if _, ok := toNumber(v); ok {
		return fmt.Sprintf("number %v", v)
	}
	return fmt.Sprintf("%T", v)
}
