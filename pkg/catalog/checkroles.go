package catalog

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// CodeUnknownRole marks a role name that grants nothing: not Admin, Member,
// "<blueprint>-moderator" of a blueprint of the catalog, or a role of
// roles/. It is a warning, as such a name only fails to grant access.
const CodeUnknownRole = "unknown-role"

// roleNames warns about role names that grant nothing where the catalog
// hands out roles: a _user entity's port_role and roles properties, a
// blueprint's permissions.entities.read.roles and a page's
// permissions.read and permissions.update roles. Role names are compared
// exactly, as access does, so the suggestion names a known role that
// differs only by case first, then one a small edit away. A user's value
// outside the enum of its property in the _user blueprint (port_role is
// Admin or Member) is left to the entity schema, which rejects it.
func (ck *checker) roleNames() {
	known := map[string]bool{RoleAdmin: true, RoleMember: true}
	for id := range ck.c.Blueprints {
		known[id+ModeratorSuffix] = true
	}
	for _, r := range ck.c.Roles {
		known[r.Identifier] = true
	}
	names := sortedKeys(known)
	warn := func(d *Document, what, role string, path ...string) {
		if role == "" || known[role] {
			return
		}
		hint := ""
		for _, n := range names {
			if strings.EqualFold(n, role) {
				hint = fmt.Sprintf("; did you mean %q?", n)
				break
			}
		}
		if hint == "" {
			hint = suggest(role, names)
		}
		ck.diags = append(ck.diags, Warningf(d.Pos(path...), CodeUnknownRole,
			"%s: role %q grants nothing: it is not Admin, Member, a <blueprint>-moderator or a role of roles/%s", what, role, hint))
	}
	list := func(d *Document, what string, roles []string, path ...string) {
		for i, r := range roles {
			warn(d, what, r, append(path, strconv.Itoa(i))...)
		}
	}
	enums := map[string][]any{}
	if b := ck.c.Blueprints[UserBlueprint]; b != nil {
		for _, key := range []string{"port_role", "roles"} {
			p := b.Schema.Properties[key]
			enums[key] = p.Enum
			if p.Items != nil {
				enums[key] = p.Items.Enum
			}
		}
	}
	for _, e := range ck.c.Entities {
		if e.Blueprint != UserBlueprint || e.Doc == nil {
			continue
		}
		what := fmt.Sprintf("user %q", e.Identifier)
		for _, key := range []string{"port_role", "roles"} {
			userWarn := func(role string, path ...string) {
				if enum := enums[key]; len(enum) == 0 || slices.Contains(enum, any(role)) {
					warn(e.Doc, what, role, path...)
				}
			}
			switch v := e.Properties[key].(type) {
			case string:
				userWarn(v, "properties", key)
			case []any:
				for i, it := range v {
					if s, ok := it.(string); ok {
						userWarn(s, "properties", key, strconv.Itoa(i))
					}
				}
			}
		}
	}
	for _, id := range sortedKeys(ck.c.Blueprints) {
		b := ck.c.Blueprints[id]
		d := b.PermissionsDoc
		if d == nil || b.Permissions == nil || b.Permissions.Entities == nil || b.Permissions.Entities.Read == nil {
			continue
		}
		path := []string{"permissions", "entities", "read", "roles"}
		if d != b.Doc {
			path = path[1:] // a permissions document of roles/
		}
		list(d, fmt.Sprintf("blueprint %q", id), b.Permissions.Entities.Read.Roles, path...)
	}
	for _, p := range ck.c.Pages {
		if p.Doc == nil || p.Permissions == nil {
			continue
		}
		what := fmt.Sprintf("page %q", p.Identifier)
		if r := p.Permissions.Read; r != nil {
			list(p.Doc, what, r.Roles, "permissions", "read", "roles")
		}
		if u := p.Permissions.Update; u != nil {
			list(p.Doc, what, u.Roles, "permissions", "update", "roles")
		}
	}
}
