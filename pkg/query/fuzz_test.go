package query_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/pkg/query"
)

// FuzzParse: the parser never panics, errors are *query.Error, and any
// accepted query binds, compiles to SQL that SQLite runs, and selects the
// same entities of a small index as the in-memory evaluator.
func FuzzParse(f *testing.F) {
	for _, c := range badQueries {
		f.Add(c.json)
	}
	for _, s := range []string{
		`{"combinator": "and", "rules": [{"property": "note", "operator": "contains", "value": "50%"}]}`,
		`{"combinator": "or", "rules": [{"operator": "matchAny", "property": {"path": ["domain", {"relation": "parent", "maxHops": 3}]}, "value": "root"}, {"property": "$team", "operator": "in", "value": ["My Teams"]}]}`,
		`{"combinator": "and", "conditions": [{"operator": "relatedTo", "blueprint": "service", "value": ["pay"], "required": true, "not": true}]}`,
		`{"combinator": "and", "rules": [{"property": "$createdAt", "operator": "between", "value": {"preset": "lastWeek"}}, {"scorecard": "prod", "operator": "=", "value": "Silver"}]}`,
		`{"combinator": "and", "rules": [{"property": {"context": "user", "property": "department"}, "operator": "=", "value": "pay"}, {"relation": "parent", "targetProperty": "$title", "operator": "beginsWith", "value": "M"}]}`,
	} {
		f.Add(s)
	}
	w := smallWorld(f)
	ctx := query.Context{User: w.user, UserTeams: []string{"beta"}}
	f.Fuzz(func(t *testing.T, src string) {
		q, err := query.ParseJSON([]byte(src), query.WithLimits(query.Limits{MaxDepth: 8, MaxRules: 40, MaxValues: 40}))
		if err != nil {
			var qe *query.Error
			if !errors.As(err, &qe) {
				t.Fatalf("error %T is not a *query.Error: %v", err, err)
			}
			return
		}
		if q, err = q.Bind(ctx); err != nil {
			t.Fatal(err)
		}
		mem := w.eval(t, q)
		sql := w.search(t, q)
		if diff := cmp.Diff(keys(mem), keys(sql)); diff != "" {
			t.Fatalf("%s: (-memory +sql)\n%s", src, diff)
		}
	})
}
