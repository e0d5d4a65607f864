package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/robfig/cron/v3"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/time/rate"

	"github.com/berth-dev/berth/pkg/api"
	"github.com/berth-dev/berth/pkg/gitsource"
	"github.com/berth-dev/berth/pkg/index"
	"github.com/berth-dev/berth/pkg/reconcile"
)

// served is berth serve running in a test on a remote repository of its own.
type served struct {
	remote, dbPath string
	base           string // the API's URL
	metricsAddr    string
	// cancel tells berth serve to shut down, as SIGTERM does.
	cancel func()
	// stop shuts berth serve down and returns what serve returned; later
	// calls return the same.
	stop func() error
}

// freeAddr returns a loopback address nothing listens on.
func freeAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startServe commits files to a new remote and runs berth serve on it with
// cfg (its Addr and Branch are filled in) and the cron spec, until ready.
// It stops at the end of the test unless stopped before.
func startServe(t *testing.T, files map[string][]byte, cfg api.Config, spec string) *served {
	t.Helper()
	return startServeWith(t, &app{stdin: bytes.NewReader(nil), stdout: io.Discard, stderr: io.Discard}, files, cfg, spec)
}

// startServeWith is startServe running a's berth serve.
func startServeWith(t *testing.T, a *app, files map[string][]byte, cfg api.Config, spec string) *served {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	s := &served{remote: filepath.Join(dir, "catalog.git"), dbPath: filepath.Join(dir, "berth.db"), metricsAddr: freeAddr(t)}
	if _, err := gitsource.CommitFiles(ctx, s.remote, "main", files, "init", "Ada <ada@example.com>", time.Now()); err != nil {
		t.Fatal(err)
	}
	cfg.Addr, cfg.Branch = freeAddr(t), "main"
	s.base = "http://" + cfg.Addr
	f := sourceFlags{repo: "file://" + s.remote, branch: "main", dataDir: filepath.Join(dir, "data"), db: s.dbPath}
	sched, err := cron.ParseStandard(spec)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.serve(runCtx, &f, cfg, s.metricsAddr, sched, slog.New(slog.DiscardHandler)) }()
	s.cancel = cancel
	s.stop = sync.OnceValue(func() error { cancel(); return <-done })
	t.Cleanup(func() {
		if err := s.stop(); err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	waitReady(t, s.base, nil, func() string { return "" })
	return s
}

// waitReady polls base's /readyz until it answers 200, failing the test
// when exited (nil: never) says berth serve ended first or after a
// generous deadline (a liveness bound, not a timing assertion); log is
// added to the failure.
func waitReady(tb testing.TB, base string, exited <-chan error, log func() string) {
	tb.Helper()
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if r, err := http.Get(base + "/readyz"); err == nil {
			r.Body.Close()
			if r.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case err := <-exited:
			tb.Fatalf("berth serve exited before it was ready: %v\n%s", err, log())
		default:
		}
		if time.Now().After(deadline) {
			tb.Fatalf("berth serve did not become ready\n%s", log())
		}
	}
}

// TestServe_AuditFlushOnShutdown: requests still buffered when berth serve
// is told to stop reach the index before it closes. The index's write
// lock is held from another connection while they are made, so they
// cannot have been written before the shutdown.
func TestServe_AuditFlushOnShutdown(t *testing.T) {
	ctx := context.Background()
	files := map[string][]byte{
		"blueprints/service.yaml": []byte("identifier: service\ntitle: Service\nschema:\n  properties: {}\n"),
		"entities/service/a.yaml": []byte("identifier: a\ntitle: A\n"),
	}
	hash, err := bcrypt.GenerateFromPassword([]byte("secret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	s := startServe(t, files, api.Config{Clients: []api.Client{{ID: "ci", SecretHash: string(hash), User: "ada@example.com"}}}, "@every 1h")
	base, metricsAddr, dbPath := s.base, s.metricsAddr, s.dbPath
	// Metrics: without a token on the API address (clients are configured),
	// freely on --metrics-addr.
	for url, want := range map[string]int{base + "/metrics": http.StatusUnauthorized, "http://" + metricsAddr + "/metrics": http.StatusOK} {
		r, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(r.Body)
		r.Body.Close()
		if r.StatusCode != want || (want == http.StatusOK && !bytes.Contains(body, []byte("berth_reconcile_total"))) {
			t.Errorf("GET %s: %d, want %d\n%.300s", url, r.StatusCode, want, body)
		}
	}
	r, err := http.Post(base+"/v1/auth/access_token", "application/json", bytes.NewBufferString(`{"clientId": "ci", "clientSecret": "secret"}`))
	if err != nil {
		t.Fatal(err)
	}
	var tok struct{ AccessToken string }
	if err := json.NewDecoder(r.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("token: %v", err)
	}
	r.Body.Close()

	raw, err := sql.Open("sqlite3", "file:"+dbPath+"?_busy_timeout=10000")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	lock, err := raw.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lock.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	const sent = 20
	for range sent {
		req, _ := http.NewRequest("GET", base+"/v1/blueprints/service/entities/a", nil)
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		// 403: ada has no _user entity; the request is recorded all the same.
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	s.cancel()
	if _, err := lock.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	lock.Close()
	if err := s.stop(); err != nil {
		t.Fatalf("serve: %v", err)
	}

	db, err := index.Open(ctx, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var got []index.AuditEntry
	if err := db.ReadTx(ctx, func(tx *sql.Tx) error {
		got, err = index.AuditLogTx(ctx, tx, index.AuditQuery{Kind: index.AuditRequest, Limit: 100})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != sent || got[0].Route != "GET /v1/blueprints/{bp}/entities/{id}" || got[0].User != "ada@example.com" {
		t.Errorf("after shutdown the index holds %d of %d requests (first %+v)", len(got), sent, got)
	}
}

func TestRateLimitOf(t *testing.T) {
	for _, c := range []struct {
		perSecond float64
		burst     int
		want      rate.Limit
		err       bool
	}{
		{50, 100, 50, false},
		{0.5, 1, 0.5, false},
		{0, 100, rate.Inf, false},
		{math.Inf(1), 100, rate.Inf, false},
		{-1, 100, 0, true},
		{math.NaN(), 100, 0, true},
		{50, 0, 0, true},
	} {
		got, err := rateLimitOf(c.perSecond, c.burst)
		if (err != nil) != c.err || got != c.want {
			t.Errorf("rateLimitOf(%v, %d) = %v, %v; want %v, error %v", c.perSecond, c.burst, got, err, c.want, c.err)
		}
	}
}

// getStatus returns GET /v1/status of s.
func (s *served) getStatus(t *testing.T) reconcile.Status {
	t.Helper()
	r, err := http.Get(s.base + "/v1/status")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	var st reconcile.Status
	if err := json.NewDecoder(r.Body).Decode(&st); err != nil || r.StatusCode != http.StatusOK {
		t.Fatalf("GET /v1/status: %d, %v", r.StatusCode, err)
	}
	return st
}

// TestServe_IntervalDrivesReconciles: with no webhook, a commit pushed
// after berth serve is ready is applied by the --interval schedule alone.
func TestServe_IntervalDrivesReconciles(t *testing.T) {
	files := map[string][]byte{
		"blueprints/service.yaml": []byte("identifier: service\ntitle: Service\nschema:\n  properties: {}\n"),
		"entities/service/a.yaml": []byte("identifier: a\ntitle: A\n"),
	}
	s := startServe(t, files, api.Config{}, "@every 1s")
	first := s.getStatus(t).LastAppliedRevision
	if first == "" {
		t.Fatal("ready without an applied revision")
	}
	head, err := gitsource.CommitFiles(context.Background(), s.remote, "main",
		map[string][]byte{"entities/service/b.yaml": []byte("identifier: b\ntitle: B\n")}, "add b", "Bob <bob@example.com>", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var st reconcile.Status
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if st = s.getStatus(t); st.LastAppliedRevision == head {
			break
		}
	}
	if st.LastAppliedRevision != head {
		t.Fatalf("lastAppliedRevision %s, want the new head %s (first %s)", st.LastAppliedRevision, head, first)
	}
	if len(st.History) < 2 || st.History[0].Revision != head || st.History[0].Author != "Bob" {
		t.Errorf("history after the scheduled reconcile: %+v", st.History)
	}
}

// TestNewHTTPServer: berth serve's listeners bound slow and oversized
// requests. Every timeout and the header limit are set, and through a real
// listener an oversized header is refused by net/http (431) and an
// oversized body by the API (413 body_too_large).
func TestNewHTTPServer(t *testing.T) {
	srv := newHTTPServer(http.NotFoundHandler())
	for name, v := range map[string]int64{
		"ReadHeaderTimeout": int64(srv.ReadHeaderTimeout),
		"ReadTimeout":       int64(srv.ReadTimeout),
		"WriteTimeout":      int64(srv.WriteTimeout),
		"IdleTimeout":       int64(srv.IdleTimeout),
		"MaxHeaderBytes":    int64(srv.MaxHeaderBytes),
	} {
		if v <= 0 {
			t.Errorf("%s = %d, want a bound", name, v)
		}
	}
	if srv.ReadHeaderTimeout > srv.ReadTimeout {
		t.Errorf("ReadHeaderTimeout %v exceeds ReadTimeout %v", srv.ReadHeaderTimeout, srv.ReadTimeout)
	}

	ctx := context.Background()
	db, err := index.Open(ctx, filepath.Join(t.TempDir(), "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s, err := api.New(db, nil, api.Config{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	srv = newHTTPServer(s.Handler())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()
	base := "http://" + ln.Addr().String()

	req, err := http.NewRequest("GET", base+"/healthz", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Big", strings.Repeat("a", 2*srv.MaxHeaderBytes))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("a header of %d bytes: status %d, want 431", 2*srv.MaxHeaderBytes, res.StatusCode)
	}

	body := `{"query":{"combinator":"and","rules":[{"property":"x","operator":"=","value":"` +
		strings.Repeat("a", api.DefaultMaxBody) + `"}]}}`
	res, err = http.Post(base+"/v1/blueprints/service/entities/search", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var env struct {
		OK    bool   `json:"ok"`
		Error string `json:"error"`
	}
	if err := json.NewDecoder(res.Body).Decode(&env); err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusRequestEntityTooLarge || env.OK || env.Error != "body_too_large" {
		t.Errorf("a body over %d bytes: status %d, %+v; want 413 body_too_large", api.DefaultMaxBody, res.StatusCode, env)
	}
}
