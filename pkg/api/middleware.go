package api

import (
	"errors"
	"log/slog"
	"math"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// statusWriter remembers the status written, for logging and recovery.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// recoverer answers a panicking handler with a 500 envelope (when nothing
// was written yet) and logs the panic with its stack.
func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw, ok := w.(*statusWriter)
		if !ok {
			sw = &statusWriter{ResponseWriter: w}
		}
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
				panic(v) // net/http's way to abort a response; it logs nothing
			}
			s.log.Error("panic serving request", "method", r.Method, "path", r.URL.Path, "panic", v,
				"stack", string(debug.Stack()))
			if sw.status == 0 {
				writeError(sw, errInternal)
			}
		}()
		next.ServeHTTP(sw, r)
	})
}

// logRequests logs one line per request.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		s.log.LogAttrs(r.Context(), levelOf(sw.status), "request",
			slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Int("status", sw.status),
			slog.Int("bytes", sw.bytes), slog.Duration("duration", time.Since(start)),
			slog.String("remote", remoteHost(r)))
	})
}

// authenticate identifies the caller of every /v1 route but the token
// route, and of /metrics (an Admin's once clients are configured), applies
// the caller's rate limit and bounds the body. Health, readiness and the
// webhook (which checks its own signature) are left alone.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/v1/") && r.URL.Path != "/metrics" {
			next.ServeHTTP(w, r)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBody)
		tokenRoute := r.URL.Path == "/v1/auth/access_token"
		var id Identity
		var authErr error
		if !tokenRoute {
			id, authErr = s.auth.identify(r)
		}
		// Callers with a valid token are limited per client, the others
		// per address (RemoteAddr: berth trusts no forwarding header).
		key := "addr:" + remoteHost(r)
		if authErr == nil && id.ClientID != "" {
			key = "client:" + id.ClientID
		}
		if !s.limits.allow(w, key, s.cfg.Now()) {
			writeError(w, errorf(kindRateLimited, "rate limit exceeded; retry after the time in x-ratelimit-reset (seconds)"))
			return
		}
		if authErr != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="berth"`)
			writeError(w, authErr)
			return
		}
		if !tokenRoute {
			r = r.WithContext(withIdentity(r.Context(), id))
		}
		next.ServeHTTP(w, r)
	})
}

func levelOf(status int) slog.Level {
	if status >= http.StatusInternalServerError {
		return slog.LevelError
	}
	return slog.LevelInfo
}

// limiter keeps a token bucket per caller.
type limiter struct {
	limit rate.Limit
	burst int
	mu    sync.Mutex
	m     map[string]*rate.Limiter
}

// maxBuckets bounds the limiter's memory; past it, full (idle) buckets are
// dropped.
const maxBuckets = 10000

func newLimiter(limit rate.Limit, burst int) *limiter {
	return &limiter{limit: limit, burst: burst, m: map[string]*rate.Limiter{}}
}

// allow takes a token from key's bucket and sets Port's x-ratelimit-*
// headers: the bucket size, the tokens left, and the seconds until the
// bucket is full again (until the next token, when refused).
func (l *limiter) allow(w http.ResponseWriter, key string, now time.Time) bool {
	if l.limit == rate.Inf {
		return true
	}
	l.mu.Lock()
	b, ok := l.m[key]
	if !ok {
		if len(l.m) >= maxBuckets {
			for k, old := range l.m {
				if old.TokensAt(now) >= float64(l.burst) {
					delete(l.m, k)
				}
			}
		}
		b = rate.NewLimiter(l.limit, l.burst)
		l.m[key] = b
	}
	ok = b.AllowN(now, 1)
	left := b.TokensAt(now)
	l.mu.Unlock()

	var reset float64
	if ok {
		reset = (float64(l.burst) - left) / float64(l.limit)
	} else {
		reset = (1 - left) / float64(l.limit)
	}
	h := w.Header()
	h.Set("x-ratelimit-limit", strconv.Itoa(l.burst))
	h.Set("x-ratelimit-remaining", strconv.Itoa(max(0, int(math.Floor(left)))))
	h.Set("x-ratelimit-reset", strconv.Itoa(int(math.Ceil(reset))))
	if !ok {
		h.Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(reset)))))
	}
	return ok
}
