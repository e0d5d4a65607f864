package review_test

import (
	"fmt"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/berth-dev/berth/pkg/review"
	"github.com/google/go-cmp/cmp"
)

const users = "entities/_user/users.yaml"

// platformAdmin is a user whose only role is catalog-example's custom
// platform_admin role ("*" on "*"), which makes an Admin.
const platformAdmin = `
---
identifier: pat.admin@example.com
title: Pat Admin
team: platform
properties:
  roles: [platform_admin]
  github: padmin
  status: Active
`

// TestCompare_Guard judges pull requests by their authors: only an Admin of
// the base revision may change permissions, and a head that makes its own
// author an Admin does not count.
func TestCompare_Guard(t *testing.T) {
	restrictServices := func(m fstest.MapFS) {
		edit(m, "pages/services.yaml", "roles: [Admin, Member]", "roles: [Admin]")
	}
	for _, tc := range []struct {
		name   string
		base   func(fstest.MapFS) // edits of the base, and of the head too
		head   func(fstest.MapFS)
		author string
		// noBase loads no base, as when it cannot be read.
		noBase bool
		skip   string

		wantPass   bool
		wantReason string
		wantDiags  []string // positions of permission-guard diagnostics
	}{
		{
			name: "Member", head: restrictServices, author: "jweber",
			wantReason: "jweber (jonas.weber@example.com) is not an Admin in the base revision (roles: Member)",
			wantDiags:  []string{"pages/services.yaml:8:1"},
		},
		{
			name: "Admin", head: restrictServices, author: "mchen", wantPass: true,
			wantReason: "mchen (maria.chen@example.com) is an Admin in the base revision",
		},
		{
			name: "AdminLoginAnyCase", head: restrictServices, author: "SOkafor", wantPass: true,
			wantReason: "SOkafor (sam.okafor@example.com) is an Admin",
		},
		{
			name: "CustomRoleAllOnAll", head: restrictServices, author: "padmin", wantPass: true,
			base: func(m fstest.MapFS) {
				m[users] = &fstest.MapFile{Data: append(m[users].Data, platformAdmin...)}
			},
			wantReason: "padmin (pat.admin@example.com) is an Admin",
		},
		{
			name: "DisabledAdmin", head: restrictServices, author: "oivanova",
			base: func(m fstest.MapFS) {
				edit(m, users, "  port_role: Member\n  github: oivanova", "  port_role: Admin\n  github: oivanova")
			},
			wantReason: "oivanova (olga.ivanova@example.com) is disabled in the base revision",
			wantDiags:  []string{"pages/services.yaml:8:1"},
		},
		{
			name: "UnknownLogin", head: restrictServices, author: "stranger",
			wantReason: "GitHub login stranger is no _user of the base revision, so not an Admin",
			wantDiags:  []string{"pages/services.yaml:8:1"},
		},
		{
			name: "NoAuthor", head: restrictServices,
			wantReason: "the author is not known",
			wantDiags:  []string{"pages/services.yaml:8:1"},
		},
		{
			name: "TeamLead", head: restrictServices, author: "rshah",
			wantReason: "rshah (ravi.shah@example.com) is not an Admin in the base revision (roles: team_lead)",
			wantDiags:  []string{"pages/services.yaml:8:1"},
		},
		{
			name: "MemberPromotesSelf", author: "jweber",
			head: func(m fstest.MapFS) {
				edit(m, users, "  port_role: Member\n  github: jweber", "  port_role: Admin\n  github: jweber")
			},
			wantReason: "is not an Admin in the base revision",
			wantDiags:  []string{users + ":24:3"},
		},
		{
			name: "PromotedInTheHeadDoesNotCount", author: "jweber",
			head: func(m fstest.MapFS) {
				edit(m, users, "  port_role: Member\n  github: jweber", "  port_role: Admin\n  github: jweber")
				restrictServices(m)
			},
			wantReason: "is not an Admin in the base revision",
			wantDiags:  []string{users + ":24:3", "pages/services.yaml:8:1"},
		},
		{
			name: "MemberEditsBlueprintAndRole", author: "jweber",
			head: func(m fstest.MapFS) {
				edit(m, "blueprints/incident.yaml", "ownedByTeam: true", "ownedByTeam: false")
				edit(m, "roles/rbac.yaml", "value: \"{{ user.team }}\"", "value: platform")
			},
			wantReason: "is not an Admin",
			wantDiags:  []string{"blueprints/incident.yaml:46:1", "roles/rbac.yaml:4:5"},
		},
		{
			name: "NoPermissionChanges", author: "",
			head: func(m fstest.MapFS) {
				edit(m, "entities/service/payments-api.yaml", "test_coverage: 91", "test_coverage: 90")
				edit(m, users, "title: Jonas Weber", "title: Jonas M. Weber") // not an access field
			},
			wantPass: true, wantReason: "the change edits no permissions",
		},
		{
			name: "BaseUnloadable", head: func(fstest.MapFS) {}, author: "mchen", noBase: true,
			wantReason: "the base could not be loaded (no catalog), so neither the permission changes nor the Admins can be told",
		},
		{
			name: "PushToDefaultBranch", head: restrictServices, author: "jweber", skip: "a push to the default branch is already merged",
			wantPass: true, wantReason: "a push to the default branch is already merged",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base, head := example(t), example(t)
			if tc.base != nil {
				tc.base(base)
				tc.base(head)
			}
			tc.head(head)
			in := review.Input{Head: side(t, head), Now: now, Guard: &review.GuardInput{Author: tc.author, Skip: tc.skip}}
			if tc.noBase {
				in.Guard.BaseError = "no catalog"
			} else {
				in.Base = ptr(side(t, base))
			}
			r := review.Compare(in)
			g := r.Guard
			if g == nil {
				t.Fatal("no guard verdict")
			}
			if g.Passed != tc.wantPass || r.GuardFailed() == tc.wantPass || !strings.Contains(g.Reason, tc.wantReason) {
				t.Errorf("passed=%v failed=%v reason %q; want passed=%v, a reason with %q", g.Passed, r.GuardFailed(), g.Reason, tc.wantPass, tc.wantReason)
			}
			if r.OK != tc.wantPass {
				t.Errorf("OK = %v, want %v", r.OK, tc.wantPass)
			}
			var got []string
			for _, d := range r.Diagnostics {
				if d.Code == review.CodePermissionGuard {
					got = append(got, d.Position.String())
					if !strings.Contains(d.Message, "maria.chen@example.com (@mchen), sam.okafor@example.com (@sokafor)") {
						t.Errorf("%s: %s: does not name the Admins", d.Position, d.Message)
					}
				}
			}
			if diff := cmp.Diff(tc.wantDiags, got); diff != "" {
				t.Errorf("guard diagnostics (-want +got):\n%s", diff)
			}
			if r.Errors != len(got) {
				t.Errorf("Errors = %d, want the %d guard findings", r.Errors, len(got))
			}
		})
	}
}

// TestGuard_Approvers: the Admins named are the base's active ones, with
// their logins, whoever the author.
func TestGuard_Approvers(t *testing.T) {
	base := example(t)
	base[users] = &fstest.MapFile{Data: append(base[users].Data, platformAdmin...)}
	b := side(t, base)
	g := review.Guard(b.Catalog, []review.PermissionChange{{Kind: review.KindPage, Identifier: "x", Change: review.ChangeChanged}}, "jweber")
	want := []review.Approver{
		{Email: "maria.chen@example.com", Login: "mchen"},
		{Email: "pat.admin@example.com", Login: "padmin"},
		{Email: "sam.okafor@example.com", Login: "sokafor"},
	}
	if diff := cmp.Diff(want, g.Approvers); diff != "" {
		t.Errorf("approvers (-want +got):\n%s", diff)
	}
	if g.Passed {
		t.Error("a Member passed")
	}
	if got := review.Guard(nil, nil, "mchen"); got.Passed {
		t.Error("Guard without a base passed; want it to fail closed")
	}
}

// TestCompare_GuardReport renders a refused change: the Markdown, text and
// JSON reports carry a "Permission changes" section with the verdict.
func TestCompare_GuardReport(t *testing.T) {
	base, head := example(t), example(t)
	edit(head, "pages/services.yaml", "roles: [Admin, Member]", "roles: [Admin]")
	edit(head, users, "  port_role: Member\n  github: jweber", "  port_role: Admin\n  github: jweber")
	edit(head, users, "team: platform\nproperties:\n  port_role: Member\n  github: tbecker", "team: payments\nproperties:\n  port_role: Member\n  github: tbecker")
	r := review.Compare(review.Input{Base: ptr(side(t, base)), Head: side(t, head), Now: now,
		Guard: &review.GuardInput{Author: "jweber"}, Changed: []string{"pages/services.yaml", users}})
	r.Base, r.Head = strings.Repeat("a", 40), strings.Repeat("b", 40)
	if got, want := r.Title(), "3 permission changes need an Admin"; got != want {
		t.Errorf("Title() = %q, want %q", got, want)
	}
	render(t, "guard", r)
}

// BenchmarkGuard lists the permission changes of every file (changed nil,
// the slowest case) and judges them, for catalog-example with 10,000 more
// users, one of whom becomes an Admin.
func BenchmarkGuard(b *testing.B) {
	var more strings.Builder
	for i := range 10_000 {
		fmt.Fprintf(&more, "---\nidentifier: user%05d@example.com\nteam: payments\nproperties:\n  port_role: Member\n  github: user%05d\n", i, i)
	}
	base, head := example(b), example(b)
	for _, m := range []fstest.MapFS{base, head} {
		m["entities/_user/more.yaml"] = &fstest.MapFile{Data: []byte(strings.TrimPrefix(more.String(), "---\n"))}
	}
	edit(head, "entities/_user/more.yaml", "port_role: Member\n  github: user00042", "port_role: Admin\n  github: user00042")
	bc, hc := side(b, base).Catalog, side(b, head).Catalog
	for b.Loop() {
		ps := review.PermissionChanges(bc, hc, nil)
		if g := review.Guard(bc, ps, "user09999"); g.Passed || len(ps) != 1 {
			b.Fatalf("passed=%v with %d changes", g.Passed, len(ps))
		}
	}
}
