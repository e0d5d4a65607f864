package review

import (
	"cmp"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/berth-dev/berth/pkg/access"
	"github.com/berth-dev/berth/pkg/catalog"
)

// Kinds of PermissionChange.
const (
	KindPage      = "page"
	KindRole      = "role"
	KindBlueprint = "blueprint"
	KindUser      = "user"
	KindTeam      = "team"
)

// Changes a PermissionChange reports.
const (
	ChangeAdded   = "added"
	ChangeChanged = "changed"
	ChangeRemoved = "removed"
)

// PermissionChange is one edit to who may see or do what: a page's
// permissions, a role, a blueprint's entity permissions, or a user's
// access. The pull-request guard (Guard) lets only an Admin make them.
type PermissionChange struct {
	// Position is where the change is in the head: the permissions key,
	// the role, the user's changed property. For an object the head no
	// longer has it is the base file, with no line.
	catalog.Position
	// Kind is page, role, blueprint, user or team.
	Kind       string `json:"kind"`
	Identifier string `json:"identifier"`
	// Field is what changed: permissions for a page or a blueprint; for a
	// user port_role, roles, status, team or the property holding the
	// GitHub login, and roles (all of them) for a user added or removed;
	// empty for a role, which counts whole.
	Field string `json:"field,omitempty"`
	// Change is added, changed or removed.
	Change string `json:"change"`
	// From and To are a user's field before and after, as text.
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
}

// Describe says what changed in words: `page "services": permissions
// changed`, `user "a@b.c": port_role changed (Member → Admin)`.
func (p PermissionChange) Describe() string {
	subject := fmt.Sprintf("%s %q", p.Kind, p.Identifier)
	switch {
	case p.Kind == KindUser && p.Change == ChangeAdded:
		return fmt.Sprintf("new %s with %s %s", subject, p.Field, p.To)
	case p.Kind == KindUser && p.Change == ChangeRemoved:
		return fmt.Sprintf("%s removed (%s %s)", subject, p.Field, p.From)
	case p.Kind == KindUser || p.Kind == KindTeam:
		return fmt.Sprintf("%s: %s changed (%s → %s)", subject, p.Field, orNone(p.From), orNone(p.To))
	case p.Kind == KindBlueprint:
		return fmt.Sprintf("%s: entity permissions %s", subject, p.Change)
	case p.Field != "":
		return fmt.Sprintf("%s: %s %s", subject, p.Field, p.Change)
	}
	return subject + " " + p.Change
}

func orNone(s string) string { return cmp.Or(s, "none") }

// PermissionChanges lists the permission changes between base and head:
//
//   - pages whose permissions differ, blueprints whose permissions differ,
//     and roles that differ at all (a role's permissions are what it is),
//     each added, changed or removed. These are few, so all of them are
//     compared, whichever files changed: a blueprint's effective
//     permissions may be set outside its own file;
//   - _user entities in the changed files (catalog-relative paths; nil
//     means every file) whose port_role, roles, status, team, GitHub login
//     or a property a read rule takes from the caller ({context: user,
//     property} or "{{ user.x }}" in a read policy or role condition)
//     changed (one change per field), _team entities whose property a rule
//     takes through {context: userTeams, property} changed, and users added or removed
//     that hold a role other than Member (field roles: port_role and roles
//     together).
//
// The result is sorted by file, line and identifier.
func PermissionChanges(base, head *catalog.Catalog, changed []string) []PermissionChange {
	var only map[string]bool
	if changed != nil {
		only = map[string]bool{}
		for _, p := range changed {
			only[p] = true
		}
	}
	touched := func(d *catalog.Document) bool { return only == nil || (d != nil && only[d.File]) }
	var out []PermissionChange
	type obj struct {
		doc   *catalog.Document
		perms any
		at    string // the key a change points at, when not compare's
	}
	// compare reports the objects whose perms differ; at is the key a
	// change points at in the head document ("": the identifier).
	compare := func(kind, field, at string, before, after map[string]obj) {
		for id, a := range after {
			b, ok := before[id]
			key := at
			if a.at != "" {
				key = a.at
			}
			pc := PermissionChange{Position: keyPos(a.doc, key), Kind: kind, Identifier: id, Field: field}
			switch {
			case !ok && !isNil(a.perms):
				pc.Change = ChangeAdded
			case ok && !reflect.DeepEqual(a.perms, b.perms):
				pc.Change = ChangeChanged
			default:
				continue
			}
			out = append(out, pc)
		}
		for id, b := range before {
			if _, ok := after[id]; !ok && !isNil(b.perms) {
				out = append(out, PermissionChange{Position: catalog.Position{File: b.doc.File}, Kind: kind,
					Identifier: id, Field: field, Change: ChangeRemoved})
			}
		}
	}
	pages := func(c *catalog.Catalog) map[string]obj {
		m := map[string]obj{}
		for _, p := range c.Pages {
			m[p.Identifier] = obj{doc: p.Doc, perms: p.Permissions}
		}
		return m
	}
	roles := func(c *catalog.Catalog) map[string]obj {
		m := map[string]obj{}
		for _, r := range c.Roles {
			m[r.Identifier] = obj{doc: r.Doc, perms: r.Doc.Value}
		}
		return m
	}
	blueprints := func(c *catalog.Catalog) map[string]obj {
		m := map[string]obj{}
		for id, b := range c.Blueprints {
			switch {
			case b.PermissionsDoc != nil && b.PermissionsDoc != b.Doc:
				// Set by a permissions document under roles/.
				m[id] = obj{doc: b.PermissionsDoc, perms: b.Permissions, at: "entities"}
			case b.Doc != nil:
				m[id] = obj{doc: b.Doc, perms: b.Permissions}
			}
		}
		return m
	}
	compare(KindPage, "permissions", "permissions", pages(base), pages(head))
	compare(KindRole, "", "", roles(base), roles(head))
	compare(KindBlueprint, "permissions", "permissions", blueprints(base), blueprints(head))
	out = append(out, userChanges(base, head, touched)...)
	slices.SortFunc(out, func(a, b PermissionChange) int {
		return cmp.Or(strings.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line),
			strings.Compare(a.Identifier, b.Identifier), strings.Compare(a.Field, b.Field))
	})
	return out
}

// userChanges lists the access changes of _user entities in touched files.
func userChanges(base, head *catalog.Catalog, touched func(*catalog.Document) bool) []PermissionChange {
	var out []PermissionChange
	props := contextProperties(base)
	for k, v := range contextProperties(head) {
		props[k] = append(props[k], v...)
	}
	fields := []string{"port_role", "roles", "status"}
	for _, f := range props["user"] {
		if !slices.Contains(fields, f) && f != "team" && !strings.HasPrefix(f, "$") && f != "identifier" {
			fields = append(fields, f)
		}
	}
	slices.Sort(fields[3:])
	fields = slices.Compact(fields)
	out = append(out, teamChanges(base, head, touched, props["userTeams"])...)
	for _, u := range head.Entities {
		if u.Blueprint != catalog.UserBlueprint {
			continue
		}
		old := base.Entity(u.Key())
		if !touched(u.Doc) && (old == nil || !touched(old.Doc)) {
			continue
		}
		if old == nil {
			if roles, ok := holdsRole(u); ok {
				out = append(out, PermissionChange{Position: keyPos(u.Doc, "properties", roleKey(u)), Kind: KindUser,
					Identifier: u.Identifier, Field: "roles", Change: ChangeAdded, To: roles})
			}
			continue
		}
		for _, f := range fields {
			if !reflect.DeepEqual(old.Properties[f], u.Properties[f]) {
				out = append(out, PermissionChange{Position: keyPos(u.Doc, "properties", f), Kind: KindUser,
					Identifier: u.Identifier, Field: f, Change: ChangeChanged,
					From: text(old.Properties[f]), To: text(u.Properties[f])})
			}
		}
		if !slices.Equal(old.Team, u.Team) {
			out = append(out, PermissionChange{Position: keyPos(u.Doc, "team"), Kind: KindUser,
				Identifier: u.Identifier, Field: "team", Change: ChangeChanged,
				From: strings.Join(old.Team, ", "), To: strings.Join(u.Team, ", ")})
		}
		// The login decides whose pull requests the guard lets through.
		was, oldKey := access.Login(old)
		if is, key := access.Login(u); !strings.EqualFold(is, was) {
			key = cmp.Or(key, oldKey)
			out = append(out, PermissionChange{Position: keyPos(u.Doc, "properties", key), Kind: KindUser,
				Identifier: u.Identifier, Field: key, Change: ChangeChanged, From: was, To: is})
		}
	}
	for _, u := range base.Entities {
		if u.Blueprint != catalog.UserBlueprint || head.Entity(u.Key()) != nil || !touched(u.Doc) {
			continue
		}
		if roles, ok := holdsRole(u); ok {
			out = append(out, PermissionChange{Position: catalog.Position{File: u.Doc.File}, Kind: KindUser,
				Identifier: u.Identifier, Field: "roles", Change: ChangeRemoved, From: roles})
		}
	}
	return out
}

// holdsRole returns a user's roles (access.SubjectOf: port_role and roles
// together), and whether one of them is other than Member, the role every
// user holds by default.
func holdsRole(u *catalog.Entity) (string, bool) {
	roles := access.SubjectOf(u).Roles
	return strings.Join(roles, ", "), slices.ContainsFunc(roles, func(r string) bool { return r != catalog.RoleMember })
}

// roleKey is the property a user's roles are written in: port_role when
// set, else roles.
func roleKey(u *catalog.Entity) string {
	if _, ok := u.Properties["port_role"]; ok {
		return "port_role"
	}
	return "roles"
}

// text renders a property value for a message: a string as it is, a list
// joined with commas, nothing as "".
func text(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case []any:
		parts := make([]string, len(x))
		for i, it := range x {
			parts[i] = text(it)
		}
		return strings.Join(parts, ", ")
	}
	return fmt.Sprint(v)
}

// keyPos is where the key at path is written in d, or the deepest of its
// ancestors that d has (a user's properties when port_role was deleted),
// or d's identifier.
func keyPos(d *catalog.Document, path ...string) catalog.Position {
	if d == nil {
		return catalog.Position{}
	}
	n := 0
	for v := d.Value; n < len(path) && path[n] != ""; n++ {
		x, ok := v[path[n]]
		if !ok {
			break
		}
		if v, ok = x.(map[string]any); !ok && n < len(path)-1 {
			n++
			break
		}
	}
	if n == 0 {
		return d.KeyPos("identifier")
	}
	return d.KeyPos(path[:n]...)
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

// contextProperties returns, by context (user or userTeams), the
// properties the catalog's read rules take from the caller: {context,
// property} values and "{{ user.x }}" templates in blueprints' read
// policies and roles' conditions. A change to such a property of a user or
// a team changes what someone may read.
func contextProperties(c *catalog.Catalog) map[string][]string {
	out := map[string][]string{}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if ctx, ok := x["context"].(string); ok {
				if p, _ := x["property"].(string); p != "" {
					out[ctx] = append(out[ctx], p)
				}
			}
			for _, it := range x {
				walk(it)
			}
		case []any:
			for _, it := range x {
				walk(it)
			}
		case string:
			if m := userTemplate.FindStringSubmatch(x); m != nil {
				out["user"] = append(out["user"], m[1])
			}
		}
	}
	for _, b := range c.Blueprints {
		if b.Permissions != nil && b.Permissions.Entities != nil && b.Permissions.Entities.Read != nil {
			walk(map[string]any(b.Permissions.Entities.Read.Policy))
		}
	}
	for _, r := range c.Roles {
		for _, p := range r.Permissions {
			walk(p.Condition)
		}
	}
	return out
}

// userTemplate is the seed's "{{ user.x }}" value.
var userTemplate = regexp.MustCompile(`^\{\{\s*user\.([A-Za-z0-9_$@=-]+)\s*\}\}$`)

// teamChanges reports the _team entities in the changed files whose
// properties that read rules take from a caller's teams ({context:
// userTeams, property}) changed.
func teamChanges(base, head *catalog.Catalog, touched func(*catalog.Document) bool, props []string) []PermissionChange {
	var out []PermissionChange
	slices.Sort(props)
	props = slices.Compact(props)
	for _, t := range head.Entities {
		if t.Blueprint != catalog.TeamBlueprint || len(props) == 0 {
			continue
		}
		old := base.Entity(t.Key())
		if old == nil || (!touched(t.Doc) && !touched(old.Doc)) {
			continue
		}
		for _, f := range props {
			if strings.HasPrefix(f, "$") || f == "identifier" || reflect.DeepEqual(old.Properties[f], t.Properties[f]) {
				continue
			}
			out = append(out, PermissionChange{Position: keyPos(t.Doc, "properties", f), Kind: KindTeam,
				Identifier: t.Identifier, Field: f, Change: ChangeChanged,
				From: text(old.Properties[f]), To: text(t.Properties[f])})
		}
	}
	return out
}
