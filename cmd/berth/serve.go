package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/berth-dev/berth/pkg/api"
	"github.com/berth-dev/berth/pkg/index"
	"github.com/berth-dev/berth/pkg/reconcile"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/robfig/cron/v3"
	"github.com/spf13/cobra"
	"golang.org/x/time/rate"
)

// Shutdown time limits.
const (
	shutdownHTTP      = 10 * time.Second
	shutdownAudit     = 5 * time.Second
	shutdownReconcile = 20 * time.Second
)

func (a *app) serveCmd() *cobra.Command {
	var f sourceFlags
	var addr, metricsAddr, interval, config, auth string
	var audit api.AuditConfig
	var rateLimit float64
	var rateBurst int
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Follow a branch into the index and serve the read-only API",
		Long: `Serve reconciles the branch at start, on a cron schedule (--interval) and on GitHub
push webhooks (POST /hooks/github, verified with BERTH_WEBHOOK_SECRET), and serves:

  GET /healthz, /readyz     liveness; readiness once a revision is applied
  GET /v1/status            Flux-style status: applied/attempted revision, conditions,
                            errors of the last failed attempt, last 20 reconciles
  GET /metrics              Prometheus metrics (an Admin's token once API clients are
                            configured; --metrics-addr serves them without one)
  GET /v1/audit-log         Admins: API requests of token callers and catalog changes
  /v1/...                   the Port-shaped read API

The reconciler runs in a child process (berth reconciler), restarted if it exits, so
that its in-memory catalog never stalls the API's reads and a crash leaves the API
serving the last good revision. On Linux it runs at a lower CPU priority
(--reconciler-nice): when reads keep the CPU busy they go first.

The index is derived from Git: run any number of replicas, each with its own --db,
behind a load balancer; they converge on the same revision.

With no flags it follows branch main of the repository in the current directory
(catalog-example/ in berth's own repository) into ./berth.db on 127.0.0.1:8080.
Logs are JSON. SIGINT/SIGTERM shut down gracefully.`,
		Example: `  berth serve
  berth serve --repo https://github.com/acme/catalog --interval "@every 30s" --addr :8080
  BERTH_WEBHOOK_SECRET=... berth serve --repo /srv/catalog.git --db /var/lib/berth/berth.db`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			sched, err := cron.ParseStandard(interval)
			if err != nil {
				return usageError{fmt.Errorf("--interval %q: %w", interval, err)}
			}
			if err := checkNice("--reconciler-nice", a.reconcilerNice); err != nil {
				return err
			}
			if audit.MaxRequests < 1 || audit.MaxAge < time.Minute {
				return usageError{fmt.Errorf("--audit-max-requests must be at least 1 and --audit-max-age at least 1m")}
			}
			limit, err := rateLimitOf(rateLimit, rateBurst)
			if err != nil {
				return usageError{err}
			}
			log := slog.New(slog.NewJSONHandler(a.stderr, &slog.HandlerOptions{Level: a.level()}))
			cfg := api.Config{Addr: addr, Branch: f.branch, Log: log, Repo: f.repo,
				WebhookSecret: []byte(os.Getenv("BERTH_WEBHOOK_SECRET")), Audit: audit,
				RateLimit: limit, RateBurst: rateBurst}
			switch auth {
			case "token":
			case "none":
				cfg.Anonymous = true
			default:
				return usageError{fmt.Errorf("--auth %q: want token or none", auth)}
			}
			if config != "" {
				if err := loadServerConfig(config, &cfg); err != nil {
					return err
				}
			}
			if err := cfg.Validate(); err != nil {
				return err
			}
			return a.serve(cmd.Context(), &f, cfg, metricsAddr, sched, log)
		},
	}
	f.register(cmd)
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8080", "listen address")
	cmd.Flags().StringVar(&metricsAddr, "metrics-addr", "", "also serve GET /metrics without authentication on this address, for Prometheus (on --addr it needs an Admin's token once API clients are configured)")
	cmd.Flags().StringVar(&interval, "interval", "@every 1m", "reconcile schedule (cron spec or @every DURATION)")
	cmd.Flags().StringVar(&config, "config", "", "server config file: API clients and the token signing key (see 'berth hash-secret --help')")
	cmd.Flags().IntVar(&audit.MaxRequests, "audit-max-requests", api.DefaultAuditMaxRequests,
		"audit log: API requests kept (the newest)")
	cmd.Flags().DurationVar(&audit.MaxAge, "audit-max-age", api.DefaultAuditMaxAge, "audit log: how long API requests are kept")
	cmd.Flags().Float64Var(&rateLimit, "rate-limit", float64(api.DefaultRateLimit),
		"requests per second each API client (or, without a token, each remote address) may make; 0: no limit")
	cmd.Flags().IntVar(&rateBurst, "rate-burst", api.DefaultRateBurst, "requests a client may make at once (its bucket; the x-ratelimit-limit header)")
	cmd.Flags().IntVar(&a.reconcilerNice, "reconciler-nice", 10, "nice value of the reconciler process on Linux (0–19): when the CPU is busy, reads go first and commits apply a little later; 0 shares the CPU equally")
	cmd.Flags().StringVar(&auth, "auth", "token", "token: API clients need an access token (anonymous reads only on loopback without clients); none: anonymous reads (loopback only)")
	return cmd
}

func (a *app) serve(ctx context.Context, f *sourceFlags, cfg api.Config, metricsAddr string, sched cron.Schedule, log *slog.Logger) error {
	addr := cfg.Addr
	startProfiler(log)
	db, err := index.Open(ctx, f.db)
	if err != nil {
		return err
	}
	defer func() {
		if err := db.Close(); err != nil {
			log.Error("close index", "err", err)
		}
	}()
	command, err := a.reconcilerCommand(f)
	if err != nil {
		return err
	}
	rec := reconcile.NewProcess(db, command, shutdownReconcile, log)

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m, err := reconcile.NewMetrics(reg)
	if err != nil {
		return err
	}
	rec.SetMetrics(m)

	cfg.Gatherer = reg
	cfg.Audit.Metrics = reg
	apiSrv, err := api.New(db, rec, cfg)
	if err != nil {
		return err
	}
	// Runs before the index closes: the audit log's last requests go
	// through its writer.
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), shutdownAudit)
		defer cancel()
		if err := apiSrv.Close(ctx); err != nil {
			log.Error("audit log", "err", err)
		}
	}()
	srv := newHTTPServer(apiSrv.Handler())
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", addr, err)
	}
	servers := []*http.Server{srv}
	httpDone := make(chan error, 2)
	if metricsAddr != "" {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", apiSrv.MetricsHandler())
		msrv := newHTTPServer(mux)
		mln, err := net.Listen("tcp", metricsAddr)
		if err != nil {
			ln.Close()
			return fmt.Errorf("listen %s: %w", metricsAddr, err)
		}
		servers = append(servers, msrv)
		go func() { httpDone <- msrv.Serve(mln) }()
		log.Info("serving metrics", "addr", mln.Addr().String())
	}
	if len(cfg.WebhookSecret) == 0 {
		log.Info("webhook disabled: set BERTH_WEBHOOK_SECRET to enable POST /hooks/github")
	}

	runCtx, stopRun := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	go func() { runDone <- rec.Run(runCtx) }()

	c := cron.New(cron.WithChain(cron.Recover(cron.DiscardLogger), cron.SkipIfStillRunning(cron.DiscardLogger)))
	c.Schedule(sched, cron.FuncJob(rec.Trigger))
	c.Start()

	go func() { httpDone <- srv.Serve(ln) }()
	log.Info("serving", "addr", ln.Addr().String(), "repo", f.repo, "branch", f.branch, "dir", f.catalogDir(), "db", f.db)

	var serveErr error
	runEnded := false
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case serveErr = <-httpDone:
	case serveErr = <-runDone:
		// The reconciler could not start (its error is on stderr).
		runEnded = true
	}

	// Reverse order: stop triggers, stop serving, stop reconciling, then
	// the deferred audit log flush and index close.
	<-c.Stop().Done()
	shCtx, cancel := context.WithTimeout(context.Background(), shutdownHTTP)
	defer cancel()
	for _, hs := range servers {
		if err := hs.Shutdown(shCtx); err != nil {
			log.Error("http shutdown", "err", err)
		}
	}
	stopRun()
	if !runEnded {
		// Run stops the reconciler process within shutdownReconcile.
		if err := <-runDone; err != nil {
			log.Error("reconciler", "err", err)
		}
	}
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return serveErr
	}
	return nil
}

// rateLimitOf is --rate-limit as a limit: 0 is none. A negative limit or
// a burst below 1 is a usage error.
func rateLimitOf(perSecond float64, burst int) (rate.Limit, error) {
	switch {
	case perSecond < 0 || math.IsNaN(perSecond):
		return 0, fmt.Errorf("--rate-limit %v: want requests per second, or 0 for no limit", perSecond)
	case burst < 1:
		return 0, fmt.Errorf("--rate-burst %d: want at least 1", burst)
	case perSecond == 0 || math.IsInf(perSecond, 1):
		return rate.Inf, nil
	}
	return rate.Limit(perSecond), nil
}

// newHTTPServer returns an http.Server with berth's timeouts and limits.
func newHTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
}
