package scorecard

import (
	"cmp"
	"slices"
	"strings"

	"github.com/berth-dev/berth/pkg/catalog"
)

// Change is how one entity's result for one scorecard differs between two
// evaluations (base and head of a pull request, or two commits).
type Change struct {
	Entity    catalog.EntityKey `json:"entity"`
	Scorecard string            `json:"scorecard"`
	// From and To are level titles; "" means not scored (the entity did not
	// exist or did not match the filter).
	From      string   `json:"from"`
	To        string   `json:"to"`
	FromIndex int      `json:"fromIndex"`
	ToIndex   int      `json:"toIndex"`
	NewlyFail []string `json:"newlyFailing,omitempty"`
	NewlyPass []string `json:"newlyPassing,omitempty"`
}

// Direction is +1 when the level went up, -1 when down, 0 when equal (or
// when the entity entered or left the scorecard).
func (c Change) Direction() int {
	if c.From == "" || c.To == "" {
		return 0
	}
	return cmp.Compare(c.ToIndex, c.FromIndex)
}

// Diff compares two evaluations and returns every entity/scorecard whose
// level or failing rules changed, sorted by scorecard, blueprint, entity.
func Diff(base, head *Evaluation) []Change {
	var out []Change
	seen := map[key]bool{}
	visit := func(k key) {
		if seen[k] {
			return
		}
		seen[k] = true
		b, inBase := base.lookup(k)
		h, inHead := head.lookup(k)
		c := Change{Entity: k.entity, Scorecard: k.scorecard}
		if inBase {
			c.From, c.FromIndex = b.Level, b.LevelIndex
		}
		if inHead {
			c.To, c.ToIndex = h.Level, h.LevelIndex
		}
		bf, hf := failingSet(b, inBase), failingSet(h, inHead)
		for _, r := range h.Failing() {
			if !bf[r] && inBase {
				c.NewlyFail = append(c.NewlyFail, r)
			}
		}
		for _, r := range b.Failing() {
			if !hf[r] && inHead {
				c.NewlyPass = append(c.NewlyPass, r)
			}
		}
		if c.From != c.To || len(c.NewlyFail) > 0 || len(c.NewlyPass) > 0 {
			out = append(out, c)
		}
	}
	for _, ev := range []*Evaluation{base, head} {
		if ev == nil {
			continue
		}
		for ek, m := range ev.Results {
			for sc := range m {
				visit(key{ek, sc})
			}
		}
	}
	slices.SortFunc(out, func(a, b Change) int {
		return cmp.Or(strings.Compare(a.Scorecard, b.Scorecard),
			strings.Compare(a.Entity.Blueprint, b.Entity.Blueprint),
			strings.Compare(a.Entity.Identifier, b.Entity.Identifier))
	})
	return out
}

type key struct {
	entity    catalog.EntityKey
	scorecard string
}

func (ev *Evaluation) lookup(k key) (Result, bool) {
	if ev == nil {
		return Result{}, false
	}
	r, ok := ev.Results[k.entity][k.scorecard]
	return r, ok
}

func failingSet(r Result, ok bool) map[string]bool {
	m := map[string]bool{}
	if ok {
		for _, f := range r.Failing() {
			m[f] = true
		}
	}
	return m
}
