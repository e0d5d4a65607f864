package query_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/pkg/catalog"
	"github.com/berth-dev/berth/pkg/query"
)

// smallWorld is a hand-written catalog: domains root <- mid <- leaf,
// services pay (-> leaf, deps [auth]) and auth (-> root), deployment d1
// (-> pay).
func smallWorld(tb testing.TB) *world {
	tb.Helper()
	ents := []map[string]any{
		{"identifier": "root", "blueprint": "domain", "title": "Root", "properties": map[string]any{}},
		{"identifier": "mid", "blueprint": "domain", "title": "Middle", "relations": map[string]any{"parent": "root"}},
		{"identifier": "leaf", "blueprint": "domain", "relations": map[string]any{"parent": "mid"}},
		{"identifier": "pay", "blueprint": "service", "title": "Payments 100%_ready", "icon": "Go", "team": []any{"alpha", "beta"},
			"properties": map[string]any{
				"lang": "Go", "score": int64(80), "active": true, "tags": []any{"pci", nil, "Critical", int64(3)},
				"since": "2024-05-01", "timer": "2025-03-14T15:00:00Z", "note": `it's 50% \done_`, "meta": map[string]any{"a": int64(1)},
			},
			"relations": map[string]any{"domain": "leaf", "deps": []any{"auth"}}},
		{"identifier": "auth", "blueprint": "service", "title": "Auth", "team": "gamma",
			"properties": map[string]any{"lang": nil, "score": 12.5, "active": false, "tags": []any{}, "timer": "2025-03-15T00:00:00Z"},
			"relations":  map[string]any{"domain": "root", "deps": []any{}}},
		{"identifier": "d1", "blueprint": "deployment", "properties": map[string]any{"at": "2025-03-14T08:00:00+01:00"},
			"relations": map[string]any{"service": "pay", "domains": []any{"mid", "root"}}},
	}
	var docs []*catalog.Document
	for _, b := range genBlueprints() {
		docs = append(docs, &catalog.Document{Kind: catalog.KindBlueprint, Value: b})
	}
	for _, e := range ents {
		docs = append(docs, &catalog.Document{Kind: catalog.KindEntity, Value: e})
	}
	cat := catalog.New([]*catalog.File{{Path: "small", Kind: catalog.KindEntity, Docs: docs}})
	if d := cat.Build(); len(d) > 0 {
		tb.Fatal(d)
	}
	for _, e := range cat.Entities {
		if e.Identifier == "pay" {
			e.Meta = catalog.Meta{CreatedAt: testNow.Add(-3 * 24 * time.Hour), UpdatedAt: testNow.Add(-time.Hour), CreatedBy: "ann@x.io", UpdatedBy: "bob@x.io"}
		}
	}
	w := &world{cat: cat, ids: map[string][]string{}}
	w.user = &catalog.Entity{Identifier: "ann@x.io", Blueprint: catalog.UserBlueprint, Properties: map[string]any{"department": "pay"}}
	w.env = &query.Env{
		Catalog: cat, Now: testNow,
		Property: func(e *catalog.Entity, key string) (any, bool) {
			if key == "risk" && e.Identifier == "pay" {
				return int64(160), true
			}
			return nil, false
		},
		Scorecard: func(e *catalog.Entity, sc string) (string, bool) {
			return "Silver", e.Identifier == "pay" && sc == "prod"
		},
		ScorecardRule: func(e *catalog.Entity, sc, rule string) (string, bool) {
			return "FAILURE", e.Identifier == "pay" && sc == "prod" && rule == "has_readme"
		},
	}
	w.db = loadIndex(tb, w, []string{"Basic", "Bronze", "Silver", "Gold"})
	return w
}

// TestEval_Operators runs one rule per case and lists the entities it
// selects, in memory and through SQL on a real index.
func TestEval_Operators(t *testing.T) {
	w := smallWorld(t)
	cases := []struct {
		name, rule string
		want       string // space-separated identifiers, in catalog order
	}{
		{"EqString", `{"property": "lang", "operator": "=", "value": "Go"}`, "pay"},
		{"EqCaseSensitive", `{"property": "lang", "operator": "=", "value": "go"}`, ""},
		{"EqNumberIntFloat", `{"property": "score", "operator": "=", "value": 80.0}`, "pay"},
		{"EqNumberNotString", `{"property": "score", "operator": "=", "value": "80"}`, ""},
		{"EqBool", `{"property": "active", "operator": "=", "value": false}`, "auth"},
		{"EqArrayItem", `{"property": "tags", "operator": "=", "value": "pci"}`, "pay"},
		{"EqDateInstant", `{"property": "since", "operator": "=", "value": "2024-05-01T02:00:00+02:00"}`, "pay"},
		{"EqNullIsEmpty", `{"property": "lang", "operator": "=", "value": null}`, "root mid leaf auth d1"},
		{"NeqAbsentMatches", `{"property": "lang", "operator": "!=", "value": "Go"}`, "root mid leaf auth d1"},
		{"In", `{"property": "score", "operator": "in", "value": [12.5, 99]}`, "auth"},
		{"InScalar", `{"property": "lang", "operator": "in", "value": "Go"}`, "pay"},
		{"NotIn", `{"property": "tags", "operator": "notIn", "value": ["pci"]}`, "root mid leaf auth d1"},
		{"ContainsAnyArray", `{"property": "tags", "operator": "containsAny", "value": ["x", "Critical"]}`, "pay"},
		{"ContainsAnyNumberItem", `{"property": "tags", "operator": "containsAny", "value": [3]}`, "pay"},
		{"ContainsIgnoresASCIICase", `{"property": "note", "operator": "contains", "value": "IT'S"}`, "pay"},
		{"ContainsPercentLiteral", `{"property": "note", "operator": "contains", "value": "50%"}`, "pay"},
		{"ContainsPercentNotWildcard", `{"property": "note", "operator": "contains", "value": "s%5"}`, ""},
		{"ContainsBackslash", `{"property": "note", "operator": "contains", "value": "\\d"}`, "pay"},
		{"EndsWithUnderscore", `{"property": "note", "operator": "endsWith", "value": "_"}`, "pay"},
		{"UnderscoreNotWildcard", `{"property": "note", "operator": "endsWith", "value": "e-"}`, ""},
		{"DoesNotContains", `{"property": "note", "operator": "doesNotContains", "value": "50"}`, "root mid leaf auth d1"},
		{"BeginsWith", `{"property": "$title", "operator": "beginsWith", "value": "pay"}`, "pay"},
		{"DoesNotBeginsWith", `{"property": "$title", "operator": "doesNotBeginsWith", "value": "M"}`, "root leaf pay auth d1"},
		{"EndsWith", `{"property": "$title", "operator": "endsWith", "value": "%_READY"}`, "pay"},
		{"DoesNotEndsWith", `{"property": "$identifier", "operator": "doesNotEndsWith", "value": "t"}`, "mid leaf pay auth d1"},
		{"Gt", `{"property": "score", "operator": ">", "value": 12.5}`, "pay"},
		{"Gte", `{"property": "score", "operator": ">=", "value": 12.5}`, "pay auth"},
		{"Lt", `{"property": "score", "operator": "<", "value": 80}`, "auth"},
		{"Lte", `{"property": "score", "operator": "<=", "value": 80}`, "pay auth"},
		{"GtDate", `{"property": "at", "operator": ">", "value": "2025-03-14T06:59:59Z"}`, "d1"},
		{"LtDateOnly", `{"property": "since", "operator": "<", "value": "2024-05-02"}`, "pay"},
		{"BetweenDates", `{"property": "at", "operator": "between", "value": {"from": "2025-03-14", "to": "2025-03-14T07:00:00Z"}}`, "d1"},
		{"BetweenNumbers", `{"property": "score", "operator": "between", "value": {"from": 10, "to": 13}}`, "auth"},
		{"BetweenToday", `{"property": "at", "operator": "between", "value": {"preset": "today"}}`, "d1"},
		{"BetweenYesterday", `{"property": "at", "operator": "between", "value": {"preset": "yesterday"}}`, ""},
		{"BetweenLastWeekCreated", `{"property": "$createdAt", "operator": "between", "value": {"preset": "lastWeek"}}`, "pay"},
		{"BetweenLast30Days", `{"property": "$updatedAt", "operator": "between", "value": "last30days"}`, "pay"},
		{"NotBetween", `{"property": "$createdAt", "operator": "notBetween", "value": {"preset": "lastDay"}}`, "root mid leaf pay auth d1"},
		{"IsEmpty", `{"property": "tags", "operator": "isEmpty"}`, "root mid leaf auth d1"},
		{"IsNotEmptyObject", `{"property": "meta", "operator": "isNotEmpty"}`, "pay"},
		{"IsExpired", `{"property": "timer", "operator": "isExpired"}`, "pay"},
		{"IsNotExpired", `{"property": "timer", "operator": "isNotExpired"}`, "auth"},
		{"ComputedProperty", `{"property": "risk", "operator": ">", "value": 100}`, "pay"},
		{"MetaIdentifier", `{"property": "$identifier", "operator": "in", "value": ["root", "d1"]}`, "root d1"},
		{"MetaTitleEmptyIsAbsent", `{"property": "$title", "operator": "isEmpty"}`, "leaf d1"},
		{"MetaTeam", `{"property": "$team", "operator": "=", "value": "beta"}`, "pay"},
		{"MetaTeamEmpty", `{"property": "$team", "operator": "isEmpty"}`, "root mid leaf d1"},
		{"MetaIcon", `{"property": "$icon", "operator": "=", "value": "Go"}`, "pay"},
		{"MetaBlueprint", `{"property": "$blueprint", "operator": "=", "value": "domain"}`, "root mid leaf"},
		{"MetaCreatedAt", `{"property": "$createdAt", "operator": ">", "value": "2025-03-01"}`, "pay"},
		{"MetaCreatedAtIsEmpty", `{"property": "$createdAt", "operator": "isEmpty"}`, "root mid leaf auth d1"},
		{"MetaCreatedBy", `{"property": "$createdBy", "operator": "=", "value": "ann@x.io"}`, "pay"},
		{"MetaUpdatedBy", `{"property": "$updatedBy", "operator": "contains", "value": "BOB"}`, "pay"},
		{"RelationIdentifier", `{"relation": "domain", "operator": "=", "value": "leaf"}`, "pay"},
		{"RelationManyIn", `{"relation": "domains", "operator": "in", "value": ["root"]}`, "d1"},
		{"RelationTitle", `{"relation": "parent", "targetProperty": "$title", "operator": "=", "value": "Middle"}`, "leaf"},
		{"RelationIsEmpty", `{"relation": "deps", "operator": "isEmpty"}`, "root mid leaf auth d1"},
		{"RelatedToUpstream", `{"operator": "relatedTo", "blueprint": "service", "value": "pay", "direction": "upstream"}`, "leaf auth"},
		{"RelatedToDownstream", `{"operator": "relatedTo", "blueprint": "service", "value": "pay", "direction": "downstream"}`, "d1"},
		{"RelatedToBoth", `{"operator": "relatedTo", "blueprint": "service", "value": ["pay"]}`, "leaf auth d1"},
		{"RelatedToRequired", `{"operator": "relatedTo", "blueprint": "service", "value": "pay", "required": true}`, "leaf d1"},
		{"RelatedToNotRequired", `{"operator": "relatedTo", "blueprint": "service", "value": "pay", "required": false}`, "auth"},
		{"MatchAnyUpstream", `{"operator": "matchAny", "property": {"path": ["domain", "parent"]}, "value": "mid"}`, "pay"},
		{"MatchAnyThreeHops", `{"operator": "matchAny", "property": {"path": ["service", "domain", "parent"]}, "value": "mid"}`, "d1"},
		{"MatchAnyMaxHops", `{"operator": "matchAny", "property": {"path": [{"relation": "parent", "maxHops": 2}]}, "value": "root"}`, "mid leaf"},
		{"MatchAnyMaxHopsAfterStep", `{"operator": "matchAny", "property": {"path": ["domain", {"relation": "parent", "maxHops": 15}]}, "value": "root"}`, "pay"},
		{"MatchAnyFromBlueprint", `{"operator": "matchAny", "property": {"path": ["domain", "parent"], "fromBlueprint": "service"}, "value": "pay"}`, "mid"},
		{"MatchAnyFromBlueprintHops", `{"operator": "matchAny", "property": {"path": [{"relation": "parent", "maxHops": 3}], "fromBlueprint": "domain"}, "value": "leaf"}`, "root mid"},
		{"ScorecardLevel", `{"scorecard": "prod", "operator": "=", "value": "Silver"}`, "pay"},
		{"ScorecardLevelIn", `{"scorecard": "prod", "operator": "notIn", "value": ["Gold"]}`, "root mid leaf pay auth d1"},
		{"ScorecardRule", `{"scorecard": "prod", "scorecardRule": "has_readme", "operator": "=", "value": "FAILURE"}`, "pay"},
		{"NotRule", `{"property": "lang", "operator": "=", "value": "Go", "not": true}`, "root mid leaf auth d1"},
		{"ContextValue", `{"property": "lang", "operator": "in", "value": {"context": "user", "property": "lang"}}`, ""},
		{"ContextSubjectTrue", `{"property": {"context": "user", "property": "department"}, "operator": "=", "value": "pay"}`, "root mid leaf pay auth d1"},
		{"ContextSubjectFalse", `{"property": {"context": "user", "property": "department"}, "operator": "=", "value": "ops"}`, ""},
		{"MyTeams", `{"property": "$team", "operator": "in", "value": ["My Teams"]}`, "pay auth"},
		{"UserTeamsContext", `{"property": "$team", "operator": "containsAny", "value": {"context": "userTeams", "property": "$identifier"}}`, "pay auth"},
		{"TemplateUserTeam", `{"property": "$team", "operator": "=", "value": "{{ user.team }}"}`, "pay auth"},
		{"TemplateUserTeamNeq", `{"property": "$team", "operator": "!=", "value": "{{ user.team }}"}`, "root mid leaf d1"},
		{"HostileValue", `{"property": "$identifier", "operator": "=", "value": "x' OR '1'='1"}`, ""},
	}
	ctx := query.Context{User: w.user, UserTeams: []string{"beta", "gamma"}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q, err := query.ParseJSON([]byte(`{"combinator": "and", "rules": [` + c.rule + `]}`))
			if err != nil {
				t.Fatal(err)
			}
			if q, err = q.Bind(ctx); err != nil {
				t.Fatal(err)
			}
			mem, sql := w.eval(t, q), w.search(t, q)
			var gotMem, gotSQL []string
			for _, e := range w.cat.Entities {
				k := e.Blueprint + "/" + e.Identifier
				if mem[k] {
					gotMem = append(gotMem, e.Identifier)
				}
				if sql[k] {
					gotSQL = append(gotSQL, e.Identifier)
				}
			}
			if got := strings.Join(gotMem, " "); got != c.want {
				t.Errorf("in memory: got %q, want %q", got, c.want)
			}
			if got := strings.Join(gotSQL, " "); got != c.want {
				t.Errorf("SQL: got %q, want %q", got, c.want)
			}
		})
	}
}

func TestEval_Errors(t *testing.T) {
	w := smallWorld(t)
	e := w.cat.Entities[0]
	parse := func(rule string) *query.Query {
		t.Helper()
		q, err := query.ParseJSON([]byte(`{"combinator": "or", "rules": [{"combinator": "and", "rules": [` + rule + `]}]}`))
		if err != nil {
			t.Fatal(err)
		}
		return q
	}
	q := parse(`{"property": "$team", "operator": "in", "value": ["My Teams"]}`)
	if _, err := q.Eval(w.env, e); !errors.Is(err, query.ErrUnbound) {
		t.Errorf("unbound eval: %v", err)
	}
	if _, _, err := query.Compile(q, query.CompileOptions{}); !errors.Is(err, query.ErrUnbound) {
		t.Errorf("unbound compile: %v", err)
	}
	_, err := parse(`{"operator": "relatedTo", "blueprint": "domain", "value": "x"}`).Eval(&query.Env{}, e)
	if !errors.Is(err, query.ErrNoCatalog) || !strings.HasPrefix(err.Error(), "rules[0].rules[0]: ") {
		t.Errorf("no catalog: %v", err)
	}
	if _, err := parse(`{"scorecard": "prod", "operator": "isEmpty"}`).Eval(nil, e); !errors.Is(err, query.ErrNoScorecards) {
		t.Errorf("no scorecards: %v", err)
	}
	_, _, err = query.Compile(parse(`{"operator": "relatedTo", "blueprint": "domain", "value": "x", "required": true}`), query.CompileOptions{})
	if !errors.Is(err, query.ErrNoCatalog) {
		t.Errorf("compile required without blueprints: %v", err)
	}
	// Plain property rules need no catalog at all.
	ok, err := parse(`{"property": "$blueprint", "operator": "=", "value": "domain"}`).Eval(nil, e)
	if err != nil || !ok {
		t.Errorf("plain eval = %v, %v", ok, err)
	}
}

// TestCompile_NoValuesInSQL: whatever the values, the SQL text is made of
// the compiler's own words; values only travel as arguments.
func TestCompile_NoValuesInSQL(t *testing.T) {
	hostileValue := `x'); DROP TABLE entities; -- %_\`
	q, err := query.Parse(catalog.Query{"combinator": "or", "rules": []any{
		map[string]any{"property": hostileValue, "operator": "contains", "value": hostileValue},
		map[string]any{"property": "$title", "operator": "in", "value": []any{hostileValue}},
		map[string]any{"relation": hostileValue, "operator": "=", "value": hostileValue},
		map[string]any{"scorecard": hostileValue, "scorecardRule": hostileValue, "operator": "=", "value": hostileValue},
		map[string]any{"operator": "relatedTo", "blueprint": hostileValue, "value": hostileValue},
		map[string]any{"operator": "matchAny", "property": map[string]any{"path": []any{hostileValue, map[string]any{"relation": hostileValue, "maxHops": int64(2)}}, "fromBlueprint": hostileValue}, "value": hostileValue},
		map[string]any{"operator": "matchAny", "property": map[string]any{"path": []any{hostileValue}}, "value": hostileValue},
	}})
	if err != nil {
		t.Fatal(err)
	}
	where, args, err := query.Compile(q, query.CompileOptions{Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"DROP", "x'", "%_"} {
		if strings.Contains(where, bad) {
			t.Errorf("SQL holds %q: %s", bad, where)
		}
	}
	if n := strings.Count(where, "?"); n != len(args) {
		t.Errorf("%d placeholders, %d args", n, len(args))
	}
	w := smallWorld(t)
	if got := w.search(t, q); len(got) != 0 {
		t.Errorf("hostile query matched %v", got)
	}
	var n int
	if err := w.db.QueryRow("SELECT count(*) FROM entities").Scan(&n); err != nil || n != 6 {
		t.Errorf("entities after hostile query: %d, %v", n, err)
	}
}
