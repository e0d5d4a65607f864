package gitsource

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"sync"
	"testing"

	"github.com/go-git/go-billy/v5/osfs"
	"github.com/google/go-cmp/cmp"
)

// readAll reads every file of fsys from workers goroutines, through Open
// (as the catalog loader does) or ReadFile, checking Stat's size against
// the content read.
func readAll(tb testing.TB, fsys fs.FS, workers int, useOpen bool) map[string]string {
	tb.Helper()
	var paths []string
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			paths = append(paths, p)
		}
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	out := make(map[string]string, len(paths))
	var mu sync.Mutex
	var wg sync.WaitGroup
	next := make(chan string)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range next {
				var b []byte
				var err error
				if useOpen {
					b, err = readOpen(fsys, p)
				} else {
					b, err = fs.ReadFile(fsys, p)
				}
				mu.Lock()
				if err != nil {
					tb.Errorf("read %s: %v", p, err)
				}
				out[p] = string(b)
				mu.Unlock()
			}
		}()
	}
	for _, p := range paths {
		next <- p
	}
	close(next)
	wg.Wait()
	return out
}

func readOpen(fsys fs.FS, p string) ([]byte, error) {
	fh, err := fsys.Open(p)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(fh)
	if err == nil && int64(len(b)) != st.Size() {
		err = fmt.Errorf("Stat says %d bytes, read %d", st.Size(), len(b))
	}
	return b, err
}

// TestRepo_ParallelBlobs reads a commit's files through the pool of object
// stores from many goroutines and through the Repo's one store serially:
// both give the committed content, small blobs and one larger than
// largeBlob (read lazily) alike.
func TestRepo_ParallelBlobs(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	want := map[string]string{}
	for i := range 500 {
		want[fmt.Sprintf("entities/bp%d/e%d.yaml", i%5, i)] = fmt.Sprintf("identifier: e%d\ntitle: E %d\n", i, i)
	}
	want["entities/bp0/empty.yaml"] = ""
	want["entities/bp0/large.yaml"] = strings.Repeat("# padding\n", largeBlob/10+100)
	c := f.commit(want)

	parallel := open(t, Options{URL: f.path})
	serial := open(t, Options{URL: f.path})
	// A pool over an empty directory misses every blob: each read goes
	// through the main store, under the lock.
	serial.blobs = newBlobPool(osfs.New(t.TempDir()))

	for _, tc := range []struct {
		name    string
		r       *Repo
		workers int
		useOpen bool
	}{
		{"PoolOpen", parallel, 8, true},
		{"PoolReadFile", parallel, 8, false},
		{"SerialOpen", serial, 1, true},
		{"SerialReadFile", serial, 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fsys, err := tc.r.FS(ctx, c)
			if err != nil {
				t.Fatal(err)
			}
			got := readAll(t, fsys, tc.workers, tc.useOpen)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("content (-want +got):\n%s", diff)
			}
			st, err := fs.Stat(fsys, "entities/bp0/large.yaml")
			if err != nil || st.Size() != int64(len(want["entities/bp0/large.yaml"])) {
				t.Errorf("Stat(large) = %v, %v; want size %d", st, err, len(want["entities/bp0/large.yaml"]))
			}
		})
	}
}

// TestRepo_ParallelBlobsNewPack reads blobs of a commit written after the
// pool's stores listed the packs: the Repo lists them again, and the reads
// succeed instead of failing.
func TestRepo_ParallelBlobsNewPack(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	c1 := f.commit(map[string]string{"a.yaml": "identifier: a\n", "b.yaml": "identifier: b\n"})
	r := open(t, Options{URL: f.path})
	fs1, err := r.FS(ctx, c1)
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, fs1, 2, true) // opens the pool's stores

	c2 := f.commit(map[string]string{"c.yaml": "identifier: c\n"})
	fs2, err := r.FS(ctx, c2)
	if err != nil {
		t.Fatal(err)
	}
	got := readAll(t, fs2, 2, true)
	want := map[string]string{"a.yaml": "identifier: a\n", "b.yaml": "identifier: b\n", "c.yaml": "identifier: c\n"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("content (-want +got):\n%s", diff)
	}
}

// TestRepo_BlobsAfterClose: reads after Close fail cleanly.
func TestRepo_BlobsAfterClose(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	c := f.commit(map[string]string{"a.yaml": "identifier: a\n"})
	r, err := Open(ctx, Options{URL: f.path})
	if err != nil {
		t.Fatal(err)
	}
	fsys, err := r.FS(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := fs.ReadFile(fsys, "a.yaml"); err != nil || !bytes.Equal(b, []byte("identifier: a\n")) {
		t.Fatalf("ReadFile = %q, %v", b, err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := fs.ReadFile(fsys, "a.yaml"); !errors.Is(err, errClosed) {
		t.Errorf("ReadFile after Close: err = %v, want errClosed", err)
	}
}
