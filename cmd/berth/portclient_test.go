package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-dev/berth/pkg/gitsource"
)

// TestServe_PortClient is issue 4's end-to-end test: a Python client
// written as Port's docs write one (testdata/port_client.py, with
// requests) runs unchanged against the berth binary — `berth serve` with
// a --config file, following a Git repository holding catalog-example —
// then SIGTERM stops the server, which must exit 0.
func TestServe_PortClient(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil || exec.Command(py, "-c", "import requests").Run() != nil {
		t.Skip("python3 with requests not installed")
	}
	// testscript.Main (TestMain) put this test binary on PATH as berth.
	berth, err := exec.LookPath("berth")
	if err != nil {
		t.Fatalf("berth is not on PATH: %v", err)
	}
	ctx := context.Background()
	dir := t.TempDir()
	remote := filepath.Join(dir, "catalog.git")
	files := exampleFiles(t, "")
	if _, err := gitsource.CommitFiles(ctx, remote, "main", files, "catalog-example", "Ada <ada@example.com>", time.Now()); err != nil {
		t.Fatal(err)
	}
	const clientID, secret = "ci-dashboard", "s3cr3t-value-for-the-port-client"
	config := filepath.Join(dir, "server.yaml")
	// jonas.weber@example.com is a Member of team payments in catalog-example.
	if err := os.WriteFile(config, []byte(fmt.Sprintf(`clients:
  - id: %s
    user: jonas.weber@example.com
    secretEnv: BERTH_TEST_CLIENT_SECRET
`, clientID)), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)

	var log strings.Builder
	srv := exec.Command(berth, "serve", "--repo", "file://"+remote, "--db", filepath.Join(dir, "berth.db"),
		"--data-dir", filepath.Join(dir, "data"), "--config", config, "--addr", addr, "--interval", "@every 1h")
	srv.Env = append(os.Environ(), "BERTH_TEST_CLIENT_SECRET="+secret)
	srv.Stdout, srv.Stderr = &log, &log
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- srv.Wait() }()
	defer func() {
		if srv.ProcessState == nil {
			srv.Process.Kill()
			<-exited
		}
	}()
	base := "http://" + addr
	waitReady(t, base, exited, log.String)

	cctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	client := exec.CommandContext(cctx, py, filepath.Join("testdata", "port_client.py"))
	client.Env = append(os.Environ(), "BASE_URL="+base, "CLIENT_ID="+clientID, "CLIENT_SECRET="+secret,
		"NO_PROXY=127.0.0.1", "no_proxy=127.0.0.1")
	out, err := client.CombinedOutput()
	t.Logf("port_client.py:\n%s", out)
	if err != nil {
		t.Errorf("port_client.py: %v", err)
	}

	if err := srv.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("berth serve after SIGTERM: %v\n%s", err, log.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("berth serve did not stop after SIGTERM\n%s", log.String())
	}
}
