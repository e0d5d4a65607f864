package gitsource

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5"
	"github.com/google/go-cmp/cmp"
)

func TestOpen_Local(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	c1 := f.commit(map[string]string{"catalog/entities/a.yaml": "a"})
	c2 := f.commitAs("Grace Hopper <grace@example.com>", map[string]string{"catalog/entities/a.yaml": "a2"})

	r := open(t, Options{URL: f.path, Dir: "catalog"})
	if r.Remote() {
		t.Error("Remote() = true for a local path")
	}
	got, err := r.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := Commit{Hash: c2, Parents: []string{c1}, Author: "Grace Hopper", AuthorEmail: "grace@example.com",
		When: when(2), Message: "commit 2\n"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Head (-want +got):\n%s", diff)
	}

	// A commit made after Open is seen without reopening.
	c3 := f.commit(map[string]string{"catalog/entities/b.yaml": "b"})
	if err := r.Fetch(ctx); err != nil {
		t.Fatalf("Fetch on a local repository: %v", err)
	}
	if h := head(t, r); h != c3 {
		t.Errorf("Head after a new commit = %s, want %s", h, c3)
	}
}

func TestOpen_LocalIgnoresWorkTree(t *testing.T) {
	dir := t.TempDir()
	if _, err := git.PlainInit(dir, false); err != nil {
		t.Fatal(err)
	}
	f := &fixture{tb: t, path: dir}
	c := f.commit(map[string]string{"entities/a.yaml": "committed"})
	// Uncommitted edits in the work tree are not part of any commit.
	if err := os.MkdirAll(filepath.Join(dir, "entities"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{"entities/a.yaml": "edited", "entities/new.yaml": "new"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	r := open(t, Options{URL: dir})
	fsys, err := r.FS(context.Background(), head(t, r))
	if err != nil {
		t.Fatal(err)
	}
	if fsys.Commit() != c {
		t.Errorf("Commit() = %s, want %s", fsys.Commit(), c)
	}
	b, err := fsys.ReadFile("entities/a.yaml")
	if err != nil || string(b) != "committed" {
		t.Errorf("ReadFile = %q, %v; want the committed content", b, err)
	}
	if _, err := fsys.Stat("entities/new.yaml"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Stat of an uncommitted file: err = %v, want not exist", err)
	}
}

func TestOpen_Remote(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	c1 := f.commit(map[string]string{"entities/a.yaml": "a"})
	data := t.TempDir()
	opts := Options{URL: f.url(), DataDir: data}

	r, err := Open(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Remote() || head(t, r) != c1 {
		t.Fatalf("first Open: Remote() = %v, head = %s; want a remote at %s", r.Remote(), head(t, r), c1)
	}
	// The clone is bare: a Git directory, no checked-out files.
	clones, _ := filepath.Glob(filepath.Join(data, "git", "*.git"))
	if len(clones) != 1 {
		t.Fatalf("clones in data dir = %v, want one", clones)
	}
	if _, err := os.Stat(filepath.Join(clones[0], "HEAD")); err != nil {
		t.Errorf("clone is not a bare repository: %v", err)
	}
	if _, err := os.Stat(filepath.Join(clones[0], "entities")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("clone has a checkout: %v", err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}

	// Reopening uses the existing clone and does not touch the network: it
	// still sees c1 although the remote has moved on, until Fetch.
	c2 := f.commit(map[string]string{"entities/b.yaml": "b"})
	r = open(t, opts)
	if h := head(t, r); h != c1 {
		t.Errorf("head after reopen = %s, want %s (the clone, not a new one)", h, c1)
	}
	if err := r.Fetch(ctx); err != nil {
		t.Fatal(err)
	}
	if h := head(t, r); h != c2 {
		t.Errorf("head after fetch = %s, want %s", h, c2)
	}
	if err := r.Fetch(ctx); err != nil {
		t.Errorf("Fetch when up to date: %v", err)
	}
}

func TestRepo_FetchUnreachable(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	c1 := f.commit(map[string]string{"entities/a.yaml": "a"})
	r := open(t, Options{URL: f.url(), DataDir: t.TempDir()})

	moved := f.path + ".moved"
	if err := os.Rename(f.path, moved); err != nil {
		t.Fatal(err)
	}
	err := r.Fetch(ctx)
	if !errors.Is(err, ErrUnreachable) {
		t.Fatalf("Fetch with the remote gone: err = %v, want ErrUnreachable", err)
	}
	if h := head(t, r); h != c1 {
		t.Errorf("head with the remote gone = %s, want the last fetched %s", h, c1)
	}

	if err := os.Rename(moved, f.path); err != nil {
		t.Fatal(err)
	}
	c2 := f.commit(map[string]string{"entities/b.yaml": "b"})
	if err := r.Fetch(ctx); err != nil {
		t.Fatalf("Fetch with the remote back: %v", err)
	}
	if h := head(t, r); h != c2 {
		t.Errorf("head with the remote back = %s, want %s", h, c2)
	}
}

func TestOpen_Errors(t *testing.T) {
	f := newFixture(t)
	f.commit(map[string]string{"entities/a.yaml": "a"})
	missing := filepath.Join(t.TempDir(), "missing.git")

	tests := []struct {
		name string
		opts Options
		want error
	}{
		{"NoURL", Options{}, ErrConfig},
		{"BadBranch", Options{URL: f.path, Branch: "a..b"}, ErrConfig},
		{"DirOutside", Options{URL: f.path, Dir: "../x"}, ErrConfig},
		{"RemoteWithoutDataDir", Options{URL: f.url()}, ErrConfig},
		{"LocalNotRepository", Options{URL: t.TempDir()}, ErrNotRepository},
		{"LocalMissing", Options{URL: missing}, ErrNotRepository},
		{"RemoteMissing", Options{URL: "file://" + missing, DataDir: t.TempDir()}, ErrUnreachable},
		{"RemoteBranchMissing", Options{URL: f.url(), Branch: "nope", DataDir: t.TempDir()}, ErrBranchNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Open(context.Background(), tt.opts)
			if err == nil {
				_ = r.Close()
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("Open: err = %v, want %v", err, tt.want)
			}
			t.Log(err)
		})
	}
}

func TestRepo_HeadBranchMissing(t *testing.T) {
	f := newFixture(t)
	f.commit(map[string]string{"entities/a.yaml": "a"})
	r := open(t, Options{URL: f.path, Branch: "release"})
	if _, err := r.Head(context.Background()); !errors.Is(err, ErrBranchNotFound) {
		t.Errorf("Head of a missing branch: err = %v, want ErrBranchNotFound", err)
	}
}

func TestOpen_HTTPAuth(t *testing.T) {
	var user, pass string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok {
			w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			http.Error(w, "auth", http.StatusUnauthorized)
			return
		}
		user, pass = u, p
		http.Error(w, "no such repository", http.StatusNotFound)
	}))
	defer srv.Close()

	_, err := Open(context.Background(), Options{URL: srv.URL + "/org/repo.git", DataDir: t.TempDir()})
	if !errors.Is(err, ErrAuth) {
		t.Errorf("without a token: err = %v, want ErrAuth", err)
	}
	t.Log(err)
	_, err = Open(context.Background(), Options{URL: srv.URL + "/org/repo.git", DataDir: t.TempDir(), Token: "s3cret"})
	if !errors.Is(err, ErrUnreachable) {
		t.Errorf("with a token, repository missing: err = %v, want ErrUnreachable", err)
	}
	if user != tokenUser || pass != "s3cret" {
		t.Errorf("basic auth = %q:%q, want %s:s3cret", user, pass, tokenUser)
	}
}

func TestIsRemote(t *testing.T) {
	local := t.TempDir()
	tests := []struct {
		url  string
		want bool
	}{
		{"https://github.com/org/repo.git", true},
		{"ssh://git@github.com/org/repo.git", true},
		{"git@github.com:org/repo.git", true},
		{"file:///srv/repo.git", true},
		{local, false},
		{".", false},
		{"relative/path", false},
	}
	for _, tt := range tests {
		if got := isRemote(tt.url); got != tt.want {
			t.Errorf("isRemote(%q) = %v, want %v", tt.url, got, tt.want)
		}
	}
	a, b := cloneName("https://github.com/org/repo.git"), cloneName("https://github.com/org/repo")
	if a == b || filepath.Base(a) != a {
		t.Errorf("cloneName: %q and %q, want distinct plain names", a, b)
	}
	if got := cloneName("https://user:secret@example.com/r.git"); strings.Contains(got, "secret") {
		t.Errorf("cloneName keeps the password: %q", got)
	}
}

// TestOpen_RemoteInUse: a clone is held by the Repo that opened it; a second
// Open of the same remote in the same data directory (another replica
// started with the same --data-dir) fails with ErrCloneInUse and leaves the
// first one working, another data directory is fine, and Close releases it.
func TestOpen_RemoteInUse(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	c1 := f.commit(map[string]string{"entities/a.yaml": "a"})
	opts := Options{URL: f.url(), DataDir: t.TempDir()}
	first := open(t, opts)

	if r, err := Open(ctx, opts); !errors.Is(err, ErrCloneInUse) {
		if r != nil {
			r.Close()
		}
		t.Fatalf("second Open of the same clone: %v, want ErrCloneInUse", err)
	} else if !strings.Contains(err.Error(), "--data-dir") {
		t.Errorf("error %q does not say what to do", err)
	}
	if err := first.Fetch(ctx); err != nil || head(t, first) != c1 {
		t.Fatalf("first Repo after a refused second Open: fetch %v, head %s", err, head(t, first))
	}
	other := open(t, Options{URL: f.url(), DataDir: t.TempDir()})
	if head(t, other) != c1 {
		t.Errorf("another data directory: head %s, want %s", head(t, other), c1)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	again := open(t, opts)
	if head(t, again) != c1 {
		t.Errorf("reopened after Close: head %s, want %s", head(t, again), c1)
	}
}
