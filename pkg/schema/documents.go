package schema

import (
	"context"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/berth-dev/berth/pkg/catalog"
)

// ValidateDocuments checks every document except entities against its
// kind's definition (validation layer 1) and marks failing documents
// Invalid, so that Catalog.Build skips them. Entities are checked by
// ValidateEntities, against #Entity and their blueprint in one step.
func (v *Validator) ValidateDocuments(ctx context.Context, cat *catalog.Catalog) catalog.Diagnostics {
	w, err := v.get()
	if err != nil {
		return catalog.Diagnostics{catalog.Errorf(catalog.Position{}, catalog.CodeSchema, "%v", err)}
	}
	defer v.put(w)
	var diags catalog.Diagnostics
	for _, f := range cat.Files {
		if ctx.Err() != nil {
			break
		}
		for _, d := range f.Docs {
			if d.Kind == catalog.KindEntity {
				continue
			}
			def, ok := w.defs[d.Kind]
			if !ok {
				continue
			}
			ds := w.check(def, d, catalog.CodeSchema, nil)
			if len(ds) > 0 {
				d.Invalid = true
				diags = append(diags, ds...)
			}
		}
	}
	return diags
}

// maxRounds bounds how often check re-validates a document after removing
// the values already reported: CUE stops at the first failing field of a
// struct, and people want every error in one run.
const maxRounds = 32

// check validates document d against def and maps the errors back to d.
// explain, when set, may phrase an issue better than CUE does.
func (w *worker) check(def cueValue, d *catalog.Document, code string, explain func(cueIssue) string) catalog.Diagnostics {
	return w.checkValue(def, d, d.Value, code, explain)
}

// checkValue is check with the value to validate given: d.Value itself or a
// normalised form of it with the same paths.
func (w *worker) checkValue(def cueValue, d *catalog.Document, value map[string]any, code string, explain func(cueIssue) string) catalog.Diagnostics {
	err := def.Unify(w.ctx.Encode(value)).Validate(concrete...)
	if err == nil {
		return nil
	}
	label := string(d.Kind)
	if id := d.Identifier(); id != "" {
		label += " \"" + id + "\""
	}
	var out catalog.Diagnostics
	var reported, removed [][]string
	for round := 0; err != nil && round < maxRounds; round++ {
		fresh, escalated := 0, 0
		for _, is := range issues(err) {
			if covered(removed, is.path) {
				continue
			}
			if r := coveredBy(reported, is.path); r != nil {
				// A blanked list item still fails (null is not an item
				// value) and would hide the errors CUE reports after it:
				// drop the whole list instead.
				if n := len(r); n >= 2 && isIndex(r[n-1]) {
					removed = append(removed, r[:n-1])
					escalated++
				}
				continue
			}
			fresh++
			reported = append(reported, is.path)
			msg := ""
			if explain != nil {
				msg = explain(is)
			}
			if msg == "" {
				msg = describeIssue(is)
			}
			out = append(out, catalog.Errorf(position(d, is), code, "%s: %s", label, msg))
		}
		if fresh == 0 && escalated == 0 {
			break
		}
		for _, p := range reported {
			value = without(value, p)
		}
		for _, p := range removed {
			value = without(value, p)
		}
		err = def.Unify(w.ctx.Encode(value)).Validate(concrete...)
	}
	return out
}

// describeIssue formats an issue CUE phrased: path: message.
func describeIssue(is cueIssue) string {
	where := pathString(is.path)
	msg := friendly(is.msg)
	switch {
	case where == "":
		return msg
	case strings.HasPrefix(msg, "is "):
		return where + " " + msg
	}
	return where + ": " + msg
}

// covered reports whether path p is, or lies under, a reported path.
func covered(reported [][]string, p []string) bool {
	return coveredBy(reported, p) != nil
}

// coveredBy returns the reported path that p is, or lies under, or nil.
func coveredBy(reported [][]string, p []string) []string {
	for _, r := range reported {
		if len(r) <= len(p) && slices.Equal(r, p[:len(r)]) {
			return r
		}
	}
	return nil
}

func isIndex(s string) bool {
	_, err := strconv.Atoi(s)
	return err == nil
}

// without returns a copy of m with the value at path removed, copying only
// the objects along the path.
func without(m map[string]any, path []string) map[string]any {
	if len(path) == 0 {
		return m
	}
	out := maps.Clone(m)
	if len(path) == 1 {
		delete(out, path[0])
		return out
	}
	switch c := m[path[0]].(type) {
	case map[string]any:
		out[path[0]] = without(c, path[1:])
	case []any:
		// A list item: blank the item's fields rather than renumbering.
		if i, err := strconv.Atoi(path[1]); err == nil && i < len(c) {
			cl := slices.Clone(c)
			if len(path) == 2 {
				cl[i] = nil
			} else if item, ok := c[i].(map[string]any); ok {
				cl[i] = without(item, path[2:])
			}
			out[path[0]] = cl
		}
	}
	return out
}
