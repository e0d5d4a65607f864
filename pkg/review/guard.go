package review

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/berth-dev/berth/pkg/access"
	"github.com/berth-dev/berth/pkg/catalog"
)

// CodePermissionGuard is the diagnostic code of a permission change that
// the pull-request guard refused. It is stable, like catalog's codes.
const CodePermissionGuard = "permission-guard"

// GuardInput asks Compare to judge the change's permission changes.
type GuardInput struct {
	// Author is the GitHub login of the pull request's author; empty when
	// it is not known, which counts as not an Admin.
	Author string
	// Skip, when set, says why the guard does not judge this change ("a
	// push to the default branch is already merged"); the permission
	// changes are still listed.
	Skip string
	// BaseError says why the base could not be loaded. Without a base the
	// guard can tell neither what changed nor who is an Admin, so it fails.
	BaseError string
}

// Approver is an Admin of the base revision: someone who may make or
// approve a permission change.
type Approver struct {
	Email string `json:"email"`
	// Login is the GitHub login; empty when the _user entity has none.
	Login string `json:"login,omitempty"`
}

// String returns "email (@login)", or the e-mail alone.
func (a Approver) String() string {
	if a.Login == "" {
		return a.Email
	}
	return fmt.Sprintf("%s (@%s)", a.Email, a.Login)
}

// GuardResult is the pull-request guard's verdict on a change.
type GuardResult struct {
	// Judged is false when the guard was asked not to judge (GuardInput.Skip).
	Judged bool `json:"judged"`
	// Passed is false when the change edits permissions and its author is
	// not an Admin of the base revision, or when the base could not be read.
	Passed bool `json:"passed"`
	// Author is the GitHub login judged; User its _user entity in the base
	// ("" when the login is unknown there); Admin whether that user is an
	// Admin there.
	Author string `json:"author,omitempty"`
	User   string `json:"user,omitempty"`
	Admin  bool   `json:"admin"`
	// Reason says in one sentence why the guard passed or failed.
	Reason string `json:"reason"`
	// Approvers are the base revision's Admins, sorted by e-mail.
	Approvers []Approver `json:"approvers"`

	noBase bool // no Admins known: there was no base
}

// Guard judges permission changes made by the GitHub login author against
// base, the revision the change starts from: changes pass when there are
// none, or when author is the login of a _user entity of base who is an
// Admin there (access.Rules.Admin: the Admin role, or a custom role
// granting every action on every resource; never a Disabled user). Judging
// by the base keeps a pull request from making its own author an Admin. An
// unknown or empty login is not an Admin. A nil base fails the guard, which
// then cannot tell who is an Admin.
func Guard(base *catalog.Catalog, changes []PermissionChange, author string) GuardResult {
	g := GuardResult{Judged: true, Author: author, Approvers: []Approver{}, noBase: base == nil}
	if base == nil {
		g.Reason = "the base revision could not be read, so it cannot be told who is an Admin"
		return g
	}
	rules := access.NewRules(base.Blueprints, base.Roles)
	for _, e := range base.Entities {
		if e.Blueprint == catalog.UserBlueprint && rules.Admin(access.SubjectOf(e)) {
			login, _ := access.Login(e)
			g.Approvers = append(g.Approvers, Approver{Email: e.Identifier, Login: login})
		}
	}
	slices.SortFunc(g.Approvers, func(a, b Approver) int { return strings.Compare(a.Email, b.Email) })
	u := access.UserByLogin(base.Entities, author)
	s := access.SubjectOf(u)
	if u != nil {
		g.User = u.Identifier
		g.Admin = rules.Admin(s)
	}
	// Logins go without "@": the reason lands in comments, where "@x"
	// would notify x.
	who := fmt.Sprintf("%s (%s)", author, g.User)
	switch {
	case len(changes) == 0:
		g.Passed, g.Reason = true, "the change edits no permissions"
	case g.Admin:
		g.Passed, g.Reason = true, who+" is an Admin in the base revision"
	case author == "":
		g.Reason = "the author is not known (no pull request event and no --author), so not an Admin"
	case u == nil:
		g.Reason = fmt.Sprintf("GitHub login %s is no _user of the base revision, so not an Admin", author)
	case s.Disabled:
		g.Reason = who + " is disabled in the base revision"
	default:
		g.Reason = fmt.Sprintf("%s is not an Admin in the base revision (roles: %s)", who, strings.Join(s.Roles, ", "))
	}
	return g
}

// Ask says who may make or approve a refused change, in one sentence,
// naming the approvers with Approver.String.
func (g *GuardResult) Ask() string { return g.ask(Approver.String) }

func (g *GuardResult) ask(name func(Approver) string) string {
	if g.noBase {
		return "Check the change against a base that loads: only an Admin of the base may change who may see or do what."
	}
	if len(g.Approvers) == 0 {
		return "The base revision has no active Admin: add one (a _user with port_role Admin) on the default branch first."
	}
	names := make([]string, len(g.Approvers))
	for i, a := range g.Approvers {
		names[i] = name(a)
	}
	return "Only an Admin may change who may see or do what; ask one to make or approve it: " + strings.Join(names, ", ") + "."
}

// judgeGuard fills r.Guard from in.Guard and r.Permissions, and adds one
// error diagnostic per refused change at its place in the head.
func judgeGuard(in Input, base *catalog.Catalog, r *Report) {
	gi := in.Guard
	if gi == nil {
		return
	}
	if gi.Skip != "" {
		r.Guard = &GuardResult{Passed: true, Author: gi.Author, Reason: gi.Skip, Approvers: []Approver{}}
		return
	}
	g := Guard(base, r.Permissions, gi.Author)
	if base == nil && gi.BaseError != "" {
		g.Reason = fmt.Sprintf("the base could not be loaded (%s), so neither the permission changes nor the Admins can be told", gi.BaseError)
	}
	r.Guard = &g
	if g.Passed {
		return
	}
	r.Diagnostics = slices.Clone(r.Diagnostics) // the caller's
	for _, p := range r.Permissions {
		r.Diagnostics = append(r.Diagnostics, catalog.Errorf(p.Position, CodePermissionGuard, "%s, but %s. %s",
			p.Describe(), g.Reason, g.Ask()))
	}
	r.Diagnostics = r.Diagnostics.Sort()
}

// GuardFailed reports whether the permission guard judged the change and
// refused it.
func (r *Report) GuardFailed() bool { return r.Guard != nil && r.Guard.Judged && !r.Guard.Passed }

// guardErrors counts the diagnostics the guard added.
func (r *Report) guardErrors() int {
	n := 0
	for _, d := range r.Diagnostics {
		if d.Code == CodePermissionGuard {
			n++
		}
	}
	return n
}

// verdict says in one line how the guard judged the change.
func (g *GuardResult) verdict() string {
	switch {
	case !g.Judged:
		return "not judged: " + g.Reason
	case g.Passed:
		return "passed: " + cmp.Or(g.Reason, "no permission changes")
	}
	return "FAILED: " + g.Reason
}
