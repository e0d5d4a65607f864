// Package review compares the two sides of a catalog change — the base and
// the head of a pull request, or a pushed commit and its parent — and
// renders what the change does: errors, entities added, changed (with the
// properties that changed) and removed, scorecard levels that went up (↑) or
// down (↓) and rules newly failing or passing, the quality gates of the
// head's berth.yaml, and the permission changes with the pull-request
// guard's verdict.
//
// The package is pure: it reads built catalogs and scorecard evaluations
// made elsewhere and knows nothing of Git, CUE or GitHub. [Compare] makes a
// [Report]; [Report.Markdown] renders it for a check run or a comment,
// [Report.Text] for a terminal, and the Report itself marshals to JSON.
//
// # Gates
//
// berth.yaml's gates are judged on the head:
//
//   - {scorecard, minLevel, filter, mode}: every entity scored by the
//     scorecard and matching filter (a Port query; computed properties and
//     scorecard levels are readable) must be at minLevel or above. With a
//     base, only the entities the change touches are judged — added,
//     edited, or whose level in that scorecard changed — so that debt older
//     than the change does not block it; the others below the level are
//     counted as pre-existing. Without a base every entity is judged.
//   - {noRegression: [scorecards], filter, mode}: no entity's level in those
//     scorecards may go down. An entity that enters or leaves a scorecard
//     does not regress.
//
// mode is block (the default) or warn: a failed block gate fails the
// check, a failed warn gate only says so.
//
// # Permission guard
//
// [PermissionChanges] lists what a change does to access: page
// permissions, roles, blueprint permissions, and users' port_role, roles,
// status, team and GitHub login. With Input.Guard, Compare judges them
// ([Guard]): only an Admin of the base revision, found by the author's
// GitHub login, may make them. Judging by the base keeps a change from
// admitting its own author. Each refused change becomes an error
// diagnostic (CodePermissionGuard) at its line in the head, and a base that
// could not be loaded fails the guard outright.
package review
