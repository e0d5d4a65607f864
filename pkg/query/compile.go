package query

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/berth-dev/berth/pkg/catalog"
)

// CompileOptions are what Compile needs besides the query.
type CompileOptions struct {
	// Now anchors date presets and isExpired; zero means time.Now().
	Now time.Time
	// Blueprints are the catalog's blueprints; only relatedTo with
	// required needs them (to know which relations are required).
	Blueprints map[string]*catalog.Blueprint
	// Visible, when set, is a bound query selecting the entities the
	// caller may read (pkg/access builds it). The rules that read other
	// entities then see only visible ones: relatedTo names only visible
	// entities, a matchAny path runs through visible entities only, and a
	// relation's $title is that of a visible target. The caller still
	// ANDs Visible itself into the statement for the matched entity; the
	// fragment is about the entities a rule reaches, so that a search
	// cannot probe the existence or title of an entity the caller may not
	// read. Visible itself is compiled without restriction.
	Visible *Query
	// Correlated compiles rules on multi-valued sources (properties,
	// teams, scorecards) as EXISTS probes by the entity's primary key
	// instead of IN over every matching row. It suits a statement that
	// walks entities in index order and stops at a LIMIT (a page of a
	// blueprint search): its cost follows the entities scanned, not the
	// rows each rule matches in the whole catalog. Results are the same.
	Correlated bool
}

// Compile translates a bound query into a WHERE fragment over the index
// schema (pkg/index/migrations), with the entity table aliased e:
//
//	SELECT e.doc FROM entities e WHERE <where> ORDER BY e.id LIMIT ?
//
// Every value travels as a ? argument in args, never inside the SQL text.
// The fragment selects exactly the entities Eval accepts, provided the
// index holds IndexValues rows for every property (stored and computed),
// created_at/updated_at written with FormatTime, and LIKE left
// case-insensitive (SQLite's default). Compile fails with ErrUnbound for a
// query that needs Bind, and ErrNoCatalog for relatedTo with required but
// no Blueprints.
func Compile(q *Query, opts CompileOptions) (where string, args []any, err error) {
	if q.unbound > 0 {
		return "", nil, ErrUnbound
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	if opts.Visible != nil && opts.Visible.unbound > 0 {
		return "", nil, ErrUnbound
	}
	c := &compiler{opts: opts, ent: "e"}
	where, err = c.group(q.Root)
	if err != nil {
		return "", nil, err
	}
	return where, c.args, nil
}

type compiler struct {
	opts CompileOptions
	args []any
	n    int // alias counter
	// ent is the alias of the entity table the rules being compiled read:
	// e, or another alias while Visible is compiled for a reached entity.
	ent string
}

// visible is the Visible condition on the entity table aliased alias,
// with its arguments; "1" when every entity is visible.
func (c *compiler) visible(alias string) (frag, error) {
	vis := c.opts.Visible
	if vis == nil {
		return frag{sql: "1"}, nil
	}
	args, ent := c.args, c.ent
	c.args, c.ent, c.opts.Visible = nil, alias, nil
	sql, err := c.group(vis.Root)
	out := frag{sql: sql, args: c.args}
	c.args, c.ent, c.opts.Visible = args, ent, vis
	return out, err
}

// visibleID is the Visible condition on the entity whose id is the
// column expression col: "1" when every entity is visible.
func (c *compiler) visibleID(col string) (frag, error) {
	if c.opts.Visible == nil {
		return frag{sql: "1"}, nil
	}
	v := c.alias("v")
	cond, err := c.visible(v)
	if err != nil {
		return frag{}, err
	}
	return f("EXISTS (SELECT 1 FROM entities %s WHERE %s.id = %s AND %s)", v, v, col, cond), nil
}

func (c *compiler) alias(prefix string) string {
	c.n++
	return fmt.Sprintf("%s%d", prefix, c.n)
}

func (c *compiler) arg(v any) string {
	c.args = append(c.args, v)
	return "?"
}

// splice appends a fragment's arguments and returns its SQL, for a
// fragment placed at this point of the statement.
func (c *compiler) splice(fr frag) string {
	c.args = append(c.args, fr.args...)
	return fr.sql
}

func (c *compiler) argList(vs []any) string {
	ph := make([]string, len(vs))
	for i, v := range vs {
		ph[i] = c.arg(v)
	}
	return "(" + strings.Join(ph, ", ") + ")"
}

func (c *compiler) group(g *Group) (string, error) {
	var sql string
	if len(g.Items) == 0 {
		sql = "1"
	} else {
		parts := make([]string, len(g.Items))
		for i, it := range g.Items {
			var err error
			switch n := it.(type) {
			case *Group:
				parts[i], err = c.group(n)
			case *Rule:
				parts[i], err = c.rule(n)
			}
			if err != nil {
				return "", err
			}
		}
		sep := " AND "
		if g.Combinator == Or {
			sep = " OR "
		}
		sql = "(" + strings.Join(parts, sep) + ")"
	}
	if g.Not {
		sql = "NOT " + sql
	}
	return sql, nil
}

func (c *compiler) rule(r *Rule) (string, error) {
	var sql string
	var err error
	switch r.Kind {
	case KindConstant:
		// The subject is the caller's, not the entity's: decide now.
		items := make([]IndexValue, 0, len(r.Subject))
		for _, v := range r.Subject {
			items = append(items, scalarValue(-1, v))
		}
		sql = "0"
		if matchItems(r, items, c.opts.Now) {
			sql = "1"
		}
	case KindRelatedTo:
		sql, err = c.relatedTo(r)
	case KindPath:
		sql, err = c.matchAny(r)
	default:
		sql, err = c.comparison(r)
	}
	if err != nil {
		return "", &Error{Path: r.path, Err: err}
	}
	if r.Not {
		sql = "NOT " + sql
	}
	return sql, nil
}

// source is where a rule's items live: a column of e, or rows of a table
// linked to e.
type source struct {
	// column: the item is a column expression of e (NULL when absent);
	// notNull: the column never is.
	column, notNull bool
	// from and link select the rows of a multi-valued source; each may
	// hold ? placeholders whose args are in fromArgs and linkArgs.
	from, link         string
	fromArgs, linkArgs []any
	idCol              string // the row's entity id column
	// correlated: probe the rows per entity (EXISTS on the table's
	// primary key) rather than collect them first; for relations, whose
	// only other index starts at target_id.
	correlated bool
	// typ, str and num are the item's expressions; typ "" means always a
	// string, num "" means no number (never a date).
	typ, str, num string
}

func (c *compiler) source(r *Rule) (source, error) {
	switch r.Kind {
	case KindRelation:
		a := c.alias("r")
		s := source{correlated: true, from: "relations " + a, idCol: a + ".source_id", link: a + ".relation = ?", linkArgs: []any{r.Relation}, str: a + ".target_identifier"}
		if r.TargetProperty == MetaTitle {
			// A target the caller may not read has no title to match.
			t := c.alias("t")
			vis, err := c.visible(t)
			if err != nil {
				return s, err
			}
			s.from += " JOIN entities " + t + " ON " + t + ".id = " + a + ".target_id AND " + vis.sql
			s.fromArgs = vis.args
			s.str = "NULLIF(" + t + ".title, '')"
		}
		return s, nil
	case KindScorecard:
		a := c.alias("s")
		if r.ScorecardRule != "" {
			return source{from: "scorecard_rule_results " + a, idCol: a + ".entity_id", link: a + ".scorecard = ? AND " + a + ".rule = ?",
				linkArgs: []any{r.Scorecard, r.ScorecardRule}, str: "NULLIF(" + a + ".status, '')"}, nil
		}
		return source{from: "scorecard_results " + a, idCol: a + ".entity_id", link: a + ".scorecard = ?",
			linkArgs: []any{r.Scorecard}, str: "NULLIF(" + a + ".level, '')"}, nil
	}
	e := c.ent
	switch r.Property {
	case MetaIdentifier:
		return source{column: true, notNull: true, str: e + ".identifier"}, nil
	case MetaBlueprint:
		return source{column: true, notNull: true, str: e + ".blueprint"}, nil
	case MetaTitle:
		return source{column: true, str: "NULLIF(" + e + ".title, '')"}, nil
	case MetaIcon:
		return source{column: true, str: "NULLIF(" + e + ".icon, '')"}, nil
	case MetaCreatedBy:
		return source{column: true, str: "NULLIF(" + e + ".created_by, '')"}, nil
	case MetaUpdatedBy:
		return source{column: true, str: "NULLIF(" + e + ".updated_by, '')"}, nil
	case MetaCreatedAt:
		return source{column: true, str: "NULLIF(" + e + ".created_at, '')", num: "unixepoch(" + e + ".created_at, 'subsec')"}, nil
	case MetaUpdatedAt:
		return source{column: true, str: "NULLIF(" + e + ".updated_at, '')", num: "unixepoch(" + e + ".updated_at, 'subsec')"}, nil
	case MetaTeam:
		a := c.alias("t")
		return source{from: "entity_teams " + a, idCol: a + ".entity_id", link: "1", str: a + ".team"}, nil
	}
	a := c.alias("v")
	return source{from: "entity_values " + a, idCol: a + ".entity_id", link: a + ".key = ?", linkArgs: []any{r.Property},
		typ: a + ".typ", str: a + ".str", num: a + ".num"}, nil
}

// comparison compiles a rule that compares the items of a source.
func (c *compiler) comparison(r *Rule) (string, error) {
	op, neg := negated[r.Operator]
	if !neg {
		op = r.Operator
	}
	src, err := c.source(r)
	if err != nil {
		return "", err
	}
	if c.opts.Correlated && !src.column && !src.correlated {
		// Probe by the entity's primary key only: a unary + keeps SQLite
		// from scanning a value index (key, str|num) per entity instead.
		src.str, src.num = plus(src.str), plus(src.num)
	}
	e := c.ent
	var sql string
	if src.column {
		switch {
		case op == OpIsEmpty:
			sql = "(" + src.str + " IS NULL)"
		case src.notNull:
			// Plain, so SQLite can use the column's index.
			sql = c.predicate(op, r, src)
		case src.num != "":
			// unixepoch() of a bad date is NULL; NOT NULL would be NULL.
			sql = "IFNULL(" + src.str + " IS NOT NULL AND " + c.predicate(op, r, src) + ", 0)"
		default:
			sql = "(" + src.str + " IS NOT NULL AND " + c.predicate(op, r, src) + ")"
		}
	} else {
		pos := op
		if op == OpIsEmpty {
			pos = "" // any item at all
		}
		link := src.link
		for _, a := range append(slices.Clip(src.fromArgs), src.linkArgs...) {
			c.arg(a)
		}
		pred := "1"
		if pos != "" {
			pred = c.predicate(pos, r, src)
		}
		if src.typ == "" {
			// Text sources: NULL (a title-less target) is no item.
			pred = src.str + " IS NOT NULL AND " + pred
		}
		if src.correlated || c.opts.Correlated {
			sql = fmt.Sprintf("EXISTS (SELECT 1 FROM %s WHERE %s = %s.id AND %s AND %s)", src.from, src.idCol, e, link, pred)
		} else {
			sql = fmt.Sprintf("%s.id IN (SELECT %s FROM %s WHERE %s AND %s)", e, src.idCol, src.from, link, pred)
		}
		if op == OpIsEmpty {
			sql = "NOT " + sql
		}
	}
	if neg {
		sql = "NOT " + sql
	}
	return sql, nil
}

// plus prefixes a column expression with SQLite's unary +, which keeps
// it from being used by an index; "" stays "".
func plus(col string) string {
	if col == "" || strings.HasPrefix(col, "NULLIF(") {
		return col
	}
	return "+" + col
}

// both joins two conditions, dropping a literal true.
func both(a, b string) string {
	if a == "1" {
		return "(" + b + ")"
	}
	return "(" + a + " AND " + b + ")"
}

func typIs(src source, t string) string {
	if src.typ == "" {
		if t == "s" {
			return "1"
		}
		return "0"
	}
	return src.typ + " = '" + t + "'"
}

// predicate is a positive operator's condition on one item of src.
func (c *compiler) predicate(op Operator, r *Rule, src source) string {
	var ors []string
	add := func(s string) { ors = append(ors, s) }
	switch op {
	case OpIsExpired, OpIsNotExpired:
		if src.num == "" {
			return "0"
		}
		cmp := " <= "
		if op == OpIsNotExpired {
			cmp = " > "
		}
		return both(typIs(src, "s"), src.num+cmp+c.arg(Epoch(c.opts.Now)))
	case OpBetween:
		from, to := r.Range.bounds(c.opts.Now)
		t := "s"
		if r.Range.Numeric {
			t = "n"
		}
		if src.num == "" {
			return "0"
		}
		return both(typIs(src, t), src.num+" BETWEEN "+c.arg(from)+" AND "+c.arg(to))
	case OpEq, OpIn, OpContainsAny:
		var strs, dates, nums, bools []any
		for _, v := range r.Values {
			switch x := v.(type) {
			case string:
				if t, isDate := ParseTime(x); isDate && src.num != "" {
					dates = append(dates, Epoch(t))
				} else {
					strs = append(strs, x)
				}
			case float64:
				nums = append(nums, x)
			case bool:
				b := 0.0
				if x {
					b = 1
				}
				bools = append(bools, b)
			}
		}
		if len(strs) > 0 {
			add(both(typIs(src, "s"), src.str+" IN "+c.argList(strs)))
		}
		if len(dates) > 0 {
			add(both(typIs(src, "s"), src.num+" IN "+c.argList(dates)))
		}
		if len(nums) > 0 && src.num != "" {
			add(both(typIs(src, "n"), src.num+" IN "+c.argList(nums)))
		}
		if len(bools) > 0 && src.num != "" {
			add(both(typIs(src, "b"), src.num+" IN "+c.argList(bools)))
		}
	case OpContains, OpBeginsWith, OpEndsWith:
		for _, v := range r.Values {
			x, ok := v.(string)
			if !ok {
				continue
			}
			pat := escapeLike(x)
			switch op {
			case OpContains:
				pat = "%" + pat + "%"
			case OpBeginsWith:
				pat += "%"
			default:
				pat = "%" + pat
			}
			add(both(typIs(src, "s"), src.str+" LIKE "+c.arg(pat)+` ESCAPE '\'`))
		}
	case OpGt, OpGte, OpLt, OpLte:
		if src.num == "" {
			return "0"
		}
		for _, v := range r.Values {
			switch x := v.(type) {
			case float64:
				add(both(typIs(src, "n"), src.num+" "+string(op)+" "+c.arg(x)))
			case string:
				if t, isDate := ParseTime(x); isDate {
					add(both(typIs(src, "s"), src.num+" "+string(op)+" "+c.arg(Epoch(t))))
				}
			}
		}
	}
	switch len(ors) {
	case 0:
		return "0"
	case 1:
		return ors[0]
	}
	return "(" + strings.Join(ors, " OR ") + ")"
}

// escapeLike makes s a literal LIKE pattern under ESCAPE '\'.
func escapeLike(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(s)
}

func (c *compiler) relatedTo(r *Rule) (string, error) {
	// Relations of the given blueprint with the wanted required-ness
	// (upstream: the given entities' own relations), and (blueprint,
	// relation) pairs of any blueprint targeting it (downstream).
	var upRels []any
	var downPairs [][2]string
	if r.Required != nil {
		if c.opts.Blueprints == nil {
			return "", ErrNoCatalog
		}
		if b := c.opts.Blueprints[r.Blueprint]; b != nil {
			for name, d := range b.Relations {
				if d.Required == *r.Required {
					upRels = append(upRels, name)
				}
			}
		}
		for bp, b := range c.opts.Blueprints {
			for name, d := range b.Relations {
				if d.Required == *r.Required && d.Target == r.Blueprint {
					downPairs = append(downPairs, [2]string{bp, name})
				}
			}
		}
		sort.Slice(upRels, func(i, j int) bool { return upRels[i].(string) < upRels[j].(string) })
		sort.Slice(downPairs, func(i, j int) bool {
			return downPairs[i][0]+"\x00"+downPairs[i][1] < downPairs[j][0]+"\x00"+downPairs[j][1]
		})
	}
	var parts []string
	e := c.ent
	if r.Direction != DirectionDownstream {
		a, s := c.alias("r"), c.alias("s")
		vis, err := c.visible(s)
		if err != nil {
			return "", err
		}
		sql := fmt.Sprintf("%s.id IN (SELECT %s.target_id FROM relations %s WHERE %s.source_id IN (SELECT %s.id FROM entities %s WHERE %s.blueprint = %s AND %s.identifier IN %s AND %s)",
			e, a, a, a, s, s, s, c.arg(r.Blueprint), s, c.argList(r.Values), c.splice(vis))
		if r.Required != nil {
			if len(upRels) == 0 {
				sql += " AND 0"
			} else {
				sql += " AND " + a + ".relation IN " + c.argList(upRels)
			}
		}
		parts = append(parts, sql+")")
	}
	if r.Direction != DirectionUpstream {
		a, s, src := c.alias("r"), c.alias("s"), c.alias("e")
		join := ""
		if r.Required != nil {
			join = fmt.Sprintf(" JOIN entities %s ON %s.id = %s.source_id", src, src, a)
		}
		vis, err := c.visible(s)
		if err != nil {
			return "", err
		}
		sql := fmt.Sprintf("%s.id IN (SELECT %s.source_id FROM relations %s%s WHERE %s.target_id IN (SELECT %s.id FROM entities %s WHERE %s.blueprint = %s AND %s.identifier IN %s AND %s)",
			e, a, a, join, a, s, s, s, c.arg(r.Blueprint), s, c.argList(r.Values), c.splice(vis))
		if r.Required != nil {
			if len(downPairs) == 0 {
				sql += " AND 0"
			} else {
				ors := make([]string, len(downPairs))
				for i, p := range downPairs {
					ors[i] = fmt.Sprintf("(%s.blueprint = %s AND %s.relation = %s)", src, c.arg(p[0]), a, c.arg(p[1]))
				}
				sql += " AND (" + strings.Join(ors, " OR ") + ")"
			}
		}
		parts = append(parts, sql+")")
	}
	if len(parts) == 1 {
		return parts[0], nil
	}
	return "(" + strings.Join(parts, " OR ") + ")", nil
}
