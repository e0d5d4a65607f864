package gitsource

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/go-git/go-billy/v5/util"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/format/idxfile"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// Each fetch that brings commits writes one pack into the clone, holding
// whole every tree the commits changed (go-git does not ask for thin
// packs): 0.9 MB per 10-file commit of a 100k-entity catalog. go-git looks
// an object up in each pack in turn and reads every pack's index when a
// store opens, so a clone keeping them all would grow by that much per
// commit and get slower to open, and to read, the longer berth serves.
// Compact merges the small packs, chosen as `git repack --geometric=2`
// chooses them, into one pack with deltas: the count stays near maxPacks
// and each object is rewritten a logarithmic number of times.

const (
	// maxPacks is the number of packs above which Compact merges some.
	maxPacks = 16
	// packFactor is the ratio of the geometric progression Compact keeps
	// the packs' object counts in.
	packFactor = 2
	// deltaWindow is how many similar objects the encoder tries as delta
	// bases of each object it writes whole (git's default). A catalog's
	// trees are large (1.8 MB for a folder of 35k entities) and differ
	// little from one commit to the next: merged without deltas, they
	// cost more to recompress than deltas cost to find (200 against 60 ms
	// per commit at 100k entities) and the clone keeps growing. Deltas
	// already in a pack are kept, so an object is deltified once.
	deltaWindow = 10
	// compactCacheSize bounds the cache of the store a merge reads
	// through, which holds the bases of deltas being resolved.
	compactCacheSize = 32 * cache.MiByte
)

// pack is a pack of the clone and its number of objects.
type pack struct {
	hash    plumbing.Hash
	objects int64
}

// Compact merges the clone's small packs into one when it holds more than
// maxPacks of them: the lightest ones, chosen so that the object counts of
// the packs left and the new one form a geometric progression. The
// heaviest pack (usually the first clone's) is never rewritten. The new
// pack is written, indexed and synced to disk before the packs it replaces
// are removed, so a crash at any point leaves every object readable, at
// worst in two packs, which is harmless.
//
// Reads and fetches go on while the new pack is written; they wait only
// while the old packs are removed and the main store rereads the list. A
// pooled store that finds a pack gone hands its read over to the main
// store (see blobPool.stale).
//
// berth's reconciler calls Compact on the side after each new commit
// (reconcile.Reconciler.Run), and berth index before it exits; with no
// more than maxPacks packs it only lists them. It does nothing for a local
// repository, whose packs are git's to manage. Errors come from ctx, a
// Close meanwhile, or reading and writing the clone, which stays readable
// as it was.
func (r *Repo) Compact(ctx context.Context) error {
	if !r.remote {
		return nil
	}
	r.compacting.Lock()
	defer r.compacting.Unlock()

	// A store of its own, which lists the packs now and reads the objects
	// to merge: Fetch writes new packs through the main one meanwhile.
	src := filesystem.NewStorageWithOptions(r.store.Filesystem(), cache.NewObjectLRU(compactCacheSize),
		filesystem.Options{MaxOpenDescriptors: maxOpenPacks})
	merged, merge, err := r.mergeSmall(ctx, src)
	if cerr := src.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("compact %s: %w", r.gitDir, err)
	}
	if len(merge) < 2 {
		return nil
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	if r.lock == nil {
		// Closed meanwhile, and the clone unlocked: the merged pack
		// stays beside the others, which is harmless.
		return fmt.Errorf("compact %s: %w", r.gitDir, errClosed)
	}
	var errs []error
	for _, p := range merge {
		if p.hash == merged {
			continue
		}
		// The .pack goes first: a pack whose index is missing would
		// make go-git fail every read, an index without its pack is
		// ignored.
		if err := r.store.DeleteOldObjectPackAndIndex(p.hash, time.Time{}); err != nil {
			errs = append(errs, fmt.Errorf("remove pack %s: %w", p.hash, err))
		}
	}
	errs = append(errs, r.forgetPacks())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("compact %s: %w", r.gitDir, err)
	}
	return nil
}

// mergeSmall merges the packs choosePacks picks from src into one, merged,
// unless fewer than two are picked.
func (r *Repo) mergeSmall(ctx context.Context, src *filesystem.Storage) (merged plumbing.Hash, merge []pack, err error) {
	merge, err = r.choosePacks(src)
	if err != nil || len(merge) < 2 {
		return plumbing.ZeroHash, merge, err
	}
	if err := ctx.Err(); err != nil {
		return plumbing.ZeroHash, merge, err
	}
	merged, err = r.mergePacks(src, merge)
	return merged, merge, err
}

// choosePacks returns the packs to merge, none when there are no more than
// maxPacks.
func (r *Repo) choosePacks(st *filesystem.Storage) ([]pack, error) {
	hashes, err := st.ObjectPacks()
	if err != nil {
		return nil, fmt.Errorf("list packs: %w", err)
	}
	if len(hashes) <= maxPacks {
		return nil, nil
	}
	packs, err := packsBySize(st, hashes)
	if err != nil {
		return nil, err
	}
	weights := make([]int64, len(packs))
	for i, p := range packs {
		weights[i] = p.objects
	}
	return packs[:rollUp(weights)], nil
}

// packsBySize returns the packs of st named by hashes, fewest objects
// first.
func packsBySize(st *filesystem.Storage, hashes []plumbing.Hash) ([]pack, error) {
	packs := make([]pack, 0, len(hashes))
	for _, h := range hashes {
		n, err := packObjects(st, h)
		if err != nil {
			return nil, err
		}
		packs = append(packs, pack{hash: h, objects: n})
	}
	slices.SortFunc(packs, func(a, b pack) int { return cmp.Compare(a.objects, b.objects) })
	return packs, nil
}

// rollUp returns how many of the lightest packs to merge into one, given
// the packs' weights in ascending order, so that the packs left and the
// merged one form a geometric progression of packFactor: each pack at
// least packFactor times as heavy as the next lighter one. It is git's
// choice for `git repack --geometric`, except that the heaviest pack is
// never merged. A result below 2 means nothing to merge.
func rollUp(weights []int64) int {
	w := weights[:max(len(weights)-1, 0)] // the heaviest stays
	// The packs from split on already form a progression.
	split := 0
	for i := len(w) - 1; i > 0; i-- {
		if w[i] < packFactor*w[i-1] {
			split = i + 1
			break
		}
	}
	// Merging the packs below split makes a pack that may break the
	// progression with the next ones: take them in too until it holds.
	var total int64
	for _, x := range w[:split] {
		total += x
	}
	for split < len(w) && w[split] < packFactor*total {
		total += w[split]
		split++
	}
	return split
}

// packObjects returns the number of objects in pack h, from its header.
func packObjects(st *filesystem.Storage, h plumbing.Hash) (n int64, err error) {
	f, err := st.Filesystem().Open(packPath(h, "pack"))
	if err != nil {
		return 0, fmt.Errorf("open pack %s: %w", h, err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("read pack %s: %w", h, cerr)
		}
	}()
	_, objects, err := packfile.NewScanner(f).Header()
	if err != nil {
		return 0, fmt.Errorf("read pack %s: %w", h, err)
	}
	return int64(objects), nil
}

// packIndex reads the index of pack h.
func packIndex(st *filesystem.Storage, h plumbing.Hash) (*idxfile.MemoryIndex, error) {
	// Read at once: go-git's decoder reads a few bytes at a time, each a
	// system call on a file.
	data, err := util.ReadFile(st.Filesystem(), packPath(h, "idx"))
	if err != nil {
		return nil, fmt.Errorf("read index of pack %s: %w", h, err)
	}
	idx := idxfile.NewMemoryIndex()
	if err := idxfile.NewDecoder(bytes.NewReader(data)).Decode(idx); err != nil {
		return nil, fmt.Errorf("read index of pack %s: %w", h, err)
	}
	return idx, nil
}

// packPath is the slash-separated path of pack h's file with the given
// extension, relative to the repository directory.
func packPath(h plumbing.Hash, ext string) string {
	return "objects/pack/pack-" + h.String() + "." + ext
}

// mergePacks writes the objects of packs into one new pack, with its
// index, synced to disk, and returns the new pack's hash. It reads them
// through src, a store the Repo does not use otherwise. The packs stay.
func (r *Repo) mergePacks(src *filesystem.Storage, packs []pack) (plumbing.Hash, error) {
	seen := map[plumbing.Hash]bool{}
	var hashes []plumbing.Hash
	for _, p := range packs {
		idx, err := packIndex(src, p.hash)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		it, err := idx.Entries()
		if err != nil {
			return plumbing.ZeroHash, fmt.Errorf("read index of pack %s: %w", p.hash, err)
		}
		for {
			e, err := it.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				_ = it.Close()
				return plumbing.ZeroHash, fmt.Errorf("read index of pack %s: %w", p.hash, err)
			}
			if !seen[e.Hash] {
				seen[e.Hash] = true
				hashes = append(hashes, e.Hash)
			}
		}
		if err := it.Close(); err != nil {
			return plumbing.ZeroHash, fmt.Errorf("read index of pack %s: %w", p.hash, err)
		}
	}

	w, err := src.PackfileWriter()
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("write pack: %w", err)
	}
	h, err := packfile.NewEncoder(w, src, false).Encode(hashes, deltaWindow)
	if err != nil {
		_ = w.Close() // the error that matters is the encoder's
		return plumbing.ZeroHash, fmt.Errorf("write pack: %w", err)
	}
	// Close indexes the pack and moves both files into place.
	if err := w.Close(); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("write pack %s: %w", h, err)
	}
	for _, ext := range []string{"idx", "pack"} {
		if err := syncFile(filepath.Join(r.gitDir, filepath.FromSlash(packPath(h, ext)))); err != nil {
			return plumbing.ZeroHash, fmt.Errorf("write pack %s: %w", h, err)
		}
	}
	if err := syncFile(filepath.Join(r.gitDir, "objects", "pack")); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("write pack %s: %w", h, err)
	}
	return h, nil
}

// syncFile flushes a file or directory to disk.
func syncFile(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	return errors.Join(f.Sync(), f.Close())
}

// removeStrays removes what an interrupted pack write leaves in a clone: a
// temporary pack, or an index without its pack. go-git writes a pack's
// index before moving the pack into place, and keeps an index it finds
// there when it writes the same pack again, so a partial index left by a
// crash would later sit next to a complete pack and break every read. The
// clone must be locked.
func removeStrays(gitDir string) error {
	dir := filepath.Join(gitDir, "objects", "pack")
	des, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("clean up %s: %w", dir, err)
	}
	have := map[string]bool{}
	for _, de := range des {
		have[de.Name()] = true
	}
	var errs []error
	for _, de := range des {
		name := de.Name()
		stray := strings.HasPrefix(name, "tmp_pack_") ||
			strings.HasPrefix(name, "pack-") && strings.HasSuffix(name, ".idx") && !have[strings.TrimSuffix(name, ".idx")+".pack"]
		if stray {
			if err := os.Remove(filepath.Join(dir, name)); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("clean up %s: %w", dir, err)
	}
	return nil
}
