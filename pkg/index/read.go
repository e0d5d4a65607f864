package index

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/berth-dev/berth/pkg/catalog"
)

// Reads go through the read pool: they never wait for Apply, and each
// statement sees one whole revision. Use ReadTx where several statements
// must see the same one.

// Revision is one reconcile attempt.
type Revision struct {
	ID           int64
	Commit       string
	Parent       string
	Author       string
	Message      string
	CommittedAt  time.Time
	ReconciledAt time.Time
	Status       Status
	Reason       string
	Duration     time.Duration
	Entities     int
	Errors       int
	Warnings     int
}

// State is what the index holds.
type State struct {
	// Applied is the revision the catalog tables hold; nil before the first
	// apply.
	Applied *Revision
	// LastAttempt is the newest attempt of any status; nil when none.
	LastAttempt *Revision
	SchemaHash  string
}

// Entity is an indexed entity.
type Entity struct {
	ID         int64
	Blueprint  string
	Identifier string
	Title      string
	Icon       string
	Meta       catalog.Meta
	File       string
	Line       int
	// Doc is the Port-shaped JSON document, computed properties included.
	Doc json.RawMessage
}

// EntityInfo is what the reconciler carries forward for an entity.
type EntityInfo struct {
	Meta catalog.Meta
	File string
	Line int
}

// Object is an indexed blueprint, scorecard, action, page or role.
type Object struct {
	Identifier string
	Blueprint  string // scorecards only
	Doc        json.RawMessage
	File       string
	Line       int
}

// HistoryEntry is a change of an entity's result on a scorecard.
type HistoryEntry struct {
	RevisionID   int64
	Commit       string
	Level        string // "" when the entity left the scorecard
	FailingRules []string
	At           time.Time
}

const revisionColumns = `id, commit_hash, coalesce(parent_hash, ''), coalesce(author, ''), coalesce(message, ''),
	coalesce(committed_at, ''), reconciled_at, status, coalesce(reason, ''), duration_ms, entities, errors, warnings`

func scanRevision(sc interface{ Scan(...any) error }) (Revision, error) {
	var r Revision
	var committed, reconciled string
	var ms int64
	err := sc.Scan(&r.ID, &r.Commit, &r.Parent, &r.Author, &r.Message, &committed, &reconciled, &r.Status,
		&r.Reason, &ms, &r.Entities, &r.Errors, &r.Warnings)
	r.CommittedAt, r.ReconciledAt, r.Duration = parseTime(committed), parseTime(reconciled), time.Duration(ms)*time.Millisecond
	return r, err
}

// State returns the applied revision, the newest attempt and the schema hash.
func (db *DB) State(ctx context.Context) (State, error) {
	var st State
	err := db.ReadTx(ctx, func(tx *sql.Tx) error {
		var applied sql.NullInt64
		if err := tx.QueryRowContext(ctx, "SELECT applied_revision, coalesce(schema_hash, '') FROM state WHERE id = 1").
			Scan(&applied, &st.SchemaHash); err != nil {
			return err
		}
		if applied.Valid {
			r, err := scanRevision(tx.QueryRowContext(ctx, "SELECT "+revisionColumns+" FROM revisions WHERE id = ?",
				applied.Int64))
			if err != nil {
				return err
			}
			st.Applied = &r
		}
		r, err := scanRevision(tx.QueryRowContext(ctx, "SELECT "+revisionColumns+" FROM revisions ORDER BY id DESC LIMIT 1"))
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return err
		default:
			st.LastAttempt = &r
		}
		return nil
	})
	if err != nil {
		return State{}, fmt.Errorf("read state: %w", err)
	}
	return st, nil
}

// Revisions returns up to limit attempts, newest first.
func (db *DB) Revisions(ctx context.Context, limit int) ([]Revision, error) {
	rows, err := db.r.QueryContext(ctx, "SELECT "+revisionColumns+" FROM revisions ORDER BY id DESC LIMIT ?", limit)
	if err != nil {
		return nil, fmt.Errorf("read revisions: %w", err)
	}
	out, err := collect(rows, func(rows *sql.Rows) (Revision, error) { return scanRevision(rows) })
	if err != nil {
		return nil, fmt.Errorf("read revisions: %w", err)
	}
	return out, nil
}

// Diagnostics returns the diagnostics recorded with a revision, in file
// order.
func (db *DB) Diagnostics(ctx context.Context, revisionID int64) (catalog.Diagnostics, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT file, line, col, severity, code, message FROM diagnostics
		WHERE revision_id = ? ORDER BY file, line, col, rowid`, revisionID)
	if err != nil {
		return nil, fmt.Errorf("read diagnostics: %w", err)
	}
	out, err := collect(rows, func(rows *sql.Rows) (catalog.Diagnostic, error) {
		var d catalog.Diagnostic
		var sev string
		if err := rows.Scan(&d.File, &d.Line, &d.Col, &sev, &d.Code, &d.Message); err != nil {
			return d, err
		}
		return d, d.Severity.UnmarshalText([]byte(sev))
	})
	if err != nil {
		return nil, fmt.Errorf("read diagnostics: %w", err)
	}
	return out, nil
}

// entityColumns are the columns scanEntity reads, from `entities e`.
const entityColumns = `e.id, e.blueprint, e.identifier, coalesce(e.title, ''), coalesce(e.icon, ''),
	coalesce(e.created_at, ''), coalesce(e.updated_at, ''), coalesce(e.created_by, ''), coalesce(e.updated_by, ''),
	e.file, e.line, e.doc`

func scanEntity(sc interface{ Scan(...any) error }) (Entity, error) {
	var e Entity
	var created, updated string
	var doc []byte
	err := sc.Scan(&e.ID, &e.Blueprint, &e.Identifier, &e.Title, &e.Icon, &created, &updated, &e.Meta.CreatedBy,
		&e.Meta.UpdatedBy, &e.File, &e.Line, &doc)
	e.Meta.CreatedAt, e.Meta.UpdatedAt = parseTime(created), parseTime(updated)
	e.Doc = doc
	return e, err
}

// Entity returns one entity, or an error wrapping ErrNotFound.
func (db *DB) Entity(ctx context.Context, blueprint, identifier string) (Entity, error) {
	e, err := scanEntity(db.r.QueryRowContext(ctx, "SELECT "+entityColumns+
		" FROM entities e WHERE e.blueprint = ? AND e.identifier = ?", blueprint, identifier))
	if errors.Is(err, sql.ErrNoRows) {
		return e, fmt.Errorf("entity %s/%s: %w", blueprint, identifier, ErrNotFound)
	}
	if err != nil {
		return e, fmt.Errorf("read entity %s/%s: %w", blueprint, identifier, err)
	}
	return e, nil
}

// Entities returns up to limit entities of a blueprint ordered by
// identifier, starting after the identifier after ("" for the first page).
func (db *DB) Entities(ctx context.Context, blueprint string, limit int, after string) ([]Entity, error) {
	return db.Search(ctx, "e.blueprint = ? AND e.identifier > ?", []any{blueprint, after}, "e.identifier", limit)
}

// CountEntities returns the number of entities of a blueprint.
func (db *DB) CountEntities(ctx context.Context, blueprint string) (int, error) {
	return db.Count(ctx, "e.blueprint = ?", []any{blueprint})
}

// EntityCountsByBlueprint returns the number of entities of each blueprint
// that has any.
func (db *DB) EntityCountsByBlueprint(ctx context.Context) (map[string]int, error) {
	rows, err := db.r.QueryContext(ctx, "SELECT blueprint, count(*) FROM entities GROUP BY blueprint")
	if err != nil {
		return nil, fmt.Errorf("count entities: %w", err)
	}
	out := make(map[string]int)
	_, err = collect(rows, func(rows *sql.Rows) (struct{}, error) {
		var bp string
		var n int
		err := rows.Scan(&bp, &n)
		out[bp] = n
		return struct{}{}, err
	})
	if err != nil {
		return nil, fmt.Errorf("count entities: %w", err)
	}
	return out, nil
}

// EntityKeys returns the key of every indexed entity, ordered.
func (db *DB) EntityKeys(ctx context.Context) ([]catalog.EntityKey, error) {
	rows, err := db.r.QueryContext(ctx, "SELECT blueprint, identifier FROM entities ORDER BY blueprint, identifier")
	if err != nil {
		return nil, fmt.Errorf("read entity keys: %w", err)
	}
	out, err := collect(rows, func(rows *sql.Rows) (catalog.EntityKey, error) {
		var k catalog.EntityKey
		return k, rows.Scan(&k.Blueprint, &k.Identifier)
	})
	if err != nil {
		return nil, fmt.Errorf("read entity keys: %w", err)
	}
	return out, nil
}

// EntityMeta returns every indexed entity's created/updated facts and
// source position, for the reconciler to carry forward.
func (db *DB) EntityMeta(ctx context.Context) (map[catalog.EntityKey]EntityInfo, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT blueprint, identifier, coalesce(created_at, ''),
		coalesce(updated_at, ''), coalesce(created_by, ''), coalesce(updated_by, ''), file, line FROM entities`)
	if err != nil {
		return nil, fmt.Errorf("read entity meta: %w", err)
	}
	out := make(map[catalog.EntityKey]EntityInfo)
	_, err = collect(rows, func(rows *sql.Rows) (struct{}, error) {
		var k catalog.EntityKey
		var in EntityInfo
		var created, updated string
		err := rows.Scan(&k.Blueprint, &k.Identifier, &created, &updated, &in.Meta.CreatedBy, &in.Meta.UpdatedBy,
			&in.File, &in.Line)
		in.Meta.CreatedAt, in.Meta.UpdatedAt = parseTime(created), parseTime(updated)
		out[k] = in
		return struct{}{}, err
	})
	if err != nil {
		return nil, fmt.Errorf("read entity meta: %w", err)
	}
	return out, nil
}

// ScorecardHistory returns an entity's history on a scorecard, oldest first.
func (db *DB) ScorecardHistory(ctx context.Context, blueprint, identifier, scorecard string) ([]HistoryEntry, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT revision_id, commit_hash, level, failing_rules, at
		FROM scorecard_history WHERE blueprint = ? AND identifier = ? AND scorecard = ?
		ORDER BY revision_id, rowid`, blueprint, identifier, scorecard)
	if err != nil {
		return nil, fmt.Errorf("read scorecard history: %w", err)
	}
	out, err := collect(rows, func(rows *sql.Rows) (HistoryEntry, error) {
		var h HistoryEntry
		var failing, at string
		if err := rows.Scan(&h.RevisionID, &h.Commit, &h.Level, &failing, &at); err != nil {
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

// Scores returns an entity's scorecard results, ordered by scorecard, with
// every rule's result (ScoresTx, the API's, reads only the rules that did
// not pass): the tests of the index and the reconciler compare whole
// results through it.
func (db *DB) Scores(ctx context.Context, blueprint, identifier string) ([]ScorecardResult, error) {
	var out []ScorecardResult
	err := db.ReadTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT r.scorecard, r.level, r.level_index, r.passed, r.total
			FROM scorecard_results r JOIN entities e ON e.id = r.entity_id
			WHERE e.blueprint = ? AND e.identifier = ? ORDER BY r.scorecard`, blueprint, identifier)
		if err != nil {
			return err
		}
		if out, err = collect(rows, func(rows *sql.Rows) (ScorecardResult, error) {
			var r ScorecardResult
			return r, rows.Scan(&r.Scorecard, &r.Level, &r.LevelIndex, &r.Passed, &r.Total)
		}); err != nil {
			return err
		}
		for i := range out {
			rows, err := tx.QueryContext(ctx, `SELECT rr.rule, rr.status, rr.exempt, rr.enforce_from FROM scorecard_rule_results rr
				JOIN entities e ON e.id = rr.entity_id
				WHERE e.blueprint = ? AND e.identifier = ? AND rr.scorecard = ? ORDER BY rr.rule`,
				blueprint, identifier, out[i].Scorecard)
			if err != nil {
				return err
			}
			if out[i].Rules, err = collect(rows, func(rows *sql.Rows) (RuleResult, error) {
				var r RuleResult
				var from sql.NullString
				err := rows.Scan(&r.Rule, &r.Status, &r.Exempt, &from)
				r.EnforceFrom = from.String
				return r, err
			}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read scores of %s/%s: %w", blueprint, identifier, err)
	}
	return out, nil
}

// collect scans every row with scan and closes rows.
func collect[T any](rows *sql.Rows, scan func(*sql.Rows) (T, error)) ([]T, error) {
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, errors.Join(err, rows.Close())
		}
		out = append(out, v)
	}
	return out, errors.Join(rows.Err(), rows.Close())
}
