//go:build pprof

package main

import (
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
)

// startProfiler serves net/http/pprof on BERTH_PPROF_ADDR (default
// 127.0.0.1:6060) in a binary built with -tags pprof, for profiling berth
// serve under load. Release builds leave it out (see pprof_off.go): the
// endpoint has no authentication. Listen errors are logged, not fatal.
func startProfiler(log *slog.Logger) {
	addr := os.Getenv("BERTH_PPROF_ADDR")
	if addr == "" {
		addr = "127.0.0.1:6060"
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Error("pprof", "err", err)
		return
	}
	log.Warn("serving pprof without authentication (built with -tags pprof)", "addr", ln.Addr().String())
	go func() { _ = http.Serve(ln, mux) }()
}
