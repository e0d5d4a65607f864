package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/berth-dev/berth/pkg/index"
	"github.com/berth-dev/berth/pkg/query"
	"github.com/berth-dev/berth/pkg/reconcile"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/time/rate"
)

// Defaults of Config's limits.
const (
	DefaultTokenTTL     = time.Hour
	DefaultMaxBody      = 1 << 20
	DefaultRateLimit    = rate.Limit(50)
	DefaultRateBurst    = 100
	DefaultMaxResults   = 10000
	DefaultSearchLimit  = 200
	MaxSearchLimit      = 1000
	MaxRelatedDepth     = 10
	DefaultRelatedLimit = 1000
)

// Config configures a Server.
type Config struct {
	// WebhookSecret verifies GitHub push webhooks; empty disables the route.
	WebhookSecret []byte
	// Branch is the followed branch, for the webhook.
	Branch string
	// Log receives request logs and errors.
	Log *slog.Logger
	// Gatherer serves /metrics; nil serves none.
	Gatherer prometheus.Gatherer

	// Repo describes the catalog's Git repository (say
	// "github.com/acme/catalog, branch main"); read_only answers name it.
	Repo string
	// Addr is the address the server listens on; without Clients, berth
	// serves anonymous reads only on a loopback address.
	Addr string
	// Clients may exchange their secret for a token.
	Clients []Client
	// Anonymous serves every request without a token (--auth none); it is
	// refused off loopback like a server without clients.
	Anonymous bool
	// TokenKey signs tokens (HS256); empty means a random key per process,
	// so replicas behind one address need a shared key.
	TokenKey []byte
	// TokenTTL is how long a token lives (default DefaultTokenTTL).
	TokenTTL time.Duration
	// RateLimit and RateBurst bound each client's requests (per client id,
	// or per remote address for anonymous callers). Zero takes the
	// defaults; rate.Inf disables the limit.
	RateLimit rate.Limit
	RateBurst int
	// MaxBody bounds request bodies in bytes (default DefaultMaxBody).
	MaxBody int64
	// QueryLimits bound search queries (zero: query.DefaultLimits).
	QueryLimits query.Limits
	// MaxResults bounds the unpaged answers (an entity list, the
	// cross-blueprint search); larger ones are refused with a hint to page.
	MaxResults int
	// Now is the clock (tokens, date presets); nil is time.Now.
	Now func() time.Time
	// Audit configures the log of API requests.
	Audit AuditConfig
}

// Server is the HTTP API over one index and its reconciler.
type Server struct {
	db      *index.DB
	rec     Reconciler
	cfg     Config
	log     *slog.Logger
	mux     *http.ServeMux
	auth    *authenticator
	limits  *limiter
	handler http.Handler

	metaMu    sync.Mutex
	metaBuild sync.Mutex // held while one read builds meta
	meta      *revMeta   // blueprints and scorecards of the last revision read

	callersMu    sync.Mutex
	callers      callerCache // compiled read policies of the newest revision
	callerBuilds keyedLocks  // per user: one read compiles its caller

	audit *auditLog // nil without API clients
}

// Reconciler is what the API needs of the reconciler feeding its index:
// its status, readiness and metrics, and a way to trigger it (the
// webhook). *reconcile.Reconciler and *reconcile.Process are ones.
type Reconciler interface {
	// Trigger asks for a reconcile without blocking.
	Trigger()
	// Status is /v1/status.
	Status(ctx context.Context) (reconcile.Status, error)
	// Ready reports whether a revision is applied.
	Ready(ctx context.Context) bool
	// Refresh updates the metrics read from the index before a scrape.
	Refresh(ctx context.Context) error
}

// New returns a Server reading db and reporting rec's status (rec may be
// nil: the status and metrics routes are then left out and readiness asks
// the index). It fails when cfg is invalid; see Config.Validate. A server
// with API clients starts the audit log's writer: Close it.
func New(db *index.DB, rec Reconciler, cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	s := &Server{db: db, rec: rec, cfg: cfg, log: cfg.Log, mux: http.NewServeMux()}
	auth, err := newAuthenticator(cfg)
	if err != nil {
		return nil, err
	}
	s.auth = auth
	if s.auth.anonymous {
		s.log.Warn("serving catalog reads without authentication (loopback only); add a client to require tokens",
			"addr", cfg.Addr)
	}
	s.limits = newLimiter(cfg.RateLimit, cfg.RateBurst)
	if s.audit, err = newAuditLog(db, cfg); err != nil {
		return nil, err
	}
	s.routes()
	s.handler = s.recoverer(s.logRequests(s.authenticate(s.auditRequests(s.mux))))
	return s, nil
}

func (c Config) withDefaults() Config {
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.TokenTTL <= 0 {
		c.TokenTTL = DefaultTokenTTL
	}
	if c.RateLimit == 0 {
		c.RateLimit = DefaultRateLimit
	}
	if c.RateBurst <= 0 {
		c.RateBurst = DefaultRateBurst
	}
	if c.MaxBody <= 0 {
		c.MaxBody = DefaultMaxBody
	}
	if c.MaxResults <= 0 {
		c.MaxResults = DefaultMaxResults
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Handler returns the server's handler: every route, wrapped with panic
// recovery (logged, answered with a 500 envelope), request logging,
// authentication, rate limiting and the body size limit. Timeouts are the
// http.Server's job.
func (s *Server) Handler() http.Handler { return s.handler }

// ServeHTTP implements http.Handler; it is Handler().ServeHTTP.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

func (s *Server) routes() {
	m := s.mux
	m.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"ok": true})
	})
	m.HandleFunc("GET /readyz", s.readyz)
	if s.rec != nil {
		m.HandleFunc("GET /v1/status", s.status)
		if s.cfg.Gatherer != nil {
			m.HandleFunc("GET /metrics", s.adminMetrics)
		}
		if len(s.cfg.WebhookSecret) > 0 {
			m.Handle("POST /hooks/github", reconcile.WebhookHandler(s.cfg.WebhookSecret, s.cfg.Branch, s.rec.Trigger))
		}
	}
	m.HandleFunc("POST /v1/auth/access_token", s.accessToken)

	m.HandleFunc("GET /v1/blueprints", s.blueprints)
	m.HandleFunc("GET /v1/blueprints/{bp}", s.blueprint)
	m.HandleFunc("GET /v1/blueprints/{bp}/permissions", s.blueprintPermissions)
	m.HandleFunc("GET /v1/blueprints/{bp}/entities", s.listEntities)
	m.HandleFunc("GET /v1/blueprints/{bp}/entities-count", s.countEntities)
	m.HandleFunc("GET /v1/blueprints/{bp}/entities/{id}", s.entity)
	m.HandleFunc("GET /v1/blueprints/{bp}/entities/{id}/related", s.related)
	m.HandleFunc("GET /v1/blueprints/{bp}/entities/{id}/scorecards/{sc}/history", s.entityHistory)
	m.HandleFunc("POST /v1/entities/search", s.searchAll)
	m.HandleFunc("POST /v1/blueprints/{bp}/entities/search", s.searchBlueprint)
	m.HandleFunc("GET /v1/blueprints/{bp}/scorecards", s.blueprintScorecards)
	m.HandleFunc("GET /v1/blueprints/{bp}/scorecards/{sc}", s.scorecard)
	m.HandleFunc("GET /v1/blueprints/{bp}/scorecards/{sc}/summary", s.scorecardSummary)
	m.HandleFunc("GET /v1/scorecards", s.scorecards)
	m.HandleFunc("GET /v1/actions", s.objectList(index.KindAction, "actions"))
	m.HandleFunc("GET /v1/actions/{id}", s.objectGet(index.KindAction, "action"))
	m.HandleFunc("GET /v1/pages", s.pages)
	m.HandleFunc("GET /v1/pages/{id}", s.page)
	m.HandleFunc("GET /v1/pages/{id}/permissions", s.pagePermissions)
	m.HandleFunc("GET /v1/pages/{id}/widgets/{widget}/data", s.widgetData)
	m.HandleFunc("GET /v1/audit-log", s.auditLogRoute)
	// Everything else under /v1: writes are refused as read-only, unknown
	// reads are not found.
	m.HandleFunc("/v1/", s.fallback)
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, errorf(kindNotFound, "no route %s %s", r.Method, r.URL.Path))
	})
}

// MetricsHandler serves Config.Gatherer's metrics in Prometheus' format,
// without authentication, for a listener of its own (berth serve
// --metrics-addr). It is nil without a Gatherer or a reconciler.
func (s *Server) MetricsHandler() http.Handler {
	if s.cfg.Gatherer == nil || s.rec == nil {
		return nil
	}
	metrics := promhttp.HandlerFor(s.cfg.Gatherer, promhttp.HandlerOpts{})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := s.rec.Refresh(r.Context()); err != nil {
			s.log.Warn("refresh metrics", "err", err)
		}
		metrics.ServeHTTP(w, r)
	})
}

// adminMetrics is GET /metrics on the API's own address. The metrics count
// entities per blueprint, which a caller restricted by the catalog's RBAC
// may not know: with API clients configured, only an Admin's token gets
// them (Prometheus scrapes MetricsHandler on a separate address instead).
func (s *Server) adminMetrics(w http.ResponseWriter, r *http.Request) {
	if !s.auth.anonymous {
		// authenticate identified the caller, as for /v1 routes.
		err := s.readTx(r, func(rd *reader) error { return rd.requireAdmin("/metrics on the API address") })
		if err != nil && !errors.Is(err, errNotReady) {
			s.fail(w, r, err)
			return
		}
	}
	s.MetricsHandler().ServeHTTP(w, r)
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	ready := false
	if s.rec != nil {
		ready = s.rec.Ready(ctx)
	} else if st, err := s.db.State(ctx); err == nil {
		ready = st.Applied != nil
	}
	if !ready {
		writeError(w, errNotReady)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true})
}

// status is the reconciler's status: a system page, for Admins only once
// a revision says who they are (before that, any authenticated caller may
// see why nothing applies).
func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	err := s.readTx(r, func(rd *reader) error { return rd.requireAdmin("the reconciler's status") })
	if err != nil && !errors.Is(err, errNotReady) {
		s.fail(w, r, err)
		return
	}
	st, err := s.rec.Status(r.Context())
	if err != nil {
		s.internal(w, "status", err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		OK bool `json:"ok"`
		reconcile.Status
	}{true, st})
}

// Error kinds, the "error" code of Port's envelope.
const (
	kindInvalidRequest = "invalid_request"
	kindInvalidQuery   = "invalid_query"
	kindInvalidCursor  = "invalid_cursor"
	kindTooLarge       = "result_too_large"
	kindUnauthorized   = "unauthorized"
	kindForbidden      = "forbidden"
	kindNotFound       = "not_found"
	kindReadOnly       = "read_only"
	kindCursorStale    = "cursor_stale"
	kindPageLocked     = "page_locked"
	kindBodyTooLarge   = "body_too_large"
	kindRateLimited    = "rate_limited"
	kindInternal       = "internal_error"
	kindNotReady       = "not_ready"
)

// statusOf is the one map from error kind to HTTP status.
var statusOf = map[string]int{
	kindInvalidRequest: http.StatusBadRequest,
	kindInvalidQuery:   http.StatusBadRequest,
	kindInvalidCursor:  http.StatusBadRequest,
	kindTooLarge:       http.StatusBadRequest,
	kindUnauthorized:   http.StatusUnauthorized,
	kindForbidden:      http.StatusForbidden,
	kindNotFound:       http.StatusNotFound,
	kindReadOnly:       http.StatusMethodNotAllowed,
	kindCursorStale:    http.StatusConflict,
	kindPageLocked:     http.StatusConflict,
	kindBodyTooLarge:   http.StatusRequestEntityTooLarge,
	kindRateLimited:    http.StatusTooManyRequests,
	kindInternal:       http.StatusInternalServerError,
	kindNotReady:       http.StatusServiceUnavailable,
}

// apiError is an error with its client-facing kind; its message is safe to
// show to any caller.
type apiError struct {
	kind    string
	message string
}

func (e *apiError) Error() string { return e.message }

func errorf(kind, format string, args ...any) *apiError {
	return &apiError{kind, fmt.Sprintf(format, args...)}
}

var (
	errNotReady     = &apiError{kindNotReady, "no catalog revision has been applied yet"}
	errInternal     = &apiError{kindInternal, "internal error; see the server log"}
	errUnauthorized = &apiError{kindUnauthorized, "missing, invalid or expired credentials"}
)

func (s *Server) internal(w http.ResponseWriter, what string, err error) {
	s.log.Error(what, "err", err)
	writeError(w, errInternal)
}

// fail answers err: an *apiError as itself, anything else as a logged
// internal error.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	if errors.As(err, &ae) {
		writeError(w, ae)
		return
	}
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		return // the client went away
	}
	s.internal(w, r.Method+" "+r.URL.Path, err)
}

func writeError(w http.ResponseWriter, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		ae = errInternal
	}
	status, ok := statusOf[ae.kind]
	if !ok {
		status = http.StatusInternalServerError
	}
	writeJSON(w, status, map[string]any{"ok": false, "error": ae.kind, "message": ae.message})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	buf := bufPool.Get().(*bytes.Buffer)
	defer putBuf(buf)
	if err := encode(buf, v); err != nil {
		buf.Reset()
		status = statusOf[kindInternal]
		_ = encode(buf, map[string]any{"ok": false, "error": kindInternal, "message": errInternal.message})
	}
	buf.WriteByte('\n')
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes()) // Write does not keep the slice
}

// bufPool holds the buffers answers are encoded in: every answer needs
// one, and growing a fresh one to the size of an entity is a good part of
// what a request allocates.
var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledBuf bounds the buffers kept for reuse: a page of entities can
// grow one to megabytes, which the pool would otherwise keep alive.
const maxPooledBuf = 64 << 10

func putBuf(buf *bytes.Buffer) {
	if buf.Cap() > maxPooledBuf {
		return
	}
	buf.Reset()
	bufPool.Put(buf)
}

// encode writes v as JSON. A map's json.RawMessage values (and lists of
// them) are written as they are: they are documents the index stored as
// JSON, and encoding/json would parse and compact each again, which is
// most of the cost of a page of entities.
func encode(buf *bytes.Buffer, v any) error {
	m, ok := v.(map[string]any)
	if !ok {
		return encodeValue(buf, v)
	}
	// A page of entities is most of an answer: room for it at once.
	raw := 0
	for _, x := range m {
		switch x := x.(type) {
		case json.RawMessage:
			raw += len(x)
		case []json.RawMessage:
			for _, r := range x {
				raw += len(r) + 1
			}
		}
	}
	buf.Grow(raw + 1<<10)
	buf.WriteByte('{')
	for i, k := range slices.Sorted(maps.Keys(m)) {
		if i > 0 {
			buf.WriteByte(',')
		}
		if err := encodeValue(buf, k); err != nil {
			return err
		}
		buf.WriteByte(':')
		switch x := m[k].(type) {
		case json.RawMessage:
			buf.Write(x)
		case []json.RawMessage:
			buf.WriteByte('[')
			for j, raw := range x {
				if j > 0 {
					buf.WriteByte(',')
				}
				buf.Write(raw)
			}
			buf.WriteByte(']')
		default:
			if err := encodeValue(buf, x); err != nil {
				return err
			}
		}
	}
	buf.WriteByte('}')
	return nil
}

func encodeValue(buf *bytes.Buffer, v any) error {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	buf.Truncate(buf.Len() - 1) // Encode's newline
	return nil
}
