package gitsource

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
)

// t0 is the time of the first fixture commit; each later one is an hour on.
var t0 = time.Date(2024, 5, 1, 9, 0, 0, 0, time.UTC)

// fixture is a bare repository in a temp dir that tests commit to.
type fixture struct {
	tb   testing.TB
	path string
	n    int
}

func newFixture(tb testing.TB) *fixture {
	tb.Helper()
	return &fixture{tb: tb, path: filepath.Join(tb.TempDir(), "origin.git")}
}

// url is the fixture as a file:// remote.
func (f *fixture) url() string {
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(f.path)}).String()
}

// when returns the time of the i-th commit (1-based).
func when(i int) time.Time { return t0.Add(time.Duration(i-1) * time.Hour) }

// commit commits files (string content; "" is an empty file) and deletes
// the paths in del on branch main.
func (f *fixture) commit(files map[string]string, del ...string) string {
	f.tb.Helper()
	return f.commitAs("Ada <ada@example.com>", files, del...)
}

func (f *fixture) commitAs(author string, files map[string]string, del ...string) string {
	f.tb.Helper()
	m := make(map[string][]byte, len(files)+len(del))
	for p, c := range files {
		m[p] = []byte(c)
	}
	for _, p := range del {
		m[p] = nil
	}
	f.n++
	h, err := CommitFiles(context.Background(), f.path, "main", m, fmt.Sprintf("commit %d", f.n), author, when(f.n))
	if err != nil {
		f.tb.Fatalf("CommitFiles: %v", err)
	}
	return h
}

// link commits a symlink at p pointing at target.
func (f *fixture) link(p, target string) string {
	f.tb.Helper()
	f.n++
	h, err := commitEntries(context.Background(), f.path, "main",
		map[string]*fileEntry{p: {mode: filemode.Symlink, data: []byte(target)}},
		"link", "Ada <ada@example.com>", when(f.n))
	if err != nil {
		f.tb.Fatalf("commit link: %v", err)
	}
	return h
}

// reset points branch main at hash, as a force-push does.
func (f *fixture) reset(hash string) {
	f.tb.Helper()
	repo, err := git.PlainOpen(f.path)
	if err != nil {
		f.tb.Fatal(err)
	}
	ref := plumbing.NewHashReference(plumbing.NewBranchReferenceName("main"), plumbing.NewHash(hash))
	if err := repo.Storer.SetReference(ref); err != nil {
		f.tb.Fatal(err)
	}
}

func open(tb testing.TB, opts Options) *Repo {
	tb.Helper()
	r, err := Open(context.Background(), opts)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() {
		if err := r.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return r
}

func head(tb testing.TB, r *Repo) string {
	tb.Helper()
	c, err := r.Head(context.Background())
	if err != nil {
		tb.Fatalf("Head: %v", err)
	}
	return c.Hash
}
