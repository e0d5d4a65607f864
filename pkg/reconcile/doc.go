// Package reconcile keeps a berth index equal to the newest valid commit of
// a Git branch. One reconcile is one step sequence:
//
//	fetch → changed paths → load → validate → apply → score → record
//
// and then, on the side (see Run), the merge of the packs its fetches left
// in a remote's clone (gitsource.Repo.Compact).
//
// A commit is applied in one index transaction or not at all: a commit with
// errors is recorded with its diagnostics and the index keeps serving the
// last good revision (the catalog is wrong: report, do not retry); a commit
// that would delete more than a configured share of the entities is held
// until allowed; a remote that cannot be reached is retried with capped
// backoff while the index keeps serving.
//
// Reconciles are incremental when the new head descends from the applied
// commit: the new catalog is derived from the applied one (catalog.Update),
// only changed files are re-read and re-validated with CUE (plus the
// entities of blueprints whose schema changed), the checks across files run
// for the entities the change can affect (catalog.CheckSince), and computed
// properties and scorecards are evaluated for the changed entities and
// those that read them. The outcome, diagnostics included, is what a full
// build of the commit gives. After a restart the applied commit is loaded
// once without CUE (it was valid when applied). A force-push or a change to
// berth.yaml or policies falls back to a full rebuild.
//
// A Reconciler runs in the process that calls it (berth index), or in a
// child process that a parent's Process starts, feeds triggers and hears
// its state from (berth serve: see ServeParent and Process).
package reconcile
