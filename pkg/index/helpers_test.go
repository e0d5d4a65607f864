package index_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/berth-dev/berth/pkg/catalog"
	"github.com/berth-dev/berth/pkg/index"
)

func openDB(tb testing.TB) *index.DB {
	tb.Helper()
	return openPath(tb, filepath.Join(tb.TempDir(), "berth.db"))
}

func openPath(tb testing.TB, path string) *index.DB {
	tb.Helper()
	db, err := index.Open(context.Background(), path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Error(err)
		}
	})
	return db
}

var epoch = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

func rev(n int) index.RevisionInfo {
	return index.RevisionInfo{
		Commit:      fmt.Sprintf("c%04d", n),
		Parent:      fmt.Sprintf("c%04d", n-1),
		Author:      "dev@example.com",
		Message:     fmt.Sprintf("commit %d", n),
		CommittedAt: epoch.Add(time.Duration(n) * time.Minute),
	}
}

// blueprints are a service blueprint relating to a system and to other
// services, and the system blueprint.
func blueprints() []*catalog.Blueprint {
	return []*catalog.Blueprint{
		{Identifier: "service", Title: "Service", Relations: map[string]catalog.RelationDef{
			"system": {Target: "system"},
			"deps":   {Target: "service", Many: true},
		}},
		{Identifier: "system", Title: "System"},
	}
}

func system(i int) *catalog.Entity {
	return &catalog.Entity{
		Identifier: fmt.Sprintf("system-%d", i), Title: fmt.Sprintf("System %d", i), Blueprint: "system",
		Team: []string{"platform"}, Properties: map[string]any{"tier": int64(i % 3)},
	}
}

// service returns service i of n: it relates to system i%10 and to the next
// service, and carries a property of every kind, rev holding r.
func service(i, n, r int) *catalog.Entity {
	return &catalog.Entity{
		Identifier: fmt.Sprintf("svc-%06d", i), Title: fmt.Sprintf("Service %d", i), Blueprint: "service",
		Team: []string{fmt.Sprintf("team-%d", i%7), "platform"},
		Properties: map[string]any{
			"language":  []string{"go", "java", "python"}[i%3],
			"replicas":  int64(i % 5),
			"cpu":       0.25 * float64(i%8),
			"public":    i%2 == 0,
			"launched":  "2023-06-15",
			"deployed":  "2024-03-01T10:00:00Z",
			"tags":      []any{"tier-1", "critical"},
			"labels":    map[string]any{"cost": "high"},
			"readme":    "a plain string that is not a date at all",
			"rev":       int64(r),
			"nothing":   nil,
			"oncall":    "pager@example.com",
			"component": fmt.Sprintf("c-%d", i%100),
		},
		Relations: map[string]catalog.RelationValue{
			"system": {Targets: []string{fmt.Sprintf("system-%d", i%10)}},
			"deps":   {Many: true, Targets: []string{fmt.Sprintf("svc-%06d", (i+1)%n)}},
		},
		Meta: catalog.Meta{CreatedAt: epoch, UpdatedAt: epoch, CreatedBy: "dev@example.com", UpdatedBy: "dev@example.com"},
	}
}

// snapshot is a Full snapshot of n services (rev r) and 10 systems.
func snapshot(n, r int) index.Snapshot {
	s := index.Snapshot{Full: true, Blueprints: blueprints()}
	for i := range 10 {
		s.Upserts = append(s.Upserts, index.Upsert{Entity: system(i)})
	}
	for i := range n {
		s.Upserts = append(s.Upserts, index.Upsert{Entity: service(i, n, r)})
	}
	return s
}

func mustApply(tb testing.TB, db *index.DB, info index.RevisionInfo, s index.Snapshot) index.ApplyResult {
	tb.Helper()
	res, err := db.Apply(context.Background(), info, s)
	if err != nil {
		tb.Fatal(err)
	}
	return res
}

func errorsIs(err, target error) bool { return errors.Is(err, target) }
