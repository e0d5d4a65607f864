package schema

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"cuelang.org/go/cue"

	"github.com/berth-dev/berth/pkg/catalog"
)

// A blueprint's entity definition is a closed struct whose fields carry
// independent constraints, so an entity satisfies it exactly when its shape
// does (which keys are present, single or list relations) and each field's
// value satisfies that field's constraint. memo caches CUE's verdicts on
// both, so a catalog of 100k entities costs CUE one small check per distinct
// shape and per distinct field value, not one full unification per entity.
// Every verdict still comes from CUE; anything not known valid is checked
// by a full unification, which also phrases the errors.
type memo struct {
	fields fieldDefs // #F: one definition per field
	lists  fieldDefs // #L: [...D] for each definition D of #F
	// narrow is #NL: for a field whose definition is a disjunction that
	// most values satisfy by one branch, [...N] with N that branch alone.
	// N admits a subset of what the definition does, so a value N accepts
	// is valid; one it rejects is judged by the definition itself.
	narrow fieldDefs
	shapes map[string]bool // shape signature → valid
	class  map[string]fieldClass
	// verdicts are the worker's, shared by the memos of all its blueprints.
	verdicts *verdicts
}

// fieldDefs is a CUE struct of definitions by field key, each looked up
// once.
type fieldDefs struct {
	v    cue.Value
	seen map[string]cue.Value
}

func newFieldDefs(v cue.Value) fieldDefs { return fieldDefs{v: v, seen: map[string]cue.Value{}} }

// lookup returns field's definition, and whether the struct has one.
func (d fieldDefs) lookup(field string) (cue.Value, bool) {
	def, ok := d.seen[field]
	if !ok {
		def = d.v.LookupPath(cue.MakePath(cue.Str(field)))
		d.seen[field] = def
	}
	return def, def.Exists()
}

// verdicts holds CUE's verdicts on field values for every blueprint one
// worker compiles. A constraint means the same in each blueprint's #F: a
// property's is self-contained, and the fixed fields' name the common
// definitions. So a relation's target judged as another blueprint's
// identifier, or a date judged for one blueprint's property, is not judged
// again for the next: at 100k entities on two workers, 15% fewer #EntityID
// checks.
type verdicts struct {
	// classes numbers the distinct constraints, for verdictKey.
	classes map[string]int32
	values  map[verdictKey]bool // see fieldKey
}

func newVerdicts() *verdicts {
	return &verdicts{classes: map[string]int32{}, values: map[verdictKey]bool{}}
}

// verdictKey is what a verdict is memoised under: a field's constraint (by
// number) and what of the value the verdict depends on. It is a struct
// rather than a string so that looking up a value allocates nothing.
type verdictKey struct {
	class int32
	tag   byte   // 's' string, 'i' integer, 'f' float, 'b' bool, 'j' JSON, 't' JSON type, 'l' length in runes
	s     string // the string, the JSON or the JSON type
	n     uint64 // the number, the bool or the length
}

// fieldClass says what CUE's verdict on a field's value depends on.
type fieldClass struct {
	// constraint is the field's CUE constraint: fields with the same one
	// (an entity's identifier and its relations' targets) share verdicts.
	constraint string
	kind       classKind
}

// classKind is what a verdict depends on besides the constraint.
type classKind byte

const (
	byValue  classKind = 'v' // the value itself
	byType   classKind = 't' // only the value's JSON type
	byLength classKind = 'l' // the JSON type and, for a string, its length in runes
)

// fixedFields are the fields of every entity, with their constraints. The
// title's is by length because #Title is a string of 1..100 runes
// (TestMemo_TitleIsLengthOnly holds the schema to it).
var fixedFields = []struct {
	field string
	class fieldClass
}{
	{"identifier", fieldClass{"#EntityID", byValue}},
	{"title", fieldClass{"#Title", byLength}},
	{"icon", fieldClass{"string", byType}},
	{"team", fieldClass{"string", byType}},
	{"blueprint", fieldClass{"#BlueprintID", byValue}},
	{"r", fieldClass{"#EntityID", byValue}},
}

// fieldsSource returns #F, the constraint of every field of an entity of b,
// by the keys memo uses: "p:<property>", "r" (a relation's target
// identifier), "identifier", "title", "icon", "team", "blueprint"; and #L,
// each of those as a list type.
func fieldsSource(b *catalog.Blueprint) (string, map[string]fieldClass) {
	var s strings.Builder
	class := map[string]fieldClass{}
	s.WriteString("#F: {\n")
	for _, f := range fixedFields {
		fmt.Fprintf(&s, "\t%s: %s\n", strconv.Quote(f.field), f.class.constraint)
		class[f.field] = f.class
	}
	for _, name := range sortedKeys(b.Schema.Properties) {
		p := b.Schema.Properties[name]
		if p.Calculation != nil {
			continue
		}
		c := fieldClass{constraint: propertyType(p), kind: byValue}
		switch {
		case typeOnly(p):
			c.kind = byType
		case lengthOnly(p):
			c.kind = byLength
		}
		fmt.Fprintf(&s, "\t%s: %s\n", strconv.Quote("p:"+name), c.constraint)
		class["p:"+name] = c
	}
	s.WriteString("}\n#L: {for k, d in #F {(k): [...d]}}\n#NL: {\n")
	for _, name := range sortedKeys(b.Schema.Properties) {
		// Scalars only: one plain date in a batch of lists fails the batch.
		if c, ok := class["p:"+name]; ok && c.kind == byValue && b.Schema.Properties[name].Type == "string" &&
			strings.Contains(c.constraint, dateTimeConstraint) {
			// Most date-times are times, and CUE judges time.Time alone in a
			// third of the time it takes for the disjunction.
			fmt.Fprintf(&s, "\t%s: [...%s]\n", strconv.Quote("p:"+name),
				strings.ReplaceAll(c.constraint, dateTimeConstraint, "time.Time"))
		}
	}
	s.WriteString("}\n")
	return s.String(), class
}

// lengthOnly reports whether a property's constraint depends on nothing but
// its value's JSON type and a string's length.
func lengthOnly(p catalog.Property) bool {
	return p.Type == "string" && formatConstraint(p.Format) == "" && p.Pattern == "" && len(p.Enum) == 0
}

// typeOnly reports whether a property's constraint depends on nothing but
// its value's JSON type.
func typeOnly(p catalog.Property) bool {
	if len(p.Enum) > 0 || p.Pattern != "" || p.MinLength != nil || p.MaxLength != nil || p.Minimum != nil ||
		p.Maximum != nil || p.ExclusiveMinimum != nil || p.ExclusiveMaximum != nil || p.MinItems != nil ||
		p.MaxItems != nil || p.UniqueItems || p.Items != nil {
		return false
	}
	switch p.Type {
	case "string":
		return formatConstraint(p.Format) == ""
	case "number", "boolean":
		return true
	case "object":
		return p.Format != "labeled-url"
	}
	return false
}

// shapeKey is the signature of what the definition checks besides field
// values: which keys are present and whether each relation is a list.
func shapeKey(v map[string]any) string {
	var b strings.Builder
	for _, k := range []string{"identifier", "title", "icon", "team", "blueprint"} {
		if _, ok := v[k]; ok {
			b.WriteString(k)
			b.WriteByte(',')
		}
	}
	b.WriteByte('|')
	if props, ok := v["properties"].(map[string]any); ok {
		keys := make([]string, 0, len(props))
		for k := range props {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b.WriteString(strings.Join(keys, ","))
	} else if _, present := v["properties"]; present {
		b.WriteString("!props")
	}
	b.WriteByte('|')
	if rels, ok := v["relations"].(map[string]any); ok {
		keys := make([]string, 0, len(rels))
		for k, x := range rels {
			if _, list := x.([]any); list {
				k += "[]"
			}
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b.WriteString(strings.Join(keys, ","))
	} else if _, present := v["relations"]; present {
		b.WriteString("!rels")
	}
	return b.String()
}

func jsonKind(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case bool:
		return "bool"
	case int64, float64:
		return "number"
	case []any:
		return "list"
	case map[string]any:
		return "object"
	}
	return "null"
}

// fieldKey is the memo key of value x of field: its class's constraint and
// what the verdict depends on. ok is false for a value that cannot be
// keyed (it is then checked in full).
func (m *memo) fieldKey(field string, x any) (k verdictKey, ok bool) {
	c, known := m.class[field]
	if !known {
		// Not in #F: judged invalid. The NUL keeps the field's name apart
		// from every constraint, which the verdicts of all blueprints share.
		c = fieldClass{constraint: "\x00" + field, kind: byValue}
	}
	classes := m.verdicts.classes
	id, numbered := classes[c.constraint]
	if !numbered {
		id = int32(len(classes))
		classes[c.constraint] = id
	}
	k.class = id
	switch c.kind {
	case byType:
		k.tag, k.s = 't', jsonKind(x)
		return k, true
	case byLength:
		if s, ok := x.(string); ok {
			k.tag, k.n = 'l', uint64(utf8.RuneCountInString(s))
		} else {
			k.tag, k.s = 't', jsonKind(x)
		}
		return k, true
	}
	switch x := x.(type) {
	case string:
		k.tag, k.s = 's', x
	case bool:
		k.tag = 'b'
		if x {
			k.n = 1
		}
	case int64:
		k.tag, k.n = 'i', uint64(x)
	case float64:
		k.tag, k.n = 'f', math.Float64bits(x)
	default:
		b, err := json.Marshal(x)
		if err != nil {
			return k, false
		}
		k.tag, k.s = 'j', string(b)
	}
	return k, true
}

// eachField calls fn with every field value of entity value v that the
// memo judges, under the field's memo name, until fn returns false; it
// reports whether fn always returned true.
func eachField(v map[string]any, fn func(field string, x any) bool) bool {
	for _, k := range []string{"identifier", "title", "icon", "blueprint"} {
		if x, ok := v[k]; ok && !fn(k, x) {
			return false
		}
	}
	if teams, ok := v["team"].([]any); ok {
		for _, t := range teams {
			if !fn("team", t) {
				return false
			}
		}
	}
	if props, ok := v["properties"].(map[string]any); ok {
		for k, x := range props {
			if !fn("p:"+k, x) {
				return false
			}
		}
	}
	if rels, ok := v["relations"].(map[string]any); ok {
		for _, x := range rels {
			targets, list := x.([]any)
			if !list {
				targets = []any{x}
			}
			for _, t := range targets {
				if !fn("r", t) {
					return false
				}
			}
		}
	}
	return true
}

// known reports whether CUE has judged entity value v valid: its shape and
// every field. It asks CUE about what it has not seen, with small checks.
func (w *worker) known(m *memo, v map[string]any) bool {
	for k := range v {
		switch k {
		case "identifier", "title", "icon", "team", "blueprint", "properties", "relations":
		default:
			return false // other keys get the full check
		}
	}
	if !m.shapes[shapeKey(v)] {
		return false
	}
	return eachField(v, func(field string, x any) bool {
		key, ok := m.fieldKey(field, x)
		if !ok {
			return false
		}
		if ok, seen := m.verdicts.values[key]; seen {
			return ok
		}
		ok = w.judge(m, field, x)
		m.verdicts.values[key] = ok
		return ok
	})
}

// judge asks CUE whether value x satisfies field's definition.
func (w *worker) judge(m *memo, field string, x any) bool {
	def, ok := m.fields.lookup(field)
	if !ok {
		return false
	}
	u := def.Unify(w.ctx.Encode(x))
	switch x.(type) {
	case []any, map[string]any:
		return u.Validate(cue.Concrete(true)) == nil
	default: // a scalar: the unified value is the verdict
		return u.Err() == nil && u.IsConcrete()
	}
}

// maxBatch bounds how many values one unification judges.
const maxBatch = 1024

// primeWindow is how many entities prime judges the values of at once.
const primeWindow = 4096

// prime judges the field values of entity values vs that the memo has not
// seen, a batch per field: CUE unifies the field's definition as a list
// type with the list of those values, once, rather than once per value;
// most values of a catalog are seen once (identifiers, titles, URLs), and
// the per-call cost of a unification dwarfs an element's. A batch that fails
// is halved until the invalid values are judged alone, as known would.
// Fields judged by type or length are left to known: they have few keys.
func (w *worker) prime(ms []*memo, vs []map[string]any) {
	type batch struct {
		keys []verdictKey
		vals []any
	}
	pending := map[*memo]map[string]*batch{}
	queued := map[verdictKey]bool{}
	for i, v := range vs {
		m := ms[i]
		if m == nil {
			continue
		}
		byField := pending[m]
		if byField == nil {
			byField = map[string]*batch{}
			pending[m] = byField
		}
		eachField(v, func(field string, x any) bool {
			if c, ok := m.class[field]; ok && c.kind != byValue {
				return true // few keys: known judges them
			}
			key, ok := m.fieldKey(field, x)
			if !ok {
				return true
			}
			if _, seen := m.verdicts.values[key]; seen || queued[key] {
				return true
			}
			queued[key] = true
			b := byField[field]
			if b == nil {
				b = &batch{}
				byField[field] = b
			}
			b.keys = append(b.keys, key)
			b.vals = append(b.vals, x)
			return true
		})
	}
	for m, byField := range pending {
		for field, b := range byField {
			if narrow, ok := m.narrow.lookup(field); ok {
				b.keys, b.vals = w.judgeNarrow(m, narrow, b.keys, b.vals)
			}
			for i := 0; i < len(b.vals); i += maxBatch {
				j := min(i+maxBatch, len(b.vals))
				w.judgeBatch(m, field, b.keys[i:j], b.vals[i:j])
			}
		}
	}
}

// judgeBatch records CUE's verdict on each of vals, by keys.
func (w *worker) judgeBatch(m *memo, field string, keys []verdictKey, vals []any) {
	if len(vals) == 1 {
		m.verdicts.values[keys[0]] = w.judge(m, field, vals[0])
		return
	}
	list, ok := m.lists.lookup(field)
	if ok && w.allValid(list, vals) {
		for _, k := range keys {
			m.verdicts.values[k] = true
		}
		return
	}
	h := len(vals) / 2
	w.judgeBatch(m, field, keys[:h], vals[:h])
	w.judgeBatch(m, field, keys[h:], vals[h:])
}

// allValid reports whether every one of vals satisfies list, a list
// definition [...D]: one unification for the lot.
func (w *worker) allValid(list cue.Value, vals []any) bool {
	return list.Unify(w.ctx.Encode(vals)).Validate(cue.Concrete(true)) == nil
}

// judgeNarrow records as valid the values a narrow list definition (see
// memo.narrow) accepts, a batch at a time, and returns the keys and values
// of the batches it rejects, for the field's own definition to judge. A
// string of a date's length (YYYY-MM-DD) is not tried: time.Time needs at
// least 20 bytes.
func (w *worker) judgeNarrow(m *memo, narrow cue.Value, keys []verdictKey, vals []any) ([]verdictKey, []any) {
	var tryKeys, restKeys []verdictKey
	var try, rest []any
	for i, x := range vals {
		if s, ok := x.(string); ok && len(s) == len("2006-01-02") {
			restKeys, rest = append(restKeys, keys[i]), append(rest, x)
			continue
		}
		tryKeys, try = append(tryKeys, keys[i]), append(try, x)
	}
	for i := 0; i < len(try); i += maxBatch {
		j := min(i+maxBatch, len(try))
		if !w.allValid(narrow, try[i:j]) {
			restKeys, rest = append(restKeys, tryKeys[i:j]...), append(rest, try[i:j]...)
			continue
		}
		for _, k := range tryKeys[i:j] {
			m.verdicts.values[k] = true
		}
	}
	return restKeys, rest
}

// forgetValues drops the verdicts on field values once a validation is
// done, keeping those on shapes: a catalog's values are mostly seen once,
// and holding a verdict on each (tens of MB at 100k entities) through what
// follows a validation, an index write say, cost more in garbage collection
// than judging the few values of a later commit again.
func (w *worker) forgetValues() {
	if len(w.verdicts.values) > 0 {
		w.verdicts.values = map[verdictKey]bool{}
	}
}

// learn records a value the full check found valid: its shape and fields.
func (w *worker) learn(m *memo, v map[string]any) {
	m.shapes[shapeKey(v)] = true
}
