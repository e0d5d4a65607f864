package gitsource

import (
	"context"
	"fmt"
	"io/fs"
	"testing"
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
