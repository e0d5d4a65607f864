package index_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/pkg/catalog"
	"github.com/berth-dev/berth/pkg/index"
)

type valueRow struct {
	Key string
	Idx int
	Typ string
	Str *string
	Num *float64
}

func values(t *testing.T, db *index.DB, bp, id string) []valueRow {
	t.Helper()
	var out []valueRow
	err := db.ReadTx(context.Background(), func(tx *sql.Tx) error {
		rows, err := tx.Query(`SELECT v.key, v.idx, v.typ, v.str, v.num FROM entity_values v
			JOIN entities e ON e.id = v.entity_id WHERE e.blueprint = ? AND e.identifier = ? ORDER BY v.key, v.idx`, bp, id)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var r valueRow
			if err := rows.Scan(&r.Key, &r.Idx, &r.Typ, &r.Str, &r.Num); err != nil {
				return err
			}
			out = append(out, r)
		}
		return rows.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

type relRow struct {
	Source, Relation, Target string
	Resolved                 bool // target_id is the target entity's id
}

func relations(t *testing.T, db *index.DB) []relRow {
	t.Helper()
	var out []relRow
	err := db.ReadTx(context.Background(), func(tx *sql.Tx) error {
		rows, err := tx.Query(`SELECT s.identifier, r.relation, r.target_blueprint || '/' || r.target_identifier,
			coalesce(r.target_id = (SELECT t.id FROM entities t WHERE t.blueprint = r.target_blueprint
				AND t.identifier = r.target_identifier), 0)
			FROM relations r JOIN entities s ON s.id = r.source_id ORDER BY 1, 2, 3`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var r relRow
			if err := rows.Scan(&r.Source, &r.Relation, &r.Target, &r.Resolved); err != nil {
				return err
			}
			out = append(out, r)
		}
		return rows.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func str(s string) *string                { return &s }
func num(f float64) *float64              { return &f }
func key(bp, id string) catalog.EntityKey { return catalog.EntityKey{Blueprint: bp, Identifier: id} }

func TestDB_Apply(t *testing.T) {
	ctx := context.Background()

	t.Run("Fresh", func(t *testing.T) {
		db := openDB(t)
		s := snapshot(3, 7)
		s.Upserts[10].Computed = map[string]any{"score": 0.5, "rev": int64(8)}
		s.Diagnostics = catalog.Diagnostics{catalog.Warningf(catalog.Position{File: "entities/service/a.yaml", Line: 3, Col: 1},
			catalog.CodeUnknownTeam, "team %q is unknown", "ghosts")}
		res := mustApply(t, db, rev(1), s)
		if diff := cmp.Diff(index.ApplyResult{RevisionID: 1, Entities: 13, Inserted: 13}, res); diff != "" {
			t.Errorf("result (-want +got):\n%s", diff)
		}
		got := values(t, db, "service", "svc-000000")
		want := []valueRow{
			{"component", -1, "s", str("c-0"), nil},
			{"cpu", -1, "n", nil, num(0)},
			{"deployed", -1, "s", str("2024-03-01T10:00:00Z"), num(1709287200)},
			{"labels", -1, "j", str(`{"cost":"high"}`), nil},
			{"language", -1, "s", str("go"), nil},
			{"launched", -1, "s", str("2023-06-15"), num(1686787200)},
			{"oncall", -1, "s", str("pager@example.com"), nil},
			{"public", -1, "b", nil, num(1)},
			{"readme", -1, "s", str("a plain string that is not a date at all"), nil},
			{"replicas", -1, "n", nil, num(0)},
			{"rev", -1, "n", nil, num(8)}, // computed wins
			{"score", -1, "n", nil, num(0.5)},
			{"tags", 0, "s", str("tier-1"), nil},
			{"tags", 1, "s", str("critical"), nil},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("values (-want +got):\n%s", diff)
		}
		e, err := db.Entity(ctx, "service", "svc-000000")
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if err := json.Unmarshal(e.Doc, &doc); err != nil {
			t.Fatal(err)
		}
		wantDoc := map[string]any{
			"identifier": "svc-000000", "title": "Service 0", "blueprint": "service",
			"team":      []any{"team-0", "platform"},
			"relations": map[string]any{"system": "system-0", "deps": []any{"svc-000001"}},
			"createdAt": "2024-05-01T12:00:00Z", "updatedAt": "2024-05-01T12:00:00Z",
			"createdBy": "dev@example.com", "updatedBy": "dev@example.com",
		}
		delete(doc, "properties")
		if diff := cmp.Diff(wantDoc, doc); diff != "" {
			t.Errorf("doc (-want +got):\n%s", diff)
		}
		if !e.Meta.CreatedAt.Equal(epoch) || e.Meta.UpdatedBy != "dev@example.com" {
			t.Errorf("meta = %+v", e.Meta)
		}
		for _, r := range relations(t, db) {
			if !r.Resolved {
				t.Errorf("relation %+v not resolved", r)
			}
		}
		st, err := db.State(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.Applied == nil || st.Applied.Commit != "c0001" || st.Applied.Status != index.StatusApplied ||
			st.Applied.Warnings != 1 || st.Applied.Entities != 13 || !st.Applied.CommittedAt.Equal(rev(1).CommittedAt) {
			t.Errorf("state = %+v", st.Applied)
		}
		diags, err := db.Diagnostics(ctx, res.RevisionID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(s.Diagnostics, diags); diff != "" {
			t.Errorf("diagnostics (-want +got):\n%s", diff)
		}
		bps, err := db.Blueprints(ctx)
		if err != nil || len(bps) != 2 || bps[0].Identifier != "service" {
			t.Errorf("blueprints = %v, %v", bps, err)
		}
		counts, err := db.EntityCountsByBlueprint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(map[string]int{"service": 3, "system": 10}, counts); diff != "" {
			t.Errorf("counts (-want +got):\n%s", diff)
		}
	})

	t.Run("Incremental", func(t *testing.T) {
		db := openDB(t)
		mustApply(t, db, rev(1), snapshot(3, 1))
		// Modify svc-0, keep svc-1 as it was, delete svc-2, and add svc-new
		// listed before svc-target, which it relates to.
		mod := service(0, 3, 2)
		newSvc := service(9, 3, 1)
		newSvc.Identifier = "svc-new"
		newSvc.Relations["deps"] = catalog.RelationValue{Many: true, Targets: []string{"svc-target", "svc-000000"}}
		target := service(10, 3, 1)
		target.Identifier = "svc-target"
		target.Relations = nil
		s := index.Snapshot{
			Blueprints: blueprints(),
			Upserts:    []index.Upsert{{Entity: mod}, {Entity: service(1, 3, 1)}, {Entity: newSvc}, {Entity: target}},
			Deletes:    []catalog.EntityKey{key("service", "svc-000002"), key("service", "never-existed")},
		}
		res := mustApply(t, db, rev(2), s)
		// svc-000001 pointed at the deleted svc-000002: its deps relation
		// dangles (validation would have blocked this commit).
		want := index.ApplyResult{RevisionID: 2, Entities: 14, Inserted: 2, Updated: 1, Unchanged: 1, Deleted: 1,
			Dangling: 1}
		if diff := cmp.Diff(want, res); diff != "" {
			t.Errorf("result (-want +got):\n%s", diff)
		}
		if _, err := db.Entity(ctx, "service", "svc-000002"); !errorsIs(err, index.ErrNotFound) {
			t.Errorf("deleted entity: %v", err)
		}
		if v := values(t, db, "service", "svc-000000"); !cmp.Equal(v[10], valueRow{"rev", -1, "n", nil, num(2)}) {
			t.Errorf("modified value = %+v", v[10])
		}
		var got []relRow
		for _, r := range relations(t, db) {
			if r.Source == "svc-new" || r.Source == "svc-000001" {
				got = append(got, r)
			}
		}
		wantRels := []relRow{
			{"svc-000001", "deps", "service/svc-000002", false},
			{"svc-000001", "system", "system/system-1", true},
			{"svc-new", "deps", "service/svc-000000", true},
			{"svc-new", "deps", "service/svc-target", true},
			{"svc-new", "system", "system/system-9", true},
		}
		if diff := cmp.Diff(wantRels, got); diff != "" {
			t.Errorf("relations (-want +got):\n%s", diff)
		}

		// Re-creating svc-000002 under a new id resolves the dangling row.
		res = mustApply(t, db, rev(3), index.Snapshot{Blueprints: blueprints(),
			Upserts: []index.Upsert{{Entity: service(2, 3, 3)}}})
		if res.Dangling != 0 || res.Inserted != 1 {
			t.Errorf("re-create: %+v", res)
		}
		for _, r := range relations(t, db) {
			if !r.Resolved {
				t.Errorf("relation %+v not resolved after re-create", r)
			}
		}
	})

	t.Run("Full", func(t *testing.T) {
		db := openDB(t)
		mustApply(t, db, rev(1), snapshot(20, 1))
		res := mustApply(t, db, rev(2), snapshot(5, 1))
		// svc-4 now relates to svc-0 (5 services): changed; the other 4 and
		// the 10 systems are unchanged; 15 services are gone.
		want := index.ApplyResult{RevisionID: 2, Entities: 15, Updated: 1, Unchanged: 14, Deleted: 15}
		if diff := cmp.Diff(want, res); diff != "" {
			t.Errorf("result (-want +got):\n%s", diff)
		}
		keys, err := db.EntityKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) != 15 || keys[4] != key("service", "svc-000004") {
			t.Errorf("keys = %v", keys)
		}
		n, err := db.Count(ctx, "", nil)
		if err != nil || n != 15 {
			t.Errorf("count = %d, %v", n, err)
		}
		var orphans int
		if err := db.ReadTx(ctx, func(tx *sql.Tx) error {
			return tx.QueryRow(`SELECT (SELECT count(*) FROM entity_values WHERE entity_id NOT IN (SELECT id FROM entities))
				+ (SELECT count(*) FROM relations WHERE source_id NOT IN (SELECT id FROM entities))
				+ (SELECT count(*) FROM entity_teams WHERE entity_id NOT IN (SELECT id FROM entities))`).Scan(&orphans)
		}); err != nil || orphans != 0 {
			t.Errorf("orphan rows = %d, %v", orphans, err)
		}
	})

	t.Run("ErrorRollsBack", func(t *testing.T) {
		db := openDB(t)
		mustApply(t, db, rev(1), snapshot(3, 1))
		s := snapshot(3, 2)
		s.Scores = []index.EntityScores{{Key: key("service", "ghost")}}
		if _, err := db.Apply(ctx, rev(2), s); !errorsIs(err, index.ErrUnknownEntity) {
			t.Fatalf("Apply = %v, want ErrUnknownEntity", err)
		}
		st, err := db.State(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.Applied.Commit != "c0001" || st.LastAttempt.ID != st.Applied.ID {
			t.Errorf("state after failed apply = %+v / %+v", st.Applied, st.LastAttempt)
		}
		if v := values(t, db, "service", "svc-000000"); v[10].Num == nil || *v[10].Num != 1 {
			t.Errorf("rev after failed apply = %+v", v[10])
		}
	})

	t.Run("Large", func(t *testing.T) {
		// Enough entities for the encoding pipeline and for the bulk load
		// that builds the indexes after the rows.
		const n = 2500
		db := openDB(t)
		indexes := func() (names []string) {
			t.Helper()
			if err := db.ReadTx(ctx, func(tx *sql.Tx) error {
				rows, err := tx.Query("SELECT name FROM sqlite_master WHERE type = 'index' ORDER BY name")
				if err != nil {
					return err
				}
				defer rows.Close()
				for rows.Next() {
					var s string
					if err := rows.Scan(&s); err != nil {
						return err
					}
					names = append(names, s)
				}
				return rows.Err()
			}); err != nil {
				t.Fatal(err)
			}
			return names
		}
		before := indexes()
		res := mustApply(t, db, rev(1), snapshot(n, 1))
		if res.Inserted != n+10 || res.Dangling != 0 {
			t.Errorf("cold: %+v", res)
		}
		if diff := cmp.Diff(before, indexes()); diff != "" {
			t.Errorf("indexes after a bulk load (-want +got):\n%s", diff)
		}
		rels := relations(t, db)
		if len(rels) != 2*n {
			t.Errorf("%d relations, want %d", len(rels), 2*n)
		}
		for _, r := range rels {
			if !r.Resolved {
				t.Fatalf("relation %+v not resolved", r)
			}
		}
		e, err := db.Entity(ctx, "service", "svc-001234")
		if err != nil || e.ID != 10+1234+1 {
			t.Errorf("entity ids follow upsert order: %+v, %v", e.ID, err)
		}

		res = mustApply(t, db, rev(2), snapshot(n, 2))
		if res.Updated != n || res.Unchanged != 10 {
			t.Errorf("rebuild: %+v", res)
		}
		if v := values(t, db, "service", "svc-002499"); v[10].Num == nil || *v[10].Num != 2 {
			t.Errorf("rev after rebuild = %+v", v[10])
		}

		bad := snapshot(n, 3)
		bad.Upserts[n-5].Entity = nil
		if _, err := db.Apply(ctx, rev(3), bad); err == nil {
			t.Fatal("Apply with a nil entity succeeded")
		}
		st, err := db.State(ctx)
		if err != nil || st.Applied.Commit != "c0002" {
			t.Errorf("state after failed apply = %+v, %v", st.Applied, err)
		}
	})

	t.Run("Search", func(t *testing.T) {
		db := openDB(t)
		mustApply(t, db, rev(1), snapshot(30, 1))
		got, err := db.Search(ctx, `e.blueprint = ?1 AND EXISTS (SELECT 1 FROM entity_values v
			WHERE v.entity_id = e.id AND v.key = 'replicas' AND v.num >= ?2)`, []any{"service", 4}, "e.identifier DESC", 2)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, e := range got {
			ids = append(ids, e.Identifier)
		}
		if diff := cmp.Diff([]string{"svc-000029", "svc-000024"}, ids); diff != "" {
			t.Errorf("search (-want +got):\n%s", diff)
		}
		page, err := db.Entities(ctx, "service", 2, "svc-000027")
		if err != nil || len(page) != 2 || page[0].Identifier != "svc-000028" {
			t.Errorf("page = %v, %v", page, err)
		}
		n, err := db.CountEntities(ctx, "system")
		if err != nil || n != 10 {
			t.Errorf("CountEntities = %d, %v", n, err)
		}
	})
}
