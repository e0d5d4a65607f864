// Package checks reports a berth check to GitHub: a check run with line
// annotations, an optional sticky pull-request comment, and, where the token
// may not write (pull requests from forks), the job summary and workflow
// commands instead.
//
// The package owns the GitHub-facing half only. A Report is plain data built
// elsewhere (the Markdown is rendered by the caller); Publish turns it into
// REST calls through go-github, which stays inside this package: no go-github
// type appears in the exported API.
//
// Publish respects GitHub's limits: at most 50 annotations per request (the
// rest follow in further updates, which GitHub appends), and output summary,
// text and comment bodies of at most 65,535 bytes, cut on a UTF-8 boundary at
// a line break with a note saying how much was cut. A run of the same name on
// the same commit is updated rather than duplicated, and the sticky comment
// is found by a hidden marker and edited in place.
//
// Lack of permission is never an error: Publish falls back to the job
// summary ($GITHUB_STEP_SUMMARY) and workflow commands (::error file=...::)
// and says so in its Result. Server errors (5xx) and secondary rate limits are
// retried a few times with a short, bounded backoff; everything else is
// returned.
package checks
