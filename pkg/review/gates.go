package review

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/berth-dev/berth/pkg/catalog"
	"github.com/berth-dev/berth/pkg/query"
)

// Gate modes.
const (
	ModeBlock = "block"
	ModeWarn  = "warn"
)

// GateResult is one gate of berth.yaml judged on the head.
type GateResult struct {
	// Index is the gate's place in berth.yaml's gates list.
	Index int `json:"index"`
	// Position is where the gate is written, for links.
	Position catalog.Position `json:"position"`
	// Description says what the gate asks, in words.
	Description string `json:"description"`
	Mode        string `json:"mode"`
	Passed      bool   `json:"passed"`
	// Checked is how many entities were judged.
	Checked int `json:"checked"`
	// Preexisting counts entities below a minLevel that the change did not
	// touch, and so did not fail the gate.
	Preexisting int           `json:"preexisting,omitempty"`
	Failures    []GateFailure `json:"failures,omitempty"`
	// Error says why the gate could not be judged (it then fails).
	Error string `json:"error,omitempty"`
}

// GateFailure is one entity that fails a gate.
type GateFailure struct {
	Entity    EntityRef `json:"entity"`
	Scorecard string    `json:"scorecard"`
	// Level is the entity's level at the head; From its level at the base
	// for a regression.
	Level string `json:"level"`
	From  string `json:"from,omitempty"`
}

func judgeGates(in Input, r *Report) []GateResult {
	head := in.Head.Catalog
	if head == nil || head.Config == nil || len(head.Config.Gates) == 0 {
		return []GateResult{}
	}
	out := make([]GateResult, 0, len(head.Config.Gates))
	touched := map[catalog.EntityKey]bool{}
	for _, e := range r.Added {
		touched[catalog.EntityKey{Blueprint: e.Blueprint, Identifier: e.Identifier}] = true
	}
	for _, e := range r.Changed {
		touched[catalog.EntityKey{Blueprint: e.Blueprint, Identifier: e.Identifier}] = true
	}
	for i, g := range head.Config.Gates {
		gr := GateResult{Index: i, Mode: g.Mode, Passed: true}
		if gr.Mode == "" {
			gr.Mode = ModeBlock
		}
		if head.Config.Doc != nil {
			gr.Position = head.Config.Doc.Pos("gates", strconv.Itoa(i))
		}
		filter, err := gateFilter(g)
		switch {
		case err != nil:
			gr.Error = err.Error()
		case in.Head.Scores == nil:
			gr.Error = "the head has errors, so nothing was scored"
		case g.Scorecard != "":
			judgeMinLevel(in, g, filter, touched, r, &gr)
		case len(g.NoRegression) > 0:
			judgeNoRegression(in, g, filter, r, &gr)
		default:
			gr.Error = "names neither a scorecard nor noRegression"
		}
		gr.Description = describe(g)
		if gr.Error != "" || len(gr.Failures) > 0 {
			gr.Passed = false
		}
		out = append(out, gr)
	}
	return out
}

func gateFilter(g catalog.Gate) (*query.Query, error) {
	if g.Filter == nil {
		return nil, nil
	}
	q, err := query.Parse(g.Filter)
	if err != nil {
		return nil, fmt.Errorf("filter: %w", err)
	}
	if q.Unbound() {
		return nil, fmt.Errorf("filter: uses context values ({{ }}), which a gate does not have")
	}
	return q, nil
}

// env is the query environment of the head.
func env(in Input) *query.Env {
	ev := in.Head.Scores
	return &query.Env{
		Catalog:  in.Head.Catalog,
		Now:      in.Now,
		Property: in.Head.Property,
		Scorecard: func(e *catalog.Entity, sc string) (string, bool) {
			res, ok := ev.Results[e.Key()][sc]
			return res.Level, ok
		},
		ScorecardRule: func(e *catalog.Entity, sc, rule string) (string, bool) {
			res, ok := ev.Results[e.Key()][sc]
			if !ok {
				return "", false
			}
			for _, rr := range res.Rules {
				if rr.Identifier == rule {
					return string(rr.Status), true
				}
			}
			return "", false
		},
	}
}

func matches(q *query.Query, env *query.Env, e *catalog.Entity, gr *GateResult) bool {
	if q == nil {
		return true
	}
	ok, err := q.Eval(env, e)
	if err != nil && gr.Error == "" {
		gr.Error = fmt.Sprintf("filter on %s/%s: %v", e.Blueprint, e.Identifier, err)
	}
	return ok
}

func judgeMinLevel(in Input, g catalog.Gate, filter *query.Query, touched map[catalog.EntityKey]bool, r *Report, gr *GateResult) {
	head := in.Head.Catalog
	var sc *catalog.Scorecard
	for _, s := range head.Scorecards {
		if s.Identifier == g.Scorecard {
			sc = s
		}
	}
	if sc == nil {
		gr.Error = fmt.Sprintf("no scorecard %q", g.Scorecard)
		return
	}
	want := slices.Index(sc.LevelTitles(), g.MinLevel)
	if want < 0 {
		gr.Error = fmt.Sprintf("scorecard %q has no level %q", g.Scorecard, g.MinLevel)
		return
	}
	if in.Base != nil {
		for _, c := range r.Levels {
			if c.Scorecard == g.Scorecard && c.From != c.To {
				touched[c.Entity] = true
			}
		}
	}
	env := env(in)
	for _, e := range head.Entities {
		res, ok := in.Head.Scores.Results[e.Key()][g.Scorecard]
		if !ok || !matches(filter, env, e, gr) {
			continue
		}
		gr.Checked++
		if res.LevelIndex >= want {
			continue
		}
		if in.Base != nil && !touched[e.Key()] {
			gr.Preexisting++
			continue
		}
		gr.Failures = append(gr.Failures, GateFailure{Entity: ref(e), Scorecard: g.Scorecard, Level: res.Level})
	}
	sortFailures(gr.Failures)
}

func judgeNoRegression(in Input, g catalog.Gate, filter *query.Query, r *Report, gr *GateResult) {
	if in.Base == nil {
		return // nothing to regress from
	}
	head := in.Head.Catalog
	env := env(in)
	cards := map[string]bool{}
	for _, id := range g.NoRegression {
		cards[id] = true
	}
	judged := map[catalog.EntityKey]bool{}
	for _, c := range r.Levels {
		if !cards[c.Scorecard] || c.Direction() >= 0 {
			continue
		}
		e := head.Entity(c.Entity)
		if e == nil || !matches(filter, env, e, gr) {
			continue
		}
		judged[c.Entity] = true
		gr.Failures = append(gr.Failures, GateFailure{Entity: ref(e), Scorecard: c.Scorecard, Level: c.To, From: c.From})
	}
	// Checked counts the head's entities scored by the listed scorecards.
	for _, m := range in.Head.Scores.Results {
		for id := range m {
			if cards[id] {
				gr.Checked++
				break
			}
		}
	}
	sortFailures(gr.Failures)
}

func sortFailures(fs []GateFailure) {
	slices.SortFunc(fs, func(a, b GateFailure) int {
		return cmp.Or(strings.Compare(a.Scorecard, b.Scorecard), strings.Compare(a.Entity.Blueprint, b.Entity.Blueprint),
			strings.Compare(a.Entity.Identifier, b.Entity.Identifier))
	})
}

// describe says what a gate asks, in words.
func describe(g catalog.Gate) string {
	var s string
	switch {
	case g.Scorecard != "":
		s = fmt.Sprintf("%s at least %s", g.Scorecard, g.MinLevel)
	case len(g.NoRegression) > 0:
		s = "no level drops in " + strings.Join(g.NoRegression, ", ")
	default:
		s = "empty gate"
	}
	if g.Filter != nil {
		s += " (filtered)"
	}
	return s
}
