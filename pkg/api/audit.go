package api

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/berth-dev/berth/pkg/index"
	"github.com/prometheus/client_golang/prometheus"
)

// Defaults and bounds of the audit log.
const (
	DefaultAuditMaxRequests = 100_000
	DefaultAuditMaxAge      = 30 * 24 * time.Hour
	DefaultAuditBuffer      = 4096
	DefaultAuditLimit       = 100
	MaxAuditLimit           = 1000
)

// auditBatch bounds the requests one write of the audit log holds.
const auditBatch = 512

// auditLinger is how long the writer lets requests gather in the queue
// after the first one arrives. Without it, a busy server wrote one
// transaction per request (the writer ran as soon as a request was
// queued), and those writes cost more CPU than serving the requests. The
// queue alone holds what waits, so Buffer bounds it as before.
const auditLinger = 20 * time.Millisecond

// auditRetry is how long a batch the index refused as busy waits before
// the writer tries it again.
const auditRetry = 500 * time.Millisecond

// maxAuditField bounds each request-controlled field of a request entry
// (method, path, path parameters), in bytes.
const maxAuditField = 1 << 10

// AuditConfig configures the request log of Config.Audit.
type AuditConfig struct {
	// MaxRequests is how many of the newest requests the index keeps
	// (default DefaultAuditMaxRequests).
	MaxRequests int
	// MaxAge is how long the index keeps a request (default
	// DefaultAuditMaxAge).
	MaxAge time.Duration
	// Buffer is how many requests wait in memory for the writer (default
	// DefaultAuditBuffer); while it is full, requests are not recorded but
	// counted in berth_audit_dropped_total.
	Buffer int
	// Metrics, when set, registers berth_audit_dropped_total.
	Metrics prometheus.Registerer
}

// auditLog records the requests of authenticated callers without making
// them wait: handlers put entries in a bounded buffer, and one goroutine
// writes them to the index in batches through its writer connection,
// pruning old ones as it goes. It runs from New until Server.Close.
type auditLog struct {
	db      *index.DB
	keep    index.Retention
	now     func() time.Time
	log     *slog.Logger
	queue   chan index.Request
	dropped prometheus.Counter

	stop      chan struct{} // closed by close: flush and end
	stopOnce  sync.Once
	done      chan struct{} // closed when the writer has ended
	ctx       context.Context
	cancelCtx context.CancelFunc // abandons a write when close runs out of time
}

// newAuditLog starts the request log of a server with API clients; a
// server without them has no callers to record and gets nil.
func newAuditLog(db *index.DB, cfg Config) (*auditLog, error) {
	if cfg.Anonymous || len(cfg.Clients) == 0 {
		return nil, nil
	}
	c := cfg.Audit
	if c.MaxRequests < 0 || c.MaxAge < 0 || c.Buffer < 0 {
		return nil, fmt.Errorf("audit log: negative bound (max requests %d, max age %v, buffer %d)",
			c.MaxRequests, c.MaxAge, c.Buffer)
	}
	a := &auditLog{
		db:   db,
		keep: index.Retention{MaxRows: cmp.Or(c.MaxRequests, DefaultAuditMaxRequests), MaxAge: cmp.Or(c.MaxAge, DefaultAuditMaxAge)},
		now:  cfg.Now,
		log:  cfg.Log,
		dropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "berth_audit_dropped_total",
			Help: "API requests left out of the audit log: its buffer was full or the write failed."}),
		queue: make(chan index.Request, cmp.Or(c.Buffer, DefaultAuditBuffer)),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	if c.Metrics != nil {
		if err := c.Metrics.Register(a.dropped); err != nil {
			return nil, fmt.Errorf("audit log: register metrics: %w", err)
		}
	}
	a.ctx, a.cancelCtx = context.WithCancel(context.Background())
	go a.run()
	return a, nil
}

// record queues an entry, or drops and counts it when the buffer is full.
func (a *auditLog) record(r index.Request) {
	select {
	case a.queue <- r:
	default:
		a.dropped.Inc()
	}
}

// run writes queued entries until close, then what is left.
func (a *auditLog) run() {
	defer close(a.done)
	for {
		select {
		case r := <-a.queue:
			select {
			case <-time.After(auditLinger):
			case <-a.stop:
			}
			a.write(a.take([]index.Request{r}))
		case <-a.stop:
			for {
				batch := a.take(nil)
				if len(batch) == 0 {
					return
				}
				a.write(batch)
			}
		}
	}
}

// take adds to batch what the queue holds, up to auditBatch, without
// waiting.
func (a *auditLog) take(batch []index.Request) []index.Request {
	for len(batch) < auditBatch {
		select {
		case r := <-a.queue:
			batch = append(batch, r)
		default:
			return batch
		}
	}
	return batch
}

// write stores a batch; a failed write loses it, counted and logged. A
// write refused because the reconciler's process holds the index's write
// lock (a cold import keeps it for many seconds) is tried again, every
// auditRetry until it succeeds or close is called: the batch waits, and
// the queue keeps filling up to its bound.
func (a *auditLog) write(batch []index.Request) {
	pruned, err := a.db.RecordRequests(a.ctx, batch, a.keep, a.now())
	for index.IsBusy(err) {
		a.log.Warn("audit log: index busy; retrying", "requests", len(batch), "in", auditRetry)
		select {
		case <-a.stop:
		case <-time.After(auditRetry):
		}
		pruned, err = a.db.RecordRequests(a.ctx, batch, a.keep, a.now())
		if a.stopping() {
			break
		}
	}
	if err != nil {
		a.dropped.Add(float64(len(batch)))
		a.log.Error("audit log: requests lost", "requests", len(batch), "err", err)
		return
	}
	if pruned > 0 {
		a.log.Debug("audit log: pruned requests", "requests", pruned)
	}
}

// stopping reports whether close was called.
func (a *auditLog) stopping() bool {
	select {
	case <-a.stop:
		return true
	default:
		return false
	}
}

// close flushes the queue and ends the writer. When ctx ends first, the
// write in progress is abandoned and the rest is lost.
func (a *auditLog) close(ctx context.Context) error {
	if a == nil {
		return nil
	}
	a.stopOnce.Do(func() { close(a.stop) })
	select {
	case <-a.done:
		a.cancelCtx()
		return nil
	case <-ctx.Done():
		a.cancelCtx()
		<-a.done
		return fmt.Errorf("flush audit log: %w", ctx.Err())
	}
}

// Close flushes the audit log's buffered requests to the index and stops
// its writer. Call it once the HTTP server has shut down and before the
// index closes. It returns ctx's error, wrapped, when the flush did not
// finish in time: the requests not yet written are lost.
func (s *Server) Close(ctx context.Context) error { return s.audit.close(ctx) }

// auditRequests records every request of a caller with a token: who, the
// route and its parameters, the status and the duration. It runs inside
// authenticate, which puts the caller in the context, and around the mux,
// which sets the route pattern on the very request it is given.
func (s *Server) auditRequests(next http.Handler) http.Handler {
	if s.audit == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := IdentityFrom(r.Context())
		if id.ClientID == "" {
			next.ServeHTTP(w, r)
			return
		}
		at, start := s.cfg.Now(), time.Now()
		sw := &statusWriter{ResponseWriter: w}
		returned := false
		defer func() {
			status := sw.status
			if status == 0 {
				status = http.StatusOK
				if !returned {
					status = http.StatusInternalServerError // a panic, which recoverer answers
				}
			}
			s.audit.record(requestEntry(r, id, at, status, time.Since(start)))
		}()
		next.ServeHTTP(sw, r)
		returned = true
	})
}

// requestEntry describes a served request for the audit log.
func requestEntry(r *http.Request, id Identity, at time.Time, status int, d time.Duration) index.Request {
	e := index.Request{At: at, Client: id.ClientID, User: id.User, Method: capped(r.Method), Route: r.Pattern,
		Path: capped(r.URL.Path), Status: status, Duration: d}
	for _, name := range wildcards(r.Pattern) {
		if v := r.PathValue(name); v != "" {
			if e.Params == nil {
				e.Params = map[string]string{}
			}
			e.Params[name] = capped(v)
		}
	}
	// Entity routes are /v1/blueprints/{bp}/entities/{id}...; {id} of
	// other routes names a page or an action.
	if bp, ok := e.Params["bp"]; ok {
		e.Blueprint, e.Identifier = bp, e.Params["id"]
	}
	return e
}

// wildcards returns the names of a route pattern's wildcards.
func wildcards(pattern string) []string {
	var out []string
	for {
		i := strings.IndexByte(pattern, '{')
		if i < 0 {
			return out
		}
		j := strings.IndexByte(pattern[i:], '}')
		if j < 0 {
			return out
		}
		if name := strings.TrimSuffix(pattern[i+1:i+j], "..."); name != "$" && name != "" {
			out = append(out, name)
		}
		pattern = pattern[i+j+1:]
	}
}

// capped cuts s to maxAuditField bytes at a character boundary.
func capped(s string) string {
	if len(s) <= maxAuditField {
		return s
	}
	n := maxAuditField
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// auditParams are the query parameters of GET /v1/audit-log.
var auditParams = []string{"entity", "blueprint", "identifier", "user", "from", "to", "type", "limit", "next"}

// auditLogRoute is GET /v1/audit-log, a system page for Admins: API
// requests and catalog changes, newest first, filtered by entity
// (entity=bp/id, or blueprint and identifier), user, time (from, to:
// RFC 3339, both included) and type (request or change), in pages of limit
// entries (default 100, at most 1000) continued with next.
func (s *Server) auditLogRoute(w http.ResponseWriter, r *http.Request) {
	q, filter, err := auditQuery(r.URL.Query())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	limit := q.Limit
	q.Limit++ // one more says whether there is a next page
	var resp map[string]any
	err = s.readTx(r, func(rd *reader) error {
		if err := rd.requireAdmin("the audit log"); err != nil {
			return err
		}
		es, err := index.AuditLogTx(rd.ctx, rd.tx, q)
		if err != nil {
			return err
		}
		resp = map[string]any{"ok": true}
		if len(es) > limit {
			es = es[:limit]
			p := es[limit-1].Position()
			resp["next"] = encodeOpaque(auditCursor{At: p.At, Kind: p.Kind, ID: p.ID, Filter: filter})
		}
		items := make([]auditItem, len(es))
		for i, e := range es {
			items[i] = auditItemOf(e)
		}
		resp["audit"] = items
		return nil
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, resp)
}

// auditCursor is the opaque next of an audit log page: the last entry's
// position and the filter it belongs to.
type auditCursor struct {
	At     int64  `json:"t"`
	Kind   string `json:"k"`
	ID     int64  `json:"i"`
	Filter string `json:"f"`
}

// auditQuery reads the query parameters of GET /v1/audit-log. filter
// identifies the selection (all but limit and next), to bind cursors to it.
func auditQuery(v url.Values) (q index.AuditQuery, filter string, err error) {
	for k := range v {
		if !slices.Contains(auditParams, k) {
			return q, "", errorf(kindInvalidRequest, "unknown parameter %q; the audit log takes %s", k,
				strings.Join(auditParams, ", "))
		}
	}
	q.Blueprint, q.Identifier, q.User = v.Get("blueprint"), v.Get("identifier"), v.Get("user")
	if ent := v.Get("entity"); ent != "" {
		bp, id, ok := strings.Cut(ent, "/")
		if !ok || bp == "" || id == "" {
			return q, "", errorf(kindInvalidRequest, "entity: want blueprint/identifier, got %q", ent)
		}
		if (q.Blueprint != "" && q.Blueprint != bp) || (q.Identifier != "" && q.Identifier != id) {
			return q, "", errorf(kindInvalidRequest, "entity %q disagrees with blueprint or identifier", ent)
		}
		q.Blueprint, q.Identifier = bp, id
	}
	switch t := v.Get("type"); t {
	case "", index.AuditRequest, index.AuditChange:
		q.Kind = t
	default:
		return q, "", errorf(kindInvalidRequest, "type: want %s or %s, got %q", index.AuditRequest, index.AuditChange, t)
	}
	for _, b := range []struct {
		name string
		dst  *time.Time
	}{{"from", &q.From}, {"to", &q.To}} {
		if s := v.Get(b.name); s != "" {
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				return q, "", errorf(kindInvalidRequest, "%s: want an RFC 3339 time such as 2025-03-01T09:00:00Z, got %q",
					b.name, s)
			}
			*b.dst = t
		}
	}
	if !q.From.IsZero() && !q.To.IsZero() && q.To.Before(q.From) {
		return q, "", errorf(kindInvalidRequest, "to is before from")
	}
	q.Limit = DefaultAuditLimit
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxAuditLimit {
			return q, "", errorf(kindInvalidRequest, "limit: want 1 to %d, got %q", MaxAuditLimit, s)
		}
		q.Limit = n
	}
	h := sha256.New()
	for _, s := range []string{q.Kind, q.Blueprint, q.Identifier, strings.ToLower(q.User), v.Get("from"), v.Get("to")} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	filter = base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:9])
	if s := v.Get("next"); s != "" {
		var c auditCursor
		if err := decodeOpaque(s, &c); err != nil || c.Filter != filter ||
			(c.Kind != index.AuditRequest && c.Kind != index.AuditChange) {
			return q, "", errorf(kindInvalidCursor, "next: not a cursor of this listing; pass the next value of the "+
				"previous page unchanged, with the same filters")
		}
		q.After = &index.AuditPosition{At: c.At, Kind: c.Kind, ID: c.ID}
	}
	return q, filter, nil
}

// auditItem is one entry of GET /v1/audit-log.
type auditItem struct {
	Type       string `json:"type"`
	At         string `json:"at"`
	User       string `json:"user,omitempty"`
	Blueprint  string `json:"blueprint,omitempty"`
	Identifier string `json:"identifier,omitempty"`

	// Changes.
	Action string `json:"action,omitempty"`
	Count  int    `json:"count,omitempty"` // entities an imported entry stands for
	Commit string `json:"commit,omitempty"`
	File   string `json:"file,omitempty"`

	// Requests.
	Client     string            `json:"client,omitempty"`
	Method     string            `json:"method,omitempty"`
	Route      string            `json:"route,omitempty"`
	Path       string            `json:"path,omitempty"`
	Params     map[string]string `json:"params,omitempty"`
	Status     int               `json:"status,omitempty"`
	DurationMs *float64          `json:"durationMs,omitempty"`
}

func auditItemOf(e index.AuditEntry) auditItem {
	it := auditItem{Type: e.Kind, At: e.At.UTC().Format(time.RFC3339Nano), User: e.User, Blueprint: e.Blueprint,
		Identifier: e.Identifier}
	if e.Kind == index.AuditChange {
		it.Action, it.Commit, it.File = e.Action, e.Commit, e.File
		if e.Action == index.ActionImported {
			it.Count = e.Count
		}
		return it
	}
	ms := float64(e.Duration.Microseconds()) / 1000
	it.Client, it.Method, it.Route, it.Path, it.Params, it.Status, it.DurationMs =
		e.Client, e.Method, e.Route, e.Path, e.Params, e.Status, &ms
	return it
}
