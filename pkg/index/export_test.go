package index

import "fmt"

// SetAfterUpserts makes Apply call f inside its transaction once every
// entity row is written, so a test can kill the process mid-apply.
func SetAfterUpserts(db *DB, f func()) { db.afterUpserts = f }

// SetKeepAttempts changes how many attempts pruning keeps.
func SetKeepAttempts(db *DB, n int) { db.keepAttempts = n }

// ReadMigration returns an embedded migration's SQL.
func ReadMigration(name string) (string, error) {
	b, err := migrationFS.ReadFile("migrations/" + name)
	return string(b), err
}

// SetWriterCacheSize sets the writer connection's page cache, in KiB: a
// small cache makes a large Apply spill uncommitted pages into the WAL.
func SetWriterCacheSize(db *DB, kib int) error {
	_, err := db.w.Exec(fmt.Sprintf("PRAGMA cache_size = -%d", kib))
	return err
}

// WriterCacheSize returns the writer connection's cache_size setting.
func WriterCacheSize(db *DB) (n int, err error) {
	err = db.w.QueryRow("PRAGMA cache_size").Scan(&n)
	return n, err
}

// WriterForeignKeys returns the writer connection's foreign_keys setting.
func WriterForeignKeys(db *DB) (on bool, err error) {
	err = db.w.QueryRow("PRAGMA foreign_keys").Scan(&on)
	return on, err
}

// WriterThreads returns the writer connection's sorter threads setting.
func WriterThreads(db *DB) (n int, err error) {
	err = db.w.QueryRow("PRAGMA threads").Scan(&n)
	return n, err
}
