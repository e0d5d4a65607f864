package api

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/berth-dev/berth/pkg/index"
	"github.com/berth-dev/berth/pkg/reconcile"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Config configures a Server.
type Config struct {
	// WebhookSecret verifies GitHub push webhooks; empty disables the route.
	WebhookSecret []byte
	// Branch is the followed branch, for the webhook.
	Branch string
	// Log receives request errors.
	Log *slog.Logger
	// Gatherer serves /metrics; nil serves none.
	Gatherer prometheus.Gatherer
}

// Server is the HTTP API over one index and its reconciler.
type Server struct {
	db  *index.DB
	rec *reconcile.Reconciler
	cfg Config
	log *slog.Logger
	mux *http.ServeMux
}

// New returns a Server reading db, reporting rec's status.
func New(db *index.DB, rec *reconcile.Reconciler, cfg Config) *Server {
	s := &Server{db: db, rec: rec, cfg: cfg, log: cfg.Log, mux: http.NewServeMux()}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.routes()
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

func (s *Server) routes() {
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"ok": true})
	})
	s.mux.HandleFunc("GET /readyz", s.readyz)
	s.mux.HandleFunc("GET /v1/status", s.status)
	if s.cfg.Gatherer != nil {
		metrics := promhttp.HandlerFor(s.cfg.Gatherer, promhttp.HandlerOpts{})
		s.mux.Handle("GET /metrics", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := s.rec.Refresh(r.Context()); err != nil {
				s.log.Warn("refresh metrics", "err", err)
			}
			metrics.ServeHTTP(w, r)
		}))
	}
	if len(s.cfg.WebhookSecret) > 0 {
		s.mux.Handle("POST /hooks/github", reconcile.WebhookHandler(s.cfg.WebhookSecret, s.cfg.Branch, s.rec.Trigger))
	}
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if !s.rec.Ready(ctx) {
		writeError(w, errNotReady)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true})
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
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

// apiError is an error with its client-facing code.
type apiError struct {
	code    string
	status  int
	message string
}

func (e *apiError) Error() string { return e.message }

var (
	errNotReady = &apiError{"not_ready", http.StatusServiceUnavailable, "no catalog revision has been applied yet"}
	errInternal = &apiError{"internal_error", http.StatusInternalServerError, "internal error; see the server log"}
)

func (s *Server) internal(w http.ResponseWriter, what string, err error) {
	s.log.Error(what, "err", err)
	writeError(w, errInternal)
}

func writeError(w http.ResponseWriter, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		ae = errInternal
	}
	writeJSON(w, ae.status, map[string]any{"ok": false, "error": ae.code, "message": ae.message})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}
