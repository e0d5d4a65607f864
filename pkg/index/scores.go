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
		{&ss.rules, "scorecard rule results", 6, insertRows(`INSERT OR REPLACE INTO scorecard_rule_results
			(entity_id, scorecard, rule, status, exempt, enforce_from)`, 6, "")},
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

// scoreRows are an entity's scorecard results as rows of their batches,
// with the entity id (each row's first value) left nil, and the state each
// scorecard's history row records.
type scoreRows struct {
	results, rules []any
	cur            map[string]historyState
}

// scoreRowsOf builds the rows of es, in bufs' slices when bufs is not nil.
// It reads nothing of the applier but its boxes: pipeline runs it on other
// goroutines.
func (a *applier) scoreRowsOf(es *EntityScores, bufs *rowBufs) *scoreRows {
	sr := &scoreRows{cur: make(map[string]historyState, len(es.Results))}
	if bufs != nil {
		sr.results, sr.rules = bufs.results[:0], bufs.rules[:0]
	}
	for _, r := range es.Results {
		sc := a.boxes.of(r.Scorecard)
		sr.results = append(sr.results, nil, sc, a.boxes.of(r.Level), int64(r.LevelIndex), int64(r.Passed), int64(r.Total))
		for _, rr := range r.Rules {
			var from any // NULL: enforced
			if rr.EnforceFrom != "" {
				from = a.boxes.of(rr.EnforceFrom)
			}
			sr.rules = append(sr.rules, nil, sc, a.boxes.of(rr.Rule), a.boxes.of(rr.Status), boolInt(rr.Exempt), from)
		}
		sr.cur[r.Scorecard] = historyState{level: r.Level, failing: failingRules(r.Rules)}
	}
	return sr
}

// writeScores adds the rows of an entity's results, and the history rows
// where a result changed, given the scorecards it had results on before.
func (a *applier) writeScores(k catalog.EntityKey, id any, sr *scoreRows, old []string) error {
	a.ss.results.rows(sr.results, id)
	a.ss.rules.rows(sr.rules, id)
	cards := make([]string, 0, len(sr.cur)+len(old))
	for sc := range sr.cur {
		cards = append(cards, sc)
	}
	cards = append(cards, old...)
	slices.Sort(cards)
	for _, sc := range slices.Compact(cards) {
		st, ok := sr.cur[sc]
		if !ok {
			st = leftScorecard
		}
		if err := a.history(k, sc, st); err != nil {
			return err
		}
	}
	return nil
}

// scores replaces the results of every entity the snapshot scores and
// appends history rows where a result changed. The results of entities
// inserted in this revision were written with them (see write).
func (a *applier) scores() error {
	if len(a.snap.Scores) == 0 {
		return nil
	}
	ss, err := a.scoreStatements()
	if err != nil {
		return err
	}
	for i := range a.snap.Scores {
		es := &a.snap.Scores[i]
		k := es.Key
		if a.scored[k] {
			continue
		}
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
		if err := a.writeScores(k, id, a.scoreRowsOf(es, nil), old); err != nil {
			return err
		}
		if err := a.flushIfFull(); err != nil {
			return err
		}
	}
	return a.flush()
}

// boxes holds strings boxed into interfaces once: scorecard, rule and level
// names, statuses and rule deadlines repeat in every entity's result rows, and boxing a
// string allocates. It is filled before the pipeline starts and only read
// after, so its workers share it.
type boxes map[string]any

// of returns s boxed, from the set when it is there.
func (b boxes) of(s string) any {
	if v, ok := b[s]; ok {
		return v
	}
	return s
}

// add boxes the names a snapshot's results use.
func (b boxes) add(scores []EntityScores) {
	for _, es := range scores {
		for _, r := range es.Results {
			for _, s := range []string{r.Scorecard, r.Level} {
				if _, ok := b[s]; !ok {
					b[s] = s
				}
			}
			for _, rr := range r.Rules {
				for _, s := range []string{rr.Rule, rr.Status, rr.EnforceFrom} {
					if _, ok := b[s]; !ok && s != "" {
						b[s] = s
					}
				}
			}
		}
	}
}

func boolInt(b bool) any {
	if b {
		return int64(1)
	}
	return int64(0)
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
