package reconcile_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/berth-dev/berth/pkg/gitsource"
	"github.com/berth-dev/berth/pkg/reconcile"
)

// The child process of the Process tests is this test binary running
// TestProcess_Child with these variables set.
const (
	childRemote  = "BERTH_TEST_CHILD_REMOTE"
	childData    = "BERTH_TEST_CHILD_DATA"
	childDB      = "BERTH_TEST_CHILD_DB"
	childHang    = "BERTH_TEST_CHILD_HANG" // started, then never reads its stdin
	childPIDFile = "BERTH_TEST_CHILD_PIDFILE"
	childGrand   = "BERTH_TEST_CHILD_GRANDCHILD" // started, then starts a long sleep and exits
	processGrace = 10 * time.Second
)

// TestProcess_Child is the child of the Process tests (skipped unless one
// of them runs it): ServeParent on stdin and fd 3, as berth reconciler.
func TestProcess_Child(t *testing.T) {
	remote := os.Getenv(childRemote)
	if remote == "" {
		t.Skip("the child process of the Process tests")
	}
	events := os.NewFile(3, "events")
	if err := os.WriteFile(os.Getenv(childPIDFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		t.Fatal(err)
	}
	if os.Getenv(childGrand) != "" {
		events.WriteString(`{"started":true}` + "\n")
		sleep := exec.Command("sleep", "60") // inherits fd 3, as git upload-pack could
		if err := sleep.Start(); err != nil {
			t.Fatal(err)
		}
		f, err := os.OpenFile(os.Getenv(childPIDFile)+".grandchild", os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintln(f, sleep.Process.Pid)
		f.Close()
		return
	}
	if os.Getenv(childHang) != "" {
		events.WriteString(`{"started":true}` + "\n")
		select {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	triggers := reconcile.LineTriggers(os.Stdin, cancel)
	_, _, rec := openReconciler(t, gitsource.Options{URL: remote, DataDir: os.Getenv(childData)}, os.Getenv(childDB), reconcile.Options{})
	if err := rec.ServeParent(ctx, triggers, events); err != nil {
		t.Fatal(err)
	}
}

// children starts the Process tests' children and keeps them; read their
// states only after Run returns.
type children struct {
	t       *testing.T
	env     []string
	pidFile string
	mu      sync.Mutex
	all     []*exec.Cmd
}

func newChildren(t *testing.T, env ...string) *children {
	pidFile := filepath.Join(t.TempDir(), "pid")
	return &children{t: t, pidFile: pidFile, env: append(env, childPIDFile+"="+pidFile)}
}

func (c *children) command() *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^TestProcess_Child$")
	cmd.Env = append(os.Environ(), c.env...)
	cmd.Stderr = os.Stderr
	c.mu.Lock()
	c.all = append(c.all, cmd)
	c.mu.Unlock()
	return cmd
}

// pid waits for a child other than not to run and returns its pid.
func (c *children) pid(not int) int {
	c.t.Helper()
	for range 3000 {
		b, _ := os.ReadFile(c.pidFile)
		if pid, err := strconv.Atoi(string(b)); err == nil && pid != not {
			return pid
		}
		time.Sleep(10 * time.Millisecond)
	}
	c.t.Fatal("no child started")
	return 0
}

// exited is how the last child ended (after Run returned).
func (c *children) exited() syscall.WaitStatus {
	c.t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	cmd := c.all[len(c.all)-1]
	if cmd.ProcessState == nil {
		c.t.Fatal("the last child has not ended")
	}
	return cmd.ProcessState.Sys().(syscall.WaitStatus)
}

// running starts p.Run and returns a function stopping it that returns
// Run's error.
func running(p *reconcile.Process) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	return func() error { cancel(); return <-done }
}

// waitStatus polls p's status until ok says yes.
func waitStatus(t *testing.T, p *reconcile.Process, what string, ok func(reconcile.Status) bool) reconcile.Status {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := p.Status(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s; status %+v", what, st)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func condition(st reconcile.Status, typ string) reconcile.Condition {
	for _, c := range st.Conditions {
		if c.Type == typ {
			return c
		}
	}
	return reconcile.Condition{}
}

// TestProcess follows a branch through a reconciler in a child process:
// it applies the first commit and triggered ones, its metrics and status
// come from the child's events, a killed child is started again while the
// index keeps serving (status Stalled, ReconcilerExited, meanwhile), and
// stopping closes the child's stdin: it exits by itself.
func TestProcess(t *testing.T) {
	f := newFixture(t, base(), reconcile.Options{})
	dbPath := filepath.Join(t.TempDir(), "berth.db")
	db := openIndex(t, dbPath)
	kids := newChildren(t, childRemote+"=file://"+f.remote, childData+"="+t.TempDir(), childDB+"="+dbPath)
	p := reconcile.NewProcess(db, kids.command, processGrace, nil)
	reg := prometheus.NewRegistry()
	m, err := reconcile.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	p.SetMetrics(m)
	stop := running(p)

	head := f.commit("second", map[string][]byte{"entities/service/d.yaml": entity("d", "gold", 4)})
	applied := func(commit string) func(reconcile.Status) bool {
		return func(st reconcile.Status) bool {
			return st.LastAppliedRevision == commit && condition(st, "Reconciling").Status == "False"
		}
	}
	// The child reconciles at start: the first commit or already the
	// second; a trigger brings the second.
	p.Trigger()
	waitStatus(t, p, "the second commit applied", applied(head))
	if !p.Ready(context.Background()) {
		t.Fatal("not ready with a revision applied")
	}
	if err := p.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := gather(t, reg)
	if got[`berth_reconcile_total{status="applied"}`] < 1 || got["berth_reconcile_duration_seconds_count"] < 1 ||
		got[`berth_entities{blueprint="service"}`] != 4 {
		t.Fatalf("metrics after applying: %v", got)
	}

	first := kids.pid(0)
	if err := syscall.Kill(first, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	st := waitStatus(t, p, "the exit reported", func(st reconcile.Status) bool {
		return condition(st, "Stalled").Reason == "ReconcilerExited"
	})
	if c := condition(st, "Stalled"); c.Status != "True" || !strings.Contains(c.Message, "reconciler process exited: signal: killed") || st.NextRetry == nil {
		t.Fatalf("Stalled %+v, next retry %v", c, st.NextRetry)
	}
	if !p.Ready(context.Background()) || st.LastAppliedRevision != head {
		t.Fatalf("index not serving %s while the reconciler is down: %+v", head, st)
	}
	kids.pid(first)
	waitStatus(t, p, "a healthy child", func(st reconcile.Status) bool { return condition(st, "Stalled").Status == "False" })
	third := f.commit("third", map[string][]byte{"entities/service/e.yaml": entity("e", "bronze", 1)})
	p.Trigger()
	waitStatus(t, p, "the third commit applied", applied(third))
	if got := gather(t, reg)["berth_reconciler_restarts_total"]; got != 1 {
		t.Fatalf("restarts %v, want 1", got)
	}

	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if ws := kids.exited(); ws.Signaled() || ws.ExitStatus() != 0 {
		t.Fatalf("child ended with %v, want exit 0 at the end of its stdin", ws)
	}
}

// TestProcess_NotStarted: a first child that exits before it starts (here,
// its remote does not exist) is Run's error.
func TestProcess_NotStarted(t *testing.T) {
	db := openIndex(t, filepath.Join(t.TempDir(), "berth.db"))
	kids := newChildren(t, childRemote+"=file:///nonexistent/catalog.git", childData+"="+t.TempDir(),
		childDB+"="+filepath.Join(t.TempDir(), "child.db"))
	err := reconcile.NewProcess(db, kids.command, processGrace, nil).Run(context.Background())
	if !errors.Is(err, reconcile.ErrNotStarted) || !strings.Contains(err.Error(), "exit status 1") {
		t.Fatalf("Run: %v, want ErrNotStarted with the child's exit status", err)
	}
}

// TestProcess_KillsAfterGrace: a child that does not stop at the end of
// its stdin is killed after the grace period.
func TestProcess_KillsAfterGrace(t *testing.T) {
	db := openIndex(t, filepath.Join(t.TempDir(), "berth.db"))
	kids := newChildren(t, childRemote+"=unused", childHang+"=1")
	p := reconcile.NewProcess(db, kids.command, 100*time.Millisecond, nil)
	stop := running(p)
	kids.pid(0)
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if ws := kids.exited(); ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child ended with %v, want killed", ws)
	}
}

// TestProcess_ExitWhileGrandchildHoldsPipe: a child that exits while a
// process it started still holds its event pipe is seen to exit (and
// started again) at once, not when that process ends.
func TestProcess_ExitWhileGrandchildHoldsPipe(t *testing.T) {
	db := openIndex(t, filepath.Join(t.TempDir(), "berth.db"))
	kids := newChildren(t, childRemote+"=unused", childGrand+"=1")
	p := reconcile.NewProcess(db, kids.command, 100*time.Millisecond, nil)
	stop := running(p)
	defer stop()
	kids.pid(0)
	// Every child started one; kill them all at the end.
	grandchildren := func() (pids []int) {
		b, _ := os.ReadFile(kids.pidFile + ".grandchild")
		for _, f := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil {
				pids = append(pids, pid)
			}
		}
		return pids
	}
	t.Cleanup(func() {
		for _, pid := range grandchildren() {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	var grand int
	for range 3000 {
		if g := grandchildren(); len(g) > 0 {
			grand = g[0]
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if grand == 0 {
		t.Fatal("the child started no grandchild")
	}
	waitStatus(t, p, "the exit reported", func(st reconcile.Status) bool {
		return condition(st, "Stalled").Reason == "ReconcilerExited"
	})
	if err := syscall.Kill(grand, 0); err != nil {
		t.Fatalf("the grandchild ended before the exit was seen (%v): the test proves nothing", err)
	}
}
