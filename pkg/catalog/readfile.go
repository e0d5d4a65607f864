package catalog

import "io/fs"

// ReadFile reads and parses the single catalog file at path p of fsys, as
// Load does for each file: the same size limit, symlink containment and
// kind rules. ok is false for paths that are not catalog files (the caller
// should ignore them). The reconciler uses it to re-read only the files a
// commit changed.
func ReadFile(fsys fs.FS, p string, limits Limits) (f *File, ok bool) {
	kind, bp, ok := KindOf(p)
	if !ok {
		return nil, false
	}
	if fi, err := fs.Lstat(fsys, p); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		if d, inside := checkSymlink(fsys, p); !inside {
			return &File{Path: p, Kind: kind, Diags: Diagnostics{d}}, true
		}
	}
	return readFile(fsys, p, kind, bp, limits), true
}

// EffectiveLimits returns the limits Load applies: opts' limits overridden
// by berth.yaml's, when the catalog has one.
func (c *Catalog) EffectiveLimits(base Limits) Limits {
	if c.Config != nil {
		return mergeLimits(base, c.Config.Limits)
	}
	return base
}
