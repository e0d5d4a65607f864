package gitsource

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// TreeFS is a commit's tree, restricted to Options.Dir, as a read-only file
// system read straight from the object store. Directories are decoded on
// first use and cached by tree hash (shared by every TreeFS of the Repo, so
// consecutive commits reuse unchanged subtrees); blobs are read only when a
// file is opened.
//
// Symlinks appear in ReadDir as entries of type fs.ModeSymlink; ReadLink
// and Lstat report them, while Open, Stat, ReadFile and ReadDir follow them
// as long as they stay inside the tree (a link leaving it is an error).
// Submodules appear as fs.ModeIrregular entries that cannot be opened.
//
// TreeFS implements fs.ReadDirFS, fs.ReadFileFS, fs.StatFS and
// fs.ReadLinkFS, and is safe for concurrent use.
type TreeFS struct {
	r      *Repo
	commit string
	when   time.Time
	root   plumbing.Hash
}

var (
	_ fs.ReadDirFS  = (*TreeFS)(nil)
	_ fs.ReadFileFS = (*TreeFS)(nil)
	_ fs.StatFS     = (*TreeFS)(nil)
	_ fs.ReadLinkFS = (*TreeFS)(nil)
)

// maxSymlinkHops bounds symlink chains, as the kernel's ELOOP does.
const maxSymlinkHops = 40

// maxLinkTarget bounds how much of a symlink blob is read as its target.
const maxLinkTarget = 4096

// maxCachedEntries bounds each generation of the tree cache: enough for the
// whole tree of a 100k-file catalog, and a few commits' changed folders.
const maxCachedEntries = 1 << 18

var (
	errLinkOutside = errors.New("symlink points outside the tree")
	errLinkLoop    = errors.New("too many levels of symbolic links")
	errNotDir      = errors.New("not a directory")
	errIsDir       = errors.New("is a directory")
	errSubmodule   = errors.New("is a submodule, which is not read")
)

// FS returns the tree of commit hash, restricted to Options.Dir. Errors wrap
// ErrCommitNotFound, or ErrDirNotFound when the commit has no such
// directory.
func (r *Repo) FS(ctx context.Context, hash string) (*TreeFS, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	h, err := parseHash(hash)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	c, err := r.commit(h)
	if err != nil {
		return nil, err
	}
	root, err := r.dirHash(c)
	if err != nil {
		return nil, err
	}
	if root.IsZero() {
		return nil, fmt.Errorf("commit %s: %w: %s (check the directory given with the catalog dir option)",
			hash, ErrDirNotFound, r.opts.Dir)
	}
	return &TreeFS{r: r, commit: c.Hash.String(), when: c.Committer.When, root: root}, nil
}

// Commit returns the hash of the commit whose tree f is.
func (f *TreeFS) Commit() string { return f.commit }

// Open opens the named file or directory, following symlinks. A file's
// blob is read at once, outside the Repo's lock, so files open in parallel.
func (f *TreeFS) Open(name string) (fs.File, error) {
	f.r.mu.Lock()
	n, err := f.resolve("open", name, true)
	f.r.mu.Unlock()
	if err != nil {
		return nil, err
	}
	switch {
	case n.mode == filemode.Dir:
		return &dirFile{f: f, name: name, info: f.info(n, 0)}, nil
	case n.mode == filemode.Submodule:
		return nil, &fs.PathError{Op: "open", Path: name, Err: errSubmodule}
	}
	obj, err := f.r.blobObject(n.hash)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	return &blobFile{name: name, obj: obj, info: f.info(n, obj.Size())}, nil
}

// Stat returns the FileInfo of the named file, following symlinks.
func (f *TreeFS) Stat(name string) (fs.FileInfo, error) {
	return f.stat("stat", name, true)
}

// Lstat returns the FileInfo of the named file without following a final
// symlink.
func (f *TreeFS) Lstat(name string) (fs.FileInfo, error) {
	return f.stat("lstat", name, false)
}

func (f *TreeFS) stat(op, name string, follow bool) (fs.FileInfo, error) {
	f.r.mu.Lock()
	n, err := f.resolve(op, name, follow)
	f.r.mu.Unlock()
	if err != nil {
		return nil, err
	}
	var size int64
	if n.mode != filemode.Dir && n.mode != filemode.Submodule {
		if size, err = f.r.blobSize(n.hash); err != nil {
			return nil, &fs.PathError{Op: op, Path: name, Err: err}
		}
	}
	return f.info(n, size), nil
}

// ReadLink returns the target of the named symlink, as written in the tree.
func (f *TreeFS) ReadLink(name string) (string, error) {
	f.r.mu.Lock()
	defer f.r.mu.Unlock()
	n, err := f.resolve("readlink", name, false)
	if err != nil {
		return "", err
	}
	if n.mode != filemode.Symlink {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: fs.ErrInvalid}
	}
	b, err := f.r.readBlob(n.hash, maxLinkTarget)
	if err != nil {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: err}
	}
	return string(b), nil
}

// ReadFile returns the content of the named file, following symlinks.
func (f *TreeFS) ReadFile(name string) ([]byte, error) {
	f.r.mu.Lock()
	n, err := f.resolve("read", name, true)
	f.r.mu.Unlock()
	if err != nil {
		return nil, err
	}
	switch n.mode {
	case filemode.Dir:
		return nil, &fs.PathError{Op: "read", Path: name, Err: errIsDir}
	case filemode.Submodule:
		return nil, &fs.PathError{Op: "read", Path: name, Err: errSubmodule}
	}
	obj, err := f.r.blobObject(n.hash)
	if err == nil {
		var b []byte
		if b, err = readBlobObject(obj, -1); err == nil {
			return b, nil
		}
	}
	return nil, &fs.PathError{Op: "read", Path: name, Err: err}
}

// ReadDir returns the entries of the named directory sorted by name,
// following symlinks to reach it.
func (f *TreeFS) ReadDir(name string) ([]fs.DirEntry, error) {
	f.r.mu.Lock()
	defer f.r.mu.Unlock()
	n, err := f.resolve("readdir", name, true)
	if err != nil {
		return nil, err
	}
	if n.mode != filemode.Dir {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errNotDir}
	}
	return f.dirEntries("readdir", name, n.hash)
}

// BlobHash returns the Git blob hash of the named file's content, following
// symlinks; ok is false for directories, submodules and missing paths. Equal
// hashes mean equal content, which lets callers cache work per blob.
func (f *TreeFS) BlobHash(name string) (hash string, ok bool) {
	f.r.mu.Lock()
	defer f.r.mu.Unlock()
	n, err := f.resolve("blobhash", name, true)
	if err != nil || n.mode == filemode.Dir || n.mode == filemode.Submodule {
		return "", false
	}
	return n.hash.String(), true
}

// node is a resolved tree entry.
type node struct {
	name string
	mode filemode.FileMode
	hash plumbing.Hash
}

// resolve finds name in the tree, following symlinks in directory
// components always and in the last component when follow is set; f.r.mu
// must be held.
func (f *TreeFS) resolve(op, name string, follow bool) (node, error) {
	if !fs.ValidPath(name) {
		return node{}, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	root := node{name: ".", mode: filemode.Dir, hash: f.root}
	if name == "." {
		return root, nil
	}
	parts := strings.Split(name, "/")
	for hops := 0; ; hops++ {
		if hops > maxSymlinkHops {
			return node{}, &fs.PathError{Op: op, Path: name, Err: errLinkLoop}
		}
		cur, rest, err := f.walk(root, parts, follow)
		if err != nil {
			return node{}, &fs.PathError{Op: op, Path: name, Err: err}
		}
		if rest == nil {
			cur.name = path.Base(name)
			return cur, nil
		}
		parts = rest
		if len(parts) == 0 {
			root.name = path.Base(name)
			return root, nil
		}
	}
}

// walk descends parts from root. When it meets a symlink to follow it
// returns the rewritten path (relative to the root) to start over with;
// otherwise rest is nil and n is the entry found.
func (f *TreeFS) walk(root node, parts []string, follow bool) (n node, rest []string, err error) {
	cur := root
	for i, p := range parts {
		if cur.mode != filemode.Dir {
			return node{}, nil, fs.ErrNotExist
		}
		dn, err := f.r.dirNode(cur.hash)
		if err != nil {
			return node{}, nil, err
		}
		j, ok := dn.find(p)
		if !ok {
			return node{}, nil, fs.ErrNotExist
		}
		e := dn.entries[j]
		last := i == len(parts)-1
		if e.Mode == filemode.Symlink && (!last || follow) {
			target, err := f.r.readBlob(e.Hash, maxLinkTarget)
			if err != nil {
				return node{}, nil, err
			}
			t := string(target)
			if path.IsAbs(t) {
				return node{}, nil, errLinkOutside
			}
			joined := path.Join(strings.Join(parts[:i], "/"), t)
			if joined == ".." || strings.HasPrefix(joined, "../") {
				return node{}, nil, errLinkOutside
			}
			var next []string
			if joined != "." {
				next = strings.Split(joined, "/")
			}
			return node{}, append(append(make([]string, 0, len(next)+len(parts)-i), next...), parts[i+1:]...), nil
		}
		cur = node{name: e.Name, mode: e.Mode, hash: e.Hash}
	}
	return cur, nil, nil
}

func (f *TreeFS) dirEntries(op, name string, h plumbing.Hash) ([]fs.DirEntry, error) {
	dn, err := f.r.dirNode(h)
	if err != nil {
		return nil, &fs.PathError{Op: op, Path: name, Err: err}
	}
	out := make([]fs.DirEntry, len(dn.entries))
	for i, e := range dn.entries {
		out[i] = dirEntry{f: f, e: e}
	}
	return out, nil
}

func (f *TreeFS) info(n node, size int64) fileInfo {
	return fileInfo{name: n.name, size: size, mode: fsMode(n.mode), mod: f.when}
}

func fsMode(m filemode.FileMode) fs.FileMode {
	switch m {
	case filemode.Dir:
		return fs.ModeDir | 0o755
	case filemode.Executable:
		return 0o755
	case filemode.Symlink:
		return fs.ModeSymlink | 0o777
	case filemode.Submodule:
		return fs.ModeIrregular
	}
	return 0o644
}

// dirNode is a decoded tree: entries sorted by name (fs order, which differs
// from Git's for names sorting around "/"), found by binary search. (A map
// by name doubled the memory of a 35k-entry folder's tree, which a
// follower decodes anew at each commit touching the folder, and which the
// tree cache holds.)
type dirNode struct {
	entries []object.TreeEntry
}

// find returns the index of the entry called name.
func (dn *dirNode) find(name string) (int, bool) {
	return slices.BinarySearchFunc(dn.entries, name, func(e object.TreeEntry, name string) int {
		return strings.Compare(e.Name, name)
	})
}

// treeCache holds decoded trees by hash in two generations. A tree found
// in the old one moves to the new one; when the new one is full it becomes
// the old one, and the trees nobody asked for since are dropped. The trees
// of the latest commits stay, those of commits long past are freed: a
// follower of a busy branch decodes a large folder's tree at every commit,
// and keeping them all grew the heap by megabytes a commit.
type treeCache struct {
	nodes, old map[plumbing.Hash]*dirNode
	entries    int // in nodes
}

func (c *treeCache) add(h plumbing.Hash, dn *dirNode) {
	if c.nodes == nil || c.entries+len(dn.entries) > maxCachedEntries {
		c.old, c.nodes, c.entries = c.nodes, make(map[plumbing.Hash]*dirNode), 0
	}
	c.nodes[h] = dn
	c.entries += len(dn.entries)
}

// dirNode returns the decoded tree h; r.mu must be held.
func (r *Repo) dirNode(h plumbing.Hash) (*dirNode, error) {
	if dn, ok := r.trees.nodes[h]; ok {
		return dn, nil
	}
	if dn, ok := r.trees.old[h]; ok {
		r.trees.add(h, dn)
		return dn, nil
	}
	t, err := object.GetTree(r.repo.Storer, h)
	if err != nil {
		return nil, fmt.Errorf("read tree %s: %w", h, err)
	}
	entries := t.Entries
	cmp := func(a, b object.TreeEntry) int { return strings.Compare(a.Name, b.Name) }
	if !slices.IsSortedFunc(entries, cmp) {
		entries = slices.Clone(entries)
		slices.SortFunc(entries, cmp)
	}
	dn := &dirNode{entries: entries}
	r.trees.add(h, dn)
	return dn, nil
}

// readBlob reads blob h, at most limit bytes when limit >= 0; r.mu must be
// held.
func (r *Repo) readBlob(h plumbing.Hash, limit int64) ([]byte, error) {
	obj, err := r.object(plumbing.BlobObject, h)
	if err != nil {
		return nil, fmt.Errorf("read blob %s: %w", h, err)
	}
	return readBlobObject(obj, limit)
}

// blobSize returns the size of blob h from its header; r.mu must not be
// held.
func (r *Repo) blobSize(h plumbing.Hash) (int64, error) {
	if n, err := r.blobs.size(h); !missing(err) {
		return n, err
	}
	// Not in the packs the pool's stores know (a fetch wrote it since):
	// the main store, without asking the pool again.
	r.mu.Lock()
	obj, err := r.object(plumbing.BlobObject, h)
	r.mu.Unlock()
	if err != nil {
		return 0, fmt.Errorf("read blob %s: %w", h, err)
	}
	return obj.Size(), nil
}

type fileInfo struct {
	name string
	size int64
	mode fs.FileMode
	mod  time.Time
}

func (i fileInfo) Name() string       { return i.name }
func (i fileInfo) Size() int64        { return i.size }
func (i fileInfo) Mode() fs.FileMode  { return i.mode }
func (i fileInfo) ModTime() time.Time { return i.mod }
func (i fileInfo) IsDir() bool        { return i.mode.IsDir() }
func (i fileInfo) Sys() any           { return nil }

type dirEntry struct {
	f *TreeFS
	e object.TreeEntry
}

func (d dirEntry) Name() string      { return d.e.Name }
func (d dirEntry) IsDir() bool       { return d.e.Mode == filemode.Dir }
func (d dirEntry) Type() fs.FileMode { return fsMode(d.e.Mode).Type() }

func (d dirEntry) Info() (fs.FileInfo, error) {
	n := node{name: d.e.Name, mode: d.e.Mode, hash: d.e.Hash}
	if d.e.Mode == filemode.Dir || d.e.Mode == filemode.Submodule {
		return d.f.info(n, 0), nil
	}
	size, err := d.f.r.blobSize(d.e.Hash)
	if err != nil {
		return nil, &fs.PathError{Op: "stat", Path: d.e.Name, Err: err}
	}
	return d.f.info(n, size), nil
}

func (d dirEntry) String() string { return fs.FormatDirEntry(d) }

// blobFile is an open file. Its blob was found at Open; reading it needs
// no lock. Like any fs.File, it serves one goroutine at a time.
type blobFile struct {
	name string
	obj  plumbing.EncodedObject
	info fileInfo
	rc   io.ReadCloser
	done bool
}

func (b *blobFile) Stat() (fs.FileInfo, error) { return b.info, nil }

func (b *blobFile) Read(p []byte) (int, error) {
	if b.done {
		return 0, &fs.PathError{Op: "read", Path: b.name, Err: fs.ErrClosed}
	}
	if b.rc == nil {
		rc, err := b.obj.Reader()
		if err != nil {
			return 0, &fs.PathError{Op: "read", Path: b.name, Err: err}
		}
		b.rc = rc
	}
	return b.rc.Read(p)
}

func (b *blobFile) Close() error {
	if b.done {
		return &fs.PathError{Op: "close", Path: b.name, Err: fs.ErrClosed}
	}
	b.done = true
	if b.rc != nil {
		return b.rc.Close()
	}
	return nil
}

// dirFile is an open directory.
type dirFile struct {
	f       *TreeFS
	name    string
	info    fileInfo
	entries []fs.DirEntry
	read    bool
	off     int
}

func (d *dirFile) Stat() (fs.FileInfo, error) { return d.info, nil }

func (d *dirFile) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.name, Err: errIsDir}
}

func (d *dirFile) Close() error { return nil }

func (d *dirFile) ReadDir(n int) ([]fs.DirEntry, error) {
	if !d.read {
		es, err := d.f.ReadDir(d.name)
		if err != nil {
			return nil, err
		}
		d.entries, d.read = es, true
	}
	rest := d.entries[d.off:]
	if n <= 0 {
		d.off = len(d.entries)
		return rest, nil
	}
	if len(rest) == 0 {
		return nil, io.EOF
	}
	n = min(n, len(rest))
	d.off += n
	return rest[:n], nil
}
