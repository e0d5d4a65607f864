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

// benchCatalog is a generated catalog of BERTH_BENCH_ENTITIES entities
// (default 10k) committed to a new bare repository: the files, the paths of
// its services, and the repository's path.
type benchCatalog struct {
	files    map[string][]byte
	services []string
	remote   string
	when     time.Time
}

func newBenchCatalog(b *testing.B) *benchCatalog {
	b.Helper()
	n := 10000
	if s := os.Getenv("BERTH_BENCH_ENTITIES"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	c := &benchCatalog{files: map[string][]byte{}, remote: filepath.Join(b.TempDir(), "catalog.git"),
		when: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	for p, data := range gen.Files(gen.Options{Entities: n, Seed: 1}) {
		c.files[p] = data
		if strings.HasPrefix(p, "entities/service/") {
			c.services = append(c.services, p)
		}
	}
	if _, err := gitsource.CommitFiles(context.Background(), c.remote, "main", c.files, "catalog", "Bench <b@example.com>", c.when); err != nil {
		b.Fatal(err)
	}
	return c
}

// edit commits the i-th edit: 10 services with a new test coverage, so
// that the entities, their scores and the index change.
func (c *benchCatalog) edit(b *testing.B, i int) {
	b.Helper()
	change := map[string][]byte{}
	for j := range 10 {
		p := c.services[(i*10+j)%len(c.services)]
		c.files[p] = coverage.ReplaceAll(c.files[p], fmt.Appendf(nil, "test_coverage: %d", (i*7+j*13)%101))
		change[p] = c.files[p]
	}
	c.when = c.when.Add(time.Minute)
	if _, err := gitsource.CommitFiles(context.Background(), c.remote, "main", change, "edit", "Bench <b@example.com>", c.when); err != nil {
		b.Fatal(err)
	}
}

// benchReconciler opens a reconciler of opts into a new index and brings it to
// the head.
func benchReconciler(b *testing.B, opts gitsource.Options) (*gitsource.Repo, *reconcile.Reconciler) {
	b.Helper()
	repo, _, rec := openReconciler(b, opts, filepath.Join(b.TempDir(), "berth.db"), reconcile.Options{})
	if res, err := rec.Reconcile(context.Background()); err != nil || res.Status != index.StatusApplied {
		b.Fatalf("cold: %+v %v", res, err)
	}
	return repo, rec
}

func reconcileIncremental(b *testing.B, rec *reconcile.Reconciler) reconcile.Result {
	b.Helper()
	res, err := rec.Reconcile(context.Background())
	if err != nil || res.Status != index.StatusApplied || !res.Incremental || res.Applied.Updated == 0 {
		b.Fatalf("incremental: %+v %v", res, err)
	}
	return res
}

// BenchmarkIncremental10 measures a commit changing 10 entity files of a
// generated catalog (BERTH_BENCH_ENTITIES, default 10k), from new head to
// applied revision, with the previous catalog in memory as in berth serve.
func BenchmarkIncremental10(b *testing.B) {
	c := newBenchCatalog(b)
	_, rec := benchReconciler(b, gitsource.Options{URL: c.remote})
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		c.edit(b, i)
		b.StartTimer()
		reconcileIncremental(b, rec)
	}
}

// BenchmarkIncremental10Fetched is BenchmarkIncremental10 on the clone of a
// remote (file://), as berth serve runs it, once 10 and once 100 such
// commits have been fetched and reconciled one by one (AfterN; each run of
// it adds its commits, so the next starts later), each followed by the
// Compact of the clone that Run does on the side. ns/op is a Reconcile
// that finds the commit fetched already; reconcile-ms/op is the duration
// the reconciler reports (from the fetched head to the applied revision).
// The fetch and Compact are not timed: compact-ms/op is Compact's mean
// time, and packs the clone's pack count at the end.
func BenchmarkIncremental10Fetched(b *testing.B) {
	ctx := context.Background()
	c := newBenchCatalog(b)
	dataDir := b.TempDir()
	repo, rec := benchReconciler(b, gitsource.Options{URL: "file://" + c.remote, DataDir: dataDir})
	var compacting time.Duration
	compact := func() {
		start := time.Now()
		if err := repo.Compact(ctx); err != nil {
			b.Fatal(err)
		}
		compacting += time.Since(start)
	}
	k := 0
	for _, fetched := range []int{10, 100} {
		for ; k < fetched; k++ {
			c.edit(b, k)
			reconcileIncremental(b, rec)
			compact()
		}
		b.Run(fmt.Sprintf("After%d", fetched), func(b *testing.B) {
			var reconciling time.Duration
			compacting = 0
			for range b.N {
				b.StopTimer()
				c.edit(b, k)
				k++
				if err := repo.Fetch(ctx); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				reconciling += reconcileIncremental(b, rec).Duration
				b.StopTimer()
				compact()
			}
			packs, err := filepath.Glob(filepath.Join(dataDir, "git", "*", "objects", "pack", "pack-*.pack"))
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(len(packs)), "packs")
			b.ReportMetric(float64(reconciling.Microseconds())/1000/float64(b.N), "reconcile-ms/op")
			b.ReportMetric(float64(compacting.Microseconds())/1000/float64(b.N), "compact-ms/op")
		})
	}
}
