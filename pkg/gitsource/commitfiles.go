package gitsource

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/storage/filesystem"
	"github.com/go-git/go-git/v5/storage/memory"
)

// CommitFiles writes one commit on branch of the repository at repoPath,
// straight into its object store: the work tree and the index, if any, are
// not touched. files maps slash-separated paths to their new content; a nil
// content deletes the path (a file or a whole directory), and deleting a
// path that does not exist is an error. Every other path keeps its content
// from the branch's current commit, which becomes the parent; a missing
// branch starts a new history.
//
// When repoPath does not exist or is an empty directory, a bare repository
// is created there, with HEAD pointing at branch. author is "Name <email>"
// and is also the committer; a zero when means now. The objects of a commit
// are written as one pack, so a fixture of 100k files stays quick to write
// and to read. It returns the new commit's hash.
//
// CommitFiles exists to build fixture repositories for tests and for the
// catalog generator; it is not a general Git client.
func CommitFiles(ctx context.Context, repoPath, branch string, files map[string][]byte, msg, author string, when time.Time) (string, error) {
	entries := make(map[string]*fileEntry, len(files))
	for p, data := range files {
		if data == nil {
			entries[p] = nil
			continue
		}
		entries[p] = &fileEntry{mode: filemode.Regular, data: data}
	}
	return commitEntries(ctx, repoPath, branch, entries, msg, author, when)
}

// fileEntry is a file to write: a regular file, an executable or a symlink
// (whose data is the target).
type fileEntry struct {
	mode filemode.FileMode
	data []byte
}

// edit is the tree of requested changes below one directory.
type edit struct {
	file     *fileEntry
	del      bool
	children map[string]*edit
}

func commitEntries(ctx context.Context, repoPath, branch string, files map[string]*fileEntry, msg, author string, when time.Time) (_ string, err error) {
	if branch == "" {
		branch = DefaultBranch
	}
	refName := plumbing.NewBranchReferenceName(branch)
	if err := refName.Validate(); err != nil {
		return "", fmt.Errorf("commit to %s: invalid branch %q", repoPath, branch)
	}
	root, err := buildEdits(files)
	if err != nil {
		return "", fmt.Errorf("commit to %s: %w", repoPath, err)
	}
	repo, err := openOrInit(repoPath)
	if err != nil {
		return "", err
	}
	if s, ok := repo.Storer.(*filesystem.Storage); ok {
		defer func() {
			if cerr := s.Close(); err == nil && cerr != nil {
				err = fmt.Errorf("commit to %s: %w", repoPath, cerr)
			}
		}()
	}

	old, err := repo.Storer.Reference(refName)
	if err != nil && !errors.Is(err, plumbing.ErrReferenceNotFound) {
		return "", fmt.Errorf("commit to %s: read %s: %w", repoPath, refName, err)
	}
	var base plumbing.Hash
	var parents []plumbing.Hash
	if old != nil {
		c, err := object.GetCommit(repo.Storer, old.Hash())
		if err != nil {
			return "", fmt.Errorf("commit to %s: read parent: %w", repoPath, err)
		}
		base, parents = c.TreeHash, []plumbing.Hash{c.Hash}
	}

	w := &objWriter{src: repo.Storer, mem: memory.NewStorage(), seen: map[plumbing.Hash]bool{}}
	treeHash, _, err := w.tree(ctx, base, root, "")
	if err != nil {
		return "", fmt.Errorf("commit to %s: %w", repoPath, err)
	}
	if when.IsZero() {
		when = time.Now()
	}
	sig := parseSignature(author, when)
	if !strings.HasSuffix(msg, "\n") {
		msg += "\n"
	}
	commit := &object.Commit{Author: sig, Committer: sig, Message: msg, TreeHash: treeHash, ParentHashes: parents}
	obj := w.mem.NewEncodedObject()
	if err := commit.Encode(obj); err != nil {
		return "", fmt.Errorf("commit to %s: encode commit: %w", repoPath, err)
	}
	commitHash, err := w.add(obj)
	if err != nil {
		return "", fmt.Errorf("commit to %s: %w", repoPath, err)
	}
	if err := w.flush(repo.Storer); err != nil {
		return "", fmt.Errorf("commit to %s: write objects: %w", repoPath, err)
	}
	if err := repo.Storer.CheckAndSetReference(plumbing.NewHashReference(refName, commitHash), old); err != nil {
		return "", fmt.Errorf("commit to %s: update %s: %w", repoPath, refName, err)
	}
	if old == nil {
		// A new repository's HEAD names git's default branch; point it at
		// ours so that clones check out something.
		if head, err := repo.Storer.Reference(plumbing.HEAD); err == nil && head.Type() == plumbing.SymbolicReference {
			if _, err := repo.Storer.Reference(head.Target()); errors.Is(err, plumbing.ErrReferenceNotFound) {
				if err := repo.Storer.SetReference(plumbing.NewSymbolicReference(plumbing.HEAD, refName)); err != nil {
					return "", fmt.Errorf("commit to %s: set HEAD: %w", repoPath, err)
				}
			}
		}
	}
	return commitHash.String(), nil
}

func buildEdits(files map[string]*fileEntry) (*edit, error) {
	root := &edit{}
	for p, fe := range files {
		if !fs.ValidPath(p) || p == "." || slices.Contains(strings.Split(p, "/"), ".git") {
			return nil, fmt.Errorf("invalid path %q (want a clean relative slash-separated path)", p)
		}
		parts := strings.Split(p, "/")
		n := root
		for i, part := range parts {
			if n.file != nil || n.del {
				return nil, fmt.Errorf("path %q is inside %q, which is also written", p, strings.Join(parts[:i], "/"))
			}
			if n.children == nil {
				n.children = map[string]*edit{}
			}
			c, ok := n.children[part]
			if !ok {
				c = &edit{}
				n.children[part] = c
			}
			n = c
		}
		if len(n.children) > 0 {
			return nil, fmt.Errorf("path %q is also a directory of other written paths", p)
		}
		n.file, n.del = fe, fe == nil
	}
	return root, nil
}

func openOrInit(p string) (*git.Repository, error) {
	repo, err := git.PlainOpenWithOptions(p, &git.PlainOpenOptions{EnableDotGitCommonDir: true})
	if errors.Is(err, git.ErrRepositoryNotExists) {
		if des, rerr := os.ReadDir(p); rerr == nil && len(des) > 0 {
			return nil, fmt.Errorf("commit to %s: %w (and the directory is not empty)", p, ErrNotRepository)
		}
		repo, err = git.PlainInit(p, true)
	}
	if err != nil {
		return nil, fmt.Errorf("commit to %s: %w", p, err)
	}
	return repo, nil
}

func parseSignature(author string, when time.Time) object.Signature {
	name, email := strings.TrimSpace(author), ""
	if i := strings.LastIndex(author, "<"); i >= 0 && strings.HasSuffix(strings.TrimSpace(author), ">") {
		name = strings.TrimSpace(author[:i])
		email = strings.TrimSuffix(strings.TrimSpace(author[i+1:]), ">")
	}
	if name == "" {
		name = "berth"
	}
	return object.Signature{Name: name, Email: email, When: when}
}

// objWriter collects the new objects of a commit in memory and writes them
// to the repository as one pack.
type objWriter struct {
	src    storer.EncodedObjectStorer
	mem    *memory.Storage
	seen   map[plumbing.Hash]bool
	hashes []plumbing.Hash
}

func (w *objWriter) add(obj plumbing.EncodedObject) (plumbing.Hash, error) {
	h := obj.Hash()
	if w.seen[h] {
		return h, nil
	}
	if _, err := w.mem.SetEncodedObject(obj); err != nil {
		return h, fmt.Errorf("store object: %w", err)
	}
	w.seen[h] = true
	w.hashes = append(w.hashes, h)
	return h, nil
}

func (w *objWriter) blob(data []byte) (plumbing.Hash, error) {
	obj := w.mem.NewEncodedObject()
	obj.SetType(plumbing.BlobObject)
	obj.SetSize(int64(len(data)))
	ow, err := obj.Writer()
	if err != nil {
		return plumbing.ZeroHash, err
	}
	if _, err := ow.Write(data); err != nil {
		return plumbing.ZeroHash, err
	}
	if err := ow.Close(); err != nil {
		return plumbing.ZeroHash, err
	}
	return w.add(obj)
}

// tree writes the tree of directory dir: the base tree with the edits of n
// applied. nonEmpty is false when nothing is left in it.
func (w *objWriter) tree(ctx context.Context, base plumbing.Hash, n *edit, dir string) (h plumbing.Hash, nonEmpty bool, err error) {
	if err := ctx.Err(); err != nil {
		return plumbing.ZeroHash, false, err
	}
	entries := map[string]object.TreeEntry{}
	if !base.IsZero() {
		t, err := object.GetTree(w.src, base)
		if err != nil {
			return plumbing.ZeroHash, false, fmt.Errorf("read tree %s: %w", dir, err)
		}
		for _, e := range t.Entries {
			entries[e.Name] = e
		}
	}
	for name, c := range n.children {
		p := path.Join(dir, name)
		switch {
		case c.del:
			if _, ok := entries[name]; !ok {
				return plumbing.ZeroHash, false, fmt.Errorf("delete %s: no such file or directory", p)
			}
			delete(entries, name)
		case c.file != nil:
			bh, err := w.blob(c.file.data)
			if err != nil {
				return plumbing.ZeroHash, false, fmt.Errorf("write %s: %w", p, err)
			}
			entries[name] = object.TreeEntry{Name: name, Mode: c.file.mode, Hash: bh}
		default:
			var sub plumbing.Hash
			if e, ok := entries[name]; ok && e.Mode == filemode.Dir {
				sub = e.Hash
			}
			th, keep, err := w.tree(ctx, sub, c, p)
			if err != nil {
				return plumbing.ZeroHash, false, err
			}
			if keep {
				entries[name] = object.TreeEntry{Name: name, Mode: filemode.Dir, Hash: th}
			} else {
				delete(entries, name)
			}
		}
	}

	// Git orders tree entries by name, a directory's name read as if it
	// ended in "/".
	type keyed struct {
		key string
		e   object.TreeEntry
	}
	sorted := make([]keyed, 0, len(entries))
	for _, e := range entries {
		k := e.Name
		if e.Mode == filemode.Dir {
			k += "/"
		}
		sorted = append(sorted, keyed{k, e})
	}
	slices.SortFunc(sorted, func(a, b keyed) int { return strings.Compare(a.key, b.key) })
	t := &object.Tree{Entries: make([]object.TreeEntry, len(sorted))}
	for i, k := range sorted {
		t.Entries[i] = k.e
	}
	obj := w.mem.NewEncodedObject()
	if err := t.Encode(obj); err != nil {
		return plumbing.ZeroHash, false, fmt.Errorf("encode tree %s: %w", dir, err)
	}
	h, err = w.add(obj)
	return h, len(entries) > 0, err
}

// flush writes the collected objects to dst: as one pack when dst can take
// packs (no loose object per file), else one by one.
func (w *objWriter) flush(dst storer.EncodedObjectStorer) error {
	if pw, ok := dst.(storer.PackfileWriter); ok && len(w.hashes) > 1 {
		out, err := pw.PackfileWriter()
		if err != nil {
			return err
		}
		if _, err := packfile.NewEncoder(out, w.mem, false).Encode(w.hashes, 0); err != nil {
			_ = out.Close()
			return err
		}
		return out.Close()
	}
	for _, h := range w.hashes {
		obj, err := w.mem.EncodedObject(plumbing.AnyObject, h)
		if err != nil {
			return err
		}
		if _, err := dst.SetEncodedObject(obj); err != nil {
			return err
		}
	}
	return nil
}
