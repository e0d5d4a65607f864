package review

import (
	"reflect"
	"slices"

	"github.com/berth-dev/berth/pkg/catalog"
)

// PermissionChange is a changed file that grants or limits access: a
// page's permissions, a role, or a blueprint's entity permissions. It is
// the hook of the pull-request guard, which will ask for the right
// reviewers; for now the report lists them as a notice.
type PermissionChange struct {
	File string `json:"file"`
	// Kind is page, role or blueprint.
	Kind       string `json:"kind"`
	Identifier string `json:"identifier"`
	// Change is added, removed or changed.
	Change string `json:"change"`
}

// PermissionChanges lists the permission-bearing objects of the changed
// files (catalog-relative paths; nil means every file) whose permissions
// differ between base and head. A role counts whole: its permissions are
// what it is.
func PermissionChanges(base, head *catalog.Catalog, changed []string) []PermissionChange {
	var only map[string]bool
	if changed != nil {
		only = map[string]bool{}
		for _, p := range changed {
			only[p] = true
		}
	}
	var out []PermissionChange
	type obj struct {
		file  string
		perms any
	}
	compare := func(kind string, before, after map[string]obj) {
		for id, a := range after {
			b, ok := before[id]
			if only != nil && !only[a.file] && (!ok || !only[b.file]) {
				continue
			}
			switch {
			case !ok && !isNil(a.perms):
				out = append(out, PermissionChange{File: a.file, Kind: kind, Identifier: id, Change: "added"})
			case ok && !reflect.DeepEqual(a.perms, b.perms):
				out = append(out, PermissionChange{File: a.file, Kind: kind, Identifier: id, Change: "changed"})
			}
		}
		for id, b := range before {
			if _, ok := after[id]; !ok && !isNil(b.perms) && (only == nil || only[b.file]) {
				out = append(out, PermissionChange{File: b.file, Kind: kind, Identifier: id, Change: "removed"})
			}
		}
	}
	file := func(d *catalog.Document) string {
		if d == nil {
			return ""
		}
		return d.File
	}
	pages := func(c *catalog.Catalog) map[string]obj {
		m := map[string]obj{}
		for _, p := range c.Pages {
			m[p.Identifier] = obj{file(p.Doc), p.Permissions}
		}
		return m
	}
	roles := func(c *catalog.Catalog) map[string]obj {
		m := map[string]obj{}
		for _, r := range c.Roles {
			m[r.Identifier] = obj{file(r.Doc), r.Doc.Value}
		}
		return m
	}
	blueprints := func(c *catalog.Catalog) map[string]obj {
		m := map[string]obj{}
		for id, b := range c.Blueprints {
			if b.Doc != nil {
				m[id] = obj{file(b.Doc), b.Permissions}
			}
		}
		return m
	}
	compare("page", pages(base), pages(head))
	compare("role", roles(base), roles(head))
	compare("blueprint", blueprints(base), blueprints(head))
	slices.SortFunc(out, func(a, b PermissionChange) int {
		if a.File != b.File {
			if a.File < b.File {
				return -1
			}
			return 1
		}
		if a.Identifier < b.Identifier {
			return -1
		}
		if a.Identifier > b.Identifier {
			return 1
		}
		return 0
	})
	return out
}

func isNil(v any) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Interface:
		return rv.IsNil()
	}
	return false
}
