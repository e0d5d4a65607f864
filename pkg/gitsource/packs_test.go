package gitsource

import (
	"context"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/storage/filesystem"
	gocmp "github.com/google/go-cmp/cmp"
)

func TestRollUp(t *testing.T) {
	for _, tc := range []struct {
		name    string
		weights []int64
		want    int
	}{
		{"None", nil, 0},
		{"One", []int64{100}, 0},
		{"HeaviestStays", []int64{5, 100}, 0},
		{"EqualSmallOnes", []int64{5, 5, 5, 5, 100_000}, 4},
		{"Progression", []int64{1, 2, 4, 8, 100_000}, 0},
		// 3 < 2×2 breaks the progression: the packs up to it merge (10
		// objects), and 16 < 2×10 joins them; 64 ≥ 2×26 stays.
		{"BrokenProgression", []int64{1, 2, 3, 4, 16, 64, 100_000}, 5},
		{"NewPacksBesideAMergedOne", []int64{5, 5, 80, 100_000}, 2},
		{"NewPacksCatchUp", []int64{5, 5, 5, 5, 5, 5, 5, 5, 40, 100_000}, 9},
		// Once the fetched objects outweigh the first clone's pack, it
		// is merged too, once.
		{"MergedOutgrowsClone", []int64{5, 60_000, 100_000, 150_000}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := rollUp(tc.weights); got != tc.want {
				t.Errorf("rollUp(%v) = %d, want %d", tc.weights, got, tc.want)
			}
		})
	}
}

// history is what the commits made to a fixture hold.
type history struct {
	commits []string
	// files are the files of each commit, by commit hash.
	files map[string]map[string]string
	// changes[k] are the changes from commits[k-1] to commits[k],
	// relative to the catalog directory.
	changes [][]Change
}

// newHistory commits a catalog of 20 files to f.
func newHistory(f *fixture) *history {
	initial := map[string]string{}
	for i := range 20 {
		initial[fmt.Sprintf("catalog/entities/bp%d/e%02d.yaml", i%4, i)] = fmt.Sprintf("identifier: e%02d\n", i)
	}
	c := f.commit(initial)
	return &history{commits: []string{c}, files: map[string]map[string]string{c: initial}, changes: [][]Change{nil}}
}

// commitEdit makes the k-th commit (from 1): it rewrites two files, adds
// one and deletes the one the commit before added, and returns the
// changes.
func (h *history) commitEdit(f *fixture, k int) []Change {
	prev := h.files[h.commits[len(h.commits)-1]]
	next := maps.Clone(prev)
	edit := map[string]string{}
	for _, i := range []int{k % 20, (k*7 + 3) % 20} {
		p := fmt.Sprintf("catalog/entities/bp%d/e%02d.yaml", i%4, i)
		edit[p] = fmt.Sprintf("identifier: e%02d\ntitle: edit %d\n", i, k)
	}
	added := fmt.Sprintf("catalog/entities/new/n%03d.yaml", k)
	edit[added] = fmt.Sprintf("identifier: n%03d\n", k)
	var del []string
	if k > 1 {
		del = append(del, fmt.Sprintf("catalog/entities/new/n%03d.yaml", k-1))
	}
	maps.Copy(next, edit)
	for _, p := range del {
		delete(next, p)
	}
	c := f.commit(edit, del...)
	h.files[c] = next
	h.commits = append(h.commits, c)

	var want []Change
	for p := range edit {
		op := Modified
		if _, ok := prev[p]; !ok {
			op = Added
		}
		want = append(want, Change{Path: p[len("catalog/"):], Op: op})
	}
	for _, p := range del {
		want = append(want, Change{Path: p[len("catalog/"):], Op: Deleted})
	}
	slices.SortFunc(want, func(a, b Change) int { return strings.Compare(a.Path, b.Path) })
	h.changes = append(h.changes, want)
	return want
}

// check reads every commit of h through r: its files, and its changes
// from the commit before.
func (h *history) check(t *testing.T, r *Repo) {
	t.Helper()
	ctx := context.Background()
	for k, c := range h.commits {
		fsys, err := r.FS(ctx, c)
		if err != nil {
			t.Fatalf("commit %d: %v", k, err)
		}
		if diff := gocmp.Diff(h.catalogFiles(c), readAll(t, fsys, 2, k%2 == 0)); diff != "" {
			t.Fatalf("commit %d: files (-want +got):\n%s", k, diff)
		}
		if k == 0 {
			continue
		}
		got, err := r.Changes(ctx, h.commits[k-1], c)
		if err != nil {
			t.Fatalf("commit %d: %v", k, err)
		}
		if diff := gocmp.Diff(h.changes[k], got); diff != "" {
			t.Fatalf("commit %d: Changes (-want +got):\n%s", k, diff)
		}
	}
}

// readFiles reads every file of fsys through Open, on one goroutine.
func readFiles(fsys fs.FS) (map[string]string, error) {
	out := map[string]string{}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := readOpen(fsys, p)
		out[p] = string(b)
		return err
	})
	return out, err
}

// catalogFiles returns the files of commit c under catalog/, as FS sees
// them (relative to the catalog directory).
func (h *history) catalogFiles(c string) map[string]string {
	out := map[string]string{}
	for p, content := range h.files[c] {
		out[p[len("catalog/"):]] = content
	}
	return out
}

// TestRepo_CompactManyFetches fetches 50 commits one by one into a clone,
// reading each as a reconcile does and compacting after each, while
// another goroutine reads earlier commits through the blob pool: the pack
// count stays bounded, Changes is right for every commit, and every file
// of every commit reads back, in this Repo and in one opened afresh.
func TestRepo_CompactManyFetches(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	h := newHistory(f)
	dataDir := t.TempDir()
	r := open(t, Options{URL: f.url(), Dir: "catalog", DataDir: dataDir})

	// The reader checks earlier commits while packs are merged and removed.
	var mu sync.Mutex
	readable := []string{h.commits[0]}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			mu.Lock()
			c := readable[i%len(readable)]
			want := h.catalogFiles(c)
			mu.Unlock()
			fsys, err := r.FS(ctx, c)
			if err != nil {
				t.Errorf("FS(%s): %v", c, err)
				return
			}
			got, err := readFiles(fsys)
			if err != nil {
				t.Errorf("read commit %s during compaction: %v", c, err)
				return
			}
			if diff := gocmp.Diff(want, got); diff != "" {
				t.Errorf("commit %s read during compaction (-want +got):\n%s", c, diff)
				return
			}
			time.Sleep(time.Millisecond) // leave the fetches most of the CPU
		}
	}()
	stopReader := sync.OnceFunc(func() { close(stop); wg.Wait() })
	defer stopReader() // also when the test fails below

	// Three merges, the later two taking in the pack the one before wrote.
	const commits = 50
	compacted := 0
	for k := 1; k <= commits; k++ {
		mu.Lock()
		want := h.commitEdit(f, k)
		mu.Unlock()
		if err := r.Fetch(ctx); err != nil {
			t.Fatal(err)
		}
		prev, c := h.commits[k-1], h.commits[k]
		got, err := r.Changes(ctx, prev, c)
		if err != nil {
			t.Fatal(err)
		}
		if diff := gocmp.Diff(want, got); diff != "" {
			t.Fatalf("commit %d: Changes (-want +got):\n%s", k, diff)
		}
		before := packCount(t, r)
		if err := r.Compact(ctx); err != nil {
			t.Fatalf("commit %d: Compact: %v", k, err)
		}
		after := packCount(t, r)
		if after > maxPacks {
			t.Fatalf("commit %d: %d packs after Compact, want at most %d", k, after, maxPacks)
		}
		if after < before {
			compacted++
			t.Logf("commit %d: %d packs -> %d", k, before, after)
		}
		mu.Lock()
		readable = append(readable, c)
		mu.Unlock()
	}
	stopReader()
	if compacted < 2 {
		t.Fatalf("Compact merged packs %d times in %d fetches, want a merged pack merged again", compacted, commits)
	}
	if n, _ := filepath.Glob(filepath.Join(r.gitDir, "objects", "pack", "tmp_*")); len(n) > 0 {
		t.Errorf("temporary files left in the clone: %v", n)
	}

	t.Run("SameRepo", func(t *testing.T) { h.check(t, r) })
	t.Run("Reopened", func(t *testing.T) {
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
		h.check(t, open(t, Options{URL: f.url(), Dir: "catalog", DataDir: dataDir}))
	})
}

// TestRepo_CompactInterrupted leaves a clone as a crash during Compact
// would, at each point it can stop, and checks that a Repo opened on it
// reads every commit and compacts it again.
func TestRepo_CompactInterrupted(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		// crash leaves the clone as an interrupted Compact would, given
		// the packs it was merging.
		crash func(t *testing.T, r *Repo, st *filesystem.Storage, merge []pack)
		// remerge merges the same packs again after reopening, as the
		// next Compact may: the new pack has the name of the one cut
		// short.
		remerge bool
	}{
		{"BeforeRemoving", func(t *testing.T, r *Repo, st *filesystem.Storage, merge []pack) {
			// The merged pack is complete; the packs it replaces are all
			// still there, each object now in two packs.
			if _, err := r.mergePacks(st, merge); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"WhileRemoving", func(t *testing.T, r *Repo, st *filesystem.Storage, merge []pack) {
			if _, err := r.mergePacks(st, merge); err != nil {
				t.Fatal(err)
			}
			// One replaced pack removed, the next one's index left alone.
			if err := st.DeleteOldObjectPackAndIndex(merge[0].hash, time.Time{}); err != nil {
				t.Fatal(err)
			}
			if err := os.Remove(filepath.Join(r.gitDir, filepath.FromSlash(packPath(merge[1].hash, "pack")))); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"WhileWriting", func(t *testing.T, r *Repo, st *filesystem.Storage, merge []pack) {
			// go-git writes the index, then moves the pack into place: a
			// crash in between leaves a temporary pack and an index,
			// maybe cut short, without its pack.
			h, err := r.mergePacks(st, merge)
			if err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(r.gitDir, "objects", "pack")
			idx := filepath.Join(dir, "pack-"+h.String()+".idx")
			if err := os.Rename(filepath.Join(dir, "pack-"+h.String()+".pack"), filepath.Join(dir, "tmp_pack_123456")); err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(idx, 100); err != nil {
				t.Fatal(err)
			}
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			h := newHistory(f)
			dataDir := t.TempDir()
			r, err := Open(ctx, Options{URL: f.url(), Dir: "catalog", DataDir: dataDir})
			if err != nil {
				t.Fatal(err)
			}
			for k := 1; k <= 5; k++ {
				h.commitEdit(f, k)
				if err := r.Fetch(ctx); err != nil {
					t.Fatal(err)
				}
			}
			st := r.store
			hashes, err := st.ObjectPacks()
			if err != nil {
				t.Fatal(err)
			}
			merge, err := packsBySize(st, hashes)
			if err != nil {
				t.Fatal(err)
			}
			// The fetched packs, not the first clone's.
			merge = merge[:len(merge)-1]
			if len(merge) != 5 {
				t.Fatalf("%d fetched packs, want 5", len(merge))
			}
			tc.crash(t, r, st, merge)
			if err := r.Close(); err != nil {
				t.Fatal(err)
			}

			r = open(t, Options{URL: f.url(), Dir: "catalog", DataDir: dataDir})
			h.check(t, r)
			if tc.remerge {
				if _, err := r.mergePacks(r.store, merge); err != nil {
					t.Fatal(err)
				}
				if err := r.forgetPacks(); err != nil { // read the new pack's index
					t.Fatal(err)
				}
				h.check(t, r)
			}
			// Enough fetches for Compact to act on what the crash left.
			for k := 6; k <= maxPacks+2; k++ {
				h.commitEdit(f, k)
				if err := r.Fetch(ctx); err != nil {
					t.Fatal(err)
				}
				if err := r.Compact(ctx); err != nil {
					t.Fatalf("Compact after %d fetches: %v", k, err)
				}
			}
			h.check(t, r)
			if n := packCount(t, r); n > maxPacks {
				t.Errorf("%d packs, want at most %d", n, maxPacks)
			}
		})
	}
}
