package query

import (
	"fmt"
	"strings"
)

// frag is SQL text with its arguments in textual order; matchAny builds its
// nested subqueries inside out, so it keeps each piece's arguments with it.
type frag struct {
	sql  string
	args []any
}

// f formats a fragment: each %s takes a string or a frag (whose arguments
// are spliced in order); each ? in format takes the next of vals.
func f(format string, parts ...any) frag {
	var out frag
	var b strings.Builder
	pi := 0
	for i := 0; i < len(format); i++ {
		switch {
		case format[i] == '%' && i+1 < len(format) && format[i+1] == 's':
			switch p := parts[pi].(type) {
			case string:
				b.WriteString(p)
			case frag:
				b.WriteString(p.sql)
				out.args = append(out.args, p.args...)
			}
			pi++
			i++
		case format[i] == '?':
			b.WriteByte('?')
			out.args = append(out.args, parts[pi])
			pi++
		default:
			b.WriteByte(format[i])
		}
	}
	out.sql = b.String()
	return out
}

func placeholders(vals []any) frag {
	ph := make([]string, len(vals))
	for i := range ph {
		ph[i] = "?"
	}
	return frag{sql: "(" + strings.Join(ph, ", ") + ")", args: append([]any(nil), vals...)}
}

// matchAny compiles a relation path. Without fromBlueprint it walks the
// path backwards from the entities with the wanted identifiers to those whose path
// reaches them (through the relations_target index); with fromBlueprint it
// walks forward from the given entities. A maxHops step becomes a
// recursive CTE bounded by its hop count.
//
// With CompileOptions.Visible, every entity of the path — where it starts,
// each hop, where it ends — must be visible: a walk does not reach or pass
// through an entity the caller may not read.
func (c *compiler) matchAny(r *Rule) (string, error) {
	steps := r.Path.Steps
	// vis is the visibility condition on the entity whose id is col.
	var visErr error
	vis := func(col string) frag {
		fr, err := c.visibleID(col)
		if err != nil {
			visErr = err
		}
		return fr
	}
	var set frag
	if r.Path.FromBlueprint == "" {
		// cond is the condition on a relation row's target.
		// Resolving the identifiers first lets SQLite use the
		// entities_identifier and relations_target indexes.
		x := c.alias("x")
		xvis, err := c.visible(x)
		if err != nil {
			return "", err
		}
		cond := func(a string) frag {
			return f("%s.target_id IN (SELECT %s.id FROM entities %s WHERE %s.identifier IN %s AND %s)", a, x, x, x, placeholders(r.Values), xvis)
		}
		for i := len(steps) - 1; i >= 0; i-- {
			s := steps[i]
			a := c.alias("p")
			// The first step's sources are the matched entities, which the
			// caller's statement restricts itself.
			srcVis := frag{sql: "1"}
			if i > 0 {
				srcVis = vis(a + ".source_id")
			}
			if s.MaxHops == 0 {
				set = f("SELECT %s.source_id FROM relations %s WHERE %s.relation = ? AND %s AND %s", a, a, a, s.Relation, cond(a), srcVis)
			} else {
				h, b := c.alias("h"), c.alias("p")
				set = f("WITH RECURSIVE %s(id, n) AS (SELECT %s.source_id, 1 FROM relations %s WHERE %s.relation = ? AND %s AND %s"+
					" UNION SELECT %s.source_id, %s.n + 1 FROM relations %s JOIN %s ON %s.target_id = %s.id WHERE %s.relation = ? AND %s.n < ? AND %s)"+
					" SELECT id FROM %s",
					h, a, a, a, s.Relation, cond(a), vis(a+".source_id"),
					b, h, b, h, b, h, b, s.Relation, h, s.MaxHops, vis(b+".source_id"), h)
			}
			inner := set
			cond = func(a string) frag { return f("%s.target_id IN (%s)", a, inner) }
		}
	} else {
		set = f("SELECT %s.id FROM entities %s WHERE %s.blueprint = ? AND %s.identifier IN %s AND %s",
			"s0", "s0", "s0", r.Path.FromBlueprint, "s0", placeholders(r.Values), vis("s0.id"))
		for _, s := range steps {
			a := c.alias("p")
			if s.MaxHops == 0 {
				set = f("SELECT %s.target_id FROM relations %s WHERE %s.relation = ? AND %s.target_id IS NOT NULL AND %s.source_id IN (%s) AND %s",
					a, a, a, s.Relation, a, a, set, vis(a+".target_id"))
				continue
			}
			h, b := c.alias("h"), c.alias("p")
			set = f("WITH RECURSIVE %s(id, n) AS (SELECT %s.target_id, 1 FROM relations %s WHERE %s.relation = ? AND %s.target_id IS NOT NULL AND %s.source_id IN (%s) AND %s"+
				" UNION SELECT %s.target_id, %s.n + 1 FROM relations %s JOIN %s ON %s.source_id = %s.id WHERE %s.relation = ? AND %s.target_id IS NOT NULL AND %s.n < ? AND %s)"+
				" SELECT id FROM %s",
				h, a, a, a, s.Relation, a, a, set, vis(a+".target_id"),
				b, h, b, h, b, h, b, s.Relation, b, h, s.MaxHops, vis(b+".target_id"), h)
		}
	}
	if visErr != nil {
		return "", visErr
	}
	c.args = append(c.args, set.args...)
	return fmt.Sprintf("%s.id IN (%s)", c.ent, set.sql), nil
}
