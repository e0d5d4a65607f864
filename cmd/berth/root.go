package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/spf13/cobra"
)

// Exit codes. Only main exits.
const (
	exitOK       = 0
	exitFindings = 1 // errors found, a gate failed, or the command failed
	exitUsage    = 2 // bad flags or arguments
)

// errFindings reports that the command ran and found problems it already
// printed; it maps to exit code 1 without another message.
var errFindings = errors.New("findings reported")

// usageError marks bad flags or arguments (exit 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// app holds what every subcommand shares.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	logLevel       string
	log            *slog.Logger
	// reconcilerNice is berth serve's --reconciler-nice.
	reconcilerNice int
}

// run is berth's entry point, kept apart from main so testscript can call it.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	tuneGC()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr}
	root := a.rootCmd()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	var ue usageError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errFindings):
		return exitFindings
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "berth: %v\nRun 'berth --help' for usage.\n", ue.err)
		return exitUsage
	}
	fmt.Fprintf(stderr, "berth: %v\n", err)
	return exitFindings
}

func (a *app) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "berth",
		Short: "GitOps catalog-as-code: validate, index, score and serve a Port-style catalog kept in Git",
		Long: `berth keeps an internal developer portal's catalog — blueprints, entities, relations,
scorecards, self-service actions, pages and roles, in Port's JSON shapes written as YAML —
in a Git repository. It validates the catalog against CUE schemas, reconciles a branch
into a SQLite index, scores scorecards on every commit, serves a read-only Port-shaped
API, and checks pull requests.

Exit codes: 0 success, 1 findings or failure, 2 usage error.`,
		Example: `  berth validate catalog-example
  berth serve
  berth check --base origin/main --head HEAD`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			var lvl slog.Level
			if err := lvl.UnmarshalText([]byte(a.logLevel)); err != nil {
				return usageError{fmt.Errorf("--log-level: %w", err)}
			}
			a.log = slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: lvl}))
			return nil
		},
	}
	root.PersistentFlags().StringVar(&a.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(a.validateCmd(), a.scoreCmd(), a.indexCmd(), a.serveCmd(), a.checkCmd(), a.initCmd(), a.hashSecretCmd(), a.pagesCmd(), a.reconcilerCmd())
	for _, c := range root.Commands() {
		c.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	}
	return root
}

// level returns the --log-level flag's level.
func (a *app) level() slog.Level {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(a.logLevel))
	return lvl
}

// args wraps a cobra argument validator so its failures are usage errors.
func args(v cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, a []string) error {
		if err := v(cmd, a); err != nil {
			return usageError{err}
		}
		return nil
	}
}

// Soft memory limits, see tuneGC.
const (
	memoryLimit      = 900 << 20
	checkMemoryLimit = 1536 << 20
)

// tuneGC trades memory for speed: validation allocates many short-lived
// CUE values, and the default GOGC=100 spends a third of the time in the
// collector. GOGC=400 under a 900 MiB soft memory limit keeps a 100k-entity
// catalog (about 570 MB live) under 1 GB. GOGC and GOMEMLIMIT, when set, win.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	setMemoryLimit(memoryLimit)
}

// setMemoryLimit sets the soft memory limit unless GOMEMLIMIT does.
func setMemoryLimit(n int64) {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(n)
	}
}

// isTerminal reports whether w is a terminal, for progress output.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
