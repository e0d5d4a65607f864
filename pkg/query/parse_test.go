package query_test

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/pkg/query"
)

var update = flag.Bool("update", false, "rewrite golden files")

// badQueries are JSON queries Parse must refuse; their errors are kept in
// testdata/parse_errors.golden.
var badQueries = []struct{ name, json string }{
	{"NotAnObject", `[1, 2]`},
	{"TrailingData", `{"combinator": "and", "rules": []} {}`},
	{"MissingCombinator", `{"rules": []}`},
	{"BadCombinator", `{"combinator": "xor", "rules": []}`},
	{"CombinatorNotString", `{"combinator": 1, "rules": []}`},
	{"MissingRules", `{"combinator": "and"}`},
	{"RulesAndConditions", `{"combinator": "and", "rules": [], "conditions": []}`},
	{"RulesNotList", `{"combinator": "and", "rules": {}}`},
	{"RuleNotObject", `{"combinator": "and", "rules": ["x"]}`},
	{"UnknownGroupKey", `{"combinator": "and", "rules": [], "limit": 3}`},
	{"UnknownOperator", `{"combinator": "and", "rules": [{"property": "a", "operator": "=", "value": 1}, {"property": "b", "operator": "=", "value": 2}, {"property": "c", "operator": "equals", "value": 3}]}`},
	{"MissingOperator", `{"combinator": "and", "rules": [{"property": "a", "value": 1}]}`},
	{"NestedPath", `{"combinator": "or", "conditions": [{"combinator": "and", "rules": [{"property": "a", "operator": ">", "value": "soon"}]}]}`},
	{"UnknownMeta", `{"combinator": "and", "rules": [{"property": "$owner", "operator": "=", "value": "x"}]}`},
	{"MissingProperty", `{"combinator": "and", "rules": [{"operator": "=", "value": "x"}]}`},
	{"UnknownRuleKey", `{"combinator": "and", "rules": [{"property": "a", "operator": "=", "value": "x", "vale": 1}]}`},
	{"EqList", `{"combinator": "and", "rules": [{"property": "a", "operator": "=", "value": ["x"]}]}`},
	{"EqObject", `{"combinator": "and", "rules": [{"property": "a", "operator": "=", "value": {"x": 1}}]}`},
	{"InBadItem", `{"combinator": "and", "rules": [{"property": "a", "operator": "in", "value": ["x", {"y": 1}]}]}`},
	{"ContainsNumber", `{"combinator": "and", "rules": [{"property": "a", "operator": "contains", "value": 3}]}`},
	{"MissingValue", `{"combinator": "and", "rules": [{"property": "a", "operator": "beginsWith"}]}`},
	{"IsEmptyWithValue", `{"combinator": "and", "rules": [{"property": "a", "operator": "isEmpty", "value": "x"}]}`},
	{"BetweenUnknownPreset", `{"combinator": "and", "rules": [{"property": "a", "operator": "between", "value": {"preset": "lastCentury"}}]}`},
	{"BetweenMixed", `{"combinator": "and", "rules": [{"property": "a", "operator": "between", "value": {"from": 1, "to": "2024-01-01"}}]}`},
	{"BetweenMissingTo", `{"combinator": "and", "rules": [{"property": "a", "operator": "between", "value": {"from": "2024-01-01"}}]}`},
	{"BetweenPresetAndFrom", `{"combinator": "and", "rules": [{"property": "a", "operator": "between", "value": {"preset": "today", "from": "2024-01-01"}}]}`},
	{"BetweenNotDate", `{"combinator": "and", "rules": [{"property": "a", "operator": "notBetween", "value": {"from": "yesterday", "to": "2024-01-01"}}]}`},
	{"RelatedToNoBlueprint", `{"combinator": "and", "rules": [{"operator": "relatedTo", "value": "x"}]}`},
	{"RelatedToDirection", `{"combinator": "and", "rules": [{"operator": "relatedTo", "blueprint": "b", "value": "x", "direction": "sideways"}]}`},
	{"RelatedToEmptyList", `{"combinator": "and", "rules": [{"operator": "relatedTo", "blueprint": "b", "value": []}]}`},
	{"RelatedToNumber", `{"combinator": "and", "rules": [{"operator": "relatedTo", "blueprint": "b", "value": ["x", 2]}]}`},
	{"RelatedToRequired", `{"combinator": "and", "rules": [{"operator": "relatedTo", "blueprint": "b", "value": "x", "required": "yes"}]}`},
	{"MatchAnyStringProperty", `{"combinator": "and", "rules": [{"operator": "matchAny", "property": "rel", "value": "x"}]}`},
	{"MatchAnyEmptyPath", `{"combinator": "and", "rules": [{"operator": "matchAny", "property": {"path": []}, "value": "x"}]}`},
	{"MatchAnyHops", `{"combinator": "and", "rules": [{"operator": "matchAny", "property": {"path": ["a", {"relation": "b", "maxHops": 16}]}, "value": "x"}]}`},
	{"MatchAnyTwoHops", `{"combinator": "and", "rules": [{"operator": "matchAny", "property": {"path": [{"relation": "a", "maxHops": 2}, {"relation": "b", "maxHops": 2}]}, "value": "x"}]}`},
	{"MatchAnyStep", `{"combinator": "and", "rules": [{"operator": "matchAny", "property": {"path": ["a", 3]}, "value": "x"}]}`},
	{"RelationTargetProperty", `{"combinator": "and", "rules": [{"relation": "r", "targetProperty": "owner", "operator": "=", "value": "x"}]}`},
	{"RelationComparison", `{"combinator": "and", "rules": [{"relation": "r", "operator": ">", "value": 3}]}`},
	{"ScorecardBetween", `{"combinator": "and", "rules": [{"scorecard": "s", "operator": "between", "value": {"preset": "today"}}]}`},
	{"ContextUnknown", `{"combinator": "and", "rules": [{"property": "a", "operator": "=", "value": {"context": "org", "property": "x"}}]}`},
	{"ContextKey", `{"combinator": "and", "rules": [{"property": {"context": "user", "prop": "x"}, "operator": "=", "value": "y"}]}`},
	{"NotNotBool", `{"combinator": "and", "rules": [{"property": "a", "operator": "isEmpty", "not": "true"}]}`},
	{"TooManyValues", `{"combinator": "and", "rules": [{"property": "a", "operator": "in", "value": [1,2,3,4,5,6,7,8,9,10,11]}]}`},
	{"TooDeep", `{"combinator": "and", "rules": [{"combinator": "and", "rules": [{"combinator": "and", "rules": [{"combinator": "and", "rules": []}]}]}]}`},
	{"TooManyRules", `{"combinator": "and", "rules": [{"property": "a", "operator": "isEmpty"}, {"property": "a", "operator": "isEmpty"}, {"property": "a", "operator": "isEmpty"}, {"property": "a", "operator": "isEmpty"}, {"property": "a", "operator": "isEmpty"}, {"property": "a", "operator": "isEmpty"}]}`},
	{"HostileKey", `{"combinator": "and", "rules": [{"property": "a", "operator": "=", "value": "x", "'; DROP TABLE x; --": 1}]}`},
}

var testLimits = query.Limits{MaxDepth: 3, MaxRules: 6, MaxValues: 10}

func TestParse_Errors(t *testing.T) {
	var b strings.Builder
	for _, c := range badQueries {
		_, err := query.ParseJSON([]byte(c.json), query.WithLimits(testLimits))
		if err == nil {
			t.Errorf("%s: parsed, want an error", c.name)
			continue
		}
		var qe *query.Error
		if !errors.As(err, &qe) {
			t.Errorf("%s: error %T is not a *query.Error", c.name, err)
		}
		sentinel := "?"
		for _, s := range []error{query.ErrSyntax, query.ErrUnknownOperator, query.ErrBadValue, query.ErrTooComplex} {
			if errors.Is(err, s) {
				sentinel = s.Error()
			}
		}
		if sentinel == "?" {
			t.Errorf("%s: %v wraps no sentinel", c.name, err)
		}
		fmt.Fprintf(&b, "%s: %v\n", c.name, err)
	}
	golden := filepath.Join("testdata", "parse_errors.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if diff := cmp.Diff(string(want), b.String()); diff != "" {
		t.Errorf("parse errors differ from %s (-want +got):\n%s", golden, diff)
	}
}

// TestParse_Accepts covers every accepted shape, including the seed's.
func TestParse_Accepts(t *testing.T) {
	for _, src := range []string{
		`{"combinator": "and", "rules": []}`,
		`{"combinator": "OR", "conditions": [{"property": "$blueprint", "operator": "=", "value": "service"}], "not": true}`,
		`{"combinator": "and", "rules": [{"property": "lifecycle", "operator": "in", "value": ["Production", "Staging"]}]}`,
		`{"combinator": "and", "rules": [{"property": "team", "operator": "=", "value": "{{ user.team }}"}]}`,
		`{"combinator": "and", "rules": [{"property": "$createdAt", "operator": "between", "value": {"timeframe": "last30days"}}]}`,
		`{"combinator": "and", "rules": [{"property": "$createdAt", "operator": "between", "value": "last30days"}]}`,
		`{"combinator": "and", "rules": [{"property": "$team", "operator": "in", "value": ["My Teams"]}]}`,
		`{"combinator": "and", "rules": [{"property": "$team", "operator": "containsAny", "value": {"context": "userTeams", "property": "$identifier"}}]}`,
		`{"combinator": "and", "rules": [{"property": {"context": "user", "property": "company_role"}, "operator": "=", "value": "manager"}]}`,
		`{"combinator": "and", "rules": [{"operator": "relatedTo", "blueprint": "env", "value": ["a", "b"], "direction": "downstream", "required": true}]}`,
		`{"combinator": "and", "rules": [{"operator": "matchAny", "property": {"path": ["parent", "parent", {"relation": "parent", "maxHops": 3}], "fromBlueprint": "Team"}, "value": "squad"}]}`,
		`{"combinator": "and", "rules": [{"operator": "matchAny", "property": {"path": ["owner"]}, "value": {"context": "user", "property": "$identifier"}}]}`,
		`{"combinator": "and", "rules": [{"relation": "service", "targetProperty": "$title", "operator": "beginsWith", "value": "Pay"}]}`,
		`{"combinator": "and", "rules": [{"scorecard": "prod", "scorecardRule": "has_readme", "operator": "=", "value": "SUCCESS"}]}`,
		`{"combinator": "and", "rules": [{"property": "x", "operator": "=", "value": null}, {"property": "timer", "operator": "isExpired", "value": null}]}`,
		`{"combinator": "and", "rules": [{"property": "n", "operator": ">=", "value": 12345678901234567890}, {"property": "d", "operator": "<", "value": "2024-01-01"}]}`,
		`{"combinator": "and", "rules": [{"property": "c", "operator": "between", "value": {"from": 1, "to": 2.5}}, {"property": "k", "operator": "isEmpty", "not": true}]}`,
	} {
		if _, err := query.ParseJSON([]byte(src)); err != nil {
			t.Errorf("%s: %v", src, err)
		}
	}
}
