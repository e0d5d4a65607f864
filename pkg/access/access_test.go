package access_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/pkg/access"
	"github.com/berth-dev/berth/pkg/catalog"
	"github.com/berth-dev/berth/pkg/query"
)

// files is a small catalog: services and incidents of two teams, a secret
// blueprint readable by its listed roles, users and teams only, an
// ownedByTeam blueprint, a policy blueprint, the seed's roles, and users.
var files = map[string]string{
	"blueprints/service.yaml": `
identifier: service
schema: {properties: {owner_email: {type: string}}}
`,
	"blueprints/incident.yaml": `
identifier: incident
schema: {properties: {}}
relations: {service: {target: service, many: false, required: false}}
`,
	"blueprints/secret.yaml": `
identifier: secret
schema: {properties: {}}
permissions:
  entities:
    read: {roles: [security], users: [tom@example.com], teams: [platform]}
`,
	"blueprints/budget.yaml": `
identifier: budget
schema: {properties: {}}
permissions:
  entities:
    read: {roles: [], users: [], teams: [], ownedByTeam: true}
`,
	"blueprints/oncall.yaml": `
identifier: oncall
schema: {properties: {engineer: {type: string}}}
permissions:
  entities:
    read:
      policy:
        combinator: and
        rules: [{property: engineer, operator: "=", value: {context: user, property: $identifier}}]
`,
	"entities/_team/teams.yaml": `
identifier: payments
---
identifier: checkout
---
identifier: platform
`,
	"entities/_user/users.yaml": `
identifier: ana@example.com
team: payments
properties: {port_role: Member, roles: [developer], github: ana-gh}
---
identifier: lead@example.com
team: [payments, checkout]
properties: {roles: [team_lead]}
---
identifier: admin@example.com
properties: {port_role: Admin, github: "@TheAdmin"}
---
identifier: mod@example.com
properties: {roles: [service-moderator]}
---
identifier: tom@example.com
properties: {roles: [viewer]}
---
identifier: gone@example.com
properties: {port_role: Admin, status: Disabled}
---
identifier: root@example.com
properties: {roles: [platform_admin]}
---
identifier: plat@example.com
team: platform
properties: {roles: [viewer]}
---
identifier: member@example.com
team: checkout
`,
	"entities/service/all.yaml": `
identifier: pay-api
team: payments
properties: {owner_email: ana@example.com}
---
identifier: cart
team: checkout
---
identifier: orphan
`,
	"entities/incident/all.yaml": `
identifier: inc-1
team: payments
relations: {service: pay-api}
---
identifier: inc-2
team: checkout
relations: {service: cart}
`,
	"entities/secret/all.yaml": `
identifier: key-1
team: payments
`,
	"entities/budget/all.yaml": `
identifier: b-pay
team: payments
---
identifier: b-check
team: checkout
`,
	"entities/oncall/all.yaml": `
identifier: week-1
properties: {engineer: ana@example.com}
---
identifier: week-2
properties: {engineer: lead@example.com}
`,
	"roles/rbac.yaml": `
roles:
  - identifier: developer
    permissions:
      - action: read
        resource: entity
        condition: {property: team, operator: "=", value: "{{ user.team }}"}
      - action: execute
        resource: action
  - identifier: team_lead
    permissions:
      - action: "*"
        resource: entity
        condition: {property: team, operator: "=", value: "{{ user.team }}"}
  - identifier: platform_admin
    permissions:
      - {action: "*", resource: "*"}
  - identifier: viewer
    permissions:
      - {action: read, resource: page}
  - identifier: security
`,
}

func load(tb testing.TB, files map[string]string) *catalog.Catalog {
	tb.Helper()
	fsys := fstest.MapFS{}
	for name, data := range files {
		fsys[name] = &fstest.MapFile{Data: []byte(data)}
	}
	cat, err := catalog.Load(context.Background(), fsys, catalog.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	diags := append(cat.Diagnostics(), cat.Build()...)
	diags = append(diags, cat.Check()...)
	if diags.HasErrors() {
		tb.Fatalf("catalog errors: %v", diags)
	}
	return cat
}

// subject returns the subject and query context of a user of cat.
func subject(cat *catalog.Catalog, email string) (access.Subject, query.Context) {
	u := cat.Entity(catalog.EntityKey{Blueprint: catalog.UserBlueprint, Identifier: email})
	s := access.SubjectOf(u)
	return s, query.Context{User: u, UserTeams: s.Teams}
}

// readable evaluates a subject's policy over every non-user, non-team
// entity and returns the keys it may read.
func readable(tb testing.TB, cat *catalog.Catalog, rules *access.Rules, email string) []string {
	tb.Helper()
	s, qc := subject(cat, email)
	p, err := rules.Policy(s, qc)
	if err != nil {
		tb.Fatal(err)
	}
	var out []string
	for _, e := range cat.Entities {
		if e.Blueprint == catalog.UserBlueprint || e.Blueprint == catalog.TeamBlueprint {
			continue
		}
		ok := p.All
		if p.Query != nil {
			if ok, err = p.Query.Eval(&query.Env{Catalog: cat}, e); err != nil {
				tb.Fatal(err)
			}
		}
		if ok {
			out = append(out, e.Blueprint+"/"+e.Identifier)
		}
	}
	slices.Sort(out)
	return out
}

func TestRules_Policy(t *testing.T) {
	cat := load(t, files)
	rules := access.NewRules(cat.Blueprints, cat.Roles)
	if p := rules.Problems(); len(p) > 0 {
		t.Fatalf("problems: %v", p)
	}
	every := []string{"budget/b-check", "budget/b-pay", "incident/inc-1", "incident/inc-2", "oncall/week-1", "oncall/week-2",
		"secret/key-1", "service/cart", "service/orphan", "service/pay-api"}
	for _, tc := range []struct {
		name, user string
		want       []string
	}{
		// Member (the default blueprints) plus developer: the developer
		// role adds its team's entities of the restricted blueprints.
		// The developer role adds nothing to what Member reads: its
		// condition applies where Member's default does, to blueprints
		// without read permissions; secret's own permissions leave it out.
		{"DeveloperAndMember", "ana@example.com", []string{"budget/b-pay", "incident/inc-1", "incident/inc-2", "oncall/week-1",
			"service/cart", "service/orphan", "service/pay-api"}},
		// team_lead only (no Member): the entities of both of the lead's
		// teams where no read permissions are set, the budgets of both
		// teams (ownedByTeam), and the on-call week the policy gives the
		// lead; not the secret, whose permissions do not name the lead.
		{"TeamLeadInTwoTeams", "lead@example.com", []string{"budget/b-check", "budget/b-pay", "incident/inc-1", "incident/inc-2",
			"oncall/week-2", "service/cart", "service/pay-api"}},
		{"Admin", "admin@example.com", every},
		{"CustomAdminRole", "root@example.com", every},
		{"Moderator", "mod@example.com", []string{"service/cart", "service/orphan", "service/pay-api"}},
		// A role that grants pages only, and a user listed by e-mail.
		{"ListedUser", "tom@example.com", []string{"secret/key-1"}},
		{"ListedTeam", "plat@example.com", []string{"secret/key-1"}},
		// A plain Member: every blueprint without permissions, the
		// ownedByTeam budget of the member's team, no secret.
		{"Member", "member@example.com", []string{"budget/b-check", "incident/inc-1", "incident/inc-2", "service/cart",
			"service/orphan", "service/pay-api"}},
		{"Disabled", "gone@example.com", nil},
		{"Unknown", "nobody@example.com", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, readable(t, cat, rules, tc.user)); diff != "" {
				t.Errorf("readable (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRules_PolicyAllForPlainMembers(t *testing.T) {
	// Without any permissions in the catalog, a Member's policy is All:
	// no SQL condition at all on the hot path.
	cat := load(t, map[string]string{
		"blueprints/service.yaml": "identifier: service\nschema: {properties: {}}\n",
		"entities/_user/u.yaml":   "identifier: m@example.com\n",
	})
	rules := access.NewRules(cat.Blueprints, cat.Roles)
	s, qc := subject(cat, "m@example.com")
	p, err := rules.Policy(s, qc)
	if err != nil || !p.All {
		t.Fatalf("Policy = %+v, %v; want All", p, err)
	}
}

func TestRules_Admin(t *testing.T) {
	cat := load(t, files)
	rules := access.NewRules(cat.Blueprints, cat.Roles)
	for user, want := range map[string]bool{
		"admin@example.com": true, "root@example.com": true, "gone@example.com": false,
		"ana@example.com": false, "nobody@example.com": false,
	} {
		s, _ := subject(cat, user)
		if got := rules.Admin(s); got != want {
			t.Errorf("Admin(%s) = %v, want %v", user, got, want)
		}
	}
}

func TestRules_BadRuleGrantsNothing(t *testing.T) {
	bp := &catalog.Blueprint{Identifier: "svc", Permissions: &catalog.BlueprintPermissions{Entities: &catalog.EntityPermissions{
		Read: &catalog.ReadGrant{Policy: catalog.Query{"combinator": "and", "rules": []any{map[string]any{"property": "x", "operator": "equals", "value": 1}}}},
	}}}
	role := &catalog.Role{Identifier: "dev", Permissions: []catalog.RolePermission{{Action: "read", Resource: "entity",
		Condition: map[string]any{"property": "team", "operator": "near", "value": "x"}}}}
	rules := access.NewRules(map[string]*catalog.Blueprint{"svc": bp}, []*catalog.Role{role})
	if len(rules.Problems()) != 2 {
		t.Fatalf("Problems = %v, want 2", rules.Problems())
	}
	for _, err := range rules.Problems() {
		if !errors.Is(err, access.ErrBadRule) {
			t.Errorf("%v does not wrap ErrBadRule", err)
		}
	}
	p, err := rules.Policy(access.Subject{User: "a@x", Roles: []string{"dev"}}, query.Context{})
	if err != nil || !p.None() {
		t.Errorf("Policy = %+v, %v; want none", p, err)
	}
}

func TestSubjectOf(t *testing.T) {
	for _, tc := range []struct {
		name string
		e    *catalog.Entity
		want access.Subject
	}{
		{"Nil", nil, access.Subject{Disabled: true}},
		{"DefaultMember", &catalog.Entity{Identifier: "a@x", Team: []string{"t"}},
			access.Subject{User: "a@x", Roles: []string{"Member"}, Teams: []string{"t"}}},
		{"PortRoleAndRoles", &catalog.Entity{Identifier: "a@x", Properties: map[string]any{"port_role": "Admin", "roles": []any{"dev", "Admin"}}},
			access.Subject{User: "a@x", Roles: []string{"Admin", "dev"}}},
		{"RolesString", &catalog.Entity{Identifier: "a@x", Properties: map[string]any{"roles": "dev"}},
			access.Subject{User: "a@x", Roles: []string{"dev"}}},
		{"Disabled", &catalog.Entity{Identifier: "a@x", Properties: map[string]any{"status": "disabled"}},
			access.Subject{User: "a@x", Roles: []string{"Member"}, Disabled: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, access.SubjectOf(tc.e)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestUserByLogin(t *testing.T) {
	cat := load(t, files)
	var users []*catalog.Entity
	for _, e := range cat.Entities {
		if e.Blueprint == catalog.UserBlueprint {
			users = append(users, e)
		}
	}
	for login, want := range map[string]string{"ana-gh": "ana@example.com", "ANA-GH": "ana@example.com",
		"theadmin": "admin@example.com", "stranger": "", "": ""} {
		got := ""
		if u := access.UserByLogin(users, login); u != nil {
			got = u.Identifier
		}
		if got != want {
			t.Errorf("UserByLogin(%q) = %q, want %q", login, got, want)
		}
	}
}

// TestRules_CanReadPage runs the page permissions of the seed's page
// permission document: the starting permissions and each PATCH example's
// result, read by each kind of user.
func TestRules_CanReadPage(t *testing.T) {
	cat := load(t, files)
	rules := access.NewRules(cat.Blueprints, cat.Roles)
	page := func(id string, read *catalog.PermissionSet) *catalog.Page {
		p := &catalog.Page{Identifier: id, Type: "dashboard"}
		if read != nil {
			p.Permissions = &catalog.PagePermissions{Read: read}
		}
		return p
	}
	seedStart := &catalog.PermissionSet{Roles: []string{"Admin", "Member"}, Users: []string{}, Teams: []string{}}
	for _, tc := range []struct {
		name string
		page *catalog.Page
		// readers among member, ana (Member+developer), tom (viewer: all
		// pages), mod (moderator only), admin, gone (disabled).
		want []string
	}{
		{"NoPermissionsMeansAdminAndMember", page("p", nil), []string{"admin", "ana", "member", "tom"}},
		{"SeedStart", page("p", seedStart), []string{"admin", "ana", "member", "tom"}},
		{"AddModeratorRole", page("p", &catalog.PermissionSet{Roles: []string{"Admin", "Member", "service-moderator"}}),
			[]string{"admin", "ana", "member", "mod", "tom"}},
		{"RemoveMember", page("p", &catalog.PermissionSet{Roles: []string{"Admin"}}), []string{"admin", "tom"}},
		{"AddUsers", page("p", &catalog.PermissionSet{Roles: []string{"Admin"}, Users: []string{"mod@example.com"}}),
			[]string{"admin", "mod", "tom"}},
		{"AddTeams", page("p", &catalog.PermissionSet{Roles: []string{"Admin"}, Teams: []string{"payments"}}),
			[]string{"admin", "ana", "tom"}},
		{"SystemPage", page(catalog.PageAuditLog, seedStart), []string{"admin"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, u := range []string{"admin", "ana", "gone", "member", "mod", "tom"} {
				s, _ := subject(cat, u+"@example.com")
				if rules.CanReadPage(s, tc.page) {
					got = append(got, u)
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("readers (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLogin(t *testing.T) {
	for _, tc := range []struct {
		props           map[string]any
		login, property string
	}{
		{map[string]any{"github": "@ana"}, "ana", "github"},
		{map[string]any{"githubUsername": "bo", "github_login": "x"}, "bo", "githubUsername"},
		{map[string]any{"github_login": "cy"}, "cy", "github_login"},
		{map[string]any{"github": 7}, "", ""},
		{nil, "", ""},
	} {
		login, prop := access.Login(&catalog.Entity{Blueprint: catalog.UserBlueprint, Properties: tc.props})
		if login != tc.login || prop != tc.property {
			t.Errorf("Login(%v) = %q, %q; want %q, %q", tc.props, login, prop, tc.login, tc.property)
		}
	}
	if login, prop := access.Login(nil); login != "" || prop != "" {
		t.Errorf("Login(nil) = %q, %q", login, prop)
	}
}

// TestBareFields: only rules are rewritten, never a {context: ...} value,
// and a blueprint's own property of that name wins.
func TestBareFields(t *testing.T) {
	has := func(bp, key string) bool { return bp == "squad" && key == "title" }
	in := map[string]any{"combinator": "and", "rules": []any{
		map[string]any{"property": "identifier", "operator": "=", "value": map[string]any{"context": "user", "property": "icon"}},
		map[string]any{"property": "title", "operator": "isNotEmpty"},
	}}
	got := access.BareFields(in, []string{"squad"}, has)
	want := map[string]any{"combinator": "and", "rules": []any{
		map[string]any{"property": "$identifier", "operator": "=", "value": map[string]any{"context": "user", "property": "icon"}},
		map[string]any{"property": "title", "operator": "isNotEmpty"},
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
