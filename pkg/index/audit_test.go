package index_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/pkg/catalog"
	"github.com/berth-dev/berth/pkg/index"
)

func auditLog(tb testing.TB, db *index.DB, q index.AuditQuery) []index.AuditEntry {
	tb.Helper()
	var out []index.AuditEntry
	err := db.ReadTx(context.Background(), func(tx *sql.Tx) error {
		var err error
		out, err = index.AuditLogTx(context.Background(), tx, q)
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// changes are the catalog changes recorded since the entry with id after,
// oldest first, in short: "action blueprint/identifier file count by
// commit actor".
func changes(tb testing.TB, db *index.DB, after int64) []string {
	tb.Helper()
	var out []string
	es := auditLog(tb, db, index.AuditQuery{Kind: index.AuditChange, Limit: 1000})
	for i := len(es) - 1; i >= 0; i-- {
		e := es[i]
		if e.ID <= after {
			continue
		}
		out = append(out, strings.Join(strings.Fields(fmt.Sprintf("%s %s/%s %s %d by %s %s", e.Action, e.Blueprint,
			e.Identifier, e.File, e.Count, e.Commit, e.User)), " "))
	}
	return out
}

func lastChange(tb testing.TB, db *index.DB) int64 {
	tb.Helper()
	es := auditLog(tb, db, index.AuditQuery{Kind: index.AuditChange, Limit: 1})
	if len(es) == 0 {
		return 0
	}
	return es[0].ID
}

func at(e *catalog.Entity, file string) *catalog.Entity {
	e.Doc = &catalog.Document{Kind: catalog.KindEntity, File: file, Blueprint: e.Blueprint}
	return e
}

func wantChanges(t *testing.T, db *index.DB, after int64, want ...string) {
	t.Helper()
	if diff := cmp.Diff(want, changes(t, db, after)); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
}

// TestDB_Apply_AuditLog follows one index through a chain of revisions:
// the first import is summarised per blueprint, later revisions record
// each entity whose own content changed, and nothing else.
func TestDB_Apply_AuditLog(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	by := func(n int, name, email string) index.RevisionInfo {
		r := rev(n)
		r.Author, r.AuthorEmail = name, email
		return r
	}
	svc := func(i, r int) *catalog.Entity {
		return at(service(i, 5, r), fmt.Sprintf("entities/service/%d.yaml", i))
	}

	t.Run("FirstImportIsSummarised", func(t *testing.T) {
		s := index.Snapshot{Full: true, Blueprints: blueprints()}
		for i := range 3 {
			s.Upserts = append(s.Upserts, index.Upsert{Entity: system(i)})
		}
		for i := range 5 {
			s.Upserts = append(s.Upserts, index.Upsert{Entity: svc(i, 1)})
		}
		mustApply(t, db, by(1, "Ada", "ada@example.com"), s)
		wantChanges(t, db, 0,
			"imported service/ 5 by c0001 ada@example.com",
			"imported system/ 3 by c0001 ada@example.com")
		e := auditLog(t, db, index.AuditQuery{Limit: 1})[0]
		if !e.At.Equal(rev(1).CommittedAt) {
			t.Errorf("at = %v, want the commit time %v", e.At, rev(1).CommittedAt)
		}
	})

	t.Run("RealChangesOnly", func(t *testing.T) {
		mark := lastChange(t, db)
		historyOnly := svc(1, 1)
		historyOnly.Meta.UpdatedAt = epoch.Add(48 * time.Hour) // same content, newer $updatedAt
		res := mustApply(t, db, by(2, "Bob", "bob@example.com"), index.Snapshot{Blueprints: blueprints(),
			Upserts: []index.Upsert{
				{Entity: svc(0, 2)},   // a property changed
				{Entity: historyOnly}, // history only: rewritten, not a change
				{Entity: svc(2, 1), Computed: map[string]any{"score": 3.0}}, // a computed value only
				{Entity: svc(3, 1)}, // unchanged
				{Entity: at(service(5, 5, 1), "entities/service/5.yaml")}, // new
			},
			Deletes: []catalog.EntityKey{{Blueprint: "service", Identifier: "svc-000004"}}})
		if res.Inserted != 1 || res.Updated != 3 || res.Unchanged != 1 || res.Deleted != 1 {
			t.Errorf("apply result %+v", res)
		}
		wantChanges(t, db, mark,
			"deleted service/svc-000004 entities/service/4.yaml 1 by c0002 bob@example.com",
			"updated service/svc-000000 entities/service/0.yaml 1 by c0002 bob@example.com",
			"created service/svc-000005 entities/service/5.yaml 1 by c0002 bob@example.com")
	})

	t.Run("MoveIsNoChange", func(t *testing.T) {
		mark := lastChange(t, db)
		moved := at(service(3, 5, 1), "entities/service/moved/3.yaml")
		res := mustApply(t, db, by(3, "Ada", "ada@example.com"), index.Snapshot{Blueprints: blueprints(),
			Upserts: []index.Upsert{{Entity: moved}}})
		if res.Unchanged != 1 {
			t.Errorf("apply result %+v", res)
		}
		wantChanges(t, db, mark)
		e, err := db.Entity(ctx, "service", "svc-000003")
		if err != nil || e.File != "entities/service/moved/3.yaml" {
			t.Errorf("after the move the index says %q (%v)", e.File, err)
		}
	})

	t.Run("RejectedCommitRecordsNothing", func(t *testing.T) {
		mark := lastChange(t, db)
		for i, st := range []index.Status{index.StatusFailed, index.StatusHeld, index.StatusError} {
			if _, err := db.RecordAttempt(ctx, by(4+i, "Eve", "eve@example.com"), st, "no", nil); err != nil {
				t.Fatal(err)
			}
		}
		wantChanges(t, db, mark)
	})

	t.Run("FullRebuildRecordsTheDifference", func(t *testing.T) {
		mark := lastChange(t, db)
		// A force-push rewrote history: every entity's dates differ, one
		// service is back to its first content, one is gone.
		s := index.Snapshot{Full: true, Blueprints: blueprints()}
		for i := range 3 {
			e := system(i)
			e.Meta.CreatedAt = epoch.Add(time.Hour)
			s.Upserts = append(s.Upserts, index.Upsert{Entity: e})
		}
		for _, i := range []int{0, 1, 2, 3} {
			e := svc(i, 1)
			e.Meta = catalog.Meta{CreatedAt: epoch.Add(time.Hour), UpdatedAt: epoch.Add(time.Hour), CreatedBy: "x", UpdatedBy: "x"}
			s.Upserts = append(s.Upserts, index.Upsert{Entity: e})
		}
		mustApply(t, db, by(7, "Ada", "ada@example.com"), s)
		wantChanges(t, db, mark,
			"updated service/svc-000000 entities/service/0.yaml 1 by c0007 ada@example.com",
			"deleted service/svc-000005 entities/service/5.yaml 1 by c0007 ada@example.com")
	})

	t.Run("AuthorWithoutEmail", func(t *testing.T) {
		mark := lastChange(t, db)
		mustApply(t, db, by(8, "Ada Lovelace", ""), index.Snapshot{Blueprints: blueprints(),
			Upserts: []index.Upsert{{Entity: svc(6, 1)}}})
		wantChanges(t, db, mark, "created service/svc-000006 entities/service/6.yaml 1 by c0008 Ada Lovelace")
	})
}

// TestDB_Apply_AuditLogRollsBack: a revision that fails to apply records
// no change.
func TestDB_Apply_AuditLogRollsBack(t *testing.T) {
	db := openDB(t)
	mustApply(t, db, rev(1), snapshot(3, 1))
	mark := lastChange(t, db)
	bad := index.Snapshot{Blueprints: blueprints(), Upserts: []index.Upsert{
		{Entity: service(0, 3, 2)}, {Entity: service(0, 3, 3)}}} // the same entity twice
	if _, err := db.Apply(context.Background(), rev(2), bad); err == nil {
		t.Fatal("applying an entity twice succeeded")
	}
	wantChanges(t, db, mark)
}

func request(at time.Time, user, route string, status int) index.Request {
	return index.Request{At: at, Client: "ci", User: user, Method: "GET", Route: route, Path: "/v1/x",
		Status: status, Duration: 1500 * time.Microsecond}
}

// TestDB_RecordRequests writes and prunes the request log and reads it
// together with the changes.
func TestDB_RecordRequests(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	mustApply(t, db, rev(1), snapshot(2, 1)) // imported at epoch+1m

	t.Run("RoundTrip", func(t *testing.T) {
		r := request(epoch.Add(2*time.Minute), "maria@example.com", "GET /v1/blueprints/{bp}/entities/{id}", 200)
		r.Params = map[string]string{"bp": "service", "id": "svc-000001"}
		r.Blueprint, r.Identifier = "service", "svc-000001"
		if _, err := db.RecordRequests(ctx, []index.Request{r}, index.Retention{}, epoch); err != nil {
			t.Fatal(err)
		}
		got := auditLog(t, db, index.AuditQuery{Kind: index.AuditRequest})
		want := []index.AuditEntry{{Kind: index.AuditRequest, ID: 1, At: r.At, User: r.User, Blueprint: "service",
			Identifier: "svc-000001", Client: "ci", Method: "GET", Route: r.Route, Path: "/v1/x", Params: r.Params,
			Status: 200, Duration: r.Duration}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})

	t.Run("PruneByCount", func(t *testing.T) {
		var reqs []index.Request
		for i := range 30 {
			reqs = append(reqs, request(epoch.Add(time.Hour+time.Duration(i)*time.Second), "a@example.com", "GET /v1/blueprints", 200))
		}
		pruned, err := db.RecordRequests(ctx, reqs, index.Retention{MaxRows: 10}, epoch.Add(2*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		got := auditLog(t, db, index.AuditQuery{Kind: index.AuditRequest, Limit: 1000})
		if len(got) != 10 || pruned != 21 || !got[0].At.Equal(reqs[29].At) || !got[9].At.Equal(reqs[20].At) {
			t.Errorf("kept %d requests (pruned %d), want the newest 10", len(got), pruned)
		}
	})

	t.Run("PruneByAge", func(t *testing.T) {
		now := epoch.Add(2 * time.Hour)
		late := request(now, "a@example.com", "GET /v1/pages", 200)
		// Keep what is newer than epoch+1h25s: the requests of seconds 25
		// to 29 and the late one.
		pruned, err := db.RecordRequests(ctx, []index.Request{late}, index.Retention{MaxRows: 100, MaxAge: time.Hour - 25*time.Second}, now)
		if err != nil {
			t.Fatal(err)
		}
		got := auditLog(t, db, index.AuditQuery{Kind: index.AuditRequest, Limit: 1000})
		if len(got) != 6 || pruned != 5 || !got[5].At.Equal(epoch.Add(time.Hour+25*time.Second)) {
			t.Errorf("kept %d requests (pruned %d), the oldest of %v; want 6 from epoch+1h25s", len(got), pruned, got[len(got)-1].At)
		}
		// Changes come from Git and are not pruned.
		if len(auditLog(t, db, index.AuditQuery{Kind: index.AuditChange})) != 2 {
			t.Error("pruning requests removed changes")
		}
	})
}

// TestAuditLogTx_Filters reads a mixed log through each filter and pages
// through it.
func TestAuditLogTx_Filters(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	mustApply(t, db, rev(1), snapshot(3, 1)) // imported, epoch+1m
	info := rev(2)
	info.AuthorEmail = "Bob@Example.com"
	mustApply(t, db, info, index.Snapshot{Blueprints: blueprints(), Upserts: []index.Upsert{{Entity: service(0, 3, 2)}}})
	var reqs []index.Request
	for i := range 4 {
		r := request(epoch.Add(time.Duration(i)*time.Minute+30*time.Second), []string{"ann@example.com", "bob@example.com"}[i%2],
			"GET /v1/blueprints/{bp}/entities/{id}", 200)
		r.Blueprint, r.Identifier = "service", fmt.Sprintf("svc-00000%d", i%2)
		reqs = append(reqs, r)
	}
	// The same instant as the commit of rev(2): requests sort first.
	reqs = append(reqs, request(rev(2).CommittedAt, "ann@example.com", "GET /v1/blueprints", 200))
	if _, err := db.RecordRequests(ctx, reqs, index.Retention{}, epoch); err != nil {
		t.Fatal(err)
	}
	short := func(es []index.AuditEntry) []string {
		var out []string
		for _, e := range es {
			s := fmt.Sprintf("%s %s %s/%s", e.At.Sub(epoch), e.Kind, e.Blueprint, e.Identifier)
			if e.Kind == index.AuditChange {
				s += " " + e.Action
			}
			out = append(out, s)
		}
		return out
	}
	all := []string{
		"3m30s request service/svc-000001",
		"2m30s request service/svc-000000",
		"2m0s request /",
		"2m0s change service/svc-000000 updated",
		"1m30s request service/svc-000001",
		"1m0s change system/ imported",
		"1m0s change service/ imported",
		"30s request service/svc-000000",
	}
	for _, tc := range []struct {
		name string
		q    index.AuditQuery
		want []string
	}{
		{"All", index.AuditQuery{}, all},
		{"Changes", index.AuditQuery{Kind: index.AuditChange}, []string{all[3], all[5], all[6]}},
		{"Requests", index.AuditQuery{Kind: index.AuditRequest}, []string{all[0], all[1], all[2], all[4], all[7]}},
		{"Entity", index.AuditQuery{Blueprint: "service", Identifier: "svc-000000"}, []string{all[1], all[3], all[7]}},
		{"Blueprint", index.AuditQuery{Blueprint: "service"}, []string{all[0], all[1], all[3], all[4], all[6], all[7]}},
		{"UserAnyCase", index.AuditQuery{User: "bob@example.COM"}, []string{all[0], all[3], all[4]}},
		{"Between", index.AuditQuery{From: epoch.Add(time.Minute), To: epoch.Add(2 * time.Minute)}, all[2:7]},
		{"Limit", index.AuditQuery{Limit: 3}, all[:3]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, short(auditLog(t, db, tc.q))); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}

	t.Run("Paging", func(t *testing.T) {
		for size := 1; size <= len(all); size++ {
			var got []string
			q := index.AuditQuery{Limit: size}
			for range len(all) + 1 {
				page := auditLog(t, db, q)
				got = append(got, short(page)...)
				if len(page) < size {
					break
				}
				p := page[len(page)-1].Position()
				q.After = &p
			}
			if diff := cmp.Diff(all, got); diff != "" {
				t.Errorf("pages of %d (-want +got):\n%s", size, diff)
			}
		}
	})
}

// TestDB_Apply_AuditLogAfterUpgrade: rows written before the index kept
// content hashes get one when next upserted, and count as updated only
// when their document changed.
func TestDB_Apply_AuditLogAfterUpgrade(t *testing.T) {
	path := filepath.Join(t.TempDir(), "berth.db")
	db := openPath(t, path)
	mustApply(t, db, rev(1), snapshot(3, 1))
	raw, err := sql.Open("sqlite3", "file:"+path+"?_busy_timeout=10000")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Exec("UPDATE entities SET src_hash = NULL"); err != nil {
		t.Fatal(err)
	}
	mark := lastChange(t, db)
	mustApply(t, db, rev(2), index.Snapshot{Blueprints: blueprints(), Upserts: []index.Upsert{
		{Entity: service(0, 3, 1)}, {Entity: service(1, 3, 2)}}})
	wantChanges(t, db, mark, "updated service/svc-000001 1 by c0002 dev@example.com")
	var missing int
	if err := raw.QueryRow(`SELECT count(*) FROM entities WHERE src_hash IS NULL AND identifier IN ('svc-000000', 'svc-000001')`).
		Scan(&missing); err != nil || missing != 0 {
		t.Errorf("%d upserted rows still lack a content hash (%v)", missing, err)
	}
}
