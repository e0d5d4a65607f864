// Package access decides who may read what in a catalog revision.
//
// Everything it knows comes from the catalog itself, so every rule is code
// reviewed in a pull request:
//
//   - A Subject is a caller as the catalog knows it: a _user entity
//     (identifier = e-mail) with its roles (the port_role and roles
//     properties; Member when it names none), its teams (the entity's
//     team) and its status (a Disabled user reads nothing).
//   - Roles are Admin (everything), Member (the default reader),
//     "<blueprint>-moderator" (every entity of that blueprint) and the
//     custom roles of roles/, whose read permissions may carry a condition
//     over the entity with "{{ user.team }}" values.
//   - A blueprint's permissions.entities.read {roles, users, teams,
//     ownedByTeam, policy} replaces the Member default for its entities:
//     listed roles, users and teams read all of them, ownedByTeam grants a
//     user the entities of the user's teams, and policy is a search query
//     (with {context: user|userTeams} values) selecting readable ones.
//   - A page's permissions.read {roles, users, teams} say who sees it;
//     berth's system pages (status, audit log) are for Admins only.
//
// Rules compiles a revision's blueprints and roles once; Rules.Policy
// turns one subject into a Policy whose Query selects exactly the entities
// the subject may read. pkg/api compiles that query into the SQL of every
// read and passes it as query.CompileOptions.Visible, so an entity the
// caller may not read does not exist for that caller: not in lists,
// counts, searches, relation walks or titles.
//
// The package is pure: it imports the catalog and query packages only.
package access

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/berth-dev/berth/pkg/catalog"
	"github.com/berth-dev/berth/pkg/query"
)

// ErrBadRule wraps a permission rule of the catalog that cannot be used: a
// blueprint's read policy or a role's condition that does not parse. Such a
// rule grants nothing (access fails closed); Rules.Problems lists them.
var ErrBadRule = errors.New("unusable permission rule")

// Subject is a caller as one catalog revision knows it.
type Subject struct {
	// User is the _user entity's identifier (the e-mail); empty for a
	// caller the catalog does not know.
	User string
	// Roles are the user's roles: Admin, Member, <blueprint>-moderator or
	// custom roles of roles/.
	Roles []string
	// Teams are the identifiers of the user's teams.
	Teams []string
	// Disabled is set for a user whose status is Disabled, and for a
	// caller the catalog does not know: both read nothing.
	Disabled bool
}

// SubjectOf returns the subject of a _user entity. Its roles are the
// port_role property (a string) and the roles property (a string or a
// list), Member when neither names one; its teams are the entity's team;
// a status of Disabled (any case) disables it. A nil entity is an unknown
// caller, who reads nothing.
func SubjectOf(u *catalog.Entity) Subject {
	if u == nil {
		return Subject{Disabled: true}
	}
	s := Subject{User: u.Identifier, Teams: slices.Clone(u.Team)}
	for _, key := range []string{"port_role", "roles"} {
		for _, r := range stringList(u.Properties[key]) {
			if r != "" && !slices.Contains(s.Roles, r) {
				s.Roles = append(s.Roles, r)
			}
		}
	}
	if len(s.Roles) == 0 {
		s.Roles = []string{catalog.RoleMember}
	}
	if st, _ := u.Properties["status"].(string); strings.EqualFold(st, "Disabled") {
		s.Disabled = true
	}
	return s
}

// stringList reads a string or a list of strings; anything else is nothing.
func stringList(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, it := range x {
			if s, ok := it.(string); ok {
				out = append(out, s)
			}
		}
		return out
	case []string:
		return x
	}
	return nil
}

// Has reports whether the subject holds role (exact, as Port's role names
// are).
func (s Subject) Has(role string) bool { return slices.Contains(s.Roles, role) }

// loginProperties are the _user properties that may hold a user's GitHub
// login, in the order they are read.
var loginProperties = [...]string{"github", "githubUsername", "github_login"}

// UserByLogin returns the _user entity whose GitHub login (the github,
// githubUsername or github_login property, compared without case) is
// login, or nil.
func UserByLogin(users []*catalog.Entity, login string) *catalog.Entity {
	if login == "" {
		return nil
	}
	for _, u := range users {
		if u.Blueprint != catalog.UserBlueprint {
			continue
		}
		for _, key := range loginProperties {
			if v, _ := u.Properties[key].(string); v != "" && strings.EqualFold(strings.TrimPrefix(v, "@"), login) {
				return u
			}
		}
	}
	return nil
}

// Login returns the GitHub login of a _user entity, without a leading @,
// and the property holding it (the first of github, githubUsername and
// github_login that is set); both are empty when none is, or u is nil.
func Login(u *catalog.Entity) (login, property string) {
	if u == nil {
		return "", ""
	}
	for _, key := range loginProperties {
		if v, _ := u.Properties[key].(string); v != "" {
			return strings.TrimPrefix(v, "@"), key
		}
	}
	return "", ""
}

// Rules are one revision's read rules, compiled once and shared by every
// caller.
type Rules struct {
	blueprints []string // sorted
	grants     map[string]*catalog.ReadGrant
	policies   map[string]*query.Query // blueprint → parsed read policy
	roles      map[string]*roleGrant
	problems   []error
}

// roleGrant is what one custom role lets its holders read.
type roleGrant struct {
	admin    bool           // "*" on "*" without condition
	allEnts  bool           // entities without condition
	conds    []*query.Query // entities matching any of these
	allPages bool
}

// NewRules compiles the read rules of a catalog's blueprints (including
// the built-in _user and _team) and custom roles. Rules that do not parse
// grant nothing and are listed by Problems.
func NewRules(blueprints map[string]*catalog.Blueprint, roles []*catalog.Role) *Rules {
	r := &Rules{grants: map[string]*catalog.ReadGrant{}, policies: map[string]*query.Query{}, roles: map[string]*roleGrant{}}
	r.blueprints = slices.Sorted(maps.Keys(blueprints))
	for _, id := range r.blueprints {
		bp := blueprints[id]
		if bp.Permissions == nil || bp.Permissions.Entities == nil || bp.Permissions.Entities.Read == nil {
			continue
		}
		g := bp.Permissions.Entities.Read
		r.grants[id] = g
		if g.Policy != nil {
			q, err := query.Parse(g.Policy)
			if err != nil {
				r.problems = append(r.problems, fmt.Errorf("%w: blueprint %s: permissions.entities.read.policy: %v", ErrBadRule, id, err))
				continue
			}
			r.policies[id] = q
		}
	}
	for _, role := range roles {
		rg := &roleGrant{}
		for i, p := range role.Permissions {
			reads := p.Action == "read" || p.Action == "*"
			if !reads {
				continue
			}
			if p.Resource == "page" || p.Resource == "*" {
				rg.allPages = rg.allPages || p.Condition == nil
			}
			if p.Resource != "entity" && p.Resource != "*" {
				continue
			}
			if p.Condition == nil {
				rg.allEnts = true
				rg.admin = rg.admin || (p.Action == "*" && p.Resource == "*")
				continue
			}
			q, err := query.Parse(roleCondition(p.Condition, blueprints, r.blueprints))
			if err != nil {
				r.problems = append(r.problems, fmt.Errorf("%w: role %s: permissions[%d].condition: %v", ErrBadRule, role.Identifier, i, err))
				continue
			}
			rg.conds = append(rg.conds, q)
		}
		r.roles[role.Identifier] = rg
	}
	return r
}

// roleCondition turns a role's condition into a query: a lone rule is
// wrapped in an "and" group, and the entity fields the seed's roles name
// without a $ become Port's meta-properties (BareFields), since a role's
// condition applies to every blueprint's entities.
func roleCondition(c map[string]any, blueprints map[string]*catalog.Blueprint, scope []string) catalog.Query {
	if _, group := c["combinator"]; !group {
		c = map[string]any{"combinator": "and", "rules": []any{c}}
	}
	has := func(bp, key string) bool { b := blueprints[bp]; return b != nil && b.HasProperty(key) }
	return BareFields(c, scope, has).(map[string]any)
}

// bareFields are the entity fields the seed's conditions name without
// Port's $: team, identifier, title, blueprint, icon.
var bareFields = map[string]string{"team": query.MetaTeam, "identifier": query.MetaIdentifier,
	"title": query.MetaTitle, "blueprint": query.MetaBlueprint, "icon": query.MetaIcon}

// BareFields rewrites the rules of a seed-style condition or query (a
// decoded JSON value) that name an entity field without its $ — team,
// identifier, title, blueprint, icon — to Port's meta-property, for the
// blueprints of scope that have no property of that name (has reports
// whether one does). When only some blueprints of scope have one, the rule
// becomes an or-group split by $blueprint. Only rules are rewritten, not
// {context: ...} values, so the rest of v is returned as it is.
func BareFields(v any, scope []string, has func(bp, key string) bool) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, it := range x {
			if k == "property" || k == "value" {
				out[k] = it
				continue
			}
			out[k] = BareFields(it, scope, has)
		}
		name, _ := x["property"].(string)
		meta, bare := bareFields[name]
		if _, rule := x["operator"]; !rule || !bare {
			return out
		}
		var own []any
		for _, bp := range scope {
			if has(bp, name) {
				own = append(own, bp)
			}
		}
		switch len(own) {
		case len(scope):
			return out
		case 0:
			out["property"] = meta
			return out
		}
		asMeta := maps.Clone(out)
		asMeta["property"] = meta
		return map[string]any{"combinator": "or", "rules": []any{
			map[string]any{"combinator": "and", "rules": []any{
				map[string]any{"property": query.MetaBlueprint, "operator": "in", "value": own}, out}},
			map[string]any{"combinator": "and", "rules": []any{
				map[string]any{"property": query.MetaBlueprint, "operator": "notIn", "value": own}, asMeta}},
		}}
	case []any:
		out := make([]any, len(x))
		for i, it := range x {
			out[i] = BareFields(it, scope, has)
		}
		return out
	}
	return v
}

// Problems returns the catalog's permission rules that could not be used,
// each wrapping ErrBadRule. They grant nothing.
func (r *Rules) Problems() []error { return r.problems }

// Admin reports whether the subject may do everything: an active user with
// the Admin role, or with a custom role granting every action on every
// resource without a condition.
func (r *Rules) Admin(s Subject) bool {
	if s.Disabled {
		return false
	}
	if s.Has(catalog.RoleAdmin) {
		return true
	}
	for _, role := range s.Roles {
		if g := r.roles[role]; g != nil && g.admin {
			return true
		}
	}
	return false
}

// Policy is what one subject may read of the catalog's entities.
type Policy struct {
	// All is set when the subject reads every entity.
	All bool
	// Query selects the readable entities when All is not set; nil means
	// none. It is bound: it compiles and evaluates without Bind.
	Query *query.Query
}

// None reports whether the policy lets the subject read no entity.
func (p Policy) None() bool { return !p.All && p.Query == nil }

// Policy returns what s may read. qc is the subject's query context (its
// _user entity, team identifiers and, when a rule reads other properties of
// them, its _team entities): it binds the {context: ...} and
// "{{ user.x }}" values of read policies and role conditions.
//
// An entity is readable when any of these holds: the subject is an Admin
// or holds the blueprint's moderator role; or the blueprint sets read
// permissions and they list one of the subject's roles, its e-mail or one
// of its teams, or (ownedByTeam) the entity belongs to one of its teams, or
// the entity matches the read policy; or the blueprint sets no read
// permissions and the subject is a Member, or holds a custom role granting
// reads of entities without a condition or with one the entity matches.
// A blueprint's own read permissions are thus the whole truth about its
// entities (as GET /v1/blueprints/{bp}/permissions reports them); custom
// roles replace the Member default of the blueprints that set none.
func (r *Rules) Policy(s Subject, qc query.Context) (Policy, error) {
	if s.Disabled {
		return Policy{}, nil
	}
	if r.Admin(s) {
		return Policy{All: true}, nil
	}
	var custom []query.Node
	customAll := false
	for _, role := range s.Roles {
		g := r.roles[role]
		if g == nil {
			continue
		}
		customAll = customAll || g.allEnts
		for _, q := range g.conds {
			b, err := q.Bind(qc)
			if err != nil {
				return Policy{}, fmt.Errorf("bind condition of role %s: %w", role, err)
			}
			custom = append(custom, b.Root)
		}
	}
	var all, byRole []any
	var some []query.Node
	for _, bp := range r.blueprints {
		if r.blueprintAll(s, bp) || (r.grants[bp] == nil && customAll) {
			all = append(all, bp)
			continue
		}
		g := r.grants[bp]
		if g == nil {
			if len(custom) > 0 {
				byRole = append(byRole, bp)
			}
			continue
		}
		var filters []query.Node
		if g.OwnedByTeam && len(s.Teams) > 0 {
			filters = append(filters, &query.Rule{Kind: query.KindProperty, Operator: query.OpIn,
				Property: query.MetaTeam, Values: anys(s.Teams)})
		}
		if q := r.policies[bp]; q != nil {
			b, err := q.Bind(qc)
			if err != nil {
				return Policy{}, fmt.Errorf("bind read policy of blueprint %s: %w", bp, err)
			}
			filters = append(filters, b.Root)
		}
		if len(filters) > 0 {
			some = append(some, &query.Group{Combinator: query.And, Items: []query.Node{
				&query.Rule{Kind: query.KindProperty, Operator: query.OpEq, Property: query.MetaBlueprint, Values: []any{bp}},
				&query.Group{Combinator: query.Or, Items: filters},
			}})
		}
	}
	if len(all) == len(r.blueprints) {
		return Policy{All: true}, nil
	}
	root := &query.Group{Combinator: query.Or}
	if len(all) > 0 {
		root.Items = append(root.Items, blueprintIn(all))
	}
	root.Items = append(root.Items, some...)
	if len(byRole) > 0 {
		root.Items = append(root.Items, &query.Group{Combinator: query.And, Items: []query.Node{
			blueprintIn(byRole), &query.Group{Combinator: query.Or, Items: custom}}})
	}
	if len(root.Items) == 0 {
		return Policy{}, nil
	}
	return Policy{Query: &query.Query{Root: root}}, nil
}

// blueprintIn is the rule $blueprint in bps.
func blueprintIn(bps []any) *query.Rule {
	return &query.Rule{Kind: query.KindProperty, Operator: query.OpIn, Property: query.MetaBlueprint, Values: bps}
}

// blueprintAll reports whether s reads every entity of bp by role, user or
// team alone.
func (r *Rules) blueprintAll(s Subject, bp string) bool {
	if s.Has(bp + catalog.ModeratorSuffix) {
		return true
	}
	g := r.grants[bp]
	if g == nil {
		return s.Has(catalog.RoleMember)
	}
	return intersects(g.Roles, s.Roles) || (s.User != "" && slices.Contains(g.Users, s.User)) || intersects(g.Teams, s.Teams)
}

// CanReadPage reports whether s may see page p: Admins see every page,
// berth's system pages are for Admins only, and any other page is seen by
// the roles, users and teams of its read permissions
// (catalog.Page.ReadPermissions) and by holders of a custom role that
// grants reading pages without a condition.
func (r *Rules) CanReadPage(s Subject, p *catalog.Page) bool {
	if s.Disabled {
		return false
	}
	if r.Admin(s) {
		return true
	}
	if catalog.IsSystemPage(p.Identifier) {
		return false
	}
	for _, role := range s.Roles {
		if g := r.roles[role]; g != nil && g.allPages {
			return true
		}
	}
	perm := p.ReadPermissions()
	return intersects(perm.Roles, s.Roles) || (s.User != "" && slices.Contains(perm.Users, s.User)) ||
		intersects(perm.Teams, s.Teams)
}

func intersects(a, b []string) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}

func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
