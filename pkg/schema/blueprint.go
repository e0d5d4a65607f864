package schema

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"cuelang.org/go/cue"

	"github.com/berth-dev/berth/pkg/catalog"
)

// compiledBlueprint is a blueprint's entity definition in one worker.
type compiledBlueprint struct {
	def  cue.Value
	err  error // the blueprint could not be compiled (a bad pattern)
	memo *memo
}

// blueprintSource returns the CUE definition of a blueprint's entities:
// #Entity narrowed to the blueprint's properties and relations, closed.
func blueprintSource(b *catalog.Blueprint) string {
	var s strings.Builder
	s.WriteString("#E: #EntityBase & {\n\tproperties: close({\n")
	required := map[string]bool{}
	for _, r := range b.Schema.Required {
		required[r] = true
	}
	for _, name := range sortedKeys(b.Schema.Properties) {
		p := b.Schema.Properties[name]
		if p.Calculation != nil {
			continue // computed: an entity may not set it
		}
		if required[name] {
			fmt.Fprintf(&s, "\t\t%s!: %s\n", strconv.Quote(name), propertyType(p))
		} else {
			fmt.Fprintf(&s, "\t\t%s?: %s\n", strconv.Quote(name), propertyType(p))
		}
	}
	s.WriteString("\t})\n\trelations: close({\n")
	for _, name := range sortedKeys(b.Relations) {
		r := b.Relations[name]
		switch {
		case r.Many:
			fmt.Fprintf(&s, "\t\t%s?: [...#EntityID]\n", strconv.Quote(name))
		case r.Required:
			fmt.Fprintf(&s, "\t\t%s!: #EntityID\n", strconv.Quote(name))
		default:
			fmt.Fprintf(&s, "\t\t%s?: #EntityID\n", strconv.Quote(name))
		}
	}
	s.WriteString("\t})\n}\n")
	return s.String()
}

// propertyType is the CUE constraint of a property's values.
func propertyType(p catalog.Property) string {
	var parts []string
	if len(p.Enum) > 0 {
		var alts []string
		for _, e := range p.Enum {
			b, _ := json.Marshal(e)
			alts = append(alts, string(b))
		}
		parts = append(parts, "("+strings.Join(alts, " | ")+")")
	}
	switch p.Type {
	case "string":
		parts = append(parts, "string")
		if f := formatConstraint(p.Format); f != "" {
			parts = append(parts, f)
		}
		if p.Pattern != "" {
			parts = append(parts, "=~"+strconv.Quote(p.Pattern))
		}
		if p.MinLength != nil {
			parts = append(parts, fmt.Sprintf("strings.MinRunes(%d)", *p.MinLength))
		}
		if p.MaxLength != nil {
			parts = append(parts, fmt.Sprintf("strings.MaxRunes(%d)", *p.MaxLength))
		}
	case "number":
		parts = append(parts, "number")
		for _, b := range []struct {
			op    string
			bound *float64
		}{{">=", p.Minimum}, {"<=", p.Maximum}, {">", p.ExclusiveMinimum}, {"<", p.ExclusiveMaximum}} {
			if b.bound != nil {
				parts = append(parts, b.op+strconv.FormatFloat(*b.bound, 'g', -1, 64))
			}
		}
	case "boolean":
		parts = append(parts, "bool")
	case "object":
		if p.Format == "labeled-url" {
			parts = append(parts, `{url!: string, displayText?: string}`)
		} else {
			parts = append(parts, "{...}")
		}
	case "array":
		item := "_"
		if p.Items != nil {
			item = propertyType(*p.Items)
		}
		parts = append(parts, "[...("+item+")]")
		if p.MinItems != nil {
			parts = append(parts, fmt.Sprintf("list.MinItems(%d)", *p.MinItems))
		}
		if p.MaxItems != nil {
			parts = append(parts, fmt.Sprintf("list.MaxItems(%d)", *p.MaxItems))
		}
		if p.UniqueItems {
			parts = append(parts, "list.UniqueItems()")
		}
	default:
		parts = append(parts, "_")
	}
	return strings.Join(parts, " & ")
}

// Patterns used for string formats CUE has no builtin for.
const (
	urlPattern = `^[A-Za-z][A-Za-z0-9+.-]*://[^\s]+$`
)

// dateTimeConstraint is a date-time's: an RFC 3339 time or a date.
const dateTimeConstraint = `(time.Time | time.Format("2006-01-02"))`

func formatConstraint(format string) string {
	switch format {
	case "date-time", "timer":
		return dateTimeConstraint
	case "url":
		return "=~" + strconv.Quote(urlPattern)
	case "email", "idn-email", "user": // a user property holds the user's e-mail
		return "=~" + strconv.Quote(catalog.EmailPattern)
	case "ipv4":
		return "net.IPv4"
	case "ipv6":
		return "net.IPv6"
	}
	return ""
}

// withImports prefixes src with the builtin packages it uses: CUE rejects
// unused imports.
func withImports(src string) string {
	var b strings.Builder
	for _, pkg := range []string{"list", "net", "strings", "time"} {
		if strings.Contains(src, pkg+".") {
			fmt.Fprintf(&b, "import %q\n", pkg)
		}
	}
	b.WriteString(src)
	return b.String()
}

// SchemaHash returns a hash of what entities of blueprint bp are validated
// against: its compiled definition and the policy files. The reconciler
// keys its validation cache by (blob hash, schema hash). It returns "" for
// an unknown blueprint.
func (v *Validator) SchemaHash(cat *catalog.Catalog, bp string) string {
	b := cat.Blueprints[bp]
	if b == nil {
		return ""
	}
	h := sha256.New()
	h.Write([]byte(blueprintSource(b)))
	for _, f := range cat.Policies() {
		h.Write([]byte(f.Path))
		h.Write(f.Source)
	}
	return hex.EncodeToString(h.Sum(nil)[:12])
}

// blueprint returns b's compiled definition in worker w.
func (w *worker) blueprint(b *catalog.Blueprint) compiledBlueprint {
	if c, ok := w.byPtr[b]; ok {
		return c
	}
	src := blueprintSource(b)
	if c, ok := w.bps[src]; ok {
		w.byPtr[b] = c
		return c
	}
	// The definition must be one (#E): closedness is a property of
	// definitions, and a plain expression would let unknown fields through.
	v := w.root.Context().CompileString(withImports(src), cue.Scope(w.root), cue.Filename("blueprint "+b.Identifier))
	def := v.LookupPath(cue.ParsePath("#E"))
	if v.Err() != nil {
		def = v
	}
	c := compiledBlueprint{def: def, err: def.Err()}
	if c.err == nil {
		fsrc, class := fieldsSource(b)
		fv := w.root.Context().CompileString(withImports(fsrc), cue.Scope(w.root), cue.Filename("fields "+b.Identifier))
		f, l, n := fv.LookupPath(cue.ParsePath("#F")), fv.LookupPath(cue.ParsePath("#L")), fv.LookupPath(cue.ParsePath("#NL"))
		if fv.Err() == nil && f.Err() == nil && l.Err() == nil && n.Err() == nil {
			c.memo = &memo{fields: newFieldDefs(f), lists: newFieldDefs(l), narrow: newFieldDefs(n),
				shapes: map[string]bool{}, class: class, verdicts: w.verdicts}
		}
	}
	w.bps[src] = c
	w.byPtr[b] = c
	return c
}

// explainer phrases entity issues from the blueprint's point of view.
type explainer struct {
	b *catalog.Blueprint
	e *catalog.Entity
}

func (x explainer) explain(is cueIssue) string {
	p := is.path
	if len(p) == 0 {
		return ""
	}
	switch p[0] {
	case "properties":
		if len(p) < 2 {
			return ""
		}
		name := p[1]
		def, known := x.b.Schema.Properties[name]
		switch {
		case strings.Contains(is.msg, "required but not present"):
			return fmt.Sprintf("missing required property %q", name)
		case !known || def.Calculation != nil:
			if x.b.HasProperty(name) || def.Calculation != nil {
				return fmt.Sprintf("property %q is computed by the blueprint and cannot be set", name)
			}
			if hint := catalog.Suggest(name, storedProperties(x.b)); hint != "" {
				return fmt.Sprintf("unknown property %q%s", name, hint)
			}
			return fmt.Sprintf("unknown property %q (blueprint %s has: %s)", name, x.b.Identifier, strings.Join(storedProperties(x.b), ", "))
		}
		if reason := explainValue(def, x.e.Properties[name], p[2:]); reason != "" {
			return fmt.Sprintf("property %s: %s", pathString(p[1:]), reason)
		}
		return "property " + describeIssue(cueIssue{path: p[1:], msg: is.msg})
	case "relations":
		if len(p) < 2 {
			return ""
		}
		name := p[1]
		def, known := x.b.Relations[name]
		switch {
		case strings.Contains(is.msg, "required but not present"):
			return fmt.Sprintf("missing required relation %q (to a %s)", name, def.Target)
		case !known:
			return fmt.Sprintf("unknown relation %q (blueprint %s has: %s)", name, x.b.Identifier, strings.Join(sortedKeys(x.b.Relations), ", "))
		case def.Many:
			if _, isList := x.e.Doc.Value["relations"].(map[string]any)[name].([]any); !isList {
				return fmt.Sprintf("relation %s is a many relation: its value must be a list of identifiers", name)
			}
		default:
			if _, isList := x.e.Doc.Value["relations"].(map[string]any)[name].([]any); isList {
				return fmt.Sprintf("relation %s must be a single identifier, not a list (it is not a many relation)", name)
			}
		}
		return "relation " + describeIssue(cueIssue{path: p[1:], msg: is.msg})
	}
	return ""
}

func storedProperties(b *catalog.Blueprint) []string {
	var out []string
	for _, k := range sortedKeys(b.Schema.Properties) {
		if b.Schema.Properties[k].Calculation == nil {
			out = append(out, k)
		}
	}
	return out
}

// explainValue says what is wrong with value v of a property defined by p,
// or "" when it cannot tell. sub is the path inside v (array items).
func explainValue(p catalog.Property, v any, sub []string) string {
	if len(sub) > 0 && p.Type == "array" && p.Items != nil {
		if l, ok := v.([]any); ok {
			if i, err := strconv.Atoi(sub[0]); err == nil && i < len(l) {
				return explainValue(*p.Items, l[i], sub[1:])
			}
		}
	}
	if want := jsonType(p.Type); want != "" && jsonType(valueType(v)) != want {
		return fmt.Sprintf("must be %s %s, not %s", article(p.Type), p.Type, describe(v))
	}
	if len(p.Enum) > 0 && !slices.ContainsFunc(p.Enum, func(e any) bool { return equalJSON(e, v) }) {
		var alts []string
		for _, e := range p.Enum {
			b, _ := json.Marshal(e)
			alts = append(alts, string(b))
		}
		return fmt.Sprintf("%s is not one of %s", describeShort(v), strings.Join(alts, ", "))
	}
	if reason := explainBounds(p, v); reason != "" {
		return reason
	}
	if s, ok := v.(string); ok {
		switch p.Format {
		case "date-time", "timer":
			return fmt.Sprintf("%q is not a date-time (want RFC 3339, e.g. 2024-05-01T12:00:00Z, or YYYY-MM-DD)", s)
		case "url":
			if !regexp.MustCompile(urlPattern).MatchString(s) {
				return fmt.Sprintf("%q is not a URL (want scheme://...)", s)
			}
		case "email", "idn-email":
			if !catalog.IsEmail(s) {
				return fmt.Sprintf("%q is not an e-mail address", s)
			}
		case "user":
			if !catalog.IsEmail(s) {
				return fmt.Sprintf("%q is not a user's e-mail address", s)
			}
		case "ipv4":
			return fmt.Sprintf("%q is not an IPv4 address", s)
		case "ipv6":
			return fmt.Sprintf("%q is not an IPv6 address", s)
		}
		if p.Pattern != "" {
			return fmt.Sprintf("%q does not match pattern %s", s, p.Pattern)
		}
	}
	return ""
}

// explainBounds reports a number, length or item count out of its bounds.
func explainBounds(p catalog.Property, v any) string {
	num := func(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
	if f, ok := toFloat(v); ok {
		switch {
		case p.Minimum != nil && f < *p.Minimum:
			return fmt.Sprintf("%s is below the minimum of %s", num(f), num(*p.Minimum))
		case p.Maximum != nil && f > *p.Maximum:
			return fmt.Sprintf("%s is above the maximum of %s", num(f), num(*p.Maximum))
		case p.ExclusiveMinimum != nil && f <= *p.ExclusiveMinimum:
			return fmt.Sprintf("%s must be greater than %s", num(f), num(*p.ExclusiveMinimum))
		case p.ExclusiveMaximum != nil && f >= *p.ExclusiveMaximum:
			return fmt.Sprintf("%s must be less than %s", num(f), num(*p.ExclusiveMaximum))
		}
	}
	if s, ok := v.(string); ok {
		n := utf8.RuneCountInString(s)
		switch {
		case p.MinLength != nil && n < *p.MinLength:
			return fmt.Sprintf("%q is %d characters, fewer than the minimum of %d", s, n, *p.MinLength)
		case p.MaxLength != nil && n > *p.MaxLength:
			return fmt.Sprintf("%s is %d characters, more than the maximum of %d", describeShort(s), n, *p.MaxLength)
		}
	}
	if l, ok := v.([]any); ok {
		switch {
		case p.MinItems != nil && len(l) < *p.MinItems:
			return fmt.Sprintf("has %d items, fewer than the minimum of %d", len(l), *p.MinItems)
		case p.MaxItems != nil && len(l) > *p.MaxItems:
			return fmt.Sprintf("has %d items, more than the maximum of %d", len(l), *p.MaxItems)
		case p.UniqueItems && hasDuplicates(l):
			return "items must be unique"
		}
	}
	return ""
}

func hasDuplicates(l []any) bool {
	seen := map[string]bool{}
	for _, x := range l {
		b, _ := json.Marshal(x)
		if seen[string(b)] {
			return true
		}
		seen[string(b)] = true
	}
	return false
}

func jsonType(t string) string {
	switch t {
	case "string", "number", "boolean", "object", "array":
		return t
	}
	return ""
}

func valueType(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case int64, float64, int:
		return "number"
	case bool:
		return "boolean"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	}
	return "null"
}

func article(t string) string {
	if t == "object" || t == "array" {
		return "an"
	}
	return "a"
}

func describe(v any) string {
	if v == nil {
		return "null"
	}
	return valueType(v) + " " + describeShort(v)
}

func describeShort(v any) string {
	b, _ := json.Marshal(v)
	s := string(b)
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	return s
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	if string(x) == string(y) {
		return true
	}
	fa, okA := toFloat(a)
	fb, okB := toFloat(b)
	return okA && okB && fa == fb
}

func toFloat(v any) (float64, bool) {
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

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
