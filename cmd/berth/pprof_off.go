//go:build !pprof

package main

import "log/slog"

// startProfiler does nothing: build with -tags pprof to serve
// net/http/pprof (see pprof.go).
func startProfiler(*slog.Logger) {}
