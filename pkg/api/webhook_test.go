package api_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/berth-dev/berth/pkg/api"
	"github.com/berth-dev/berth/pkg/gitsource"
	"github.com/berth-dev/berth/pkg/index"
)

// hubSignature is GitHub's X-Hub-Signature-256 of body under secret.
func hubSignature(secret, body string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(body))
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// postHook sends a GitHub webhook to url over HTTP, with no API token, and
// returns the status.
func postHook(tb testing.TB, url, event, body, sig string) int {
	tb.Helper()
	req, err := http.NewRequest(http.MethodPost, url+"/hooks/github", strings.NewReader(body))
	if err != nil {
		tb.Error(err)
		return 0
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", event)
	if sig != "" {
		req.Header.Set("X-Hub-Signature-256", sig)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Error(err)
		return 0
	}
	res.Body.Close()
	return res.StatusCode
}

// counter sums every series of the counter name in reg: for
// berth_reconcile_total, the reconciles of every outcome.
func counter(tb testing.TB, reg *prometheus.Registry, name string) int {
	tb.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	n := 0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			n += int(m.GetCounter().GetValue())
		}
	}
	return n
}

// waitFor polls cond until it holds, failing the test after a generous
// deadline (a liveness bound, not a timing assertion).
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestWebhook_Server sends GitHub push webhooks to the API server of a
// running reconciler (Reconciler.Run, as berth serve runs it), with API
// clients configured but no token on the hook: a bad or missing signature
// is 401, a push to another branch and a ping are answered and ignored,
// and two signed pushes of the followed branch at once are both 202, get
// the new head applied, and coalesce into at most one extra reconcile.
func TestWebhook_Server(t *testing.T) {
	const secret = "hook-s3cret"
	ctx := context.Background()
	remote, db, rec, reg := reconciledRemote(t)
	s, err := api.New(db, rec, api.Config{Addr: "127.0.0.1:0", Clients: reconciledClients(t),
		WebhookSecret: []byte(secret), Branch: "main"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeServer(t, s) })
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	applied := func() string {
		st, err := db.State(ctx)
		if err != nil || st.Applied == nil {
			t.Fatalf("state: %+v, %v", st, err)
		}
		return st.Applied.Commit
	}
	before := applied()

	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- rec.Run(runCtx) }()
	stopped := false
	stopRun := func() {
		if !stopped {
			stopped = true
			stop()
			<-done
		}
	}
	defer stopRun()
	// reconciledRemote reconciled once; Run's first reconcile finds the
	// head applied.
	waitFor(t, "Run's first reconcile", func() bool { return counter(t, reg, "berth_reconcile_total") == 2 })

	checkout, err := os.ReadFile(filepath.Join("..", "..", "catalog-example", "entities", "team", "checkout.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	checkout = bytes.Replace(checkout, []byte("title: Checkout\n"), []byte("title: Checkout (pushed)\n"), 1)
	head, err := gitsource.CommitFiles(ctx, remote, "main", map[string][]byte{"entities/team/checkout.yaml": checkout},
		"checkout: rename", "Ada <ada@example.com>", epoch.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	push := `{"ref":"refs/heads/main","after":"` + head + `"}`

	for _, tc := range []struct {
		name, event, body, sig string
		want                   int
	}{
		{"BadSignature", "push", push, hubSignature("not-the-secret", push), http.StatusUnauthorized},
		{"MissingSignature", "push", push, "", http.StatusUnauthorized},
		{"SignatureOfAnotherBody", "push", push, hubSignature(secret, push+" "), http.StatusUnauthorized},
		{"OtherBranch", "push", `{"ref":"refs/heads/dev"}`, hubSignature(secret, `{"ref":"refs/heads/dev"}`), http.StatusAccepted},
		{"Tag", "push", `{"ref":"refs/tags/main"}`, hubSignature(secret, `{"ref":"refs/tags/main"}`), http.StatusAccepted},
		{"Ping", "ping", `{"zen":"Keep it logically awesome."}`, hubSignature(secret, `{"zen":"Keep it logically awesome."}`), http.StatusOK},
	} {
		if got := postHook(t, srv.URL, tc.event, tc.body, tc.sig); got != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, got, tc.want)
		}
	}
	// None of them triggered a reconcile: the new head is not applied. (A
	// wrong trigger could still be on its way; the count below catches it
	// when it ran before the signed pushes, and pkg/reconcile's
	// TestWebhookHandler checks the trigger itself.)
	if got := applied(); got != before {
		t.Fatalf("applied %s after unsigned or ignored hooks, want %s", got, before)
	}
	if n := counter(t, reg, "berth_reconcile_total"); n != 2 {
		t.Errorf("%d reconciles after unsigned or ignored hooks, want 2", n)
	}

	var wg sync.WaitGroup
	codes := make([]int, 2)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = postHook(t, srv.URL, "push", push, hubSignature(secret, push))
		}()
	}
	wg.Wait()
	for i, c := range codes {
		if c != http.StatusAccepted {
			t.Errorf("signed push %d: status %d, want 202", i, c)
		}
	}
	waitFor(t, "the pushed head to be applied", func() bool { return applied() == head })
	stopRun()

	// One reconcile applied the head; the second push may have landed while
	// it ran and cost one more (up to date), no more.
	if n := counter(t, reg, "berth_reconcile_total") - 2; n < 1 || n > 2 {
		t.Errorf("%d reconciles for two pushes, want 1 or 2", n)
	}
	revs, err := db.Revisions(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(revs) != 2 || revs[0].Commit != head || revs[0].Status != index.StatusApplied {
		t.Errorf("revisions after the pushes: %+v, want the head applied once after the first", revs)
	}
	// The API serves the pushed head to a token holder.
	tok := tokenOf(t, s, "admin")
	r := do(t, s, "GET", "/v1/blueprints/team/entities/checkout", nil, tok).want(t, 200, "")
	if got := r.obj("entity")["title"]; got != "Checkout (pushed)" {
		t.Errorf("title %v, want the pushed one", got)
	}
	if got := r.Header.Get("X-Berth-Revision"); got != head {
		t.Errorf("X-Berth-Revision %s, want %s", got, head)
	}
	// The hook needs no token, but the read API still does.
	do(t, s, "GET", "/v1/blueprints", nil, nil).want(t, 401, "unauthorized")
}
