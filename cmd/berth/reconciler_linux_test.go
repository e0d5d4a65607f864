package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/berth-dev/berth/pkg/api"
)

// procStat returns the fields of a /proc stat file after the command
// name: [0] is field 3 (state), [16] field 19 (nice).
func procStat(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), ") ")
	if !ok {
		t.Fatalf("%s: %q", path, b)
	}
	return strings.Fields(rest)
}

// children returns the pids of this process's children.
func children(t *testing.T) []string {
	t.Helper()
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	me := strconv.Itoa(os.Getpid())
	for _, st := range stats {
		b, err := os.ReadFile(st)
		if err != nil {
			continue // ended since the listing
		}
		_, rest, _ := strings.Cut(string(b), ") ")
		if f := strings.Fields(rest); len(f) > 1 && f[1] == me {
			out = append(out, filepath.Base(filepath.Dir(st)))
		}
	}
	return out
}

// reconcilerChild starts berth serve for a and returns its reconciler
// process's pid.
func reconcilerChild(t *testing.T, a *app) string {
	t.Helper()
	startServeWith(t, a, exampleFiles(t, ""), api.Config{Anonymous: true}, "@every 1h")
	for _, pid := range children(t) {
		if cmdline, _ := os.ReadFile("/proc/" + pid + "/cmdline"); bytes.HasPrefix(cmdline, []byte("berth\x00reconciler\x00")) {
			return pid
		}
	}
	t.Fatal("no reconciler process among this process's children")
	return ""
}

// TestServe_ReconcilerEventsCloseOnExec: the reconciler's event pipe is
// not passed on to the processes it starts (git upload-pack), which would
// keep berth serve from seeing the pipe end when the reconciler exits.
func TestServe_ReconcilerEventsCloseOnExec(t *testing.T) {
	child := reconcilerChild(t, &app{stdin: bytes.NewReader(nil), stdout: io.Discard, stderr: io.Discard})
	b, err := os.ReadFile("/proc/" + child + "/fdinfo/3")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "flags:"); ok {
			flags, err := strconv.ParseInt(strings.TrimSpace(v), 8, 64)
			if err != nil {
				t.Fatal(err)
			}
			if flags&syscall.O_CLOEXEC == 0 {
				t.Fatalf("fd 3 of the reconciler: flags %o, want O_CLOEXEC", flags)
			}
			return
		}
	}
	t.Fatalf("no flags in fdinfo: %q", b)
}

// TestServe_ReconcilerNice: berth serve's reconciler process runs every
// thread at --reconciler-nice, and berth serve keeps its own priority.
func TestServe_ReconcilerNice(t *testing.T) {
	child := reconcilerChild(t, &app{stdin: bytes.NewReader(nil), stdout: io.Discard, stderr: io.Discard, reconcilerNice: 7})
	tasks, err := os.ReadDir("/proc/" + child + "/task")
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks {
		if nice := procStat(t, "/proc/"+child+"/task/"+task.Name()+"/stat")[16]; nice != "7" {
			t.Errorf("reconciler thread %s: nice %s, want 7", task.Name(), nice)
		}
	}
	if nice := procStat(t, "/proc/self/stat")[16]; nice != "0" {
		t.Errorf("berth serve's nice %s, want 0", nice)
	}
}
