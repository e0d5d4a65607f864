package index

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/berth-dev/berth/pkg/catalog"
)

// scoreStmts are prepared on first use: most revisions of a catalog without
// scorecards never need them.
type scoreStmts struct {
	oldCards, delResults, delRules, lastHistory *sql.Stmt
	results, rules, history                     *batch
}

func (a *applier) scoreStatements() (*scoreStmts, error) {
	if a.ss != nil {
		return a.ss, nil
	}
	ss := &scoreStmts{}
	var err error
	for _, p := range []struct {
		dst **sql.Stmt
		sql string
	}{
		{&ss.oldCards, "SELECT scorecard FROM scorecard_results WHERE entity_id = ?"},
		{&ss.delResults, "DELETE FROM scorecard_results WHERE entity_id = ?"},
		{&ss.delRules, "DELETE FROM scorecard_rule_results WHERE entity_id = ?"},
		{&ss.lastHistory, `SELECT level, failing_rules FROM scorecard_history
			WHERE blueprint = ? AND identifier = ? AND scorecard = ? ORDER BY revision_id DESC LIMIT 1`},
	} {
		if *p.dst, err = a.prepare(p.sql); err != nil {
			return nil, err
		}
	}
	for _, b := range []struct {
		dst   **batch
		name  string
		width int
		query func(int) string
	}{
		{&ss.results, "scorecard results", 6, insertRows(`INSERT OR REPLACE INTO scorecard_results (entity_id,
			scorecard, level, level_index, passed, total)`, 6, "")},
		{&ss.rules, "scorecard rule results", 5, insertRows(`INSERT OR REPLACE INTO scorecard_rule_results
			(entity_id, scorecard, rule, status, exempt)`, 5, "")},
		{&ss.history, "scorecard history", 8, insertRows(`INSERT INTO scorecard_history (blueprint, identifier,
			scorecard, revision_id, commit_hash, level, failing_rules, at)`, 8, "")},
	} {
		if *b.dst, err = a.newBatch(b.name, b.width, b.query); err != nil {
			return nil, err
		}
	}
	a.ss = ss
	return ss, nil
}

// historyState is what a scorecard history row records.
type historyState struct {
	level   string
	failing string // JSON list of rule identifiers, sorted
}

var leftScorecard = historyState{level: "", failing: "[]"}

func failingRules(rules []RuleResult) string {
	var ids []string
	for _, r := range rules {
		if r.Status == "FAILURE" {
			ids = append(ids, r.Rule)
		}
	}
	if len(ids) == 0 {
		return "[]"
	}
	slices.Sort(ids)
	b, _ := json.Marshal(ids) // a []string always encodes
	return string(b)
}

// scores replaces the results of every entity the snapshot scores and
// appends history rows where a result changed.
func (a *applier) scores() error {
	if len(a.snap.Scores) == 0 {
		return nil
	}
	ss, err := a.scoreStatements()
	if err != nil {
		return err
	}
	for _, es := range a.snap.Scores {
		k := es.Key
		e, found, err := a.find(k)
		if err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("score %s/%s: %w", k.Blueprint, k.Identifier, ErrUnknownEntity)
		}
		id := e.id
		var old []string
		if !a.fresh[id] {
			if old, err = a.oldScorecards(id); err != nil {
				return err
			}
			for _, st := range []*sql.Stmt{ss.delResults, ss.delRules} {
				if _, err := st.ExecContext(a.ctx, id); err != nil {
					return fmt.Errorf("clear scores of %s/%s: %w", k.Blueprint, k.Identifier, err)
				}
			}
		}
		cur := make(map[string]historyState, len(es.Results))
		for _, r := range es.Results {
			b := ss.results
			b.start()
			b.int(id)
			b.str(r.Scorecard)
			b.str(r.Level)
			b.int(int64(r.LevelIndex))
			b.int(int64(r.Passed))
			b.int(int64(r.Total))
			b.end()
			for _, rr := range r.Rules {
				b := ss.rules
				b.start()
				b.int(id)
				b.str(r.Scorecard)
				b.str(rr.Rule)
				b.str(rr.Status)
				b.int(boolInt(rr.Exempt))
				b.end()
			}
			cur[r.Scorecard] = historyState{level: r.Level, failing: failingRules(r.Rules)}
		}
		cards := make([]string, 0, len(cur)+len(old))
		for sc := range cur {
			cards = append(cards, sc)
		}
		cards = append(cards, old...)
		slices.Sort(cards)
		for _, sc := range slices.Compact(cards) {
			st, ok := cur[sc]
			if !ok {
				st = leftScorecard
			}
			if err := a.history(k, sc, st); err != nil {
				return err
			}
		}
		if err := a.flushIfFull(); err != nil {
			return err
		}
	}
	return a.flush()
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func (a *applier) oldScorecards(id int64) ([]string, error) {
	rows, err := a.ss.oldCards.QueryContext(a.ctx, id)
	if err != nil {
		return nil, err
	}
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, errors.Join(err, rows.Close())
		}
		out = append(out, s)
	}
	return out, errors.Join(rows.Err(), rows.Close())
}

// history appends a history row for (k, scorecard) unless the last row
// already says st. An entity never scored that is not scored now gets none.
func (a *applier) history(k catalog.EntityKey, scorecard string, st historyState) error {
	last := leftScorecard
	if a.hasHistory {
		err := a.ss.lastHistory.QueryRowContext(a.ctx, k.Blueprint, k.Identifier, scorecard).Scan(&last.level,
			&last.failing)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return fmt.Errorf("read history of %s/%s: %w", k.Blueprint, k.Identifier, err)
		}
	}
	if last == st {
		return nil
	}
	b := a.ss.history
	b.start()
	b.str(k.Blueprint)
	b.str(k.Identifier)
	b.str(scorecard)
	b.int(a.revID)
	b.str(a.commit)
	b.str(st.level)
	b.str(st.failing)
	b.any(a.at)
	b.end()
	a.res.History++
	return nil
}

// leaveScorecards records that a deleted entity left every scorecard it was
// scored on.
func (a *applier) leaveScorecards(id int64, k catalog.EntityKey) error {
	if a.fresh[id] {
		return nil
	}
	if _, err := a.scoreStatements(); err != nil {
		return err
	}
	old, err := a.oldScorecards(id)
	if err != nil {
		return err
	}
	for _, sc := range old {
		if err := a.history(k, sc, leftScorecard); err != nil {
			return err
		}
	}
	return nil
}
