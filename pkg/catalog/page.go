package catalog

import "strings"

// Built-in roles. Admin may do everything; Member is the role of a user
// whose _user entity names none. A role named "<blueprint>-moderator"
// (compared without case, see Moderates) reads every entity of that
// blueprint.
const (
	RoleAdmin  = "Admin"
	RoleMember = "Member"
)

// ModeratorSuffix ends the name of a blueprint's moderator role.
const ModeratorSuffix = "-moderator"

// Moderates reports whether role is the moderator role of blueprint bp:
// "<bp>-moderator" compared without case, as Port's own documents write
// moderator roles capitalised ("Service-Moderator"). Other role names are
// compared exactly.
func Moderates(role, bp string) bool {
	return len(role) == len(bp)+len(ModeratorSuffix) && strings.EqualFold(role, bp+ModeratorSuffix)
}

// SameRole reports whether role names a and b name one role: they are
// equal, or both are a moderator role ("...-moderator") equal without case.
func SameRole(a, b string) bool {
	if a == b {
		return true
	}
	n := len(ModeratorSuffix)
	return len(a) > n && strings.EqualFold(a[len(a)-n:], ModeratorSuffix) && strings.EqualFold(a, b)
}

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

// Lists returns a copy of the set whose lists are never nil, so that they
// encode as [] rather than null.
func (s PermissionSet) Lists() PermissionSet {
	return PermissionSet{Roles: nonNil(s.Roles), Users: nonNil(s.Users), Teams: nonNil(s.Teams)}
}

func nonNil(s []string) []string {
	return append(make([]string, 0, len(s)), s...)
}
