// Package edit edits catalog files in place for a pull request, keeping
// comments, key order and the other documents of the file.
//
// It is the GitOps form of Port's page PATCH API: [Editor.PatchPermissions]
// applies a permissions patch with Port's semantics (only the keys present
// change; a present list replaces the old one) and [Editor.SetLocked] locks
// or unlocks a page. Each edit changes the file's yaml.v3 node tree, and
// only the lines of the entry that changed are rewritten: the rest of the
// file stays byte for byte as it was. The new text must parse back to the
// edited tree, and the edited file must pass berth's validation (package
// validate), or nothing is returned to write. JSON files are written back
// as JSON with their key order.
//
// The package finds pages with catalog's loader; it never parses catalog
// files any other way than catalog does.
package edit
