package gitsource

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// benchRepo commits a tree of n entity files in 10 blueprint folders and
// returns the fixture and the commit.
func benchRepo(b *testing.B, n int) (*fixture, string) {
	b.Helper()
	f := newFixture(b)
	files := make(map[string]string, n)
	for i := range n {
		files[entityPath(i)] = fmt.Sprintf("identifier: svc-%d\ntitle: Service %d\nblueprint: service\nproperties:\n  tier: %d\n  owner: team-%d\n", i, i, i%3, i%50)
	}
	return f, f.commit(files)
}

func entityPath(i int) string {
	return fmt.Sprintf("catalog/entities/bp%d/svc-%05d.yaml", i%10, i)
}

// BenchmarkFSReadAll walks a 10k-file commit and reads every file: a cold
// repository (opened afresh, no tree cached) and a warm one.
func BenchmarkFSReadAll(b *testing.B) {
	ctx := context.Background()
	f, c := benchRepo(b, 10_000)
	readAll := func(b *testing.B, r *Repo) {
		fsys, err := r.FS(ctx, c)
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		err = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			if _, err := fs.ReadFile(fsys, p); err != nil {
				return err
			}
			n++
			return nil
		})
		if err != nil || n != 10_000 {
			b.Fatalf("read %d files: %v", n, err)
		}
	}
	b.Run("Cold", func(b *testing.B) {
		for b.Loop() {
			r, err := Open(ctx, Options{URL: f.path, Dir: "catalog"})
			if err != nil {
				b.Fatal(err)
			}
			readAll(b, r)
			if err := r.Close(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Warm", func(b *testing.B) {
		r := open(b, Options{URL: f.path, Dir: "catalog"})
		readAll(b, r)
		for b.Loop() {
			readAll(b, r)
		}
	})
}

// BenchmarkChanges diffs two commits of a 10k-file tree that differ in 10
// files (8 modified, 1 added, 1 deleted): on a freshly opened repository
// (Cold, includes Open) and on one whose tree cache holds both commits.
func BenchmarkChanges(b *testing.B) {
	ctx := context.Background()
	f, c1 := benchRepo(b, 10_000)
	edit := map[string]string{entityPath(10_000): "identifier: new\n"}
	for i := range 8 {
		edit[entityPath(i*1111)] = fmt.Sprintf("identifier: svc-%d\ntitle: Edited\n", i*1111)
	}
	c2 := f.commit(edit, entityPath(9_999))
	changes := func(b *testing.B, r *Repo) {
		changes, err := r.Changes(ctx, c1, c2)
		if err != nil || len(changes) != 10 {
			b.Fatalf("Changes = %d changes, %v; want 10", len(changes), err)
		}
	}
	b.Run("Cold", func(b *testing.B) {
		for b.Loop() {
			r, err := Open(ctx, Options{URL: f.path, Dir: "catalog"})
			if err != nil {
				b.Fatal(err)
			}
			changes(b, r)
			if err := r.Close(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Warm", func(b *testing.B) {
		r := open(b, Options{URL: f.path, Dir: "catalog"})
		changes(b, r)
		for b.Loop() {
			changes(b, r)
		}
	})
}

// BenchmarkFileHistory computes file history for 10k files over 20 commits.
func BenchmarkFileHistory(b *testing.B) {
	ctx := context.Background()
	f, c := benchRepo(b, 10_000)
	for i := range 19 {
		c = f.commit(map[string]string{entityPath(i * 500): fmt.Sprintf("identifier: svc\ntitle: v%d\n", i)})
	}
	for b.Loop() {
		r, err := Open(ctx, Options{URL: f.path, Dir: "catalog"})
		if err != nil {
			b.Fatal(err)
		}
		m, err := r.FileHistory(ctx, c)
		if err != nil || len(m) != 10_000 {
			b.Fatalf("FileHistory = %d files, %v", len(m), err)
		}
		if err := r.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCommitFiles writes a 10k-file commit into a new repository.
func BenchmarkCommitFiles(b *testing.B) {
	for b.Loop() {
		benchRepo(b, 10_000)
	}
}

// benchEntities is the catalog size of the fetch benchmark:
// BERTH_BENCH_ENTITIES, default 10k.
func benchEntities(b *testing.B) int {
	b.Helper()
	n := 10_000
	if s := os.Getenv("BERTH_BENCH_ENTITIES"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil || n < 10 {
			b.Fatalf("BERTH_BENCH_ENTITIES=%q: want a number of at least 10", s)
		}
	}
	return n
}

// BenchmarkFetchedCommit measures what a reconcile reads of a new commit
// changing 10 files (Head, IsAncestor, Changes, and each changed file
// stated and read) on the clone of a remote, once 10 and once 100 such
// commits have been fetched one by one, each read the same way and
// followed by Compact as the reconciler does (AfterN; each run of it adds
// its commits, so the next starts later). Fetch and Compact are not in
// ns/op; their mean times are the fetch-ms/op and compact-ms/op metrics,
// and packs is the clone's pack count at the end. The catalog has
// BERTH_BENCH_ENTITIES files, 10k by default.
func BenchmarkFetchedCommit(b *testing.B) {
	ctx := context.Background()
	n := benchEntities(b)
	f, prev := benchRepo(b, n)
	r := open(b, Options{URL: f.url(), Dir: "catalog", DataDir: b.TempDir()})
	k := 0
	var fetching, compacting time.Duration
	step := func(b *testing.B, timed bool) {
		edit := map[string]string{}
		for j := range 10 {
			i := (k*10 + j) * 7919 % n
			edit[entityPath(i)] = fmt.Sprintf("identifier: svc-%d\ntitle: Edit %d\n", i, k)
		}
		k++
		f.commit(edit)
		start := time.Now()
		if err := r.Fetch(ctx); err != nil {
			b.Fatal(err)
		}
		fetching += time.Since(start)
		if timed {
			b.StartTimer()
		}
		prev = readCommit(b, r, prev)
		if timed {
			b.StopTimer()
		}
		start = time.Now()
		if err := r.Compact(ctx); err != nil {
			b.Fatal(err)
		}
		compacting += time.Since(start)
	}
	for _, fetched := range []int{10, 100} {
		for k < fetched {
			step(b, false)
		}
		b.Run(fmt.Sprintf("After%d", fetched), func(b *testing.B) {
			fetching, compacting = 0, 0
			b.StopTimer()
			for range b.N {
				step(b, true)
			}
			b.ReportMetric(float64(packCount(b, r)), "packs")
			b.ReportMetric(float64(fetching.Microseconds())/1000/float64(b.N), "fetch-ms/op")
			b.ReportMetric(float64(compacting.Microseconds())/1000/float64(b.N), "compact-ms/op")
		})
	}
}

// readCommit reads the branch head the way an incremental reconcile does,
// from the previous head prev, and returns the head.
func readCommit(tb testing.TB, r *Repo, prev string) string {
	tb.Helper()
	ctx := context.Background()
	h, err := r.Head(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	fsys, err := r.FS(ctx, h.Hash)
	if err != nil {
		tb.Fatal(err)
	}
	if ok, err := r.IsAncestor(ctx, prev, h.Hash); err != nil || !ok {
		tb.Fatalf("IsAncestor(%s, %s) = %v, %v", prev, h.Hash, ok, err)
	}
	changes, err := r.Changes(ctx, prev, h.Hash)
	if err != nil || len(changes) == 0 {
		tb.Fatalf("Changes = %v, %v", changes, err)
	}
	for _, c := range changes {
		if c.Op == Deleted {
			continue
		}
		if _, err := fs.Stat(fsys, c.Path); err != nil {
			tb.Fatal(err)
		}
		if _, err := fs.ReadFile(fsys, c.Path); err != nil {
			tb.Fatal(err)
		}
	}
	return h.Hash
}

// packCount returns the number of packs in r's object store.
func packCount(tb testing.TB, r *Repo) int {
	tb.Helper()
	packs, err := filepath.Glob(filepath.Join(r.gitDir, "objects", "pack", "pack-*.pack"))
	if err != nil {
		tb.Fatal(err)
	}
	return len(packs)
}
