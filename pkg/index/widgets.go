package index

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/berth-dev/berth/pkg/query"
)

// Aggregates for dashboard widgets. Each function takes the entities to
// aggregate as a WHERE fragment over `entities e` with its args (as for
// SearchTx, the caller's read policy already ANDed in) and computes its
// answer in SQL: no entity is loaded into Go. The fragment comes first in
// every statement, so its placeholders lead the arguments.
//
// The aliases below (wv, wt, wr, ws, tgt) cannot clash with those of
// package query, which end in a number.

// FieldKind says where a Field's values live.
type FieldKind int

// Field kinds.
const (
	// FieldProperty is a property's values (entity_values): stored or
	// computed; an array has one value per item.
	FieldProperty FieldKind = iota
	// FieldColumn is a column of entities: blueprint, identifier, title,
	// icon, created_at, updated_at, created_by or updated_by.
	FieldColumn
	// FieldTeam is the entity's teams ($team): an entity may have several.
	FieldTeam
	// FieldRelation is the identifiers of the entities a relation points to.
	FieldRelation
	// FieldScorecard is the entity's level in a scorecard.
	FieldScorecard
)

// columns are the entities columns a FieldColumn may name.
var columns = map[string]bool{
	"blueprint": true, "identifier": true, "title": true, "icon": true,
	"created_at": true, "updated_at": true, "created_by": true, "updated_by": true,
}

// Field is what widget data groups or aggregates entities by.
type Field struct {
	Kind FieldKind
	// Name is the property key, the column, the relation or the scorecard
	// identifier; unused for FieldTeam.
	Name string
}

// GroupCount is one group of GroupCountsTx.
type GroupCount struct {
	// Value is the group's value: a string, a float64 number or a bool;
	// nil for the entities that have none.
	Value any
	// Count is the number of entities with the value.
	Count int
	// TargetID and Title are the related entity's id and title
	// (FieldRelation); the caller decides whether the title may be shown.
	TargetID int64
	Title    string
	// Level is the level's index, 0 for the first (FieldScorecard).
	Level int
}

// GroupCountsTx counts the entities matching where by their values of f,
// in no particular order. An entity with several values (an array, several
// teams, a many relation) counts once in each of its values' groups; the
// entities with no value form one group whose Value is nil, present only
// when not empty. It fails on an unknown FieldColumn.
func GroupCountsTx(ctx context.Context, tx *sql.Tx, where string, args []any, f Field) ([]GroupCount, error) {
	if where == "" {
		where = "1"
	}
	var sel, from, cond, group, none string
	var extra []any
	switch f.Kind {
	case FieldProperty:
		// Duplicate items of one array count once: count entities.
		sel, from, cond = "wv.typ, wv.str, wv.num, count(DISTINCT wv.entity_id), 0, ''",
			"JOIN entity_values wv ON wv.entity_id = e.id", "wv.key = ?"
		group, none = "wv.typ, wv.str, wv.num", "SELECT 1 FROM entity_values wv WHERE wv.entity_id = e.id AND wv.key = ?"
		extra = []any{f.Name}
	case FieldColumn:
		if !columns[f.Name] {
			return nil, fmt.Errorf("count groups: unknown column %q", f.Name)
		}
		sel, cond, group = "'s', NULLIF(e."+f.Name+", ''), NULL, count(*), 0, ''", "1", "NULLIF(e."+f.Name+", '')"
	case FieldTeam:
		sel, from, cond = "'s', wt.team, NULL, count(*), 0, ''", "JOIN entity_teams wt ON wt.entity_id = e.id", "1"
		group, none = "wt.team", "SELECT 1 FROM entity_teams wt WHERE wt.entity_id = e.id"
	case FieldRelation:
		// One group per related entity: two blueprints' relations of one
		// name may reach entities of the same identifier, which are not
		// one slice (and one may be hidden from the caller).
		sel = "'s', wr.target_identifier, NULL, count(*), coalesce(wr.target_id, 0), coalesce(tgt.title, '')"
		from = "JOIN relations wr ON wr.source_id = e.id LEFT JOIN entities tgt ON tgt.id = wr.target_id"
		cond, group = "wr.relation = ?", "wr.target_id, wr.target_identifier"
		none = "SELECT 1 FROM relations wr WHERE wr.source_id = e.id AND wr.relation = ?"
		extra = []any{f.Name}
	case FieldScorecard:
		sel, from, cond = "'s', ws.level, ws.level_index, count(*), 0, ''", "JOIN scorecard_results ws ON ws.entity_id = e.id",
			"ws.scorecard = ?"
		group, none = "ws.level_index, ws.level", "SELECT 1 FROM scorecard_results ws WHERE ws.entity_id = e.id AND ws.scorecard = ?"
		extra = []any{f.Name}
	default:
		return nil, fmt.Errorf("count groups: unknown field kind %d", f.Kind)
	}
	stmt := "SELECT " + sel + " FROM entities e " + from + " WHERE (" + where + ") AND " + cond + " GROUP BY " + group
	rows, err := tx.QueryContext(ctx, stmt, append(append([]any{}, args...), extra...)...)
	if err != nil {
		return nil, fmt.Errorf("count groups: %w", err)
	}
	out, err := collect(rows, func(rows *sql.Rows) (GroupCount, error) {
		var g GroupCount
		var typ string
		var str sql.NullString
		var num sql.NullFloat64
		if err := rows.Scan(&typ, &str, &num, &g.Count, &g.TargetID, &g.Title); err != nil {
			return g, err
		}
		switch {
		case f.Kind == FieldScorecard:
			g.Value, g.Level = str.String, int(num.Float64)
		case typ == "n":
			g.Value = num.Float64
		case typ == "b":
			g.Value = num.Float64 != 0
		case str.Valid:
			g.Value = str.String
		}
		return g, nil
	})
	if err != nil {
		return nil, fmt.Errorf("count groups: %w", err)
	}
	if none != "" {
		var n int
		err := tx.QueryRowContext(ctx, "SELECT count(*) FROM entities e WHERE ("+where+") AND NOT EXISTS ("+none+")",
			append(append([]any{}, args...), extra...)...).Scan(&n)
		if err != nil {
			return nil, fmt.Errorf("count entities without a value: %w", err)
		}
		if n > 0 {
			out = append(out, GroupCount{Count: n})
		}
	}
	return out, nil
}

// Aggregate is an aggregate function over numbers.
type Aggregate string

// The aggregates of AggregateTx.
const (
	Sum     Aggregate = "sum"
	Average Aggregate = "average"
	Min     Aggregate = "min"
	Max     Aggregate = "max"
	Median  Aggregate = "median"
)

// AggregateTx computes fn over the numbers of f of the entities matching
// where: a number property's scalar values (FieldProperty; arrays and
// other types are left out) or scorecard level indexes (FieldScorecard,
// 0 for the first level). n is how many numbers were aggregated; value is
// 0 when there were none. It fails on any other field or aggregate.
func AggregateTx(ctx context.Context, tx *sql.Tx, where string, args []any, f Field, fn Aggregate) (value float64, n int, err error) {
	if where == "" {
		where = "1"
	}
	var xs string
	switch f.Kind {
	case FieldProperty:
		xs = "SELECT wv.num AS x FROM entities e JOIN entity_values wv ON wv.entity_id = e.id WHERE (" + where +
			") AND wv.key = ? AND wv.typ = 'n' AND wv.idx = -1"
	case FieldScorecard:
		xs = "SELECT ws.level_index AS x FROM entities e JOIN scorecard_results ws ON ws.entity_id = e.id WHERE (" + where +
			") AND ws.scorecard = ?"
	default:
		return 0, 0, fmt.Errorf("aggregate: field kind %d has no numbers", f.Kind)
	}
	var stmt string
	switch fn {
	case Sum:
		stmt = "SELECT count(x), total(x) FROM (" + xs + ")"
	case Average:
		stmt = "SELECT count(x), avg(x) FROM (" + xs + ")"
	case Min:
		stmt = "SELECT count(x), min(x) FROM (" + xs + ")"
	case Max:
		stmt = "SELECT count(x), max(x) FROM (" + xs + ")"
	case Median:
		// The middle value, or the mean of the two middle ones: sorted in
		// SQL, only one or two rows come back.
		stmt = "WITH xs AS MATERIALIZED (" + xs + "), c AS (SELECT count(*) AS n FROM xs) " +
			"SELECT (SELECT n FROM c), avg(x) FROM (SELECT x FROM xs ORDER BY x " +
			"LIMIT 2 - (SELECT n FROM c) % 2 OFFSET ((SELECT n FROM c) - 1) / 2)"
	default:
		return 0, 0, fmt.Errorf("aggregate: unknown function %q", fn)
	}
	var v sql.NullFloat64
	if err := tx.QueryRowContext(ctx, stmt, append(append([]any{}, args...), f.Name)...).Scan(&n, &v); err != nil {
		return 0, 0, fmt.Errorf("aggregate %s: %w", fn, err)
	}
	return v.Float64, n, nil
}

// Day is the layout of DailyCountsTx's keys.
const Day = time.DateOnly

// DailyCountsTx counts the entities matching where per UTC day of f's date
// values in [from, to), keyed by the day (layout Day); days without any
// are left out. f is a date property (its date-time and date strings; an
// array counts each item) or the created_at or updated_at column. It fails
// on any other field.
func DailyCountsTx(ctx context.Context, tx *sql.Tx, where string, args []any, f Field, from, to time.Time) (map[string]int, error) {
	if where == "" {
		where = "1"
	}
	var stmt string
	extra := []any{query.Epoch(from), query.Epoch(to)}
	switch {
	case f.Kind == FieldProperty:
		stmt = "SELECT date(wv.num, 'unixepoch'), count(*) FROM entities e JOIN entity_values wv ON wv.entity_id = e.id " +
			"WHERE (" + where + ") AND wv.key = ? AND wv.typ = 's' AND wv.num >= ? AND wv.num < ? GROUP BY 1"
		extra = append([]any{f.Name}, extra...)
	case f.Kind == FieldColumn && (f.Name == "created_at" || f.Name == "updated_at"):
		stmt = "SELECT date(e." + f.Name + "), count(*) FROM entities e WHERE (" + where + ") AND unixepoch(e." + f.Name +
			", 'subsec') >= ? AND unixepoch(e." + f.Name + ", 'subsec') < ? GROUP BY 1"
	default:
		return nil, fmt.Errorf("count per day: field %q holds no dates", f.Name)
	}
	rows, err := tx.QueryContext(ctx, stmt, append(append([]any{}, args...), extra...)...)
	if err != nil {
		return nil, fmt.Errorf("count per day: %w", err)
	}
	out := map[string]int{}
	if _, err := collect(rows, func(rows *sql.Rows) (struct{}, error) {
		var day string
		var n int
		err := rows.Scan(&day, &n)
		out[day] += n
		return struct{}{}, err
	}); err != nil {
		return nil, fmt.Errorf("count per day: %w", err)
	}
	return out, nil
}
