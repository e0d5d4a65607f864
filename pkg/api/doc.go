// Package api is berth's read-only HTTP API: health and readiness, the
// reconciler's status, Prometheus metrics, the GitHub push webhook, and the
// Port-shaped catalog endpoints served from the index.
//
// # Catalog reads
//
// Blueprints, entities (list, get, count, search, related), scorecards,
// actions and pages answer in Port's shapes, so clients written for Port's
// REST API work by changing the base URL. Entities carry berth's extra
// field "berth": {file, line}, the entity's source in Git, and their
// scorecard results ("scorecards", "scorecardsStats").
//
// Every catalog read runs in one read transaction of the index, so it sees
// one revision whole: the X-Berth-Revision header names its commit. The
// ETag hashes that commit with the request and the caller; a GET whose
// If-None-Match holds it is answered 304 without reading further.
//
// Blueprint search pages with an opaque cursor (next → from) bound to the
// revision it was made at and to the query. The index keeps one revision,
// so after a reconcile the old position may skip or repeat entities: the
// stale cursor is answered 409 cursor_stale and the client starts again.
//
// A dashboard widget's data (GET /v1/pages/{id}/widgets/{widget}/data)
// is aggregated in SQL over the same compiled read: the widget's dataset,
// the page's filters and the request's are ANDed with the caller's read
// policy, so a number, a pie slice or a table row counts only what the
// caller may read.
//
// Writes (POST, PUT, PATCH, DELETE on catalog objects) answer 405
// read_only with the repository and the file to change in a pull request.
//
// # Authentication
//
// Clients (Config.Clients) exchange {clientId, clientSecret} at
// POST /v1/auth/access_token for an HS256 token that expires; every other
// /v1 request needs it as a Bearer token. Any failure is 401 unauthorized
// without detail. Without clients, or with Config.Anonymous, the server
// serves anonymous reads on a loopback address only. The caller's
// Identity (its client and user e-mail) is in the request context.
//
// # Who may see what
//
// A client acts as a _user entity of the catalog; pkg/access turns the
// revision's rules and that user into a read policy, compiled once per
// revision and user into SQL that every read ANDs in and passes to the
// query compiler as CompileOptions.Visible. An entity the caller may not
// read does not exist for it: not in lists, counts or searches, not
// reachable by relatedTo, matchAny or a relation's $title, not on a
// related walk, not counted in scorecard summaries or widget data; a get
// of it is the 404 of a missing one. {context: user|userTeams} values bind
// to the caller's _user entity and the _team entities it may read. A
// disabled user, or a client whose user the catalog lacks, is 403.
// Computed properties (mirror, aggregation, calculation) and scorecard
// results are computed over the whole catalog, as in Port: a mirror of a
// hidden entity's property shows on the readable entity that mirrors it.
//
// # Audit log
//
// Requests of callers with a token are recorded (auditRequests) into a
// bounded buffer that one goroutine of the Server writes to the index in
// batches; a full buffer drops and counts (berth_audit_dropped_total), so
// requests never wait for SQLite. Close flushes it. GET /v1/audit-log
// (Admins) reads those requests with the catalog changes Apply recorded,
// newest first, paged by a cursor bound to the filters.
//
// # Errors and limits
//
// Errors answer with Port's envelope {"ok": false, "error": code,
// "message": ...}; one table maps error kinds to HTTP statuses, internal
// errors are logged and clients get a clean message. Bodies are bounded
// (1 MiB), queries by query.Limits, pages by MaxSearchLimit, and each
// caller by a token bucket answering 429 with Port's x-ratelimit-limit,
// x-ratelimit-remaining and x-ratelimit-reset headers.
package api
