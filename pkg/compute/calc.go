package compute

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/big"
	"sort"
	"time"

	"github.com/berth-dev/berth/pkg/catalog"
	"github.com/itchyny/gojq"
)

// calcProp is a compiled calculation: a jq calculation property or a
// formula property.
type calcProp struct {
	bp, name string
	typ      string // the declared type; "" accepts any
	formula  bool
	code     *gojq.Code // nil when the source did not compile
	pos      catalog.Position
}

func (c *calcProp) kind() string {
	if c.formula {
		return "formula of"
	}
	return "calculation"
}

// noEnviron gives jq programs an empty $ENV.
func noEnviron() []string { return nil }

// compileCalcs compiles b's calculation properties and formulas.
func (b *bpProgram) compileCalcs() catalog.Diagnostics {
	var diags catalog.Diagnostics
	bp := b.bp
	for _, name := range sortedKeys(bp.CalculationProperties) {
		cp := bp.CalculationProperties[name]
		c := &calcProp{bp: bp.Identifier, name: name, typ: cp.Type,
			pos: pos(bp, "calculationProperties", name, "calculation")}
		code, err := compileJQ(cp.Calculation)
		if err != nil {
			diags = append(diags, catalog.Errorf(c.pos, catalog.CodeCalculation,
				"blueprint %q: calculation %s: %v", bp.Identifier, name, err))
		}
		c.code = code
		b.addCalc(c)
	}
	for _, name := range sortedKeys(bp.Schema.Properties) {
		p := bp.Schema.Properties[name]
		if p.Calculation == nil {
			continue
		}
		b.formulaProps[name] = true
		c := &calcProp{bp: bp.Identifier, name: name, typ: p.Type, formula: true,
			pos: pos(bp, "schema", "properties", name, "calculation", "formula")}
		var err error
		if t := p.Calculation.Type; t != "" && t != "formula" {
			c.pos = pos(bp, "schema", "properties", name, "calculation", "type")
			err = fmt.Errorf("calculation type %q is not supported; use formula", t)
		} else {
			c.code, err = compileFormula(p.Calculation.Formula)
		}
		if err != nil {
			diags = append(diags, catalog.Errorf(c.pos, catalog.CodeCalculation,
				"blueprint %q: formula of %s: %v", bp.Identifier, name, err))
		}
		b.addCalc(c)
	}
	return diags
}

func (b *bpProgram) addCalc(c *calcProp) {
	if _, dup := b.calcIdx[c.name]; dup {
		return // a formula and a calculation property of one name: the latter wins
	}
	b.calcIdx[c.name] = len(b.calcs)
	b.calcs = append(b.calcs, c)
}

// compileJQ parses and compiles a jq calculation without environment,
// modules or input.
func compileJQ(src string) (*gojq.Code, error) {
	q, err := gojq.Parse(src)
	if err != nil {
		return nil, jqParseError(src, err)
	}
	code, err := gojq.Compile(q, gojq.WithEnvironLoader(noEnviron))
	if err != nil {
		return nil, fmt.Errorf("compile jq: %w", err)
	}
	return code, nil
}

func jqParseError(src string, err error) error {
	var pe *gojq.ParseError
	if errors.As(err, &pe) {
		return fmt.Errorf("parse jq at offset %d of %q: %w", pe.Offset, src, err)
	}
	return fmt.Errorf("parse jq: %w", err)
}

// calcs returns e's calculation values, computing them once per Evaluate
// when other entities read them.
func (ev *evaluator) calcs(bp *bpProgram, e *catalog.Entity) []any {
	if len(bp.calcs) == 0 {
		return nil
	}
	if v, ok := ev.memo[e]; ok {
		return v
	}
	out := make([]any, len(bp.calcs))
	input := ev.input.build(e, bp.formulaProps)
	for i, c := range bp.calcs {
		out[i] = ev.runCalc(c, e, input)
	}
	if bp.calcsRead {
		ev.memo[e] = out
	}
	return out
}

// runCalc evaluates one calculation for one entity; problems are warnings
// and a null value.
func (ev *evaluator) runCalc(c *calcProp, e *catalog.Entity, input map[string]any) any {
	if c.code == nil || ev.err != nil {
		return nil
	}
	if ev.timeouts[c] >= MaxTimeouts {
		ev.warn(c, e, c.pos, "blueprint %q: %s %s skipped for entity %q after %d timeouts; value is null",
			c.bp, c.kind(), c.name, e.Identifier, MaxTimeouts)
		return nil
	}
	v, err := ev.run(c.code, input)
	if err == nil {
		v, err = result(v, c.typ)
	}
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && ev.ctx.Err() == nil {
			ev.timeouts[c]++
			err = fmt.Errorf("timed out after %v", ev.p.opts.Timeout)
		} else if ev.ctx.Err() != nil {
			ev.err = ev.ctx.Err()
			return nil
		}
		ev.warn(c, e, c.pos, "blueprint %q: %s %s of entity %q: %v; value is null", c.bp, c.kind(), c.name, e.Identifier, err)
		return nil
	}
	return v
}

var errManyValues = errors.New("yields more than one value")

// run runs code on input under the timeout and returns its single value.
func (ev *evaluator) run(code *gojq.Code, input map[string]any) (any, error) {
	if err := ev.budget.arm(); err != nil {
		return nil, err
	}
	defer ev.budget.disarm()
	iter := code.RunWithContext(ev.budget, input)
	v, ok := iter.Next()
	if !ok {
		return nil, nil
	}
	if err, isErr := v.(error); isErr {
		return nil, jqError(err)
	}
	if w, more := iter.Next(); more {
		if err, isErr := w.(error); isErr {
			return nil, jqError(err)
		}
		return nil, errManyValues
	}
	return v, nil
}

// jqError keeps context errors recognisable and gives halt a message.
func jqError(err error) error {
	var he *gojq.HaltError
	if errors.As(err, &he) {
		return fmt.Errorf("halted: %v", he.Value())
	}
	return err
}

// result converts a jq value to a catalog value and checks it against the
// declared type.
func result(v any, typ string) (any, error) {
	v, err := fromJQ(v, 0)
	if err != nil || v == nil {
		return v, err
	}
	if got := typeOf(v); typ != "" && got != typ {
		return nil, fmt.Errorf("value %s is a %s, not a %s", preview(v), got, typ)
	}
	return v, nil
}

func preview(v any) string { return gojq.Preview(toJQ(v)) }

// typeOf names v's Port property type.
func typeOf(v any) string {
	switch v.(type) {
	case int64, float64:
		return "number"
	case string:
		return "string"
	case bool:
		return "boolean"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	}
	return fmt.Sprintf("%T", v)
}

const maxDepth = 1000

// fromJQ converts a gojq value to the catalog's value types (int64 rather
// than int, no big integers, finite floats), copying containers so that a
// result never aliases the entity it was computed from.
func fromJQ(v any, depth int) (any, error) {
	if depth > maxDepth {
		return nil, errors.New("value nested too deeply")
	}
	switch v := v.(type) {
	case nil, string, bool:
		return v, nil
	case int:
		return int64(v), nil
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("value %v is not a finite number", v)
		}
		return v, nil
	case *big.Int:
		if v.IsInt64() {
			return v.Int64(), nil
		}
		f, _ := new(big.Float).SetInt(v).Float64()
		if math.IsInf(f, 0) {
			return nil, errors.New("value is not a finite number")
		}
		return f, nil
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			y, err := fromJQ(x, depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = y
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			y, err := fromJQ(x, depth+1)
			if err != nil {
				return nil, err
			}
			out[k] = y
		}
		return out, nil
	}
	return nil, fmt.Errorf("unsupported value of Go type %T", v)
}

// toJQ converts catalog values to gojq's (int rather than int64), copying
// a container only when something inside it changes.
func toJQ(v any) any {
	y, _ := toJQChanged(v)
	return y
}

func toJQChanged(v any) (any, bool) {
	switch v := v.(type) {
	case int64:
		return int(v), true
	case int32:
		return int(v), true
	case uint64:
		return float64(v), true
	case float32:
		return float64(v), true
	case []any:
		var out []any
		for i, x := range v {
			y, changed := toJQChanged(x)
			if changed && out == nil {
				out = make([]any, len(v))
				copy(out, v[:i])
			}
			if out != nil {
				out[i] = y
			}
		}
		if out == nil {
			return v, false
		}
		return out, true
	case map[string]any:
		var out map[string]any
		for k, x := range v {
			y, changed := toJQChanged(x)
			if changed && out == nil {
				out = maps.Clone(v)
			}
			if out != nil {
				out[k] = y
			}
		}
		if out == nil {
			return v, false
		}
		return out, true
	}
	return v, false
}

func relationJSON(r catalog.RelationValue) any {
	if r.Many {
		out := make([]any, len(r.Targets))
		for i, t := range r.Targets {
			out[i] = t
		}
		return out
	}
	if len(r.Targets) == 0 {
		return nil
	}
	return r.Targets[0]
}

func nonEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func timeJSON(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(time.RFC3339)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
