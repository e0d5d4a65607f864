package api_test

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/crypto/bcrypt"

	"github.com/berth-dev/berth/pkg/api"
	"github.com/berth-dev/berth/pkg/gitsource"
	"github.com/berth-dev/berth/pkg/index"
	"github.com/berth-dev/berth/pkg/reconcile"
	"github.com/berth-dev/berth/pkg/schema"
)

// reconciledExample commits catalog-example to a fresh repository and
// reconciles it into a fresh index with a real reconciler.
func reconciledExample(t *testing.T) (*index.DB, *reconcile.Reconciler, *prometheus.Registry) {
	t.Helper()
	_, db, rec, reg := reconciledRemote(t)
	return db, rec, reg
}

// reconciledRemote is reconciledExample that also returns the path of the
// bare repository the reconciler follows (branch main), for tests that
// push to it.
func reconciledRemote(t *testing.T) (string, *index.DB, *reconcile.Reconciler, *prometheus.Registry) {
	t.Helper()
	ctx := context.Background()
	files := exampleFiles(t)
	remote := filepath.Join(t.TempDir(), "catalog.git")
	if _, err := gitsource.CommitFiles(ctx, remote, "main", files, "catalog", "Ada <ada@example.com>", epoch); err != nil {
		t.Fatal(err)
	}
	repo, err := gitsource.Open(ctx, gitsource.Options{URL: "file://" + remote, DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { repo.Close() })
	db := openDB(t)
	v, err := schema.New()
	if err != nil {
		t.Fatal(err)
	}
	rec := reconcile.New(repo, db, v, reconcile.Options{Now: func() time.Time { return epoch }})
	reg := prometheus.NewRegistry()
	m, err := reconcile.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	rec.SetMetrics(m)
	if res, err := rec.Reconcile(ctx); err != nil || res.Status != index.StatusApplied {
		t.Fatalf("reconcile: %+v, %v", res, err)
	}
	return remote, db, rec, reg
}

// reconciledClients are an Admin's and a Member's client of catalog-example.
func reconciledClients(t *testing.T) []api.Client {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(clientSecret), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return []api.Client{{ID: "admin", SecretHash: string(h), User: "maria.chen@example.com"},
		{ID: "member", SecretHash: string(h), User: "jonas.weber@example.com"}}
}

// tokenOf returns the Authorization header of client id on s.
func tokenOf(t *testing.T, s *api.Server, id string) header {
	t.Helper()
	r := do(t, s, "POST", "/v1/auth/access_token", map[string]string{"clientId": id, "clientSecret": clientSecret}, nil).
		want(t, 200, "")
	return bearer(r.Body["accessToken"].(string))
}

// TestStatus_SystemPage: the reconciler's status is a system page, for
// Admins only once the catalog says who they are; anonymous servers (on
// loopback) show it to everyone.
func TestStatus_SystemPage(t *testing.T) {
	db, rec, reg := reconciledExample(t)
	s, err := api.New(db, rec, api.Config{Addr: "127.0.0.1:0", Clients: reconciledClients(t), Gatherer: reg})
	if err != nil {
		t.Fatal(err)
	}
	tok := func(id string) header { return tokenOf(t, s, id) }
	st := do(t, s, "GET", "/v1/status", nil, tok("admin")).want(t, 200, "")
	if st.Body["lastAppliedRevision"] == nil {
		t.Errorf("status without lastAppliedRevision: %s", st.Raw)
	}
	do(t, s, "GET", "/v1/status", nil, tok("member")).want(t, 403, "forbidden")
	do(t, s, "GET", "/v1/status", nil, nil).want(t, 401, "unauthorized")
	// /metrics counts entities per blueprint: an Admin's, once clients
	// are configured.
	for who, want := range map[string]int{"admin": 200, "member": 403, "": 401} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/metrics", nil)
		if who != "" {
			req.Header.Set("Authorization", tok(who)["Authorization"])
		}
		s.ServeHTTP(rec, req)
		if rec.Code != want {
			t.Errorf("%q: GET /metrics = %d, want %d", who, rec.Code, want)
		}
	}

	anon, err := api.New(db, rec, api.Config{Addr: "127.0.0.1:0", Gatherer: reg})
	if err != nil {
		t.Fatal(err)
	}
	do(t, anon, "GET", "/v1/status", nil, nil).want(t, 200, "")
	rec2 := httptest.NewRecorder()
	anon.ServeHTTP(rec2, httptest.NewRequest("GET", "/metrics", nil))
	if rec2.Code != 200 || !strings.Contains(rec2.Body.String(), `berth_reconcile_total{status="applied"} 1`) {
		t.Errorf("metrics: %d\n%s", rec2.Code, rec2.Body)
	}
}
