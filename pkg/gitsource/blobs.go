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
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// Blobs are read through a pool of object stores over the repository's
// directory rather than through the Repo's own store: a go-git filesystem
// store serves one goroutine at a time (its pack scanners keep a position,
// which is why Repo.mu serialises it), so a loader reading 100k files on
// every core spent most of its time waiting for that lock. Each pooled store
// has its own pack file handles; they share one object cache (go-git's LRU
// is safe for concurrent use), so a delta base read by one is found by the
// others.

// blobCacheSize bounds the cache shared by the pooled stores. Catalog blobs
// are read once; the cache is there for delta bases.
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
	cache cache.Object
	slots chan *filesystem.Storage // a nil slot is a store not opened yet

	mu     sync.Mutex
	opened []*filesystem.Storage
	closed bool
}

// newBlobPool returns a pool over the repository whose main store is st, or
// nil when st does not live in a directory (then blobs are read through the
// main store).
func newBlobPool(st storer.Storer) *blobPool {
	fst, ok := st.(*filesystem.Storage)
	if !ok {
		return nil
	}
	n := runtime.GOMAXPROCS(0)
	p := &blobPool{fs: fst.Filesystem(), cache: cache.NewObjectLRU(blobCacheSize), slots: make(chan *filesystem.Storage, n)}
	for range n {
		p.slots <- nil
	}
	return p
}

// get takes a store, waiting while every store is lent; put returns it.
func (p *blobPool) get() (*filesystem.Storage, error) {
	s := <-p.slots
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		p.slots <- s
		return nil, errClosed
	}
	if s == nil {
		s = filesystem.NewStorageWithOptions(p.fs, p.cache, filesystem.Options{
			MaxOpenDescriptors:   maxOpenPacks,
			LargeObjectThreshold: largeBlob,
		})
		p.opened = append(p.opened, s)
	}
	return s, nil
}

func (p *blobPool) put(s *filesystem.Storage) { p.slots <- s }

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

// with runs read on a lent store, once more after rereading the pack list
// when the object is not found: a pack may have been written since the
// store listed them (a fetch, git gc).
func (p *blobPool) with(read func(*filesystem.Storage) error) error {
	s, err := p.get()
	if err != nil {
		return err
	}
	defer p.put(s)
	err = read(s)
	if errors.Is(err, plumbing.ErrObjectNotFound) {
		s.Reindex()
		err = read(s)
	}
	return err
}

// trim closes the stores opened so far, which the next reads open again,
// and empties the shared cache: each store holds its own copy of the pack
// index (9 MB for a 100k-object pack), which a process that has done its
// reading need not keep. It waits for the stores lent out.
func (p *blobPool) trim() error {
	n := cap(p.slots)
	stores := make([]*filesystem.Storage, 0, n)
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
	p.opened = slices.DeleteFunc(p.opened, func(s *filesystem.Storage) bool { return slices.Contains(stores, s) })
	p.mu.Unlock()
	p.cache.Clear()
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

// blobObject returns blob h, through the pool when there is one, else
// through the main store under r.mu. r.mu must not be held.
func (r *Repo) blobObject(h plumbing.Hash) (plumbing.EncodedObject, error) {
	var obj plumbing.EncodedObject
	var err error
	if r.blobs != nil {
		obj, err = r.blobs.blob(h)
	} else {
		r.mu.Lock()
		obj, err = r.repo.Storer.EncodedObject(plumbing.BlobObject, h)
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
