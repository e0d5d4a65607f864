package scorecard

import (
	"time"
)

// Status is a rule's outcome for one entity.
type Status string

// Rule outcomes, as Port names them.
const (
	Success Status = "SUCCESS"
	Failure Status = "FAILURE"
)

// RuleResult is one rule's outcome for one entity.
type RuleResult struct {
	Identifier string `json:"identifier"`
	Level      string `json:"level"`
	Status     Status `json:"status"`
	// Exempt is set when the rule failed but an unexpired exemption makes
	// it count as passed; Status is then SUCCESS and Reason says why.
	Exempt bool   `json:"exempt,omitempty"`
	Reason string `json:"reason,omitempty"`
	// NotEnforced is set when the rule failed before its enforceFrom date:
	// it is reported as FAILURE but does not lower the level. EnforceFrom
	// is then that date, as the scorecard writes it.
	NotEnforced bool   `json:"notEnforced,omitempty"`
	EnforceFrom string `json:"enforceFrom,omitempty"`
	// Error holds why the rule could not be evaluated (it then fails).
	Error string `json:"error,omitempty"`
}

// Result is one entity's outcome for one scorecard.
type Result struct {
	Scorecard  string       `json:"scorecard"`
	Level      string       `json:"level"`
	LevelIndex int          `json:"levelIndex"`
	Rules      []RuleResult `json:"rules"`
}

// Passed returns how many rules passed (exempt rules count as passed).
func (r Result) Passed() int {
	n := 0
	for _, rr := range r.Rules {
		if rr.Status == Success {
			n++
		}
	}
	return n
}

// Percent is Port's scorecardsStats: the share of rules passed, 0..100.
func (r Result) Percent() float64 {
	if len(r.Rules) == 0 {
		return 100
	}
	return float64(r.Passed()) * 100 / float64(len(r.Rules))
}

// Failing returns the identifiers of the rules that failed, in rule order.
func (r Result) Failing() []string {
	var out []string
	for _, rr := range r.Rules {
		if rr.Status == Failure {
			out = append(out, rr.Identifier)
		}
	}
	return out
}

// level computes the level index from rule outcomes: one below the lowest
// level that has a failing, enforced rule; the top level when none fails.
// levels is the ordered list of level titles; rules name levels by title.
func level(levels []string, rules []RuleResult) int {
	index := make(map[string]int, len(levels))
	for i, l := range levels {
		index[l] = i
	}
	lowestFail := len(levels)
	for _, r := range rules {
		if r.Status != Failure || r.NotEnforced {
			continue
		}
		i, ok := index[r.Level]
		if !ok {
			continue // unknown levels are a validation error, reported there
		}
		lowestFail = min(lowestFail, i)
	}
	return max(lowestFail-1, 0)
}

// parseDate reads the dates berth accepts in exemptions and enforceFrom:
// RFC 3339 or YYYY-MM-DD (midnight UTC).
func parseDate(s string) (time.Time, bool) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, true
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, true
	}
	return time.Time{}, false
}
