package edit

import (
	"bytes"
	"io/fs"
	"path"
	"slices"
	"time"

	"github.com/berth-dev/berth/pkg/catalog"
)

// pagesFS shows Load only the catalog's pages/ folder and berth.yaml.
type pagesFS struct{ fs.FS }

// ReadDir filters the root; WalkDir lists directories through it.
func (p pagesFS) ReadDir(name string) ([]fs.DirEntry, error) {
	es, err := fs.ReadDir(p.FS, name)
	if name != "." || err != nil {
		return es, err
	}
	return slices.DeleteFunc(es, func(e fs.DirEntry) bool {
		n := e.Name()
		return n != "pages" && n != catalog.ConfigFile && n != "berth.yml"
	}), nil
}

// ReadLink and Lstat pass through, so Load's symlink checks still work.
func (p pagesFS) ReadLink(name string) (string, error) { return fs.ReadLink(p.FS, name) }

// Lstat passes through to the underlying file system.
func (p pagesFS) Lstat(name string) (fs.FileInfo, error) { return fs.Lstat(p.FS, name) }

// overlayFS is a catalog tree with one file's content replaced, to
// validate an edit before it is written.
type overlayFS struct {
	fs.FS
	name string
	data []byte
}

// Open returns the replaced content for the edited file.
func (o overlayFS) Open(name string) (fs.File, error) {
	if name != o.name {
		return o.FS.Open(name)
	}
	return &memFile{Reader: bytes.NewReader(o.data), name: path.Base(name), size: int64(len(o.data))}, nil
}

// ReadLink passes through to the underlying file system.
func (o overlayFS) ReadLink(name string) (string, error) {
	if name == o.name {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: fs.ErrInvalid}
	}
	return fs.ReadLink(o.FS, name)
}

// Lstat describes the replaced content for the edited file.
func (o overlayFS) Lstat(name string) (fs.FileInfo, error) {
	if name == o.name {
		return memInfo{path.Base(name), int64(len(o.data))}, nil
	}
	return fs.Lstat(o.FS, name)
}

type memFile struct {
	*bytes.Reader
	name string
	size int64
}

func (f *memFile) Stat() (fs.FileInfo, error) { return memInfo{f.name, f.size}, nil }
func (f *memFile) Close() error               { return nil }

type memInfo struct {
	name string
	size int64
}

func (i memInfo) Name() string       { return i.name }
func (i memInfo) Size() int64        { return i.size }
func (i memInfo) Mode() fs.FileMode  { return 0o644 }
func (i memInfo) ModTime() time.Time { return time.Time{} }
func (i memInfo) IsDir() bool        { return false }
func (i memInfo) Sys() any           { return nil }
