package catalog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// File is one file of a catalog tree, parsed.
type File struct {
	Path string // slash-separated, relative to the catalog root
	Kind Kind
	Docs []*Document
	// Source holds the text of a policy (.cue) file; nil for other kinds.
	Source []byte
	// Diags are the problems found reading the file.
	Diags Diagnostics
}

// Options configure Load.
type Options struct {
	// Limits bound each file's cost. Zero fields take defaults; berth.yaml's
	// limits, when present, override these.
	Limits Limits
	// Progress, when set, is called now and then with the count of files
	// read so far, from any goroutine.
	Progress func(files int)
}

// folderKinds maps a top-level folder to the kind of its files.
var folderKinds = map[string]Kind{
	"blueprints": KindBlueprint,
	"entities":   KindEntity,
	"scorecards": KindScorecard,
	"actions":    KindAction,
	"pages":      KindPage,
	"roles":      KindRole,
	"policies":   KindPolicy,
}

// ConfigFile is the name of the optional catalog configuration at the root.
const ConfigFile = "berth.yaml"

// KindOf returns the kind of the catalog file at the slash-separated path
// relative to the catalog root, and for entity files the blueprint implied by
// their folder. ok is false for files berth does not read.
func KindOf(p string) (kind Kind, blueprint string, ok bool) {
	if p == ConfigFile || p == "berth.yml" {
		return KindConfig, "", true
	}
	top, rest, found := strings.Cut(p, "/")
	if !found {
		return "", "", false
	}
	kind, ok = folderKinds[top]
	if !ok {
		return "", "", false
	}
	ext := path.Ext(p)
	if kind == KindPolicy {
		return kind, "", ext == ".cue"
	}
	if ext != ".yaml" && ext != ".yml" && ext != ".json" {
		return "", "", false
	}
	if kind == KindEntity {
		if dir, _, nested := strings.Cut(rest, "/"); nested {
			blueprint = dir
		}
	}
	return kind, blueprint, true
}

// Load reads the catalog tree rooted at fsys. It reads every file, reporting
// every problem it finds rather than stopping at the first, so the returned
// Catalog is never nil. The returned error is non-nil only when the tree
// itself cannot be listed or ctx is done.
func Load(ctx context.Context, fsys fs.FS, opts Options) (*Catalog, error) {
	var diags Diagnostics
	files, cfgPath, limits := readConfig(fsys, opts.Limits)

	// The walk feeds the files it finds to a reader per core as it goes,
	// so parsing starts with the first file rather than after the last.
	jobs := make(chan job, 1024)
	var walkErr error
	go func() {
		defer close(jobs)
		walkErr = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
			if cerr := ctx.Err(); cerr != nil {
				return cerr
			}
			j, read, dg, werr := visit(fsys, cfgPath, p, d, err)
			if dg != nil {
				diags = append(diags, *dg)
			}
			if !read {
				return werr
			}
			select {
			case jobs <- j:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()

	var mu sync.Mutex
	var done atomic.Int64
	var wg sync.WaitGroup
	for range max(1, runtime.GOMAXPROCS(0)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var local []*File
			in := newInterner()
			for j := range jobs {
				if ctx.Err() != nil {
					continue // drain: the walk stops soon
				}
				local = append(local, readFile(fsys, j.path, j.kind, j.bp, limits, in))
				if n := done.Add(1); opts.Progress != nil && n%1024 == 0 {
					opts.Progress(int(n))
				}
			}
			mu.Lock()
			files = append(files, local...)
			mu.Unlock()
		}()
	}
	wg.Wait() // the walk has ended too: it closed jobs
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if walkErr != nil {
		return nil, fmt.Errorf("walk catalog: %w", walkErr)
	}
	cat := New(files)
	cat.Diags = append(cat.Diags, diags...)
	return cat, nil
}

// readConfig reads berth.yaml (or berth.yml), which comes first: its limits
// apply to every other file. It returns the file read, if any, its path,
// and limits merged with the file's.
func readConfig(fsys fs.FS, limits Limits) (files []*File, cfgPath string, merged Limits) {
	for _, name := range []string{ConfigFile, "berth.yml"} {
		if _, err := fs.Stat(fsys, name); err == nil {
			cfgPath = name
			break
		}
	}
	if cfgPath == "" {
		return nil, "", limits
	}
	f := readFile(fsys, cfgPath, KindConfig, "", limits, nil)
	if cfg, _ := decodeConfig(f); cfg != nil {
		limits = mergeLimits(limits, cfg.Limits)
	}
	return []*File{f}, cfgPath, limits
}

// job is a catalog file to read.
type job struct {
	path string
	kind Kind
	bp   string
}

// visit decides what Load does with the walk's entry p (d and err as
// fs.WalkDir gives them): read it as a catalog file, report it, skip it or
// its folder. walkErr is what the walk function returns when the file is not
// read.
func visit(fsys fs.FS, cfgPath, p string, d fs.DirEntry, err error) (j job, read bool, diag *Diagnostic, walkErr error) {
	if err != nil {
		dg := Errorf(Position{File: p}, CodeRead, "%v", unwrapPathError(err))
		if d != nil && d.IsDir() {
			return j, false, &dg, fs.SkipDir
		}
		return j, false, &dg, nil
	}
	if p == "." {
		return j, false, nil, nil
	}
	name := d.Name()
	if strings.HasPrefix(name, ".") || name == "testdata" && d.IsDir() {
		if d.IsDir() {
			return j, false, nil, fs.SkipDir
		}
		return j, false, nil, nil
	}
	if d.IsDir() {
		if _, known := folderKinds[p]; !known && !strings.Contains(p, "/") {
			dg := unknownFolder(p)
			return j, false, &dg, fs.SkipDir
		}
		return j, false, nil, nil
	}
	if p == cfgPath {
		return j, false, nil, nil
	}
	kind, bp, ok := KindOf(p)
	if !ok {
		if isCatalogExt(p) {
			dg := outsideFolders(p)
			return j, false, &dg, nil
		}
		return j, false, nil, nil
	}
	if d.Type()&fs.ModeSymlink != 0 {
		if dg, ok := checkSymlink(fsys, p); !ok {
			return j, false, &dg, nil
		}
	}
	return job{p, kind, bp}, true, nil, nil
}

func isCatalogExt(p string) bool {
	switch path.Ext(p) {
	case ".yaml", ".yml", ".json", ".cue":
		return true
	}
	return false
}

func knownFolders() []string {
	var out []string
	for k := range folderKinds {
		out = append(out, k+"/")
	}
	slices.Sort(out)
	return out
}

// checkSymlink allows a symlink only when its target stays inside the tree.
func checkSymlink(fsys fs.FS, p string) (Diagnostic, bool) {
	target, err := fs.ReadLink(fsys, p)
	if err != nil {
		return Errorf(Position{File: p}, CodeSymlink, "cannot read symlink: %v", unwrapPathError(err)), false
	}
	if path.IsAbs(target) || strings.HasPrefix(target, "/") {
		return Errorf(Position{File: p}, CodeSymlink, "symlink points outside the catalog (%s)", target), false
	}
	resolved := path.Join(path.Dir(p), target)
	if resolved == ".." || strings.HasPrefix(resolved, "../") {
		return Errorf(Position{File: p}, CodeSymlink, "symlink points outside the catalog (%s)", target), false
	}
	return Diagnostic{}, true
}

// readFile reads and parses one file, enforcing the size limit before the
// content is read.
// readFile reads and parses one file; in, when not nil, shares repeated
// strings with the files read before (see interner).
func readFile(fsys fs.FS, p string, kind Kind, bp string, limits Limits, in *interner) *File {
	f := &File{Path: p, Kind: kind}
	limits = limits.withDefaults()
	data, err := readLimited(fsys, p, limits.MaxFileBytes)
	if err != nil {
		code := CodeRead
		if errors.Is(err, errTooLarge) {
			code = CodeTooLarge
		}
		f.Diags = append(f.Diags, Errorf(Position{File: p}, code, "%v", unwrapPathError(err)))
		return f
	}
	if kind == KindPolicy {
		f.Source = data
		return f
	}
	f.Docs, f.Diags = parseFile(p, data, kind, limits, in, func() ([]byte, error) {
		return readLimited(fsys, p, limits.MaxFileBytes)
	})
	for _, d := range f.Docs {
		d.Blueprint = bp
		if kind == KindEntity {
			// Decoded here, on the reader's core, rather than in Build;
			// a document that does not decode is decoded again there,
			// which reports why.
			var discard Diagnostics
			if e, ok := decodeEntity(d, &discard); ok {
				d.entity = e
			}
		}
	}
	return f
}

var errTooLarge = errors.New("file too large")

func readLimited(fsys fs.FS, p string, limit int64) ([]byte, error) {
	fh, err := fsys.Open(p)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	var size int64
	if st, err := fh.Stat(); err == nil {
		if size = st.Size(); size > limit {
			return nil, fmt.Errorf("%w: %d bytes, over the limit of %d (raise limits.maxFileBytes in berth.yaml)", errTooLarge, size, limit)
		}
	}
	// Sized from Stat, the buffer is allocated once rather than grown.
	var buf bytes.Buffer
	buf.Grow(int(min(max(size, 0), limit)) + bytes.MinRead)
	if _, err := buf.ReadFrom(io.LimitReader(fh, limit+1)); err != nil {
		return nil, err
	}
	if int64(buf.Len()) > limit {
		return nil, fmt.Errorf("%w: over the limit of %d bytes (raise limits.maxFileBytes in berth.yaml)", errTooLarge, limit)
	}
	return buf.Bytes(), nil
}

func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Op, pe.Err)
	}
	return err
}

func mergeLimits(base, over Limits) Limits {
	if over.MaxFileBytes > 0 {
		base.MaxFileBytes = over.MaxFileBytes
	}
	if over.MaxDepth > 0 {
		base.MaxDepth = over.MaxDepth
	}
	if over.MaxValues > 0 {
		base.MaxValues = over.MaxValues
	}
	return base
}
