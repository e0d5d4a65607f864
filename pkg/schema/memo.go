package schema

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

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
	fields  cue.Value            // #F: one definition per field
	byField map[string]cue.Value // field key → its definition
	shapes  map[string]bool      // shape signature → valid
	values  map[string]bool      // field key + value key → valid
	typed   map[string]bool      // fields whose constraint depends only on the JSON type
}

// fieldsSource returns #F, the constraint of every field of an entity of b,
// by the keys memo uses: "p:<property>", "r:<relation>" (a target
// identifier), "identifier", "title", "icon", "team", "blueprint".
func fieldsSource(b *catalog.Blueprint) (string, map[string]bool) {
	var s strings.Builder
	typed := map[string]bool{}
	s.WriteString("#F: {\n\t\"identifier\": #EntityID\n\t\"title\": #Title & strings.MinRunes(1)\n\t\"icon\": string\n\t\"team\": string\n\t\"blueprint\": #BlueprintID\n")
	s.WriteString("\t\"r\": #EntityID\n")
	for _, name := range sortedKeys(b.Schema.Properties) {
		p := b.Schema.Properties[name]
		if p.Calculation != nil {
			continue
		}
		fmt.Fprintf(&s, "\t%s: %s\n", strconv.Quote("p:"+name), propertyType(p))
		typed["p:"+name] = typeOnly(p)
	}
	s.WriteString("}\n")
	return s.String(), typed
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

// valueKey identifies a value for the memo.
func valueKey(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return "s" + x, true
	case bool:
		return "b" + strconv.FormatBool(x), true
	case int64:
		return "n" + strconv.FormatInt(x, 10), true
	case float64:
		return "n" + strconv.FormatFloat(x, 'g', -1, 64), true
	}
	b, err := json.Marshal(v)
	return "j" + string(b), err == nil
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
	check := func(field string, x any) bool {
		var key string
		if m.typed[field] {
			key = field + "\x00t" + jsonKind(x)
		} else {
			vk, ok := valueKey(x)
			if !ok {
				return false
			}
			key = field + "\x00" + vk
		}
		if ok, seen := m.values[key]; seen {
			return ok
		}
		def, ok := m.byField[field]
		if !ok {
			d := m.fields.LookupPath(cue.MakePath(cue.Str(field)))
			if !d.Exists() {
				return false
			}
			m.byField[field], def = d, d
		}
		u := def.Unify(w.ctx.Encode(x))
		switch x.(type) {
		case []any, map[string]any:
			ok = u.Validate(cue.Concrete(true)) == nil
		default: // a scalar: the unified value is the verdict
			ok = u.Err() == nil && u.IsConcrete()
		}
		m.values[key] = ok
		return ok
	}
	for _, k := range []string{"identifier", "title", "icon", "blueprint"} {
		if x, ok := v[k]; ok && !check(k, x) {
			return false
		}
	}
	if teams, ok := v["team"].([]any); ok {
		for _, t := range teams {
			if !check("team", t) {
				return false
			}
		}
	}
	if props, ok := v["properties"].(map[string]any); ok {
		for k, x := range props {
			if !check("p:"+k, x) {
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
				if !check("r", t) {
					return false
				}
			}
		}
	}
	return true
}

// learn records a value the full check found valid: its shape and fields.
func (w *worker) learn(m *memo, v map[string]any) {
	m.shapes[shapeKey(v)] = true
}
