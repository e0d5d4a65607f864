package reconcile_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/pkg/gen"
	"github.com/berth-dev/berth/pkg/gitsource"
	"github.com/berth-dev/berth/pkg/index"
	"github.com/berth-dev/berth/pkg/reconcile"
)

var coverage = regexp.MustCompile(`test_coverage: \d+`)

// BenchmarkIncremental10 measures a commit changing 10 entity files of a
// generated catalog (BERTH_BENCH_ENTITIES, default 10k), from new head to
// applied revision, with the previous catalog in memory as in berth serve.
func BenchmarkIncremental10(b *testing.B) {
	n := 10000
	if s := os.Getenv("BERTH_BENCH_ENTITIES"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	ctx := context.Background()
	remote := filepath.Join(b.TempDir(), "catalog.git")
	files := map[string][]byte{}
	var services []string
	for p, data := range gen.Files(gen.Options{Entities: n, Seed: 1}) {
		files[p] = data
		if strings.HasPrefix(p, "entities/service/") {
			services = append(services, p)
		}
	}
	when := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := gitsource.CommitFiles(ctx, remote, "main", files, "catalog", "Bench <b@example.com>", when); err != nil {
		b.Fatal(err)
	}
	repo, err := gitsource.Open(ctx, gitsource.Options{URL: remote})
	if err != nil {
		b.Fatal(err)
	}
	defer repo.Close()
	db, err := index.Open(ctx, filepath.Join(b.TempDir(), "berth.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	v, err := validator()
	if err != nil {
		b.Fatal(err)
	}
	rec := reconcile.New(repo, db, v, reconcile.Options{})
	if res, err := rec.Reconcile(ctx); err != nil || res.Status != index.StatusApplied {
		b.Fatalf("cold: %+v %v", res, err)
	}
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		change := map[string][]byte{}
		for j := range 10 {
			// A real edit, so that the entity, its scores and the index
			// change: a new test coverage.
			p := services[(i*10+j)%len(services)]
			files[p] = coverage.ReplaceAll(files[p], fmt.Appendf(nil, "test_coverage: %d", (i*7+j*13)%101))
			change[p] = files[p]
		}
		when = when.Add(time.Minute)
		if _, err := gitsource.CommitFiles(ctx, remote, "main", change, "edit", "Bench <b@example.com>", when); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		res, err := rec.Reconcile(ctx)
		if err != nil || res.Status != index.StatusApplied || !res.Incremental || res.Applied.Updated == 0 {
			b.Fatalf("incremental: %+v %v", res, err)
		}
	}
}
