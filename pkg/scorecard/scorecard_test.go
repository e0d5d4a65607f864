package scorecard_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/berth-dev/berth/pkg/catalog"
	"github.com/berth-dev/berth/pkg/scorecard"
	"github.com/google/go-cmp/cmp"
)

const blueprint = `
identifier: service
schema:
  properties:
    a: {type: boolean}
    b: {type: boolean}
    c: {type: boolean}
    lifecycle: {type: string}
`

// build loads a catalog from YAML files and fails the test on any error.
func build(tb testing.TB, files map[string]string) *catalog.Catalog {
	tb.Helper()
	fsys := fstest.MapFS{}
	for name, data := range files {
		fsys[name] = &fstest.MapFile{Data: []byte(data)}
	}
	cat, err := catalog.Load(context.Background(), fsys, catalog.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	diags := append(cat.Diagnostics(), cat.Build()...)
	diags = append(diags, cat.Check()...)
	if diags.HasErrors() {
		tb.Fatalf("catalog errors: %v", diags)
	}
	return cat
}

func rule(id, level, prop string) string {
	return fmt.Sprintf("  - {identifier: %s, level: %s, query: {combinator: and, conditions: [{property: %s, operator: \"=\", value: true}]}}\n", id, level, prop)
}

func evaluate(tb testing.TB, cat *catalog.Catalog, now time.Time) *scorecard.Evaluation {
	tb.Helper()
	p, diags := scorecard.Compile(cat)
	if len(diags) > 0 {
		tb.Fatalf("compile: %v", diags)
	}
	ev, err := p.Evaluate(context.Background(), cat, scorecard.Options{Now: now})
	if err != nil {
		tb.Fatal(err)
	}
	return ev
}

func TestEvaluate_Levels(t *testing.T) {
	defaultRules := rule("ra", "Bronze", "a") + rule("rb", "Silver", "b") + rule("rc", "Gold", "c")
	tests := []struct {
		name    string
		card    string
		props   string
		want    string
		failing []string
	}{
		{"AllPass", "rules:\n" + defaultRules, "{a: true, b: true, c: true}", "Gold", nil},
		{"NonePass", "rules:\n" + defaultRules, "{a: false, b: false, c: false}", "Basic", []string{"ra", "rb", "rc"}},
		{"FailingBronzePassingSilverIsBasic", "rules:\n" + defaultRules, "{a: false, b: true, c: true}", "Basic", []string{"ra"}},
		{"BronzeOnly", "rules:\n" + defaultRules, "{a: true, b: false, c: true}", "Bronze", []string{"rb"}},
		{"AbsentPropertyFails", "rules:\n" + defaultRules, "{a: true, b: true}", "Silver", []string{"rc"}},
		{"NoRulesIsTop", "rules: []\n", "{}", "Gold", nil},
		{"EmptyLevelInBetween", "rules:\n" + rule("ra", "Bronze", "a") + rule("rc", "Gold", "c"), "{a: true, c: false}", "Silver", []string{"rc"}},
		{"RulesOnEveryLevel", "rules:\n" + rule("ra", "Bronze", "a") + rule("ra2", "Bronze", "b") + rule("rs", "Silver", "c") + rule("rg", "Gold", "a"), "{a: true, b: false, c: true}", "Basic", []string{"ra2"}},
		{"CustomLevels", "levels: [{title: Red, color: red}, {title: Amber}, {title: Green}]\nrules:\n" + rule("r1", "Amber", "a") + rule("r2", "Green", "b"), "{a: true, b: false}", "Amber", []string{"r2"}},
		{"CustomLevelsTop", "levels: [{title: Red}, {title: Amber}, {title: Green}]\nrules:\n" + rule("r1", "Amber", "a") + rule("r2", "Green", "b"), "{a: true, b: true}", "Green", nil},
		// An empty filter group: /work/shared/reference/port.md says
		// nothing of it, so the current behaviour stands and the names
		// say so: a group with no conditions matches every entity, for
		// and (the empty conjunction) and or alike.
		{"EmptyAndFilterScoresEveryEntity_PortSilent_CurrentBehaviour", "filter: {combinator: and, conditions: []}\nrules:\n" + defaultRules, "{a: true, b: false, c: true}", "Bronze", []string{"rb"}},
		{"EmptyOrFilterScoresEveryEntity_PortSilent_CurrentBehaviour", "filter: {combinator: or, conditions: []}\nrules:\n" + defaultRules, "{a: true, b: false, c: true}", "Bronze", []string{"rb"}},
		{"NotCondition", "rules:\n  - {identifier: n, level: Bronze, query: {combinator: and, conditions: [{not: true, property: a, operator: \"=\", value: true}]}}\n", "{a: false}", "Gold", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cat := build(t, map[string]string{
				"blueprints/service.yaml": blueprint,
				"scorecards/card.yaml":    "identifier: card\nblueprint: service\n" + tt.card,
				"entities/service/x.yaml": "identifier: x\nproperties: " + tt.props + "\n",
			})
			ev := evaluate(t, cat, time.Now())
			r, ok := ev.Results[catalog.EntityKey{Blueprint: "service", Identifier: "x"}]["card"]
			if !ok {
				t.Fatal("entity not scored")
			}
			if r.Level != tt.want {
				t.Errorf("level = %s, want %s (rules %+v)", r.Level, tt.want, r.Rules)
			}
			if diff := cmp.Diff(tt.failing, r.Failing()); diff != "" {
				t.Errorf("failing (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEvaluate_Filter(t *testing.T) {
	cat := build(t, map[string]string{
		"blueprints/service.yaml": blueprint,
		"scorecards/card.yaml": `identifier: card
filter:
  combinator: and
  rules:
    - {property: $blueprint, operator: "=", value: service}
    - {property: lifecycle, operator: in, value: [Production, Staging]}
rules:
` + rule("ra", "Bronze", "a"),
		"entities/service/all.yaml": `
- {identifier: prod, properties: {lifecycle: Production, a: true}}
- {identifier: dev, properties: {lifecycle: Development, a: true}}
- {identifier: none, properties: {}}
`,
	})
	ev := evaluate(t, cat, time.Now())
	var scored []string
	for k := range ev.Results {
		scored = append(scored, k.Identifier)
	}
	if diff := cmp.Diff([]string{"prod"}, scored); diff != "" {
		t.Errorf("scored entities (-want +got):\n%s", diff)
	}
}

func TestEvaluate_ExemptionsAndDeadlines(t *testing.T) {
	cat := build(t, map[string]string{
		"blueprints/service.yaml": blueprint,
		"scorecards/card.yaml": `identifier: card
blueprint: service
rules:
` + rule("ra", "Bronze", "a") + `  - {identifier: rb, level: Silver, enforceFrom: "2026-06-01", query: {combinator: and, conditions: [{property: b, operator: "=", value: true}]}}
exemptions:
  - {entity: x, rule: ra, reason: legacy service being retired, expires: "2026-03-01"}
`,
		"entities/service/x.yaml": "identifier: x\nproperties: {a: false, b: false}\n",
	})
	key := catalog.EntityKey{Blueprint: "service", Identifier: "x"}
	tests := []struct {
		at        string
		level     string
		exempt    bool
		enforcing bool
	}{
		{"2026-01-15", "Gold", true, false},   // exempt from ra; rb not yet enforced
		{"2026-04-15", "Basic", false, false}, // exemption expired mid-history
		{"2026-07-01", "Basic", false, true},  // rb now enforced too
	}
	for _, tt := range tests {
		t.Run(tt.at, func(t *testing.T) {
			now, _ := time.Parse(time.DateOnly, tt.at)
			r := evaluate(t, cat, now).Results[key]["card"]
			if r.Level != tt.level {
				t.Errorf("level = %s, want %s: %+v", r.Level, tt.level, r.Rules)
			}
			if r.Rules[0].Exempt != tt.exempt {
				t.Errorf("exempt = %v, want %v", r.Rules[0].Exempt, tt.exempt)
			}
			if tt.exempt && !strings.Contains(r.Rules[0].Reason, "legacy service") {
				t.Errorf("reason = %q", r.Rules[0].Reason)
			}
			if r.Rules[1].Status != scorecard.Failure || r.Rules[1].NotEnforced == tt.enforcing {
				t.Errorf("rb = %+v, want FAILURE with NotEnforced=%v", r.Rules[1], !tt.enforcing)
			}
			if want := map[bool]string{false: "2026-06-01"}[tt.enforcing]; r.Rules[1].EnforceFrom != want {
				t.Errorf("rb.EnforceFrom = %q, want %q", r.Rules[1].EnforceFrom, want)
			}
		})
	}
}

func TestDiff(t *testing.T) {
	files := func(a, b string) map[string]string {
		return map[string]string{
			"blueprints/service.yaml": blueprint,
			"scorecards/card.yaml":    "identifier: card\nblueprint: service\nrules:\n" + rule("ra", "Bronze", "a") + rule("rb", "Silver", "b"),
			"entities/service/x.yaml": "identifier: x\nproperties: " + a + "\n",
			"entities/service/y.yaml": "identifier: y\nproperties: " + b + "\n",
		}
	}
	now := time.Now()
	base := evaluate(t, build(t, files("{a: true, b: true}", "{a: false}")), now)
	head := evaluate(t, build(t, files("{a: true, b: false}", "{a: true}")), now)
	got := scorecard.Diff(base, head)
	want := []scorecard.Change{
		{Entity: catalog.EntityKey{Blueprint: "service", Identifier: "x"}, Scorecard: "card", From: "Gold", To: "Bronze", FromIndex: 3, ToIndex: 1, NewlyFail: []string{"rb"}},
		{Entity: catalog.EntityKey{Blueprint: "service", Identifier: "y"}, Scorecard: "card", From: "Basic", To: "Bronze", FromIndex: 0, ToIndex: 1, NewlyPass: []string{"ra"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Diff (-want +got):\n%s", diff)
	}
	if got[0].Direction() != -1 || got[1].Direction() != 1 {
		t.Errorf("directions %d %d", got[0].Direction(), got[1].Direction())
	}
	if len(scorecard.Diff(head, head)) != 0 {
		t.Error("an evaluation differs from itself")
	}
}

// TestDiff_Cases checks Diff on hand-made evaluations: entities and
// scorecards on one side only, failing rules reordered, a level changed
// with the same failing rules, and a missing side.
func TestDiff_Cases(t *testing.T) {
	res := func(level string, index int, failing ...string) scorecard.Result {
		r := scorecard.Result{Scorecard: "card", Level: level, LevelIndex: index}
		for _, id := range []string{"ra", "rb", "rc"} {
			st := scorecard.Success
			for _, f := range failing {
				if f == id {
					st = scorecard.Failure
				}
			}
			r.Rules = append(r.Rules, scorecard.RuleResult{Identifier: id, Status: st})
		}
		return r
	}
	k := func(id string) catalog.EntityKey { return catalog.EntityKey{Blueprint: "service", Identifier: id} }
	ev := func(m map[string]scorecard.Result) *scorecard.Evaluation {
		out := &scorecard.Evaluation{Results: map[catalog.EntityKey]map[string]scorecard.Result{}}
		for id, r := range m {
			out.Results[k(id)] = map[string]scorecard.Result{"card": r}
		}
		return out
	}
	reordered := res("Bronze", 1, "rb", "rc")
	reordered.Rules[1], reordered.Rules[2] = reordered.Rules[2], reordered.Rules[1]
	base := ev(map[string]scorecard.Result{
		"same": res("Gold", 3), "gone": res("Silver", 2, "rc"), "order": res("Bronze", 1, "rb", "rc"),
		"level": res("Silver", 2, "rc"), "rule": res("Silver", 2, "rc"),
	})
	head := ev(map[string]scorecard.Result{
		"same": res("Gold", 3), "new": res("Basic", 0, "ra"), "order": reordered,
		"level": res("Bronze", 1, "rc"), "rule": res("Silver", 2, "rb"),
	})
	for _, tc := range []struct {
		name       string
		base, head *scorecard.Evaluation
		want       []scorecard.Change
	}{
		{"BothSides", base, head, []scorecard.Change{
			{Entity: k("gone"), Scorecard: "card", From: "Silver", FromIndex: 2},
			{Entity: k("level"), Scorecard: "card", From: "Silver", To: "Bronze", FromIndex: 2, ToIndex: 1},
			{Entity: k("new"), Scorecard: "card", To: "Basic"},
			{Entity: k("rule"), Scorecard: "card", From: "Silver", To: "Silver", FromIndex: 2, ToIndex: 2, NewlyFail: []string{"rb"}, NewlyPass: []string{"rc"}},
		}},
		{"NoBase", nil, ev(map[string]scorecard.Result{"new": res("Basic", 0, "ra")}), []scorecard.Change{
			{Entity: k("new"), Scorecard: "card", To: "Basic"},
		}},
		{"NoHead", ev(map[string]scorecard.Result{"gone": res("Gold", 3)}), nil, []scorecard.Change{
			{Entity: k("gone"), Scorecard: "card", From: "Gold", FromIndex: 3},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, scorecard.Diff(tc.base, tc.head)); diff != "" {
				t.Errorf("Diff (-want +got):\n%s", diff)
			}
		})
	}
}

func TestProgram_Clocked(t *testing.T) {
	day := func(d int) time.Time { return time.Date(2026, 3, d, 12, 0, 0, 0, time.UTC) }
	plain := rule("a", "Bronze", "a")
	tests := []struct {
		name string
		card string
		a, b time.Time
		want bool
	}{
		{"NoClock", plain, day(1), day(20), false},
		{"SameTime", "  - {identifier: d, level: Bronze, query: {combinator: and, conditions: [{property: lifecycle, operator: isExpired}]}}\n", day(1), day(1), false},
		{"IsExpired", "  - {identifier: d, level: Bronze, query: {combinator: and, conditions: [{property: lifecycle, operator: isExpired}]}}\n", day(1), day(2), true},
		{"Preset", "  - {identifier: d, level: Bronze, query: {combinator: and, conditions: [{property: lifecycle, operator: between, value: {preset: lastWeek}}]}}\n", day(1), day(2), true},
		{"EnforceFromBetween", "  - {identifier: e, level: Bronze, enforceFrom: \"2026-03-10\", query: {combinator: and, conditions: [{property: a, operator: \"=\", value: true}]}}\n", day(1), day(20), true},
		{"EnforceFromBefore", "  - {identifier: e, level: Bronze, enforceFrom: \"2026-03-10\", query: {combinator: and, conditions: [{property: a, operator: \"=\", value: true}]}}\n", day(11), day(20), false},
		{"ExemptionExpires", plain + "exemptions:\n  - {entity: s1, rule: a, reason: later, expires: \"2026-03-10\"}\n", day(20), day(1), true},
		{"ExemptionExpired", plain + "exemptions:\n  - {entity: s1, rule: a, reason: later, expires: \"2026-03-10\"}\n", day(11), day(20), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rules, extra, _ := strings.Cut(tt.card, "exemptions:")
			if extra != "" {
				extra = "exemptions:" + extra
			}
			cat := build(t, map[string]string{
				"blueprints/service.yaml":  blueprint,
				"entities/service/s1.yaml": "identifier: s1\n",
				"scorecards/c.yaml":        "identifier: c\nblueprint: service\nrules:\n" + rules + extra,
			})
			p, diags := scorecard.Compile(cat)
			if len(diags) > 0 {
				t.Fatal(diags)
			}
			if got := p.Clocked(tt.a, tt.b); got != tt.want {
				t.Errorf("Clocked = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestCompile_Unevaluable: a filter or rule with a condition Evaluate
// cannot evaluate is an error at that condition, and its scorecard is left
// out rather than scoring nobody (filter) or failing everybody (rule).
func TestCompile_Unevaluable(t *testing.T) {
	const ok = `{property: a, operator: "=", value: true}`
	tests := []struct {
		name     string
		filter   string // the filter's conditions
		rule     string // the rule's conditions
		wantLine int    // 0: no error
	}{
		{"Plain", ok, ok, 0},
		{"FilterScorecard", `{scorecard: other, operator: "=", value: Gold}`, ok, 3},
		{"FilterScorecardRuleNested", `{combinator: or, conditions: [` + ok + `, {scorecard: other, scorecardRule: r, operator: "=", value: SUCCESS}]}`, ok, 3},
		{"FilterContextUser", `{property: b, operator: "=", value: {context: user, property: b}}`, ok, 3},
		{"RuleScorecard", ok, `{scorecard: other, operator: "=", value: Gold}`, 5},
		{"RuleMyTeams", ok, `{property: $team, operator: in, value: [My Teams]}`, 5},
		{"RuleTemplate", ok, `{property: lifecycle, operator: "=", value: "{{ user.lifecycle }}"}`, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cat := build(t, map[string]string{
				"blueprints/service.yaml": blueprint,
				"scorecards/card.yaml": "identifier: card\nblueprint: service\n" +
					"filter: {combinator: and, conditions: [" + tt.filter + "]}\n" +
					"rules:\n" +
					"  - {identifier: r, level: Bronze, query: {combinator: and, conditions: [" + tt.rule + "]}}\n",
				"entities/service/x.yaml": "identifier: x\nproperties: {a: true, b: true}\n",
			})
			p, diags := scorecard.Compile(cat)
			ev, err := p.Evaluate(context.Background(), cat, scorecard.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantLine == 0 {
				if len(diags) > 0 || len(ev.Results) != 1 {
					t.Fatalf("diags %v, results %v; want none and x scored", diags, ev.Results)
				}
				return
			}
			if len(diags) != 1 || diags[0].Code != catalog.CodeScorecardQuery || diags[0].Line != tt.wantLine ||
				diags[0].Severity != catalog.SeverityError {
				t.Fatalf("diags = %v, want one scorecard-query error on line %d", diags, tt.wantLine)
			}
			if len(ev.Results) != 0 {
				t.Errorf("results = %v, want the scorecard left out", ev.Results)
			}
		})
	}
}
