package index

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/berth-dev/berth/pkg/catalog"
)

// The audit log has two kinds of entries: catalog changes, which Apply
// records in the transaction of the revision that makes them, and API
// requests, which the API server records in batches (RecordRequests).
// Both are read together, newest first, by AuditLogTx.

// Audit entry kinds.
const (
	AuditChange  = "change"
	AuditRequest = "request"
)

// Actions of catalog changes.
const (
	ActionCreated = "created"
	ActionUpdated = "updated"
	ActionDeleted = "deleted"
	// ActionImported stands for every entity of a blueprint in the first
	// revision applied to an index: one row with a count, not one per
	// entity, so that a cold import stays cheap.
	ActionImported = "imported"
)

// changeLog collects one revision's entity changes into the applier's
// audit batch.
type changeLog struct {
	at     int64 // commit time, Unix microseconds
	commit string
	actor  string
	// first is set when the index never had an applied revision: created
	// entities are counted per blueprint in imported instead of listed.
	first    bool
	imported map[string]int
}

// changeWidth is the number of values of one audit_changes row.
const changeWidth = 8

const insertChanges = `INSERT INTO audit_changes (at, commit_hash, actor, action, blueprint, identifier, file, count)`

// newChangeLog returns the change log of the revision info, read in tx
// before the revision is applied.
func newChangeLog(ctx context.Context, tx *sql.Tx, info RevisionInfo, now time.Time) (*changeLog, error) {
	l := &changeLog{commit: info.Commit, actor: cmp.Or(info.AuthorEmail, info.Author), imported: map[string]int{}}
	at := info.CommittedAt
	if at.IsZero() {
		at = now
	}
	l.at = at.UnixMicro()
	if err := tx.QueryRowContext(ctx, "SELECT applied_revision IS NULL FROM state WHERE id = 1").Scan(&l.first); err != nil {
		return nil, fmt.Errorf("read state: %w", err)
	}
	return l, nil
}

// create records a new entity.
func (l *changeLog) create(b *batch, k catalog.EntityKey, file string) {
	if l.first {
		l.imported[k.Blueprint]++
		return
	}
	l.change(b, ActionCreated, k, file)
}

// change records one entity's change.
func (l *changeLog) change(b *batch, action string, k catalog.EntityKey, file string) {
	l.row(b, action, k.Blueprint, k.Identifier, file, 1)
}

// imports records the counts of a first import, once every entity is in.
func (l *changeLog) imports(b *batch) {
	for _, bp := range slices.Sorted(maps.Keys(l.imported)) {
		l.row(b, ActionImported, bp, "", "", l.imported[bp])
	}
	clear(l.imported)
}

func (l *changeLog) row(b *batch, action, blueprint, identifier, file string, count int) {
	b.start()
	b.int(l.at)
	b.str(l.commit)
	b.strOrNull(l.actor)
	b.str(action)
	b.str(blueprint)
	b.strOrNull(identifier)
	b.strOrNull(file)
	b.int(int64(count))
	b.end()
}

// Request is one API request of an authenticated caller, for the audit
// log.
type Request struct {
	At     time.Time
	Client string // API client id
	User   string // e-mail of the user the client acts as
	Method string
	// Route is the pattern of the route that served the request, such as
	// "GET /v1/blueprints/{bp}".
	Route string
	Path  string
	// Params are the route's path parameters.
	Params map[string]string
	// Blueprint and Identifier name the entity of an entity route (the
	// blueprint alone for blueprint routes).
	Blueprint  string
	Identifier string
	Status     int
	Duration   time.Duration
}

// Retention bounds the request log; zero fields do not bound it.
type Retention struct {
	// MaxRows is how many of the newest requests are kept.
	MaxRows int
	// MaxAge is how long a request is kept.
	MaxAge time.Duration
}

// requestWidth is the number of values of one audit_requests row.
const requestWidth = 11

// pruneChunk bounds the rows one prune statement deletes, so that the
// writer is never held long: a larger backlog (after lowering a bound) goes
// in several short transactions.
const pruneChunk = 5000

// RecordRequests appends requests to the audit log in one transaction on
// the writer connection, then deletes the requests Retention no longer
// keeps as of now. It returns how many rows were pruned. On error nothing
// of the batch is written, so the caller may try the batch again. A
// backlog too large for that transaction is pruned in further ones; if
// one of those fails, the batch is in and the rest of the backlog waits
// for the next call.
func (db *DB) RecordRequests(ctx context.Context, reqs []Request, keep Retention, now time.Time) (pruned int, err error) {
	n, more, err := db.recordRequests(ctx, reqs, keep, now)
	if err != nil {
		return 0, fmt.Errorf("record requests: %w", err)
	}
	for pruned = n; more; pruned += n {
		if n, more, err = db.recordRequests(ctx, nil, keep, now); err != nil {
			return pruned, nil
		}
	}
	return pruned, nil
}

// recordRequests writes reqs and prunes at most pruneChunk rows per bound,
// in one transaction; more reports whether a bound had more to prune.
func (db *DB) recordRequests(ctx context.Context, reqs []Request, keep Retention, now time.Time) (pruned int, more bool, err error) {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, false, err
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, tx.Rollback())
		}
	}()
	const perStatement = 200
	for part := range slices.Chunk(reqs, perStatement) {
		args := make([]any, 0, len(part)*requestWidth)
		for _, r := range part {
			var params any
			if len(r.Params) > 0 {
				b, err := json.Marshal(r.Params) // a map of strings always encodes
				if err != nil {
					return 0, false, err
				}
				params = string(b)
			}
			args = append(args, r.At.UnixMicro(), r.Client, nullString(r.User), r.Method, r.Route, r.Path, params,
				nullString(r.Blueprint), nullString(r.Identifier), r.Status, r.Duration.Microseconds())
		}
		q := insertRows(`INSERT INTO audit_requests (at, client, actor, method, route, path, params, blueprint,
			identifier, status, duration_us)`, requestWidth, "")(len(part))
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return 0, false, err
		}
	}
	for _, p := range []struct {
		on    bool
		where string
		arg   any
	}{
		// Ids grow with every row written and pruning takes the lowest:
		// the rows above max(id) - MaxRows are at most MaxRows.
		{keep.MaxRows > 0, "id <= (SELECT max(id) FROM audit_requests) - ? ORDER BY id", keep.MaxRows},
		// Through the index on at: no scan when nothing is old enough.
		{keep.MaxAge > 0, "at < ?", now.Add(-keep.MaxAge).UnixMicro()},
	} {
		if !p.on {
			continue
		}
		r, err := tx.ExecContext(ctx, `DELETE FROM audit_requests WHERE id IN
			(SELECT id FROM audit_requests WHERE `+p.where+` LIMIT ?)`, p.arg, pruneChunk)
		if err != nil {
			return 0, false, fmt.Errorf("prune: %w", err)
		}
		n, err := r.RowsAffected()
		if err != nil {
			return 0, false, err
		}
		pruned += int(n)
		more = more || n == pruneChunk
	}
	return pruned, more, tx.Commit()
}

// AuditQuery selects audit log entries. Zero fields select everything.
type AuditQuery struct {
	// Kind is AuditChange or AuditRequest; "" is both.
	Kind string
	// Blueprint and Identifier select the entries about an entity (either
	// alone: about any entity of a blueprint, or of that identifier).
	// Imported rows name no identifier.
	Blueprint  string
	Identifier string
	// User is an e-mail (any case): a commit author or the user an API
	// client acts as.
	User string
	// From and To bound the entries' time, both included.
	From, To time.Time
	// After continues a listing after the entry at this position.
	After *AuditPosition
	// Limit bounds the entries returned (default 100).
	Limit int
}

// AuditPosition is an entry's place in the log's order (newest first).
type AuditPosition struct {
	At   int64 // Unix microseconds
	Kind string
	ID   int64
}

// AuditEntry is one entry of the audit log. A change sets Action, Commit,
// File and Count; a request sets Client, Method, Route, Path, Params,
// Status and Duration.
type AuditEntry struct {
	Kind       string
	ID         int64
	At         time.Time
	User       string
	Blueprint  string
	Identifier string

	Action string
	Commit string
	File   string
	Count  int

	Client   string
	Method   string
	Route    string
	Path     string
	Params   map[string]string
	Status   int
	Duration time.Duration
}

// Position returns the entry's position, to continue a listing after it.
func (e AuditEntry) Position() AuditPosition {
	return AuditPosition{At: e.At.UnixMicro(), Kind: e.Kind, ID: e.ID}
}

// AuditLogTx returns the entries q selects, newest first: by time, then
// requests before changes, then the newer row first.
func AuditLogTx(ctx context.Context, tx *sql.Tx, q AuditQuery) ([]AuditEntry, error) {
	if q.Limit <= 0 {
		q.Limit = 100
	}
	var out []AuditEntry
	for _, kind := range []string{AuditChange, AuditRequest} {
		if q.Kind != "" && q.Kind != kind {
			continue
		}
		es, err := auditEntries(ctx, tx, kind, q)
		if err != nil {
			return nil, fmt.Errorf("read audit log: %w", err)
		}
		out = append(out, es...)
	}
	slices.SortFunc(out, func(a, b AuditEntry) int {
		return comparePositions(b.Position(), a.Position())
	})
	if len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out, nil
}

func comparePositions(a, b AuditPosition) int {
	return cmp.Or(cmp.Compare(a.At, b.At), cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.ID, b.ID))
}

// auditEntries reads up to q.Limit entries of one kind.
func auditEntries(ctx context.Context, tx *sql.Tx, kind string, q AuditQuery) ([]AuditEntry, error) {
	var where []string
	var args []any
	add := func(cond string, a ...any) {
		where = append(where, cond)
		args = append(args, a...)
	}
	if q.Blueprint != "" {
		add("blueprint = ?", q.Blueprint)
	}
	if q.Identifier != "" {
		add("identifier = ?", q.Identifier)
	}
	if q.User != "" {
		add("actor = ?", q.User)
	}
	if !q.From.IsZero() {
		add("at >= ?", q.From.UnixMicro())
	}
	if !q.To.IsZero() {
		add("at <= ?", q.To.UnixMicro())
	}
	if p := q.After; p != nil {
		// Entries after p: older, or as old and of a kind or row that
		// sorts after it.
		switch c := strings.Compare(kind, p.Kind); {
		case c < 0:
			add("at <= ?", p.At)
		case c == 0:
			add("at <= ? AND (at < ? OR id < ?)", p.At, p.At, p.ID)
		default:
			add("at < ?", p.At)
		}
	}
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	args = append(args, q.Limit)
	var cols, table string
	if kind == AuditChange {
		cols = "id, at, coalesce(actor, ''), blueprint, coalesce(identifier, ''), action, commit_hash, coalesce(file, ''), count"
		table = "audit_changes"
	} else {
		cols = "id, at, coalesce(actor, ''), coalesce(blueprint, ''), coalesce(identifier, ''), client, method, route, " +
			"path, coalesce(params, ''), status, duration_us"
		table = "audit_requests"
	}
	// Table and columns come from the constants above, never from input.
	rows, err := tx.QueryContext(ctx, "SELECT "+cols+" FROM "+table+cond+" ORDER BY at DESC, id DESC LIMIT ?", args...)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(rows *sql.Rows) (AuditEntry, error) {
		e := AuditEntry{Kind: kind}
		var at int64
		if kind == AuditChange {
			if err := rows.Scan(&e.ID, &at, &e.User, &e.Blueprint, &e.Identifier, &e.Action, &e.Commit, &e.File,
				&e.Count); err != nil {
				return e, err
			}
		} else {
			var params string
			var dur int64
			if err := rows.Scan(&e.ID, &at, &e.User, &e.Blueprint, &e.Identifier, &e.Client, &e.Method, &e.Route,
				&e.Path, &params, &e.Status, &dur); err != nil {
				return e, err
			}
			if params != "" {
				if err := json.Unmarshal([]byte(params), &e.Params); err != nil {
					return e, fmt.Errorf("request %d: params: %w", e.ID, err)
				}
			}
			e.Duration = time.Duration(dur) * time.Microsecond
		}
		e.At = time.UnixMicro(at).UTC()
		return e, nil
	})
}
