package catalog

// Built-in roles. Admin may do everything; Member is the role of a user
// whose _user entity names none. A role named "<blueprint>-moderator"
// reads every entity of that blueprint.
const (
	RoleAdmin  = "Admin"
	RoleMember = "Member"
)

// ModeratorSuffix ends the name of a blueprint's moderator role.
const ModeratorSuffix = "-moderator"

// System pages are berth's own pages: the reconciler's status and the
// audit log. Only Admins read them, and no catalog file may change their
// permissions.
const (
	PageStatus   = "status"
	PageAuditLog = "audit_log"
)

// IsSystemPage reports whether id names one of berth's system pages.
func IsSystemPage(id string) bool { return id == PageStatus || id == PageAuditLog }

// DefaultPageRead is who may read a page whose file sets no read
// permissions: every Admin and Member, as in Port.
func DefaultPageRead() PermissionSet {
	return PermissionSet{Roles: []string{RoleAdmin, RoleMember}, Users: []string{}, Teams: []string{}}
}

// ReadPermissions returns who may read the page: DefaultPageRead when the
// page sets no permissions.read, else exactly its lists (a list left out
// is empty). Admins read every page whatever it says. The lists are never
// nil, so they encode as [].
func (p *Page) ReadPermissions() PermissionSet {
	if p.Permissions == nil || p.Permissions.Read == nil {
		return DefaultPageRead()
	}
	return p.Permissions.Read.Lists()
}

// AdminsOnly is the permission set of Admins alone: berth's system pages
// read permissions, and a page's update permissions when it sets none.
func AdminsOnly() PermissionSet {
	return PermissionSet{Roles: []string{RoleAdmin}, Users: []string{}, Teams: []string{}}
}

// Lists returns a copy of the set whose lists are never nil, so that they
// encode as [] rather than null.
func (s PermissionSet) Lists() PermissionSet {
	return PermissionSet{Roles: nonNil(s.Roles), Users: nonNil(s.Users), Teams: nonNil(s.Teams)}
}

func nonNil(s []string) []string {
	return append(make([]string, 0, len(s)), s...)
}
