package index

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/mattn/go-sqlite3" // also registers the "sqlite3" driver
)

// Errors returned by the index.
var (
	// ErrSchemaTooNew means the file was written by a newer berth whose
	// migrations this binary does not know; rebuild the index or upgrade.
	ErrSchemaTooNew = errors.New("index schema is newer than this berth")
	// ErrNotFound means the asked-for object is not in the applied revision.
	ErrNotFound = errors.New("not found")
	// ErrUnknownEntity means a snapshot scores an entity that is neither
	// upserted nor already in the index.
	ErrUnknownEntity = errors.New("unknown entity")
	// ErrStagedDone means a staged revision was already committed or
	// rolled back.
	ErrStagedDone = errors.New("staged revision already committed or rolled back")
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// DB is an open index: one writer connection for Apply and RecordAttempt and
// a pool of read-only connections for everything else. Its methods are safe
// for concurrent use; writes are serialised by the single writer connection.
type DB struct {
	path string
	w    *sql.DB // the only connection that writes
	r    *sql.DB // query_only connections

	keepAttempts int

	// afterUpserts, when set (by tests), runs inside Apply's transaction
	// after every entity row is written and before the commit.
	afterUpserts func()
}

// Open opens or creates the index at path and brings its schema up to date.
// It returns ErrSchemaTooNew (wrapped) when the file's schema is newer than
// the migrations built into this binary.
func Open(ctx context.Context, path string) (*DB, error) {
	// SQLite reads these from a file: URI; an escaped path keeps '?' and '#'
	// in a file name from being taken as URI syntax.
	uri := "file:" + strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	w, err := sql.Open("sqlite3", uri+"?_journal_mode=WAL&_synchronous=NORMAL&_busy_timeout=10000"+
		"&_foreign_keys=on&_txlock=immediate&_cache_size=-65536")
	if err != nil {
		return nil, fmt.Errorf("open index %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	db := &DB{path: path, w: w, keepAttempts: KeepAttempts}
	if err := db.migrate(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("open index %s: %w", path, err), w.Close())
	}
	// Each read connection keeps its recent prepared statements: the API
	// runs the same few statements per request, and preparing them costs
	// more than running them.
	r, err := sql.Open("sqlite3", uri+"?_query_only=1&_busy_timeout=10000&_cache_size=-16384&_stmt_cache_size=128")
	if err != nil {
		return nil, errors.Join(fmt.Errorf("open index %s: %w", path, err), w.Close())
	}
	n := max(4, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	if err := r.PingContext(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("open index %s: %w", path, err), r.Close(), w.Close())
	}
	db.r = r
	return db, nil
}

// Close closes the read pool and the writer. It checkpoints the WAL as the
// last connection closes, so a closed index is a single file.
func (db *DB) Close() error {
	var errs []error
	if db.r != nil {
		errs = append(errs, db.r.Close())
	}
	errs = append(errs, db.w.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close index %s: %w", db.path, err)
	}
	return nil
}

// Path returns the index's file name.
func (db *DB) Path() string { return db.path }

// migration is one embedded schema step.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the embedded migrations ordered by version. A file is
// named NNNN_what.sql; versions start at 1 and have no gaps.
func migrations() ([]migration, error) {
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, n := range names {
		base := path.Base(n)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v < 1 {
			return nil, fmt.Errorf("migration %s: name must start with a version number and '_'", base)
		}
		b, err := migrationFS.ReadFile(n)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: base, sql: string(b)})
	}
	slices.SortFunc(ms, func(a, b migration) int { return a.version - b.version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %s: expected version %d", m.name, i+1)
		}
	}
	return ms, nil
}

// SchemaVersion returns the number of the newest embedded migration.
func SchemaVersion() int {
	ms, err := migrations()
	if err != nil || len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].version
}

// migrate applies the migrations newer than the file's user_version, each in
// its own transaction together with the user_version bump, so a crash leaves
// the file at a whole version.
func (db *DB) migrate(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	var have int
	if err := db.w.QueryRowContext(ctx, "PRAGMA user_version").Scan(&have); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if have > len(ms) {
		return fmt.Errorf("%w: file has version %d, this berth knows %d", ErrSchemaTooNew, have, len(ms))
	}
	for _, m := range ms[have:] {
		if err := db.runMigration(ctx, m); err != nil {
			return fmt.Errorf("migration %s: %w", m.name, err)
		}
	}
	return nil
}

func (db *DB) runMigration(ctx context.Context, m migration) (err error) {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, tx.Rollback())
		}
	}()
	if _, err = tx.ExecContext(ctx, m.sql); err != nil {
		return err
	}
	// PRAGMA takes no bound parameters; the version is an int we parsed.
	if _, err = tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", m.version)); err != nil {
		return err
	}
	return tx.Commit()
}

// IsBusy reports whether err is SQLite's "database is locked": another
// process (berth serve's reconciler) held the write lock for longer than
// the busy timeout. The write may succeed when tried again.
func IsBusy(err error) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && (se.Code == sqlite3.ErrBusy || se.Code == sqlite3.ErrLocked)
}
