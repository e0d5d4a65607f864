package api_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/berth-dev/berth/pkg/api"
)

// TestPortClient runs a Python client written as Port's docs write one
// (requests: token, list entities, search) against a real server on a
// loopback port. CI installs python3 and requests; locally the test skips
// without python3.
func TestPortClient(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := newServer(t, exampleDB(t), api.Config{Addr: ln.Addr().String(), Clients: testClients(t),
		Repo: "github.com/example-corp/catalog"})
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 5 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Error(err)
		}
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Error(err)
		}
	})

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, "testdata/port_client.py")
	cmd.Env = append(os.Environ(), "BASE_URL=http://"+ln.Addr().String(), "CLIENT_ID="+clientID,
		"CLIENT_SECRET="+clientSecret, "NO_PROXY=127.0.0.1", "no_proxy=127.0.0.1")
	out, err := cmd.CombinedOutput()
	t.Logf("port_client.py:\n%s", out)
	if err != nil {
		t.Fatalf("port_client.py: %v", err)
	}
}
