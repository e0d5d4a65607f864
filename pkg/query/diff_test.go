package query_test

import (
	"encoding/json"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/pkg/catalog"
	"github.com/berth-dev/berth/pkg/query"
)

// queryGen draws random valid queries over a world.
type queryGen struct {
	r *rand.Rand
	w *world
}

var propKeys = []string{"name", "budget", "tags", "lang", "score", "since", "active", "meta", "note", "timer",
	"env", "version", "at", "risk", "missing",
	"$identifier", "$title", "$team", "$icon", "$blueprint", "$createdAt", "$updatedAt", "$createdBy", "$updatedBy"}

var valueOps = []string{"=", "!=", "in", "notIn", "contains", "doesNotContains", "containsAny", "beginsWith",
	"doesNotBeginsWith", "endsWith", "doesNotEndsWith", ">", ">=", "<", "<=", "between", "notBetween",
	"isEmpty", "isNotEmpty", "isExpired", "isNotExpired"}

var textOps = []string{"=", "!=", "in", "notIn", "contains", "doesNotContains", "containsAny", "beginsWith",
	"doesNotBeginsWith", "endsWith", "doesNotEndsWith", "isEmpty", "isNotEmpty"}

// paths are relation paths valid from a start blueprint, with the
// blueprint they end at.
var paths = []struct {
	from string
	path []any
	end  string
}{
	{"service", []any{"domain"}, "domain"},
	{"service", []any{"domain", "parent"}, "domain"},
	{"service", []any{"domain", map[string]any{"relation": "parent", "maxHops": int64(3)}}, "domain"},
	{"service", []any{map[string]any{"relation": "deps", "maxHops": int64(2)}, "domain"}, "domain"},
	{"deployment", []any{"service", "domain", "parent"}, "domain"},
	{"deployment", []any{"service", map[string]any{"relation": "deps", "maxHops": int64(15)}}, "service"},
	{"deployment", []any{"domains", "parent", "parent"}, "domain"},
	{"domain", []any{map[string]any{"relation": "parent", "maxHops": int64(1)}}, "domain"},
	{"domain", []any{"parent", map[string]any{"relation": "parent", "maxHops": int64(4)}}, "domain"},
}

func (g *queryGen) scalar() any {
	switch g.r.IntN(7) {
	case 0:
		return pick(g.r, g.w.nums)
	case 1:
		return g.r.IntN(2) == 0
	case 2:
		return pick(g.r, g.w.dates)
	case 3:
		return pick(g.r, g.w.teams)
	default:
		return pick(g.r, g.w.strs)
	}
}

func (g *queryGen) list(f func() any) []any {
	n := 1 + g.r.IntN(3)
	out := make([]any, n)
	for i := range out {
		out[i] = f()
	}
	return out
}

func (g *queryGen) valueFor(op string, text func() any) any {
	switch op {
	case "=", "!=":
		return text()
	case "in", "notIn", "containsAny":
		if g.r.IntN(4) == 0 {
			return text()
		}
		return g.list(text)
	case ">", ">=", "<", "<=":
		if g.r.IntN(2) == 0 {
			return pick(g.r, g.w.nums)
		}
		return pick(g.r, g.w.dates)
	case "between", "notBetween":
		switch g.r.IntN(3) {
		case 0:
			return map[string]any{"preset": pick(g.r, []string{"today", "yesterday", "tomorrow", "lastDay", "lastWeek",
				"last2Weeks", "lastMonth", "last30days", "last3Months", "last6Months", "last12Months", "nextWeek"})}
		case 1:
			a, b := pick(g.r, g.w.nums), pick(g.r, g.w.nums)
			return map[string]any{"from": a, "to": b}
		default:
			a, b := pick(g.r, g.w.dates), pick(g.r, g.w.dates)
			return map[string]any{"from": a, "to": b}
		}
	case "isEmpty", "isNotEmpty", "isExpired", "isNotExpired":
		return nil
	}
	// string operators
	s, ok := text().(string)
	if !ok {
		s = pick(g.r, hostile)
	}
	if len(s) > 2 && g.r.IntN(2) == 0 {
		s = s[:len(s)/2] // a prefix, so beginsWith and contains hit
	}
	return s
}

func (g *queryGen) rule() map[string]any {
	r := g.r
	var m map[string]any
	switch k := r.IntN(20); {
	case k < 10: // property
		op := pick(r, valueOps)
		m = map[string]any{"property": pick(r, propKeys), "operator": op}
		if v := g.valueFor(op, g.scalar); v != nil {
			m["value"] = v
		}
		if m["property"] == "$team" && (op == "in" || op == "notIn") && r.IntN(3) == 0 {
			m["value"] = []any{"My Teams", "beta"}
		}
		if (op == "=" || op == "!=") && r.IntN(10) == 0 {
			m["value"] = "{{ user.team }}"
		}
	case k < 12: // relation
		op := pick(r, textOps)
		rel := pick(r, []string{"domain", "deps", "service", "domains", "parent", "nope"})
		m = map[string]any{"relation": rel, "operator": op}
		ident := func() any {
			for _, bp := range []string{"domain", "service"} {
				if r.IntN(2) == 0 {
					return pick(r, g.w.ids[bp])
				}
			}
			return pick(r, g.w.strs)
		}
		if r.IntN(2) == 0 {
			m["targetProperty"] = "$title"
			ident = func() any { return pick(r, g.w.strs) }
		}
		if v := g.valueFor(op, ident); v != nil {
			m["value"] = v
		}
	case k < 13: // scorecard
		op := pick(r, textOps)
		m = map[string]any{"scorecard": pick(r, []string{"prod", "other"}), "operator": op}
		lv := func() any { return pick(r, []string{"Basic", "Bronze", "Silver", "Gold", "gold"}) }
		if r.IntN(2) == 0 {
			m["scorecardRule"] = "has_readme"
			lv = func() any { return pick(r, []string{"SUCCESS", "FAILURE"}) }
		}
		if v := g.valueFor(op, lv); v != nil {
			m["value"] = v
		}
	case k < 16: // relatedTo
		bp := pick(r, []string{"domain", "service", "deployment"})
		m = map[string]any{"operator": "relatedTo", "blueprint": bp, "value": g.list(func() any { return pick(r, g.w.ids[bp]) })}
		if d := r.IntN(3); d > 0 {
			m["direction"] = []string{"", "upstream", "downstream"}[d]
		}
		if q := r.IntN(3); q > 0 {
			m["required"] = q == 1
		}
	case k < 19: // matchAny
		p := pick(r, paths)
		prop := map[string]any{"path": p.path}
		bp := p.end
		if r.IntN(2) == 0 {
			prop["fromBlueprint"] = p.from
			bp = p.from
		}
		m = map[string]any{"operator": "matchAny", "property": prop, "value": g.list(func() any { return pick(r, g.w.ids[bp]) })}
	default: // context subject
		op := pick(r, []string{"=", "!=", "in", "containsAny", "isEmpty"})
		m = map[string]any{"property": map[string]any{"context": pick(r, []string{"user", "userTeams"}),
			"property": pick(r, []string{"$identifier", "department", "lang"})}, "operator": op}
		if v := g.valueFor(op, func() any { return pick(r, []any{"abc", "alpha", "ann@x.io", "Go"}) }); v != nil {
			m["value"] = v
		}
	}
	if r.IntN(10) == 0 {
		m["not"] = true
	}
	return m
}

func (g *queryGen) group(depth int) map[string]any {
	n := g.r.IntN(3)
	if depth == 0 {
		n++
	}
	items := make([]any, n)
	for i := range items {
		if depth < 2 && g.r.IntN(4) == 0 {
			items[i] = g.group(depth + 1)
		} else {
			items[i] = g.rule()
		}
	}
	key := "rules"
	if g.r.IntN(3) == 0 {
		key = "conditions"
	}
	m := map[string]any{"combinator": pick(g.r, []string{"and", "or"}), key: items}
	if g.r.IntN(12) == 0 {
		m["not"] = true
	}
	return m
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestDifferential holds Compile to Eval: for random queries over a
// generated catalog, the SQL index returns exactly the entities the
// in-memory evaluator accepts.
func TestDifferential(t *testing.T) {
	w := newWorld(t, 1, [3]int{40, 160, 200})
	g := &queryGen{r: rand.New(rand.NewPCG(2, 3)), w: w}
	n := 600
	if testing.Short() {
		n = 100
	}
	ctx := query.Context{User: w.user, UserTeams: []string{"alpha", "50%_off"}}
	hits, empty := 0, 0
	for i := 0; i < n; i++ {
		raw := g.group(0)
		q, err := query.Parse(raw)
		if err != nil {
			b, _ := json.Marshal(raw)
			t.Fatalf("query %d does not parse: %v\n%s", i, err, b)
		}
		if q, err = q.Bind(ctx); err != nil {
			t.Fatal(err)
		}
		want := w.eval(t, q)
		got := w.search(t, q)
		if len(want) > 0 && len(want) < len(w.cat.Entities) {
			hits++
		}
		if len(want) == 0 {
			empty++
		}
		if diff := cmp.Diff(keys(want), keys(got)); diff != "" {
			b, _ := json.MarshalIndent(raw, "", "  ")
			where, args, _ := query.Compile(q, query.CompileOptions{Now: testNow, Blueprints: w.cat.Blueprints})
			t.Fatalf("query %d: in-memory (-) vs SQL (+):\n%s\nquery: %s\nSQL: %s\nargs: %v", i, diff, b, where, args)
		}
	}
	// Guard the generator: most queries must split the catalog, or the
	// comparison proves little.
	t.Logf("%d of %d queries selected a proper subset, %d none", hits, n, empty)
	if hits < n/3 {
		t.Errorf("only %d of %d queries selected a proper subset", hits, n)
	}
}

// TestDifferential_Visible holds the same for a caller who may read only
// part of the catalog: the visibility condition (a random query over the
// entity's own properties) restricts the matched entities and every entity
// a relatedTo, matchAny or relation $title rule reaches.
func TestDifferential_Visible(t *testing.T) {
	w := newWorld(t, 3, [3]int{40, 160, 200})
	g := &queryGen{r: rand.New(rand.NewPCG(4, 5)), w: w}
	ctx := query.Context{User: w.user, UserTeams: []string{"alpha"}}
	n := 400
	if testing.Short() {
		n = 80
	}
	restricted := 0
	for i := 0; i < n; i++ {
		// A policy reads the entity's own properties and team, like the
		// ones pkg/access builds.
		var visRaw map[string]any
		for {
			visRaw = catalog.Query{"combinator": "or", "rules": []any{g.ownRule(), g.ownRule()}}
			if vis, err := query.Parse(visRaw); err == nil {
				vis, _ = vis.Bind(ctx)
				if n := len(w.eval(t, vis)); n > 0 && n < len(w.cat.Entities) {
					break
				}
			}
		}
		vis, _ := query.Parse(visRaw)
		vis, _ = vis.Bind(ctx)
		raw := g.group(0)
		q, err := query.Parse(raw)
		if err != nil {
			t.Fatalf("query %d does not parse: %v", i, err)
		}
		q, _ = q.Bind(ctx)
		want := w.evalVisible(t, q, vis)
		if len(want) != len(w.evalVisible(t, q, nil)) {
			restricted++
		}
		if diff := cmp.Diff(keys(want), keys(w.searchVisible(t, q, vis))); diff != "" {
			b, _ := json.MarshalIndent(raw, "", "  ")
			vb, _ := json.Marshal(visRaw)
			t.Fatalf("query %d: in-memory (-) vs SQL (+):\n%s\nquery: %s\nvisible: %s", i, diff, b, vb)
		}
	}
	if restricted < n/4 {
		t.Errorf("visibility changed only %d of %d answers", restricted, n)
	}
}

// ownRule draws a rule that reads only the entity itself.
func (g *queryGen) ownRule() map[string]any {
	for {
		r := g.rule()
		_, rel := r["relation"]
		_, sc := r["scorecard"]
		_, path := r["property"].(map[string]any)
		if !rel && !sc && !path && r["operator"] != "relatedTo" {
			return r
		}
	}
}

// TestDifferential_EachKind runs one rule of every kind alone, so a broken
// kind shows itself by name.
func TestDifferential_EachKind(t *testing.T) {
	w := newWorld(t, 5, [3]int{20, 60, 60})
	g := &queryGen{r: rand.New(rand.NewPCG(9, 9)), w: w}
	ctx := query.Context{User: w.user, UserTeams: []string{"alpha"}}
	seen, split := map[string]int{}, map[string]int{}
	defer func() {
		for k, n := range seen {
			if split[k] == 0 {
				t.Logf("%s: %d rules, none selected a proper subset", k, n)
			}
		}
	}()
	for i := 0; i < 1500; i++ {
		rule := g.rule()
		raw := catalog.Query{"combinator": "and", "rules": []any{rule}}
		kind := "property"
		for _, k := range []string{"relation", "scorecard", "blueprint"} {
			if _, ok := rule[k]; ok {
				kind = k
			}
		}
		if _, ok := rule["property"].(map[string]any); ok {
			kind = "context/path"
		}
		kind += " " + rule["operator"].(string)
		q, err := query.Parse(raw)
		if err != nil {
			t.Fatalf("parse %v: %v", raw, err)
		}
		q, _ = q.Bind(ctx)
		mem := w.eval(t, q)
		seen[kind]++
		if len(mem) > 0 && len(mem) < len(w.cat.Entities) {
			split[kind]++
		}
		if diff := cmp.Diff(keys(mem), keys(w.search(t, q))); diff != "" {
			b, _ := json.Marshal(raw)
			t.Fatalf("%s: (-memory +sql)\n%s", b, diff)
		}
	}
}
