package index

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
)

// objects reads rows of one of the small object tables on the read pool.
// where comes from this file, never from input.
func (db *DB) objects(ctx context.Context, table, where string, args ...any) ([]Object, error) {
	return objectsQ(ctx, db.r, ObjectKind(table), where, args...)
}

func (db *DB) object(ctx context.Context, table, where string, args ...any) (Object, error) {
	objs, err := db.objects(ctx, table, where, args...)
	if err != nil {
		return Object{}, err
	}
	if len(objs) == 0 {
		return Object{}, fmt.Errorf("%s %v: %w", table, args, ErrNotFound)
	}
	return objs[0], nil
}

// Blueprints returns every blueprint, ordered by identifier.
func (db *DB) Blueprints(ctx context.Context) ([]Object, error) {
	return db.objects(ctx, "blueprints", "")
}

// Blueprint returns one blueprint, or an error wrapping ErrNotFound.
func (db *DB) Blueprint(ctx context.Context, identifier string) (Object, error) {
	return db.object(ctx, "blueprints", "identifier = ?", identifier)
}

// Scorecards returns the scorecards of a blueprint, or every scorecard when
// blueprint is "".
func (db *DB) Scorecards(ctx context.Context, blueprint string) ([]Object, error) {
	if blueprint == "" {
		return db.objects(ctx, "scorecards", "")
	}
	return db.objects(ctx, "scorecards", "blueprint = ?", blueprint)
}

// Scorecard returns one scorecard of a blueprint, or an error wrapping
// ErrNotFound.
func (db *DB) Scorecard(ctx context.Context, blueprint, identifier string) (Object, error) {
	return db.object(ctx, "scorecards", "blueprint = ? AND identifier = ?", blueprint, identifier)
}

// Actions returns every action.
func (db *DB) Actions(ctx context.Context) ([]Object, error) { return db.objects(ctx, "actions", "") }

// Action returns one action, or an error wrapping ErrNotFound.
func (db *DB) Action(ctx context.Context, identifier string) (Object, error) {
	return db.object(ctx, "actions", "identifier = ?", identifier)
}

// Pages returns every page.
func (db *DB) Pages(ctx context.Context) ([]Object, error) { return db.objects(ctx, "pages", "") }

// Page returns one page, or an error wrapping ErrNotFound.
func (db *DB) Page(ctx context.Context, identifier string) (Object, error) {
	return db.object(ctx, "pages", "identifier = ?", identifier)
}

// Roles returns every role.
func (db *DB) Roles(ctx context.Context) ([]Object, error) { return db.objects(ctx, "roles", "") }

// ReadTx runs fn in a read-only transaction on the read pool: every
// statement in it sees the same revision. The transaction ends when fn
// returns; fn must not keep tx.
func (db *DB) ReadTx(ctx context.Context, fn func(tx *sql.Tx) error) (err error) {
	tx, err := db.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("begin read: %w", err)
	}
	defer func() {
		// A read-only transaction has nothing to commit; Rollback ends it
		// and releases its snapshot of the WAL.
		if rerr := tx.Rollback(); rerr != nil && !errors.Is(rerr, sql.ErrTxDone) {
			err = errors.Join(err, rerr)
		}
	}()
	return fn(tx)
}

// querier is what *sql.DB and *sql.Tx share.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Search returns entities matching where, a SQL condition over `entities e`
// (package query compiles search rules to it, with args for its
// placeholders), ordered by order ("" means by blueprint and identifier),
// at most limit of them (limit <= 0: all).
func (db *DB) Search(ctx context.Context, where string, args []any, order string, limit int) ([]Entity, error) {
	return search(ctx, db.r, where, args, order, limit)
}

// SearchTx is Search inside a ReadTx.
func SearchTx(ctx context.Context, tx *sql.Tx, where string, args []any, order string, limit int) ([]Entity, error) {
	return search(ctx, tx, where, args, order, limit)
}

// Count returns the number of entities matching where (as for Search).
func (db *DB) Count(ctx context.Context, where string, args []any) (int, error) {
	return count(ctx, db.r, where, args)
}

// CountTx is Count inside a ReadTx.
func CountTx(ctx context.Context, tx *sql.Tx, where string, args []any) (int, error) {
	return count(ctx, tx, where, args)
}

func search(ctx context.Context, q querier, where string, args []any, order string, limit int) ([]Entity, error) {
	if where == "" {
		where = "1"
	}
	if order == "" {
		order = "e.blueprint, e.identifier"
	}
	if limit <= 0 {
		limit = -1
	}
	// The limit is written into the SQL, not bound: where may number its
	// placeholders (?1, ?2), and an extra unnumbered one would clash.
	rows, err := q.QueryContext(ctx, "SELECT "+entityColumns+" FROM entities e WHERE ("+where+") ORDER BY "+order+
		" LIMIT "+strconv.Itoa(limit), args...)
	if err != nil {
		return nil, fmt.Errorf("search entities: %w", err)
	}
	out, err := collect(rows, func(rows *sql.Rows) (Entity, error) { return scanEntity(rows) })
	if err != nil {
		return nil, fmt.Errorf("search entities: %w", err)
	}
	return out, nil
}

func count(ctx context.Context, q querier, where string, args []any) (int, error) {
	if where == "" {
		where = "1"
	}
	var n int
	if err := q.QueryRowContext(ctx, "SELECT count(*) FROM entities e WHERE ("+where+")", args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count entities: %w", err)
	}
	return n, nil
}
