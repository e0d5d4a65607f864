package main

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/berth-dev/berth/pkg/reconcile"
	"github.com/spf13/cobra"
)

// eventsFD is the file descriptor on which berth reconciler writes its
// events to berth serve (the first of exec.Cmd's ExtraFiles).
const eventsFD = 3

// reconcilerCmd is the process berth serve runs its reconciler in (see
// reconcile.Process): hidden, since only berth serve starts it.
func (a *app) reconcilerCmd() *cobra.Command {
	var f sourceFlags
	var nice int
	cmd := &cobra.Command{
		Use:   "reconciler",
		Short: "Run berth serve's reconciler (berth serve starts it)",
		Long: `Reconciler is the process in which berth serve runs its reconciler, apart from the API
so that the API's memory and garbage collection stay small and a reconciler that fails
is restarted while the API keeps serving. It reconciles at start and once per line
read on stdin, writes JSON events on file descriptor 3, and stops at the end of stdin.
Run berth serve instead.`,
		Example: `  berth serve   # starts: berth reconciler --repo . --db berth.db ...`,
		Hidden:  true,
		Args:    args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			events := os.NewFile(eventsFD, "events")
			if fi, err := events.Stat(); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
				return usageError{fmt.Errorf("berth reconciler writes to file descriptor %d, a pipe berth serve opens: run berth serve", eventsFD)}
			}
			defer events.Close()
			closeOnExec(eventsFD)
			// berth serve stops it by closing stdin, after its own
			// shutdown; a Ctrl-C or a SIGTERM to the process group must
			// not stop it first (berth serve would start another). The
			// end of stdin (berth serve closed it or died) cancels
			// everything, also the opening of the repository (a first
			// clone can take minutes).
			if err := checkNice("--nice", nice); err != nil {
				return err
			}
			signal.Ignore(os.Interrupt, syscall.SIGTERM)
			ctx, cancel := context.WithCancel(cmd.Context())
			defer cancel()
			triggers := reconcile.LineTriggers(a.stdin, cancel)
			log := slog.New(slog.NewJSONHandler(a.stderr, &slog.HandlerOptions{Level: a.level()}))
			if nice != 0 {
				if err := setNice(nice); err != nil {
					log.Warn("reconciler keeps berth serve's CPU priority", "err", err)
				}
			}
			s, err := a.open(ctx, &f, log, false)
			if err != nil {
				return err
			}
			defer func() {
				if err := s.Close(); err != nil {
					log.Error("close index", "err", err)
				}
			}()
			return s.rec.ServeParent(ctx, triggers, events)
		},
	}
	f.register(cmd)
	cmd.Flags().IntVar(&nice, "nice", 0, "nice value of this process's threads (Linux)")
	return cmd
}

// reconcilerCommand returns a function making the command that runs
// berth serve's reconciler for f: this executable, named berth (the name
// testscript's test binaries dispatch on), with f's flags.
func (a *app) reconcilerCommand(f *sourceFlags) (func() *exec.Cmd, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find berth's executable to run the reconciler: %w", err)
	}
	argv := append([]string{"reconciler", "--log-level", cmp.Or(a.logLevel, "info")}, f.args()...)
	if a.reconcilerNice != 0 {
		argv = append(argv, "--nice", strconv.Itoa(a.reconcilerNice))
	}
	return func() *exec.Cmd {
		cmd := exec.Command(exe, argv...)
		cmd.Args[0] = "berth"
		cmd.Stdout, cmd.Stderr = a.stdout, a.stderr
		return cmd
	}, nil
}

// checkNice checks a nice value given by flag: 0 (the default priority) to
// 19 (the lowest).
func checkNice(flag string, n int) error {
	if n < 0 || n > 19 {
		return usageError{fmt.Errorf("%s %d: want 0 to 19", flag, n)}
	}
	return nil
}
