package index

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/berth-dev/berth/pkg/catalog"
)

// Status is the outcome of a reconcile attempt.
type Status string

// Attempt statuses.
const (
	// StatusApplied: the revision is in the index.
	StatusApplied Status = "applied"
	// StatusFailed: the catalog has errors; the last good revision stays.
	StatusFailed Status = "failed"
	// StatusHeld: a guard (mass delete) stopped the revision until allowed.
	StatusHeld Status = "held"
	// StatusError: berth could not finish (remote, disk); it will retry.
	StatusError Status = "error"
)

// RevisionInfo describes the commit a reconcile attempt was about.
type RevisionInfo struct {
	Commit string
	Parent string
	// Author is the commit author's name and AuthorEmail their e-mail; the
	// audit log names the author by e-mail when there is one.
	Author      string
	AuthorEmail string
	Message     string
	CommittedAt time.Time
	// ReconciledAt is when the attempt ran; zero means now.
	ReconciledAt time.Time
	// Duration is the attempt's whole duration (fetch to apply); zero means
	// the time since Started, or the time Apply itself took.
	Duration time.Duration
	// Started, when set and Duration is zero, is when the attempt began:
	// Apply records the time from it to the end of the apply.
	Started time.Time
}

// duration is what the revision row records as the attempt's duration.
func (info RevisionInfo) duration(applyStart time.Time) time.Duration {
	switch {
	case info.Duration != 0:
		return info.Duration
	case !info.Started.IsZero():
		return time.Since(info.Started)
	}
	return time.Since(applyStart)
}

// Snapshot is what one revision changes. Entities are given as a
// difference (Upserts, Deletes) unless Full is set; the small object sets
// (blueprints, scorecards, actions, pages, roles) are always complete and
// replace the ones in the index.
type Snapshot struct {
	// Full makes Upserts the whole entity set: every indexed entity not in
	// it is deleted (a rebuild, e.g. after a force-push).
	Full bool
	// Upserts are entities added or changed. Entities whose document and
	// computed values hash as in the index are skipped.
	Upserts []Upsert
	// Deletes are entities removed. A key both deleted and upserted is
	// re-created.
	Deletes []catalog.EntityKey

	Blueprints []*catalog.Blueprint
	Scorecards []*catalog.Scorecard
	Actions    []*catalog.Action
	Pages      []*catalog.Page
	Roles      []*catalog.Role

	// Scores replace the scorecard results of the entities they name
	// (upserted or already indexed); entities not named keep theirs.
	// Scorecard history rows are written where a level or the set of
	// failing rules changed.
	Scores []EntityScores
	// Diagnostics (warnings, notices) are recorded with the revision.
	Diagnostics catalog.Diagnostics
	// SchemaHash identifies the validation schema the revision passed; the
	// reconciler compares it to decide whether cached validation holds.
	SchemaHash string
}

// Upsert is an entity to write, with its computed property values
// (calculation, mirror and aggregation), which are indexed like stored ones.
type Upsert struct {
	Entity   *catalog.Entity
	Computed map[string]any
}

// EntityScores are one entity's scorecard results.
type EntityScores struct {
	Key     catalog.EntityKey
	Results []ScorecardResult
}

// ScorecardResult is an entity's result on one scorecard.
type ScorecardResult struct {
	Scorecard  string
	Level      string
	LevelIndex int // 0 is the first (base) level
	Passed     int
	Total      int
	Rules      []RuleResult
}

// RuleResult is an entity's result on one scorecard rule. An exempt rule
// counts as passed and says so.
type RuleResult struct {
	Rule   string
	Status string // SUCCESS | FAILURE
	Exempt bool
	// EnforceFrom is set on a failing rule that is not enforced before this
	// date (the rule's enforceFrom): it is reported but did not lower the
	// level. Empty when the rule is enforced.
	EnforceFrom string
}

// ApplyResult says what Apply did.
type ApplyResult struct {
	RevisionID int64
	Entities   int // entities in the index after the revision
	Inserted   int
	Updated    int
	Unchanged  int // upserts skipped because nothing changed
	Deleted    int
	History    int // scorecard history rows written
	// Dangling counts relations whose target is not in the index; the
	// reconciler blocks such commits, so this is 0 for a validated catalog.
	Dangling int
}

// Apply writes a revision in one transaction: the revision row, its
// diagnostics, the entity changes and their audit log entries, the object
// sets, scorecard results and history, and the state row pointing at the
// revision. On error nothing is written and the index keeps the revision it
// had. It is Stage followed by Commit.
func (db *DB) Apply(ctx context.Context, info RevisionInfo, snap Snapshot) (ApplyResult, error) {
	st, err := db.Stage(ctx, info, snap)
	if err != nil {
		return ApplyResult{}, err
	}
	return st.Commit(nil)
}

// Staged is a revision written in a transaction that is still open: readers
// keep seeing the applied revision until Commit, and Rollback leaves the
// index exactly as it was. The writer connection is held until one of them
// is called, so every Staged must end in Commit or Rollback.
type Staged struct {
	db    *DB
	ctx   context.Context
	conn  *sql.Conn // the writer connection, which tx holds
	fkOff bool      // see bulkForeignKeys
	tx    *sql.Tx
	info  RevisionInfo
	start time.Time
	// diags and schemaHash are the snapshot's; the rest of it is written.
	diags      catalog.Diagnostics
	schemaHash string
	res        ApplyResult
	done       bool
}

// Stage writes a revision as Apply does but leaves its transaction open, so
// that the caller can decide afterwards whether it is to be applied: the
// reconciler writes a revision while its entities are still being
// validated, and commits it only if they pass. On error nothing is written
// and the writer is released.
func (db *DB) Stage(ctx context.Context, info RevisionInfo, snap Snapshot) (st *Staged, err error) {
	start := time.Now()
	conn, err := db.w.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("apply %s: %w", info.Commit, err)
	}
	fkOff, err := bulkForeignKeys(ctx, conn, &snap)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("apply %s: %w", info.Commit, err), release(conn, false))
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("apply %s: begin: %w", info.Commit, err), release(conn, fkOff))
	}
	defer func() {
		if err == nil {
			return
		}
		if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
			// The transaction ended with the context; say why.
			err = fmt.Errorf("%w: %w", cerr, err)
		}
		rerr := tx.Rollback()
		if errors.Is(rerr, sql.ErrTxDone) {
			rerr = nil // rolled back already, as its context ended
		}
		err = errors.Join(fmt.Errorf("apply %s: %w", info.Commit, err), rerr, release(conn, fkOff))
	}()
	a, err := newApplier(ctx, conn, tx, &snap)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, a.close()) }()

	revID, err := insertRevisionRow(ctx, tx, info, StatusApplied, "", snap.Diagnostics, start)
	if err != nil {
		return nil, err
	}
	a.revID, a.commit, a.at = revID, info.Commit, formatTime(time.Now())
	if a.log, err = newChangeLog(ctx, tx, info, start); err != nil {
		return nil, err
	}
	if err := a.entities(); err != nil {
		return nil, err
	}
	if db.afterUpserts != nil {
		db.afterUpserts()
	}
	if err := a.objects(); err != nil {
		return nil, err
	}
	if err := a.scores(); err != nil {
		return nil, err
	}
	if err := a.resolve(); err != nil {
		return nil, err
	}
	if err := a.restoreIndexes(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err // the transaction ended with it
	}
	res := a.res
	res.RevisionID = revID
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM entities").Scan(&res.Entities); err != nil {
		return nil, err
	}
	return &Staged{db: db, ctx: ctx, conn: conn, fkOff: fkOff, tx: tx, info: info, start: start, res: res, diags: snap.Diagnostics,
		schemaHash: snap.SchemaHash}, nil
}

// Commit records the snapshot's diagnostics and more (found while the
// revision was staged; warnings and notices, since a revision with errors
// is not applied) with the revision, points the state at it and commits.
// On error the transaction is rolled back and the index keeps the revision
// it had. A Staged commits or rolls back once; later calls are errors.
func (s *Staged) Commit(more catalog.Diagnostics) (res ApplyResult, err error) {
	if s.done {
		return res, fmt.Errorf("apply %s: %w", s.info.Commit, ErrStagedDone)
	}
	s.done = true
	ctx, tx, info := s.ctx, s.tx, s.info
	defer func() {
		if err != nil {
			err = errors.Join(fmt.Errorf("apply %s: %w", info.Commit, err), tx.Rollback())
		}
		err = errors.Join(err, release(s.conn, s.fkOff))
	}()
	diags := s.diags
	if len(more) > 0 {
		diags = slices.Concat(s.diags, more).Sort()
	}
	res = s.res
	if err := insertDiagnostics(ctx, tx, res.RevisionID, diags); err != nil {
		return res, err
	}
	errs, warns := diags.Count()
	if _, err := tx.ExecContext(ctx, "UPDATE revisions SET entities = ?, duration_ms = ?, errors = ?, warnings = ? WHERE id = ?",
		res.Entities, info.duration(s.start).Milliseconds(), errs, warns, res.RevisionID); err != nil {
		return res, err
	}
	if _, err := tx.ExecContext(ctx,
		"UPDATE state SET applied_revision = ?, applied_commit = ?, schema_hash = ? WHERE id = 1",
		res.RevisionID, info.Commit, s.schemaHash); err != nil {
		return res, err
	}
	if err := pruneAttempts(ctx, tx, s.db.keepAttempts); err != nil {
		return res, err
	}
	if err := tx.Commit(); err != nil {
		return res, err
	}
	return res, nil
}

// Rollback discards the staged revision: the index is left as it was
// before Stage. It is a no-op after Commit or an earlier Rollback, so it
// can be deferred.
func (s *Staged) Rollback() error {
	if s.done {
		return nil
	}
	s.done = true
	if err := errors.Join(s.tx.Rollback(), release(s.conn, s.fkOff)); err != nil {
		return fmt.Errorf("roll back %s: %w", s.info.Commit, err)
	}
	return nil
}

// bulkForeignKeys turns the writer connection's foreign key checks off for
// a bulk load (see bulkLoad) into an index without entities, reporting
// whether it did. Such a load deletes nothing, so no cascade is missed, and
// it writes every child row after its entity, under an id it assigned
// itself; the checks cost a parent lookup for each of the 2M child rows of
// a 100k-entity load, half the time of its inserts. The setting cannot
// change within a transaction: it is set before and restored after (see
// release). No other writer can come between: the writer pool holds one
// connection, and Stage holds it.
func bulkForeignKeys(ctx context.Context, conn *sql.Conn, snap *Snapshot) (bool, error) {
	if len(snap.Upserts) < bulkLoad {
		return false, nil
	}
	var empty bool
	if err := conn.QueryRowContext(ctx, "SELECT NOT EXISTS (SELECT 1 FROM entities)").Scan(&empty); err != nil || !empty {
		return false, err
	}
	if _, err := conn.ExecContext(ctx, "PRAGMA foreign_keys = OFF"); err != nil {
		return false, fmt.Errorf("bulk load: %w", err)
	}
	return true, nil
}

// release returns the writer connection to its pool, with its foreign key
// checks back on when bulkForeignKeys turned them off.
func release(c *sql.Conn, fkOff bool) error {
	var errs []error
	if fkOff {
		errs = append(errs, connPragma(c, "PRAGMA foreign_keys = ON"))
	}
	if err := c.Close(); !errors.Is(err, sql.ErrConnDone) {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// connPragma runs a connection setting on c once its transaction is over.
// When the transaction was ended by its context, database/sql rolls it
// back on a goroutine of its own, which may not have run yet, and some
// pragmas (foreign_keys) are no-ops inside a transaction: it is rolled
// back here first ("no transaction is active" otherwise, ignored). A
// connection database/sql discarded already is no error: the setting went
// with it.
func connPragma(c *sql.Conn, pragma string) error {
	ctx := context.Background()
	_, _ = c.ExecContext(ctx, "ROLLBACK")
	_, err := c.ExecContext(ctx, pragma)
	if errors.Is(err, sql.ErrConnDone) || errors.Is(err, driver.ErrBadConn) {
		return nil
	}
	return err
}

// insertRevision writes an attempt's revision row and diagnostics.
func insertRevision(ctx context.Context, tx *sql.Tx, info RevisionInfo, status Status, reason string,
	diags catalog.Diagnostics, start time.Time) (int64, error) {
	id, err := insertRevisionRow(ctx, tx, info, status, reason, diags, start)
	if err != nil {
		return 0, err
	}
	return id, insertDiagnostics(ctx, tx, id, diags)
}

// insertRevisionRow writes an attempt's revision row with the counts of
// diags, but not diags themselves.
func insertRevisionRow(ctx context.Context, tx *sql.Tx, info RevisionInfo, status Status, reason string,
	diags catalog.Diagnostics, start time.Time) (int64, error) {
	at := info.ReconciledAt
	if at.IsZero() {
		at = start
	}
	errs, warns := diags.Count()
	dur := info.duration(start)
	r, err := tx.ExecContext(ctx, `INSERT INTO revisions (commit_hash, parent_hash, author, message, committed_at,
		reconciled_at, status, reason, duration_ms, errors, warnings) VALUES (?,?,?,?,?,?,?,?,?,?,?)`,
		info.Commit, nullString(info.Parent), nullString(info.Author), nullString(info.Message),
		formatTime(info.CommittedAt), formatTime(at), string(status), nullString(reason), dur.Milliseconds(),
		errs, warns)
	if err != nil {
		return 0, fmt.Errorf("insert revision: %w", err)
	}
	return r.LastInsertId()
}

// insertDiagnostics writes a revision's diagnostics.
func insertDiagnostics(ctx context.Context, tx *sql.Tx, id int64, diags catalog.Diagnostics) error {
	if len(diags) == 0 {
		return nil
	}
	st, err := tx.PrepareContext(ctx, `INSERT INTO diagnostics (revision_id, file, line, col, severity, code, message)
		VALUES (?,?,?,?,?,?,?)`)
	if err != nil {
		return err
	}
	for _, d := range diags {
		if _, err := st.ExecContext(ctx, id, d.File, d.Line, d.Col, d.Severity.String(), d.Code, d.Message); err != nil {
			return errors.Join(fmt.Errorf("insert diagnostic: %w", err), st.Close())
		}
	}
	return st.Close()
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}
