// Package index keeps berth's SQLite index: the last applied catalog
// revision, the history of every reconcile attempt and the scorecard history.
//
// The schema lives in embedded, numbered migrations (migrations/NNNN_*.sql)
// applied at Open, each in its own transaction, and tracked by SQLite's
// user_version. Schema version 1 is the contract with package query, which
// compiles search rules to SQL over the tables `entities e`, entity_values,
// relations, entity_teams, scorecard_results and scorecard_rule_results.
//
// A DB has one writer connection and a separate pool of read-only
// connections on the same file in WAL mode, so reads never wait for a
// revision being applied. Apply writes a whole revision in one transaction:
// a reader sees the revision before it or the revision after it, never a mix,
// and a crash mid-apply leaves the index at the revision before. Stage
// writes a revision and leaves its transaction open, for its caller to
// commit or roll back once it knows whether the revision is good.
//
// A revision of thousands of entities into an index without entities is a
// bulk load: the secondary indexes are dropped and built again once the
// rows are in (inside the transaction), the writer's page cache is small
// (SQLite sorts the index builds in runs of its size) and its foreign key
// checks are off; the settings are restored afterwards.
//
// The index also keeps an audit log (audit.go), which unlike the catalog
// tables is not derived from one revision: Apply adds the entity changes
// of each revision in its transaction, and RecordRequests the API's
// requests in short writer transactions; AuditLogTx reads both.
package index
