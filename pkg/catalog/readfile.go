package catalog

import (
	"io/fs"
	"strings"
)

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

// YAMLText returns the text ParseFile hands to yaml.v3 for a file's data:
// a JSON file's \/ escapes, which YAML lacks, become /. Positions in the
// file's Documents are positions in this text, so a tool that edits the file
// through yaml.v3 nodes reads it the same way.
func YAMLText(file string, data []byte) []byte {
	if strings.HasSuffix(file, ".json") {
		return unescapeJSONSolidus(data)
	}
	return data
}
