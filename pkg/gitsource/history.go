package gitsource

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// Stamp is the commit that touched a file: what $createdAt/$createdBy and
// $updatedAt/$updatedBy are made of.
type Stamp struct {
	Commit      string
	Author      string
	AuthorEmail string
	// When is the committer time, as in Commit.When.
	When time.Time
}

// FileMeta tells which commit added a file and which last changed it.
type FileMeta struct {
	Created Stamp
	Updated Stamp
}

// FileHistory returns, for every file under Options.Dir at commit head
// (paths relative to Dir), the commit that added it and the one that last
// changed it, in one walk of history.
//
// The walk follows first parents only, as `git log --first-parent` does: a
// change brought in by a merge is attributed to the merge commit, not to the
// commit on the merged branch. A file deleted and added again counts as
// created by the commit that re-added it. A file moved without edits (an
// exact rename) keeps its creation; the move counts as its last change.
// Commits that leave Dir unchanged cost one tree lookup, so a catalog inside
// a busy application repository is cheap. Errors wrap ErrCommitNotFound.
func (r *Repo) FileHistory(ctx context.Context, head string) (map[string]FileMeta, error) {
	hh, err := parseHash(head)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()

	var chain []*object.Commit
	for h := hh; ; {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		c, err := r.commit(h)
		if err != nil {
			if len(chain) > 0 && errors.Is(err, ErrCommitNotFound) {
				break // shallow history: the oldest commit present counts as the root
			}
			return nil, err
		}
		chain = append(chain, c)
		if len(c.ParentHashes) == 0 {
			break
		}
		h = c.ParentHashes[0]
	}

	meta := make(map[string]FileMeta)
	var prev plumbing.Hash
	for i := len(chain) - 1; i >= 0; i-- {
		c := chain[i]
		cur, err := r.dirHash(c)
		if err != nil {
			return nil, err
		}
		changes, err := r.diff(ctx, prev, cur)
		if err != nil {
			return nil, fmt.Errorf("history at %s: %w", c.Hash, err)
		}
		prev = cur
		if len(changes) == 0 {
			continue
		}
		s := stamp(c)
		for _, x := range changes {
			switch x.Op {
			case Added:
				meta[x.Path] = FileMeta{Created: s, Updated: s}
			case Deleted:
				delete(meta, x.Path)
			case Modified:
				m, ok := meta[x.Path]
				if !ok {
					m.Created = s
				}
				m.Updated = s
				meta[x.Path] = m
			case Renamed:
				m, ok := meta[x.OldPath]
				if !ok {
					m.Created = s
				}
				delete(meta, x.OldPath)
				m.Updated = s
				meta[x.Path] = m
			}
		}
	}
	return meta, nil
}

func stamp(c *object.Commit) Stamp {
	return Stamp{
		Commit:      c.Hash.String(),
		Author:      c.Author.Name,
		AuthorEmail: c.Author.Email,
		When:        c.Committer.When,
	}
}
