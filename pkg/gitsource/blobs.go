package gitsource

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"sync"

	"github.com/go-git/go-billy/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/storage/filesystem"
	"github.com/go-git/go-git/v5/storage/filesystem/dotgit"
)

// Blobs are read through a pool of object stores over the repository's
// directory rather than through the Repo's own store: a go-git filesystem
// store serves one goroutine at a time (its pack scanners keep a position,
// which is why Repo.mu serialises it), so a loader reading 100k files on
// every core spent most of its time waiting for that lock. Each pooled store
// has its own pack file handles and its own object cache (see
// blobCacheSize).
//
// A pooled store lists the packs, and reads each one's index, when it first
// reads. It is not told of a pack written later (a fetch): a blob it does
// not find is read through the Repo's main store, which a fetch updates
// with the new pack's index alone. go-git can only re-read every index of
// a store (Reindex), and doing that in each pooled store after each fetch
// made a reconcile's cost grow with the number of packs. The pooled stores
// are reopened when packs are removed (Compact, or git in a local
// repository) and by Trim.

// blobCacheSize bounds the caches of the pooled stores, together. Catalog
// blobs are read once; the caches are there for delta bases. Each store has
// its own: one shared cache is one lock that every blob read takes twice,
// and the loaders queued on it.
const blobCacheSize = 16 * cache.MiByte

// largeBlob is the size above which a pooled store reads a blob lazily from
// the pack instead of decoding it into memory, so the loader's size limit
// costs nothing for a huge file.
const largeBlob = 1 << 20

var errClosed = errors.New("repository closed")

// blobPool lends object stores over one repository directory, at most one
// per core, opening them on first use.
type blobPool struct {
	fs    billy.Filesystem
	slots chan *pooledStore // a nil slot is a store not opened yet

	mu     sync.Mutex
	gen    int // stores opened before the last stale are reopened
	opened []*pooledStore
	closed bool
}

// pooledStore is a store of the pool and the generation it was opened in.
type pooledStore struct {
	*filesystem.Storage
	gen int
}

// newBlobPool returns a pool over the repository directory fs.
func newBlobPool(fs billy.Filesystem) *blobPool {
	n := runtime.GOMAXPROCS(0)
	p := &blobPool{fs: fs, slots: make(chan *pooledStore, n)}
	for range n {
		p.slots <- nil
	}
	return p
}

// get takes a store, waiting while every store is lent; put returns it. A
// store of an older generation is closed and a new one opened.
func (p *blobPool) get() (*pooledStore, error) {
	s := <-p.slots
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		p.slots <- s
		return nil, errClosed
	}
	if s != nil && s.gen != p.gen {
		// Closing a store that only read releases file handles; there is
		// nothing to lose if that fails.
		_ = s.Close()
		p.opened = slices.DeleteFunc(p.opened, func(o *pooledStore) bool { return o == s })
		s = nil
	}
	if s == nil {
		objects := cache.NewObjectLRU(blobCacheSize / cache.FileSize(cap(p.slots)))
		s = &pooledStore{gen: p.gen, Storage: filesystem.NewStorageWithOptions(p.fs, objects, filesystem.Options{
			MaxOpenDescriptors:   maxOpenPacks,
			LargeObjectThreshold: largeBlob,
		})}
		p.opened = append(p.opened, s)
	}
	return s, nil
}

func (p *blobPool) put(s *pooledStore) { p.slots <- s }

// stale makes every store list the packs again before its next read. It
// does not wait for the stores lent out: a read that finds an object in a
// removed pack fails with an error that missing recognises, and the caller
// reads through the main store.
func (p *blobPool) stale() {
	p.mu.Lock()
	p.gen++
	p.mu.Unlock()
}

// blob returns blob h. Its content stays readable after the store goes
// back to the pool: a small blob is in memory, a large one is read through
// a file handle of its own.
func (p *blobPool) blob(h plumbing.Hash) (obj plumbing.EncodedObject, err error) {
	err = p.with(func(s *filesystem.Storage) error {
		obj, err = s.EncodedObject(plumbing.BlobObject, h)
		return err
	})
	return obj, err
}

// size returns the size of blob h from its header.
func (p *blobPool) size(h plumbing.Hash) (n int64, err error) {
	err = p.with(func(s *filesystem.Storage) error {
		n, err = s.EncodedObjectSize(h)
		return err
	})
	return n, err
}

// with runs read on a lent store.
func (p *blobPool) with(read func(*filesystem.Storage) error) error {
	s, err := p.get()
	if err != nil {
		return err
	}
	defer p.put(s)
	return read(s.Storage)
}

// trim closes the stores opened so far, which the next reads open again,
// with their caches: each store holds its own copy of the pack index (9 MB
// for a 100k-object pack), which a process that has done its reading need
// not keep. It waits for the stores lent out.
func (p *blobPool) trim() error {
	n := cap(p.slots)
	stores := make([]*pooledStore, 0, n)
	for range n {
		stores = append(stores, <-p.slots)
	}
	p.mu.Lock()
	var errs []error
	for _, s := range stores {
		if s != nil && !p.closed { // close closed them already
			errs = append(errs, s.Close())
		}
	}
	p.opened = slices.DeleteFunc(p.opened, func(s *pooledStore) bool { return slices.Contains(stores, s) })
	p.mu.Unlock()
	for range n {
		p.slots <- nil
	}
	return errors.Join(errs...)
}

// close closes the stores opened so far; later reads fail.
func (p *blobPool) close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	var errs []error
	for _, s := range p.opened {
		errs = append(errs, s.Close())
	}
	p.opened = nil
	return errors.Join(errs...)
}

// missing reports whether a read failed because the store does not know
// the object where it is now: not in the packs it listed (a pack written
// since), or in a pack removed since (Compact, git gc).
func missing(err error) bool {
	return errors.Is(err, plumbing.ErrObjectNotFound) || errors.Is(err, dotgit.ErrPackfileNotFound)
}

// blobObject returns blob h, through the pool, or when the pool's store
// misses it, through the main store under r.mu. r.mu must not be held.
func (r *Repo) blobObject(h plumbing.Hash) (plumbing.EncodedObject, error) {
	obj, err := r.blobs.blob(h)
	if missing(err) {
		r.mu.Lock()
		obj, err = r.object(plumbing.BlobObject, h)
		r.mu.Unlock()
	}
	if err != nil {
		return nil, fmt.Errorf("read blob %s: %w", h, err)
	}
	return obj, nil
}

// readBlobObject reads obj's content, at most limit bytes when limit >= 0.
func readBlobObject(obj plumbing.EncodedObject, limit int64) ([]byte, error) {
	rc, err := obj.Reader()
	if err != nil {
		return nil, fmt.Errorf("read blob %s: %w", obj.Hash(), err)
	}
	defer rc.Close()
	var src io.Reader = rc
	size := obj.Size()
	if limit >= 0 {
		src = io.LimitReader(rc, limit)
		size = min(size, limit)
	}
	var buf bytes.Buffer
	buf.Grow(int(min(size, 1<<20)) + bytes.MinRead)
	if _, err := buf.ReadFrom(src); err != nil {
		return nil, fmt.Errorf("read blob %s: %w", obj.Hash(), err)
	}
	return buf.Bytes(), nil
}
