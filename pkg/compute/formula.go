package compute

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/itchyny/gojq"
)

// Formula arithmetic functions. No formula can call them by name (or call
// anything): identifiers are always translated to property reads.
const (
	fnAdd = "_berth_add"
	fnSub = "_berth_sub"
	fnMul = "_berth_mul"
	fnDiv = "_berth_div"
	fnMod = "_berth_mod"
	fnNeg = "_berth_neg"
)

var arithOps = map[gojq.Operator]string{
	gojq.OpAdd: fnAdd, gojq.OpSub: fnSub, gojq.OpMul: fnMul, gojq.OpDiv: fnDiv, gojq.OpMod: fnMod,
}

// formulaOptions are the compiler options of every formula.
var formulaOptions = []gojq.CompilerOption{
	gojq.WithEnvironLoader(noEnviron),
	gojq.WithFunction(fnAdd, 2, 2, arith('+')),
	gojq.WithFunction(fnSub, 2, 2, arith('-')),
	gojq.WithFunction(fnMul, 2, 2, arith('*')),
	gojq.WithFunction(fnDiv, 2, 2, arith('/')),
	gojq.WithFunction(fnMod, 2, 2, arith('%')),
	gojq.WithFunction(fnNeg, 1, 1, func(_ any, args []any) any {
		return arith('-')(nil, []any{0, args[0]})
	}),
}

// compileFormula translates a seed formula to jq, rewrites its arithmetic
// to null-propagating functions and compiles it.
func compileFormula(src string) (*gojq.Code, error) {
	if strings.TrimSpace(src) == "" {
		return nil, errors.New("formula is empty")
	}
	text, err := TranslateFormula(src)
	if err != nil {
		return nil, err
	}
	q, err := gojq.Parse(text)
	if err != nil {
		return nil, fmt.Errorf("formula %q: %w", src, err)
	}
	if err := rewriteFormula(q); err != nil {
		return nil, fmt.Errorf("formula %q: %w", src, err)
	}
	code, err := gojq.Compile(q, formulaOptions...)
	if err != nil {
		return nil, fmt.Errorf("formula %q: %w", src, err)
	}
	return code, nil
}

// TranslateFormula translates a seed formula such as
// "cost_per_month / (requests_per_month || 1)" to jq text:
// identifiers become .properties["<id>"], || becomes jq's alternative
// operator // and && becomes and. It rejects any character a formula
// cannot hold. The text still has jq's own arithmetic; compiled formulas
// replace it with the semantics described in the package documentation.
func TranslateFormula(src string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			b.WriteByte(c)
			i++
		case isIdentStart(c):
			j := i + 1
			for j < len(src) && isIdentPart(src[j]) {
				j++
			}
			switch word := src[i:j]; word {
			case "and", "or", "null", "true", "false":
				b.WriteString(word)
			case "not":
				return "", fmt.Errorf("formula %q: use == false rather than not (offset %d)", src, i)
			default:
				b.WriteString(`.properties["` + word + `"]`)
			}
			i = j
		case isDigit(c) || (c == '.' && i+1 < len(src) && isDigit(src[i+1])):
			j := scanNumber(src, i)
			if c == '.' {
				b.WriteByte('0')
			}
			b.WriteString(src[i:j])
			i = j
		default:
			op, n := formulaOperator(src[i:])
			if n == 0 {
				return "", fmt.Errorf("formula %q: unexpected %q at offset %d", src, rune(c), i)
			}
			b.WriteString(op)
			i += n
		}
	}
	return b.String(), nil
}

// formulaOperator returns the jq text of the operator at the start of s
// and its length in s, or 0.
func formulaOperator(s string) (string, int) {
	for _, op := range []struct{ formula, jq string }{
		{"||", "//"}, {"&&", " and "},
		{"==", "=="}, {"!=", "!="}, {"<=", "<="}, {">=", ">="},
		{"+", "+"}, {"-", "-"}, {"*", "*"}, {"%", "%"}, {"<", "<"}, {">", ">"},
		{"(", "("}, {")", ")"},
	} {
		if strings.HasPrefix(s, op.formula) {
			return op.jq, len(op.formula)
		}
	}
	// A lone slash only: "//" and "/=" mean other things in jq.
	if strings.HasPrefix(s, "/") && !strings.HasPrefix(s, "//") && !strings.HasPrefix(s, "/=") {
		return "/", 1
	}
	return "", 0
}

func isIdentStart(c byte) bool { return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
func isIdentPart(c byte) bool  { return isIdentStart(c) || isDigit(c) }
func isDigit(c byte) bool      { return '0' <= c && c <= '9' }

// scanNumber returns the end of the number starting at i: digits, a
// fraction and an exponent.
func scanNumber(s string, i int) int {
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		j := i + 1
		if j < len(s) && (s[j] == '+' || s[j] == '-') {
			j++
		}
		if j < len(s) && isDigit(s[j]) {
			for j < len(s) && isDigit(s[j]) {
				j++
			}
			i = j
		}
	}
	return i
}

// rewriteFormula replaces arithmetic operators with the formula functions
// and a || b with (a | select(truthy)) // b, and rejects anything a
// translated formula should not contain.
func rewriteFormula(q *gojq.Query) error {
	if q.Term != nil {
		return rewriteTerm(q.Term)
	}
	if q.Left == nil || q.Right == nil || len(q.FuncDefs) > 0 || len(q.Patterns) > 0 {
		return errors.New("unsupported expression")
	}
	if err := rewriteFormula(q.Left); err != nil {
		return err
	}
	if err := rewriteFormula(q.Right); err != nil {
		return err
	}
	if fn, ok := arithOps[q.Op]; ok {
		*q = gojq.Query{Term: callTerm(fn, q.Left, q.Right)}
		return nil
	}
	switch q.Op {
	case gojq.OpAlt:
		truthy, err := gojq.Parse(`select(. != null and . != false and . != 0)`)
		if err != nil {
			return err
		}
		q.Left = &gojq.Query{Op: gojq.OpPipe, Left: q.Left, Right: truthy}
		return nil
	case gojq.OpEq, gojq.OpNe, gojq.OpLt, gojq.OpLe, gojq.OpGt, gojq.OpGe, gojq.OpAnd, gojq.OpOr:
		return nil
	}
	return fmt.Errorf("operator %s is not allowed in a formula", q.Op)
}

func rewriteTerm(t *gojq.Term) error {
	switch t.Type {
	case gojq.TermTypeIndex, gojq.TermTypeNumber, gojq.TermTypeNull, gojq.TermTypeTrue, gojq.TermTypeFalse:
		return nil // indexes are only the ones TranslateFormula wrote
	case gojq.TermTypeQuery:
		if len(t.SuffixList) > 0 {
			return errors.New("unsupported expression")
		}
		return rewriteFormula(t.Query)
	case gojq.TermTypeUnary:
		if len(t.SuffixList) > 0 {
			return errors.New("unsupported expression")
		}
		inner := &gojq.Query{Term: t.Unary.Term}
		if err := rewriteTerm(t.Unary.Term); err != nil {
			return err
		}
		if t.Unary.Op == gojq.OpSub {
			*t = *callTerm(fnNeg, inner)
			return nil
		}
		*t = gojq.Term{Type: gojq.TermTypeQuery, Query: inner}
		return nil
	}
	return errors.New("unsupported expression")
}

func callTerm(fn string, args ...*gojq.Query) *gojq.Term {
	return &gojq.Term{Type: gojq.TermTypeFunc, Func: &gojq.Func{Name: fn, Args: args}}
}

// arith returns a formula function for op: null operands give null,
// non-numbers and zero divisors are errors.
func arith(op byte) func(any, []any) any {
	return func(_ any, args []any) any {
		l, r := args[0], args[1]
		if l == nil || r == nil {
			return nil
		}
		a, okA := gojq.ToFloat64(l)
		b, okB := gojq.ToFloat64(r)
		if !okA || !okB {
			return fmt.Errorf("cannot compute %s %c %s: operands must be numbers", gojq.Preview(l), op, gojq.Preview(r))
		}
		var v float64
		switch op {
		case '+':
			v = a + b
		case '-':
			v = a - b
		case '*':
			v = a * b
		case '/':
			if b == 0 {
				return fmt.Errorf("division by zero (%s / %s)", gojq.Preview(l), gojq.Preview(r))
			}
			v = a / b
		case '%':
			if b == 0 {
				return fmt.Errorf("modulo by zero (%s %% %s)", gojq.Preview(l), gojq.Preview(r))
			}
			v = math.Mod(a, b)
		}
		if math.IsInf(v, 0) || math.IsNaN(v) {
			return errors.New("result " + strconv.FormatFloat(v, 'g', -1, 64) + " is not a finite number")
		}
		return v
	}
}
