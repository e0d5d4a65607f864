// Package gitsource reads a catalog from a Git repository, keeping go-git
// behind its own small set of types (Commit, Change, FileMeta) so that no
// go-git type reaches the rest of berth.
//
// A source is a branch of a repository, optionally restricted to a
// subdirectory (Options.Dir) that holds the catalog. Open accepts either a
// local path or a remote URL:
//
//   - A local path is opened in place. Only the branch reference and the
//     object store are read: the work tree and the index are never looked at,
//     so uncommitted changes are ignored. A bare repository, a normal checkout
//     and a linked worktree (.git file with commondir) all work.
//   - A remote (https://, http://, ssh://, scp-style user@host:path, git://,
//     file://) is cloned once, bare and without a checkout, into
//     Options.DataDir and reused on later runs. Fetch brings new commits with
//     an explicit refspec for the one branch; it never uses a shallow depth,
//     which would download the whole tree again on every fetch. Each fetch
//     adds a pack to the clone; Compact merges the small ones, so that a
//     clone followed for months reads as fast as a new one.
//
// Catalog files are read straight from a commit's tree with FS, which
// returns an fs.FS backed by the object store: trees are decoded when first
// visited and cached by hash, blobs are read only when a file is opened.
// Changes lists the paths that differ between two commits with a tree diff,
// so an incremental reconcile reads only the blobs that changed.
//
// Errors are classified with the sentinels in gitsource.go: ErrUnreachable
// means "keep serving, retry with backoff"; the others (ErrAuth,
// ErrBranchNotFound, ErrNotRepository, ErrDirNotFound, ErrConfig) mean the
// configuration or the repository needs a human.
//
// CommitFiles writes a commit straight into a repository's object store,
// without a work tree; tests and the catalog generator use it to build
// fixture repositories.
package gitsource
