// Package api is berth's read-only HTTP API: health and readiness, the
// reconciler's status, Prometheus metrics, the GitHub push webhook, and the
// Port-shaped catalog endpoints served from the index.
//
// Errors answer with Port's envelope {"ok": false, "error": code,
// "message": ...}; one table maps error kinds to HTTP statuses, internal
// errors are logged and clients get a clean message.
package api
