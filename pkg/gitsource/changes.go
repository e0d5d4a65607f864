package gitsource

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-git/go-git/v5/plumbing"
)

// Op is what happened to a path between two commits.
type Op int

// The operations of a Change.
const (
	Added Op = iota + 1
	Modified
	Deleted
	Renamed
)

// String returns the operation's name in lower case.
func (o Op) String() string {
	switch o {
	case Added:
		return "added"
	case Modified:
		return "modified"
	case Deleted:
		return "deleted"
	case Renamed:
		return "renamed"
	}
	return fmt.Sprintf("Op(%d)", int(o))
}

// Change is one path that differs between two commits. Paths are
// slash-separated and relative to Options.Dir. OldPath is set only for
// Renamed: the content moved from OldPath to Path unchanged.
type Change struct {
	Path    string
	OldPath string
	Op      Op
}

// Changes returns the files that differ between commits from and to within
// Options.Dir, sorted by path. A file moved without edits is one Renamed
// change; a mode change (for example file to symlink) is Modified. A
// directory missing at either commit counts as empty. Errors wrap
// ErrCommitNotFound.
func (r *Repo) Changes(ctx context.Context, from, to string) ([]Change, error) {
	fh, err := parseHash(from)
	if err != nil {
		return nil, err
	}
	th, err := parseHash(to)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	fc, err := r.commit(fh)
	if err != nil {
		return nil, err
	}
	tc, err := r.commit(th)
	if err != nil {
		return nil, err
	}
	a, err := r.dirHash(fc)
	if err != nil {
		return nil, err
	}
	b, err := r.dirHash(tc)
	if err != nil {
		return nil, err
	}
	out, err := r.diff(ctx, a, b)
	if err != nil {
		return nil, fmt.Errorf("diff %s..%s: %w", from, to, err)
	}
	return out, nil
}

// IsAncestor reports whether commit a is b or an ancestor of b. A commit a
// that is not in the repository (rewritten history, since garbage
// collected) is no ancestor: the result is false, not an error. Errors wrap
// ErrCommitNotFound when b is missing.
func (r *Repo) IsAncestor(ctx context.Context, a, b string) (bool, error) {
	ah, err := parseHash(a)
	if err != nil {
		return false, err
	}
	bh, err := parseHash(b)
	if err != nil {
		return false, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, err := r.commit(bh); err != nil {
		return false, err
	}
	if ah == bh {
		return true, nil
	}
	if _, err := r.commit(ah); err != nil {
		if errors.Is(err, ErrCommitNotFound) {
			return false, nil
		}
		return false, err
	}
	seen := map[plumbing.Hash]bool{bh: true}
	queue := []plumbing.Hash{bh}
	for len(queue) > 0 {
		if err := ctx.Err(); err != nil {
			return false, err
		}
		c, err := r.commit(queue[0])
		queue = queue[1:]
		if errors.Is(err, ErrCommitNotFound) {
			continue // shallow history ends here
		}
		if err != nil {
			return false, err
		}
		for _, p := range c.ParentHashes {
			if p == ah {
				return true, nil
			}
			if !seen[p] {
				seen[p] = true
				queue = append(queue, p)
			}
		}
	}
	return false, nil
}
