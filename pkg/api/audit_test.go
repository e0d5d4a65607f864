package api_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/berth-dev/berth/pkg/api"
	"github.com/berth-dev/berth/pkg/index"
)

// auditItems are the audit log's items as the admin reads them.
func auditItems(tb testing.TB, as func(who, method, path string, body any) response, query string) []map[string]any {
	tb.Helper()
	return as("admin", "GET", "/v1/audit-log?"+query, nil).want(tb, 200, "").list("audit")
}

// summary is an item in short: "type user method route status" or
// "type user action blueprint/identifier".
func summary(it map[string]any) string {
	if it["type"] == "change" {
		return fmt.Sprintf("change %v %v %v/%v", it["user"], it["action"], it["blueprint"], it["identifier"])
	}
	return fmt.Sprintf("request %v %v %v %v", it["user"], it["method"], it["route"], it["status"])
}

func summaries(items []map[string]any) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = summary(it)
	}
	return out
}

func closeServer(tb testing.TB, s *api.Server) {
	tb.Helper()
	if err := s.Close(context.Background()); err != nil {
		tb.Fatal(err)
	}
}

const (
	jonas = "jonas.weber@example.com"
	kim   = "kim.park@example.com"
	maria = "maria.chen@example.com"
)

// TestAuditLog_Requests records the requests of callers with a token,
// what they asked and how it went, and nothing of unauthenticated ones.
func TestAuditLog_Requests(t *testing.T) {
	clk := newClock()
	s, _, as := rbacServerWith(t, api.Config{Now: clk.Now})
	as("member", "GET", "/v1/blueprints/service/entities/payments-api", nil).want(t, 200, "")
	clk.Advance(time.Second)
	as("dev", "GET", "/v1/blueprints/service/entities/auth-service", nil).want(t, 404, "not_found")
	clk.Advance(time.Second)
	as("admin", "POST", "/v1/blueprints/service/entities/search", `{"limit": 1}`).want(t, 200, "")
	clk.Advance(time.Second)
	as("member", "PATCH", "/v1/blueprints/service/entities/payments-api", `{}`).want(t, 405, "read_only")
	clk.Advance(time.Second)
	long := strings.Repeat("é", 1000) // 2000 bytes
	as("member", "GET", "/v1/blueprints/service/entities/"+long, nil).want(t, 404, "not_found")
	clk.Advance(time.Second)
	as("stranger", "GET", "/v1/blueprints", nil).want(t, 403, "forbidden")
	// Not recorded: no token, or not the API.
	do(t, s, "GET", "/v1/blueprints", nil, nil).want(t, 401, "unauthorized")
	do(t, s, "GET", "/v1/blueprints", nil, bearer("forged")).want(t, 401, "unauthorized")
	do(t, s, "GET", "/healthz", nil, nil).want(t, 200, "")
	closeServer(t, s) // flushes

	items := auditItems(t, as, "type=request")
	want := []string{
		"request nobody@example.com GET GET /v1/blueprints 403",
		"request " + jonas + " GET GET /v1/blueprints/{bp}/entities/{id} 404",
		"request " + jonas + " PATCH /v1/ 405",
		"request " + maria + " POST POST /v1/blueprints/{bp}/entities/search 200",
		"request " + kim + " GET GET /v1/blueprints/{bp}/entities/{id} 404",
		"request " + jonas + " GET GET /v1/blueprints/{bp}/entities/{id} 200",
	}
	if diff := cmp.Diff(want, summaries(items)); diff != "" {
		t.Fatalf("requests (-want +got):\n%s", diff)
	}
	first := items[len(items)-1]
	if d, ok := first["durationMs"].(float64); !ok || d < 0 {
		t.Errorf("durationMs = %v", first["durationMs"])
	}
	delete(first, "durationMs")
	wantFirst := map[string]any{"type": "request", "at": "2025-06-01T12:00:00Z", "user": jonas, "client": "member",
		"method": "GET", "route": "GET /v1/blueprints/{bp}/entities/{id}", "path": "/v1/blueprints/service/entities/payments-api",
		"params": map[string]any{"bp": "service", "id": "payments-api"}, "blueprint": "service", "identifier": "payments-api",
		"status": 200.0}
	if diff := cmp.Diff(wantFirst, first); diff != "" {
		t.Errorf("first request (-want +got):\n%s", diff)
	}
	capped := items[1]
	id, _ := capped["identifier"].(string)
	if len(id) != 1024 || !strings.HasPrefix(long, id) || len(capped["path"].(string)) != 1024 {
		t.Errorf("a 2000-byte identifier is kept as %d bytes, its path as %d", len(id), len(capped["path"].(string)))
	}
}

// TestAuditLog_Anonymous: an anonymous server records no request, and its
// (loopback) callers read the catalog changes.
func TestAuditLog_Anonymous(t *testing.T) {
	s := newServer(t, exampleDB(t), api.Config{})
	do(t, s, "GET", "/v1/blueprints", nil, nil).want(t, 200, "")
	closeServer(t, s)
	r := do(t, s, "GET", "/v1/audit-log", nil, nil).want(t, 200, "")
	var changes []string
	for _, it := range r.list("audit") {
		if it["type"] != "change" {
			t.Errorf("anonymous request recorded: %v", it)
		}
		if it["action"] != "imported" {
			changes = append(changes, summary(it))
		}
	}
	// exampleDB's second commit lowers payments-api's test coverage.
	if want := []string{"change dev@example.com updated service/payments-api"}; !slices.Equal(changes, want) {
		t.Errorf("changes after the import = %v, want %v", changes, want)
	}
}

// TestAuditLog_DropsWhenFull holds the index's write lock from another
// connection, so the writer cannot drain the buffer: requests beyond it
// are dropped and counted, never waited for.
func TestAuditLog_DropsWhenFull(t *testing.T) {
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	s, db, as := rbacServerWith(t, api.Config{Audit: api.AuditConfig{Buffer: 2, Metrics: reg}})
	raw, err := sql.Open("sqlite3", "file:"+db.Path()+"?_busy_timeout=10000")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	conn, err := raw.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	const sent = 40
	for range sent {
		as("member", "GET", "/v1/blueprints/service", nil).want(t, 200, "")
	}
	if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	closeServer(t, s)

	dropped := counter(t, reg, "berth_audit_dropped_total")
	var kept []index.AuditEntry
	if err := db.ReadTx(ctx, func(tx *sql.Tx) error {
		kept, err = index.AuditLogTx(ctx, tx, index.AuditQuery{Kind: index.AuditRequest, Limit: 1000})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Logf("dropped %d, kept %d", dropped, len(kept))
	// At most one batch was taken before the writer blocked, and the
	// buffer holds two.
	if dropped == 0 || dropped+len(kept) != sent {
		t.Errorf("dropped %d and kept %d of %d requests", dropped, len(kept), sent)
	}
}

// TestAuditLog_Retention: the writer keeps the newest MaxRequests requests
// and none older than MaxAge.
func TestAuditLog_Retention(t *testing.T) {
	t.Run("Count", func(t *testing.T) {
		clk := newClock()
		s, _, as := rbacServerWith(t, api.Config{Now: clk.Now, Audit: api.AuditConfig{MaxRequests: 3}})
		for i := range 5 {
			as("member", "GET", "/v1/blueprints/service/entities/e"+fmt.Sprint(i), nil).want(t, 404, "not_found")
			clk.Advance(time.Second)
		}
		closeServer(t, s)
		var ids []string
		for _, it := range auditItems(t, as, "type=request") {
			ids = append(ids, it["identifier"].(string))
		}
		if want := []string{"e4", "e3", "e2"}; !slices.Equal(ids, want) {
			t.Errorf("kept %v, want %v", ids, want)
		}
	})
	t.Run("Age", func(t *testing.T) {
		clk := newClock()
		s, _, as := rbacServerWith(t, api.Config{Now: clk.Now, TokenTTL: 1000 * time.Hour,
			Audit: api.AuditConfig{MaxAge: 24 * time.Hour}})
		as("member", "GET", "/v1/blueprints/service/entities/old", nil).want(t, 404, "not_found")
		clk.Advance(25 * time.Hour)
		as("member", "GET", "/v1/blueprints/service/entities/new", nil).want(t, 404, "not_found")
		closeServer(t, s)
		items := auditItems(t, as, "type=request")
		if len(items) != 1 || items[0]["identifier"] != "new" {
			t.Errorf("kept %v, want the new request only", summaries(items))
		}
	})
}

// TestAuditLog_Route: GET /v1/audit-log is for Admins, filters by entity,
// user, time and type, and pages with a cursor bound to its filters.
func TestAuditLog_Route(t *testing.T) {
	clk := newClock()
	s, _, as := rbacServerWith(t, api.Config{Now: clk.Now})
	for _, who := range []string{"member", "dev", "lead"} {
		as(who, "GET", "/v1/audit-log", nil).want(t, 403, "forbidden")
	}
	clk.Advance(time.Minute)
	as("member", "GET", "/v1/blueprints/service/entities/payments-api", nil).want(t, 200, "")
	clk.Advance(time.Minute)
	as("lead", "GET", "/v1/blueprints/service/entities/payments-api", nil).want(t, 200, "")
	clk.Advance(time.Minute)
	as("member", "GET", "/v1/blueprints/service/entities/ledger", nil).want(t, 200, "")
	closeServer(t, s)

	all := summaries(auditItems(t, as, "limit=1000"))
	var blueprints []string
	for _, it := range auditItems(t, as, "type=change&limit=1000") {
		if it["action"] != "imported" || it["user"] != "dev@example.com" || it["count"].(float64) < 1 {
			t.Errorf("change %v", it)
		}
		blueprints = append(blueprints, it["blueprint"].(string))
	}
	if !slices.Contains(blueprints, "service") || !slices.Contains(blueprints, "_user") {
		t.Errorf("imported blueprints %v", blueprints)
	}
	pa := "request %s GET GET /v1/blueprints/{bp}/entities/{id} 200"
	lead := "ravi.shah@example.com"
	requests := []string{
		fmt.Sprintf(pa, jonas),
		fmt.Sprintf(pa, lead),
		fmt.Sprintf(pa, jonas),
		"request " + lead + " GET GET /v1/audit-log 403",
		"request " + kim + " GET GET /v1/audit-log 403",
		"request " + jonas + " GET GET /v1/audit-log 403",
	}
	if !slices.Equal(all[:len(requests)], requests) || len(all) != len(requests)+len(blueprints) {
		t.Fatalf("audit log:\n%s", strings.Join(all, "\n"))
	}

	for _, tc := range []struct {
		name, query string
		want        []string
	}{
		{"Entity", "entity=service/payments-api", []string{requests[1], requests[2]}},
		{"BlueprintAndIdentifier", "blueprint=service&identifier=ledger", requests[:1]},
		{"User", "user=" + url.QueryEscape("Jonas.Weber@example.com"), []string{requests[0], requests[2], requests[5]}},
		{"UserAndEntity", "user=" + jonas + "&entity=service/payments-api", requests[2:3]},
		{"Between", "from=2025-06-01T12:01:00Z&to=2025-06-01T12:02:00Z", requests[1:3]},
		{"From", "type=request&from=2025-06-01T12:02:30Z", requests[:1]},
		{"Type", "type=request", requests},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, summaries(auditItems(t, as, tc.query))); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}

	t.Run("Paging", func(t *testing.T) {
		for _, size := range []int{1, 2, 5} {
			var got []string
			next := ""
			for range len(all) + 1 {
				q := fmt.Sprintf("limit=%d", size)
				if next != "" {
					q += "&next=" + next
				}
				r := as("admin", "GET", "/v1/audit-log?"+q, nil).want(t, 200, "")
				got = append(got, summaries(r.list("audit"))...)
				next, _ = r.Body["next"].(string)
				if next == "" {
					break
				}
			}
			if diff := cmp.Diff(all, got); diff != "" {
				t.Errorf("pages of %d (-want +got):\n%s", size, diff)
			}
		}
	})

	t.Run("BadRequests", func(t *testing.T) {
		next := as("admin", "GET", "/v1/audit-log?limit=1&type=request", nil).want(t, 200, "").Body["next"].(string)
		as("admin", "GET", "/v1/audit-log?limit=1&type=request&next="+next, nil).want(t, 200, "")
		for _, q := range []string{"next=garbage", "next=" + next, "type=change&next=" + next,
			"type=request&user=x@example.com&next=" + next} {
			as("admin", "GET", "/v1/audit-log?"+q, nil).want(t, 400, "invalid_cursor")
		}
		for _, q := range []string{"limit=0", "limit=1001", "limit=ten", "from=yesterday", "to=2025-06-01",
			"from=2025-06-02T00:00:00Z&to=2025-06-01T00:00:00Z", "type=requests", "entity=payments-api",
			"entity=service/a&blueprint=domain", "entity_id=service/a"} {
			as("admin", "GET", "/v1/audit-log?"+q, nil).want(t, 400, "invalid_request")
		}
	})
}
