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
	return readFile(fsys, p, kind, bp, limits, nil), true
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

// Skipped reports whether Load passes over the slash-separated path p
// without reading or reporting it: a hidden file or folder, or one inside a
// folder named testdata.
func Skipped(p string) bool {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		if strings.HasPrefix(s, ".") || s == "testdata" && i < len(parts)-1 {
			return true
		}
	}
	return false
}

// WalkDiagnostics returns what Load reports about the path p of fsys from
// walking the tree rather than from reading p: that p's top-level folder is
// not part of the catalog layout, or that p is a file outside the catalog
// folders, each while fsys holds it. A caller that re-reads only the paths a
// change touched drops the previous diagnostics at each path and at its
// top-level folder, then adds these; with ReadFile for the catalog files
// among them, it reports what Load would.
func WalkDiagnostics(fsys fs.FS, p string) Diagnostics {
	if Skipped(p) {
		return nil
	}
	if top, _, nested := strings.Cut(p, "/"); nested {
		if _, known := folderKinds[top]; !known {
			if fi, err := fs.Stat(fsys, top); err == nil && fi.IsDir() {
				return Diagnostics{unknownFolder(top)}
			}
			return nil
		}
	}
	if _, _, ok := KindOf(p); ok || !isCatalogExt(p) {
		return nil
	}
	if fi, err := fs.Stat(fsys, p); err != nil || fi.IsDir() {
		return nil
	}
	return Diagnostics{outsideFolders(p)}
}

// Rewalk returns the walk diagnostics of fsys given prev, those of the tree
// before the change of paths: prev's findings about other paths and
// folders, and WalkDiagnostics of each changed path. It is what Load would
// report from its walk, without walking.
func Rewalk(prev Diagnostics, fsys fs.FS, paths []string) Diagnostics {
	changed := make(map[string]bool, len(paths))
	for _, p := range paths {
		changed[p] = true
		if top, _, nested := strings.Cut(p, "/"); nested {
			changed[top] = true
		}
	}
	var out Diagnostics
	for _, d := range prev {
		if !changed[d.File] {
			out = append(out, d)
		}
	}
	for _, p := range paths {
		out = append(out, WalkDiagnostics(fsys, p)...)
	}
	return out.Sort()
}

// outsideFolders is the warning about a file outside the catalog folders.
func outsideFolders(p string) Diagnostic {
	return Warningf(Position{File: p}, CodeUnknownFile,
		"file is outside the catalog folders (%s) and is ignored", strings.Join(knownFolders(), ", "))
}

// unknownFolder is the warning about a top-level folder outside the layout.
func unknownFolder(top string) Diagnostic {
	return Warningf(Position{File: top}, CodeUnknownFile, "folder %s/ is not part of the catalog layout and is ignored", top)
}
