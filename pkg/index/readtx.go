package index

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Reads inside a ReadTx, for callers (the API) whose answer is built from
// several statements that must all see the same revision. Each mirrors a
// DB method of the same name without the Tx suffix.

// AppliedTx returns the id and commit of the revision the catalog tables
// hold, or an error wrapping ErrNotFound before the first apply.
func AppliedTx(ctx context.Context, tx *sql.Tx) (id int64, commit string, err error) {
	var rid sql.NullInt64
	var c sql.NullString
	if err := tx.QueryRowContext(ctx, "SELECT applied_revision, applied_commit FROM state WHERE id = 1").
		Scan(&rid, &c); err != nil {
		return 0, "", fmt.Errorf("read applied revision: %w", err)
	}
	if !rid.Valid {
		return 0, "", fmt.Errorf("applied revision: %w", ErrNotFound)
	}
	return rid.Int64, c.String, nil
}

// EntityTx is Entity inside a ReadTx.
func EntityTx(ctx context.Context, tx *sql.Tx, blueprint, identifier string) (Entity, error) {
	e, err := scanEntity(tx.QueryRowContext(ctx, "SELECT "+entityColumns+
		" FROM entities e WHERE e.blueprint = ? AND e.identifier = ?", blueprint, identifier))
	if errors.Is(err, sql.ErrNoRows) {
		return e, fmt.Errorf("entity %s/%s: %w", blueprint, identifier, ErrNotFound)
	}
	if err != nil {
		return e, fmt.Errorf("read entity %s/%s: %w", blueprint, identifier, err)
	}
	return e, nil
}

// EntitiesByIDTx returns the entities with the given ids, in no particular
// order; ids that do not exist are skipped.
func EntitiesByIDTx(ctx context.Context, tx *sql.Tx, ids []int64) ([]Entity, error) {
	var out []Entity
	err := chunks(ids, func(part []int64, ph string, args []any) error {
		got, err := search(ctx, tx, "e.id IN ("+ph+")", args, "e.id", 0)
		out = append(out, got...)
		return err
	})
	return out, err
}

// ObjectKind names one of the object tables.
type ObjectKind string

// The object kinds.
const (
	KindBlueprint ObjectKind = "blueprints"
	KindScorecard ObjectKind = "scorecards"
	KindAction    ObjectKind = "actions"
	KindPage      ObjectKind = "pages"
	KindRole      ObjectKind = "roles"
)

// ObjectsTx returns every object of a kind, ordered by identifier
// (scorecards by blueprint, then identifier). For scorecards, a non-empty
// blueprint keeps that blueprint's only.
func ObjectsTx(ctx context.Context, tx *sql.Tx, kind ObjectKind, blueprint string) ([]Object, error) {
	if kind == KindScorecard && blueprint != "" {
		return objectsQ(ctx, tx, kind, "blueprint = ?", blueprint)
	}
	return objectsQ(ctx, tx, kind, "")
}

// ObjectTx returns one object, or an error wrapping ErrNotFound. blueprint
// is used for scorecards only.
func ObjectTx(ctx context.Context, tx *sql.Tx, kind ObjectKind, blueprint, identifier string) (Object, error) {
	var objs []Object
	var err error
	if kind == KindScorecard {
		objs, err = objectsQ(ctx, tx, kind, "blueprint = ? AND identifier = ?", blueprint, identifier)
	} else {
		objs, err = objectsQ(ctx, tx, kind, "identifier = ?", identifier)
	}
	if err != nil {
		return Object{}, err
	}
	if len(objs) == 0 {
		return Object{}, fmt.Errorf("%s %s: %w", strings.TrimSuffix(string(kind), "s"), identifier, ErrNotFound)
	}
	return objs[0], nil
}

func objectsQ(ctx context.Context, q querier, kind ObjectKind, where string, args ...any) ([]Object, error) {
	switch kind {
	case KindBlueprint, KindScorecard, KindAction, KindPage, KindRole:
	default:
		return nil, fmt.Errorf("read objects: unknown kind %q", kind)
	}
	bp := "''"
	if kind == KindScorecard {
		bp = "blueprint"
	}
	s := "SELECT identifier, " + bp + ", doc, coalesce(file, ''), coalesce(line, 0) FROM " + string(kind)
	if where != "" {
		s += " WHERE " + where
	}
	rows, err := q.QueryContext(ctx, s+" ORDER BY "+bp+", identifier", args...)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", kind, err)
	}
	out, err := collect(rows, func(rows *sql.Rows) (Object, error) {
		var o Object
		var doc []byte
		err := rows.Scan(&o.Identifier, &o.Blueprint, &doc, &o.File, &o.Line)
		o.Doc = doc
		return o, err
	})
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", kind, err)
	}
	return out, nil
}

// Edge is one relation between two indexed entities.
type Edge struct {
	Source   int64
	Relation string
	Target   int64
	// TargetTitle is the target entity's title ("" when it has none).
	TargetTitle string
	// TargetIdentifier is the target's identifier as written.
	TargetIdentifier string
}

// Other returns the entity at the far end of the edge from a walk's
// point of view: the target when walking upstream (following relations),
// the source when walking downstream (finding what points here).
func (e Edge) Other(upstream bool) int64 {
	if upstream {
		return e.Target
	}
	return e.Source
}

// RelationsTx returns the relations of the given entities: outgoing ones
// (source in ids) when upstream, incoming ones (target in ids) otherwise.
// Relations to entities not in the index are left out.
func RelationsTx(ctx context.Context, tx *sql.Tx, ids []int64, upstream bool) ([]Edge, error) {
	col := "r.target_id"
	if upstream {
		col = "r.source_id"
	}
	var out []Edge
	err := chunks(ids, func(_ []int64, ph string, args []any) error {
		rows, err := tx.QueryContext(ctx, `SELECT r.source_id, r.relation, r.target_id, r.target_identifier,
			coalesce(t.title, '') FROM relations r JOIN entities t ON t.id = r.target_id
			WHERE `+col+` IN (`+ph+`) ORDER BY r.source_id, r.relation, r.target_identifier`, args...)
		if err != nil {
			return err
		}
		got, err := collect(rows, func(rows *sql.Rows) (Edge, error) {
			var e Edge
			return e, rows.Scan(&e.Source, &e.Relation, &e.Target, &e.TargetIdentifier, &e.TargetTitle)
		})
		out = append(out, got...)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read relations: %w", err)
	}
	return out, nil
}

// ScoresTx returns the scorecard results of the given entities by entity
// id, each ordered by scorecard. Each result's Rules hold only the rules
// that did not pass or are exempt, ordered by rule: every other rule of the
// scorecard passed. (A rule row costs more to read than the whole result,
// and most rules pass.)
func ScoresTx(ctx context.Context, tx *sql.Tx, ids []int64) (map[int64][]ScorecardResult, error) {
	out := make(map[int64][]ScorecardResult)
	// One statement: each result with its listed rules (a result without
	// any comes once, with NULL rule columns).
	err := chunks(ids, func(_ []int64, ph string, args []any) error {
		rows, err := tx.QueryContext(ctx, `SELECT r.entity_id, r.scorecard, r.level, r.level_index, r.passed, r.total,
			rr.rule, rr.status, rr.exempt, rr.enforce_from
			FROM scorecard_results r LEFT JOIN scorecard_rule_results rr
				ON rr.entity_id = r.entity_id AND rr.scorecard = r.scorecard AND (rr.status <> 'SUCCESS' OR rr.exempt <> 0)
			WHERE r.entity_id IN (`+ph+`) ORDER BY r.entity_id, r.scorecard, rr.rule`, args...)
		if err != nil {
			return err
		}
		_, err = collect(rows, func(rows *sql.Rows) (struct{}, error) {
			var id int64
			var r ScorecardResult
			var rule, status, from sql.NullString
			var exempt sql.NullBool
			if err := rows.Scan(&id, &r.Scorecard, &r.Level, &r.LevelIndex, &r.Passed, &r.Total, &rule, &status, &exempt,
				&from); err != nil {
				return struct{}{}, err
			}
			res := out[id]
			if n := len(res); n == 0 || res[n-1].Scorecard != r.Scorecard {
				res = append(res, r)
			}
			if rule.Valid {
				last := &res[len(res)-1]
				last.Rules = append(last.Rules, RuleResult{Rule: rule.String, Status: status.String, Exempt: exempt.Bool,
					EnforceFrom: from.String})
			}
			out[id] = res
			return struct{}{}, nil
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read scores: %w", err)
	}
	return out, nil
}

// ScorecardHistoryTx is ScorecardHistory inside a ReadTx.
func ScorecardHistoryTx(ctx context.Context, tx *sql.Tx, blueprint, identifier, scorecard string) ([]HistoryEntry, error) {
	rows, err := tx.QueryContext(ctx, `SELECT revision_id, commit_hash, level, failing_rules, at
		FROM scorecard_history WHERE blueprint = ? AND identifier = ? AND scorecard = ?
		ORDER BY revision_id, rowid`, blueprint, identifier, scorecard)
	if err != nil {
		return nil, fmt.Errorf("read scorecard history: %w", err)
	}
	out, err := collect(rows, scanHistory)
	if err != nil {
		return nil, fmt.Errorf("read scorecard history: %w", err)
	}
	return out, nil
}

// EntityHistory is a HistoryEntry with the entity it belongs to.
type EntityHistory struct {
	Identifier string
	HistoryEntry
}

// ScorecardChangesTx returns every history row of a scorecard over a
// blueprint's entities, ordered by revision: replaying them gives the
// scorecard's state at each revision.
func ScorecardChangesTx(ctx context.Context, tx *sql.Tx, blueprint, scorecard string) ([]EntityHistory, error) {
	rows, err := tx.QueryContext(ctx, `SELECT identifier, revision_id, commit_hash, level, failing_rules, at
		FROM scorecard_history WHERE blueprint = ? AND scorecard = ? ORDER BY revision_id, rowid`, blueprint, scorecard)
	if err != nil {
		return nil, fmt.Errorf("read scorecard history: %w", err)
	}
	out, err := collect(rows, func(rows *sql.Rows) (EntityHistory, error) {
		var h EntityHistory
		var failing, at string
		if err := rows.Scan(&h.Identifier, &h.RevisionID, &h.Commit, &h.Level, &failing, &at); err != nil {
			return h, err
		}
		h.At = parseTime(at)
		return h, json.Unmarshal([]byte(failing), &h.FailingRules)
	})
	if err != nil {
		return nil, fmt.Errorf("read scorecard history: %w", err)
	}
	return out, nil
}

func scanHistory(rows *sql.Rows) (HistoryEntry, error) {
	var h HistoryEntry
	var failing, at string
	if err := rows.Scan(&h.RevisionID, &h.Commit, &h.Level, &failing, &at); err != nil {
		return h, err
	}
	h.At = parseTime(at)
	return h, json.Unmarshal([]byte(failing), &h.FailingRules)
}

// FilterIDsTx returns which of ids belong to entities matching where (a
// WHERE fragment over entities e with its args, as for SearchTx).
func FilterIDsTx(ctx context.Context, tx *sql.Tx, ids []int64, where string, args []any) (map[int64]bool, error) {
	out := make(map[int64]bool, len(ids))
	err := chunks(ids, func(_ []int64, ph string, idArgs []any) error {
		rows, err := tx.QueryContext(ctx, "SELECT e.id FROM entities e WHERE ("+where+") AND e.id IN ("+ph+")",
			append(slices.Clip(args), idArgs...)...)
		if err != nil {
			return err
		}
		_, err = collect(rows, func(rows *sql.Rows) (struct{}, error) {
			var id int64
			err := rows.Scan(&id)
			out[id] = true
			return struct{}{}, err
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("filter entities: %w", err)
	}
	return out, nil
}

// IdentifiersTx returns the identifiers of the entities matching where
// (as for SearchTx), in no particular order.
func IdentifiersTx(ctx context.Context, tx *sql.Tx, where string, args []any) (map[string]bool, error) {
	if where == "" {
		where = "1"
	}
	rows, err := tx.QueryContext(ctx, "SELECT e.identifier FROM entities e WHERE "+where, args...)
	if err != nil {
		return nil, fmt.Errorf("read identifiers: %w", err)
	}
	out := map[string]bool{}
	if _, err := collect(rows, func(rows *sql.Rows) (struct{}, error) {
		var id string
		err := rows.Scan(&id)
		out[id] = true
		return struct{}{}, err
	}); err != nil {
		return nil, fmt.Errorf("read identifiers: %w", err)
	}
	return out, nil
}

// chunkSize keeps IN lists well under SQLite's bound-parameter limit.
const chunkSize = 500

// chunks calls fn for each run of up to chunkSize ids with the matching
// placeholders and arguments.
func chunks(ids []int64, fn func(part []int64, placeholders string, args []any) error) error {
	for len(ids) > 0 {
		n := min(len(ids), chunkSize)
		part := ids[:n]
		ids = ids[n:]
		args := make([]any, n)
		for i, id := range part {
			args[i] = id
		}
		if err := fn(part, strings.TrimSuffix(strings.Repeat("?,", n), ","), args); err != nil {
			return err
		}
	}
	return nil
}

// ScorecardStats is the current state of one scorecard over a blueprint's
// entities.
type ScorecardStats struct {
	// Levels counts entities per level title.
	Levels map[string]int
	// Rules counts, per rule, the entities passing (SUCCESS) and failing it.
	Rules map[string]RuleCounts
	// Entities is the number of entities scored.
	Entities int
}

// RuleCounts is how many entities pass and fail a rule.
type RuleCounts struct{ Passed, Failed int }

// ScorecardStatsTx returns the current level and rule counts of a
// scorecard over a blueprint's entities that match where (a WHERE
// fragment over entities e with its args, as for SearchTx; "" for all).
func ScorecardStatsTx(ctx context.Context, tx *sql.Tx, blueprint, scorecard, where string, args []any) (ScorecardStats, error) {
	st := ScorecardStats{Levels: map[string]int{}, Rules: map[string]RuleCounts{}}
	if where == "" {
		where = "1"
	}
	args = append([]any{blueprint, scorecard}, args...)
	rows, err := tx.QueryContext(ctx, `SELECT r.level, count(*) FROM scorecard_results r
		JOIN entities e ON e.id = r.entity_id WHERE e.blueprint = ? AND r.scorecard = ? AND (`+where+`) GROUP BY r.level`,
		args...)
	if err != nil {
		return st, fmt.Errorf("read scorecard levels: %w", err)
	}
	if _, err := collect(rows, func(rows *sql.Rows) (struct{}, error) {
		var level string
		var n int
		err := rows.Scan(&level, &n)
		st.Levels[level] += n
		st.Entities += n
		return struct{}{}, err
	}); err != nil {
		return st, fmt.Errorf("read scorecard levels: %w", err)
	}
	rows, err = tx.QueryContext(ctx, `SELECT rr.rule, rr.status, count(*) FROM scorecard_rule_results rr
		JOIN entities e ON e.id = rr.entity_id WHERE e.blueprint = ? AND rr.scorecard = ? AND (`+where+`)
		GROUP BY rr.rule, rr.status`, args...)
	if err != nil {
		return st, fmt.Errorf("read scorecard rules: %w", err)
	}
	if _, err := collect(rows, func(rows *sql.Rows) (struct{}, error) {
		var rule, status string
		var n int
		err := rows.Scan(&rule, &status, &n)
		c := st.Rules[rule]
		if status == "SUCCESS" {
			c.Passed += n
		} else {
			c.Failed += n
		}
		st.Rules[rule] = c
		return struct{}{}, err
	}); err != nil {
		return st, fmt.Errorf("read scorecard rules: %w", err)
	}
	return st, nil
}
