package gitsource

import (
	"context"
	"fmt"

	"github.com/go-git/go-git/v5/plumbing"
)

// Resolve returns the full hash of the commit that rev names, the way
// `git rev-parse` reads it: a full or abbreviated hash, a branch (main), a
// remote-tracking branch (origin/main), a tag, HEAD, or a suffixed form
// such as HEAD~1. A tag is peeled to its commit. Errors wrap
// ErrCommitNotFound.
func (r *Repo) Resolve(ctx context.Context, rev string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if rev == "" {
		return "", fmt.Errorf("resolve %q: empty revision: %w", rev, ErrCommitNotFound)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	h, err := r.repo.ResolveRevision(plumbing.Revision(rev))
	if err != nil && !r.remote && r.refreshPacks() {
		// git may have written packs since they were listed (refs are
		// read afresh every time).
		h, err = r.repo.ResolveRevision(plumbing.Revision(rev))
	}
	if err != nil {
		return "", fmt.Errorf("resolve %q: %w: %w", rev, ErrCommitNotFound, err)
	}
	return h.String(), nil
}
