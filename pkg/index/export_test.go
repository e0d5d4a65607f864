package index

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
