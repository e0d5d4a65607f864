package validate

import (
	"context"
	"fmt"
	"io/fs"
	"runtime"
	"strings"
	"sync"

	"github.com/berth-dev/berth/pkg/catalog"
)

// Load reads the catalog tree rooted at fsys as catalog.Load does — the
// same files, the same findings — but reads and parses files with
// opts.Workers goroutines (default GOMAXPROCS), which matters on large
// catalogs. It does not validate or build. The error is non-nil only when
// the tree cannot be listed or ctx ends.
func Load(ctx context.Context, fsys fs.FS, opts Options) (*catalog.Catalog, error) {
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	limits := opts.Limits
	var files []*catalog.File
	cfgPath := ""
	for _, name := range []string{catalog.ConfigFile, "berth.yml"} {
		if _, err := fs.Stat(fsys, name); err == nil {
			cfgPath = name
			break
		}
	}
	if cfgPath != "" {
		if f, ok := catalog.ReadFile(fsys, cfgPath, limits); ok {
			files = append(files, f)
			cfg := catalog.New([]*catalog.File{f})
			cfg.Build()
			limits = cfg.EffectiveLimits(limits)
		}
	}

	var paths []string
	var walk catalog.Diagnostics
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		if err != nil {
			walk = append(walk, catalog.Errorf(catalog.Position{File: p}, catalog.CodeRead, "%v", err))
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if p == "." || p == cfgPath {
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
				if !knownFolder(p) {
					walk = append(walk, unknownFile(p+"/x")...)
					return fs.SkipDir
				}
			}
			return nil
		}
		if _, _, ok := catalog.KindOf(p); !ok {
			walk = append(walk, unknownFile(p)...)
			return nil
		}
		paths = append(paths, p)
		return nil
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("walk catalog: %w", err)
	}

	read := make([]*catalog.File, len(paths))
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(workers, max(1, len(paths))) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				read[i], _ = catalog.ReadFile(fsys, paths[i], limits)
			}
		}()
	}
feed:
	for i := range paths {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	files = append(files, read...)
	cat := catalog.New(files)
	cat.Diags = walk
	return cat, nil
}
