package index

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/berth-dev/berth/pkg/catalog"
)

// KeepAttempts is how many of the newest reconcile attempts the index keeps.
// Older ones are pruned, except the applied revision and revisions that
// scorecard history refers to.
const KeepAttempts = 200

// RecordAttempt records a reconcile attempt that was not applied (failed,
// held or error) with its reason and diagnostics. No catalog table changes:
// the index keeps serving the last applied revision. It returns the new
// revision id; applying goes through Apply, so StatusApplied is an error.
func (db *DB) RecordAttempt(ctx context.Context, info RevisionInfo, status Status, reason string,
	diags catalog.Diagnostics) (id int64, err error) {
	if status == StatusApplied || status == "" {
		return 0, fmt.Errorf("record attempt %s: status %q: use Apply for applied revisions", info.Commit, status)
	}
	start := time.Now()
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("record attempt %s: %w", info.Commit, err)
	}
	defer func() {
		if err != nil {
			err = errors.Join(fmt.Errorf("record attempt %s: %w", info.Commit, err), tx.Rollback())
		}
	}()
	if id, err = insertRevision(ctx, tx, info, status, reason, diags, start); err != nil {
		return 0, err
	}
	if err = pruneAttempts(ctx, tx, db.keepAttempts); err != nil {
		return 0, err
	}
	return id, tx.Commit()
}

// pruneAttempts deletes attempts beyond the newest keep, with their
// diagnostics (by cascade).
func pruneAttempts(ctx context.Context, tx *sql.Tx, keep int) error {
	_, err := tx.ExecContext(ctx, `DELETE FROM revisions
		WHERE id <= (SELECT id FROM revisions ORDER BY id DESC LIMIT 1 OFFSET ?)
		AND id IS NOT (SELECT applied_revision FROM state WHERE id = 1)
		AND NOT EXISTS (SELECT 1 FROM scorecard_history h WHERE h.revision_id = revisions.id)`, keep)
	if err != nil {
		return fmt.Errorf("prune attempts: %w", err)
	}
	return nil
}
