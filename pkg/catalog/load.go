package catalog

import (
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
	var files []*File
	var diags Diagnostics
	limits := opts.Limits

	// berth.yaml comes first: its limits apply to every other file.
	cfgPath := ""
	for _, name := range []string{ConfigFile, "berth.yml"} {
		if _, err := fs.Stat(fsys, name); err == nil {
			cfgPath = name
			break
		}
	}
	if cfgPath != "" {
		f := readFile(fsys, cfgPath, KindConfig, "", limits)
		files = append(files, f)
		if cfg, _ := decodeConfig(f); cfg != nil {
			limits = mergeLimits(limits, cfg.Limits)
		}
	}

	type job struct {
		path string
		kind Kind
		bp   string
	}
	var jobs []job
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		if err != nil {
			diags = append(diags, Errorf(Position{File: p}, CodeRead, "%v", unwrapPathError(err)))
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if p == "." {
			return nil
		}
		name := d.Name()
		if strings.HasPrefix(name, ".") || name == "testdata" && d.IsDir() {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			if !strings.Contains(p, "/") {
				if _, known := folderKinds[p]; !known {
					diags = append(diags, unknownFolder(p))
					return fs.SkipDir
				}
			}
			return nil
		}
		if p == cfgPath {
			return nil
		}
		kind, bp, ok := KindOf(p)
		if !ok {
			if isCatalogExt(p) {
				diags = append(diags, outsideFolders(p))
			}
			return nil
		}
		if d.Type()&fs.ModeSymlink != 0 {
			if dg, ok := checkSymlink(fsys, p); !ok {
				diags = append(diags, dg)
				return nil
			}
		}
		jobs = append(jobs, job{p, kind, bp})
		return nil
	})
	if err != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("walk catalog: %w", err)
	}

	// Read and parse on every core; results keep the walk's order.
	parsed := make([]*File, len(jobs))
	var next, done atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), max(1, len(jobs))) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(jobs) || ctx.Err() != nil {
					return
				}
				j := jobs[i]
				parsed[i] = readFile(fsys, j.path, j.kind, j.bp, limits)
				if n := done.Add(1); opts.Progress != nil && n%1024 == 0 {
					opts.Progress(int(n))
				}
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	files = append(files, parsed...)
	cat := New(files)
	cat.Diags = append(cat.Diags, diags...)
	return cat, nil
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
func readFile(fsys fs.FS, p string, kind Kind, bp string, limits Limits) *File {
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
	f.Docs, f.Diags = ParseFile(p, data, kind, limits)
	for _, d := range f.Docs {
		d.Blueprint = bp
	}
	return f
}

var errTooLarge = errors.New("file too large")

func readLimited(fsys fs.FS, p string, max int64) ([]byte, error) {
	fh, err := fsys.Open(p)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	if st, err := fh.Stat(); err == nil && st.Size() > max {
		return nil, fmt.Errorf("%w: %d bytes, over the limit of %d (raise limits.maxFileBytes in berth.yaml)", errTooLarge, st.Size(), max)
	}
	data, err := io.ReadAll(io.LimitReader(fh, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%w: over the limit of %d bytes (raise limits.maxFileBytes in berth.yaml)", errTooLarge, max)
	}
	return data, nil
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
