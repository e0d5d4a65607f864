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
	visit := func(k key, b Result, inBase bool, h Result, inHead bool) {
		if inBase && inHead && b.Level == h.Level && sameFailing(b, h) {
			return // the common case: nothing changed
		}
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
	if base != nil {
		for ek, m := range base.Results {
			for sc, b := range m {
				k := key{ek, sc}
				h, inHead := head.lookup(k)
				visit(k, b, true, h, inHead)
			}
		}
	}
	if head != nil {
		for ek, m := range head.Results {
			for sc, h := range m {
				k := key{ek, sc}
				if _, inBase := base.lookup(k); !inBase {
					visit(k, Result{}, false, h, true)
				}
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

// sameFailing reports whether a and b fail the same rules in the same
// order, without allocating.
func sameFailing(a, b Result) bool {
	i, j := 0, 0
	for {
		for i < len(a.Rules) && a.Rules[i].Status != Failure {
			i++
		}
		for j < len(b.Rules) && b.Rules[j].Status != Failure {
			j++
		}
		if i == len(a.Rules) || j == len(b.Rules) {
			return i == len(a.Rules) && j == len(b.Rules)
		}
		if a.Rules[i].Identifier != b.Rules[j].Identifier {
			return false
		}
		i++
		j++
	}
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
