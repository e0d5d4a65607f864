package review_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/berth-dev/berth/pkg/catalog"
	"github.com/berth-dev/berth/pkg/checks"
	"github.com/berth-dev/berth/pkg/review"
	"github.com/berth-dev/berth/pkg/scorecard"
	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite golden files")

// now is the evaluation time of every test: exemptions and deadlines in
// catalog-example are judged as of this date.
var now = time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)

// example returns catalog-example as a MapFS, to be edited.
func example(tb testing.TB) fstest.MapFS {
	tb.Helper()
	m := fstest.MapFS{}
	root := "../../catalog-example"
	err := fs.WalkDir(os.DirFS(root), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(filepath.Join(root, p))
		m[p] = &fstest.MapFile{Data: b}
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// side loads, builds and scores a catalog (no CUE: these tests are about
// the comparison, not validation).
func side(tb testing.TB, fsys fs.FS) review.Side {
	tb.Helper()
	cat, err := catalog.Load(context.Background(), fsys, catalog.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	if ds := cat.Build(); ds.HasErrors() {
		tb.Fatalf("build: %v", ds)
	}
	prog, ds := scorecard.Compile(cat)
	if ds.HasErrors() {
		tb.Fatalf("compile scorecards: %v", ds)
	}
	ev, err := prog.Evaluate(context.Background(), cat, scorecard.Options{Now: now})
	if err != nil {
		tb.Fatal(err)
	}
	return review.Side{Catalog: cat, Scores: ev}
}

func edit(m fstest.MapFS, p, old, new string) {
	s := string(m[p].Data)
	if !strings.Contains(s, old) {
		panic(fmt.Sprintf("%s has no %q", p, old))
	}
	m[p] = &fstest.MapFile{Data: []byte(strings.Replace(s, old, new, 1))}
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s (-want +got):\n%s", name, diff)
	}
}

func link(file string, line int) string {
	env := checks.Env{Owner: "acme", Repo: "catalog", SHA: "0123456789abcdef0123456789abcdef01234567"}
	return env.FileURL("catalog/"+file, line)
}

func render(t *testing.T, name string, r *review.Report) {
	t.Helper()
	golden(t, name+".md", r.Markdown(review.MarkdownOptions{Link: link}))
	var b strings.Builder
	if err := r.Text(&b, 0); err != nil {
		t.Fatal(err)
	}
	golden(t, name+".txt", b.String())
	j, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, name+".json", string(j)+"\n")
}

// TestCompare_OneChange is the pull request of the CLI script: one service
// loses coverage, gains a vulnerability and a broken relation, and a page's
// permissions change.
func TestCompare_OneChange(t *testing.T) {
	base := example(t)
	head := example(t)
	const svc = "entities/service/payments-api.yaml"
	edit(head, svc, "critical_vulnerabilities: 0", "critical_vulnerabilities: 2")
	edit(head, svc, "test_coverage: 91", "test_coverage: 50")
	edit(head, svc, "fraud-detection", "fraud-detektion")
	edit(head, "pages/services.yaml", "permissions:", "permissions:\n  update:\n    roles: [admin]\n    users: []\n    teams: []\n  x_was:")
	head["entities/service/new-svc.yaml"] = &fstest.MapFile{Data: []byte("identifier: new-svc\ntitle: New\nproperties:\n  lifecycle: Production\n  critical_vulnerabilities: 0\n")}
	delete(head, "entities/microservice/image-resizer.yaml")

	hs := side(t, head)
	diags := catalog.Diagnostics{catalog.Errorf(catalog.Position{File: svc, Line: 26, Col: 24}, catalog.CodeDanglingRel,
		`entity "payments-api": relation depends_on points to "fraud-detektion", which is not a service entity`)}
	r := review.Compare(review.Input{Base: ptr(side(t, base)), Head: hs, Diagnostics: diags, Now: now,
		Changed: []string{svc, "pages/services.yaml", "entities/service/new-svc.yaml", "entities/microservice/image-resizer.yaml"}})
	r.Base, r.Head = strings.Repeat("a", 40), strings.Repeat("b", 40)
	if r.OK {
		t.Error("OK with an error and a failed blocking gate")
	}
	render(t, "one_change", r)
}

func ptr[T any](v T) *T { return &v }

// TestCompare_SeedGate expresses the seed's "Quality Gates" scorecard,
// security_compliance, as a gate: Mission Critical and Customer Facing
// services at Silver or above. Without a base every matching service is judged.
func TestCompare_SeedGate(t *testing.T) {
	head := example(t)
	head["berth.yaml"] = &fstest.MapFile{Data: []byte(`gates:
  - scorecard: security_compliance
    minLevel: Silver
    filter:
      combinator: and
      rules:
        - property: tier
          operator: in
          value: [Mission Critical, Customer Facing]
    mode: block
  - scorecard: security_compliance
    minLevel: Gold
    mode: warn
`)}
	hs := side(t, head)
	r := review.Compare(review.Input{Head: hs, Now: now})
	var got []string
	for _, g := range r.Gates {
		got = append(got, fmt.Sprintf("%s %s passed=%v checked=%d", g.Description, g.Mode, g.Passed, g.Checked))
		for _, f := range g.Failures {
			got = append(got, fmt.Sprintf("  %s %s", f.Entity, f.Level))
		}
	}
	want := []string{
		"security_compliance at least Silver (filtered) block passed=false checked=7",
		"  service/checkout-web Basic",
		"  service/fraud-detection Bronze",
		"  service/user-profile Bronze",
		"security_compliance at least Gold warn passed=false checked=11",
		"  service/build-runner Silver",
		"  service/checkout-web Basic",
		"  service/feature-flags Bronze",
		"  service/fraud-detection Bronze",
		"  service/ledger Silver",
		"  service/legacy-billing Basic",
		"  service/pricing-engine Silver",
		"  service/user-profile Bronze",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("gates (-want +got):\n%s", diff)
	}
	if r.OK || r.GatesFailed(review.ModeBlock) != 1 || r.GatesFailed(review.ModeWarn) != 1 {
		t.Errorf("OK=%v block=%d warn=%d", r.OK, r.GatesFailed(review.ModeBlock), r.GatesFailed(review.ModeWarn))
	}
}

// TestCompare_Large checks that a change touching 10,000 entities stays
// readable: lists are summarised and capped, and the Markdown fits in a
// check run.
func TestCompare_Large(t *testing.T) {
	const n = 10_000
	base, head := fstest.MapFS{}, fstest.MapFS{}
	for _, m := range []fstest.MapFS{base, head} {
		m["blueprints/app.yaml"] = &fstest.MapFile{Data: []byte("identifier: app\nschema:\n  properties:\n    score:\n      type: number\n")}
		m["scorecards/quality.yaml"] = &fstest.MapFile{Data: []byte(`identifier: quality
blueprint: app
rules:
  - {identifier: some, level: Bronze, query: {combinator: and, rules: [{property: score, operator: ">", value: 0}]}}
  - {identifier: good, level: Silver, query: {combinator: and, rules: [{property: score, operator: ">", value: 5}]}}
`)}
		m["berth.yaml"] = &fstest.MapFile{Data: []byte("gates:\n  - noRegression: [quality]\n")}
	}
	for i := range n {
		p := fmt.Sprintf("entities/app/app-%05d.yaml", i)
		base[p] = &fstest.MapFile{Data: []byte(fmt.Sprintf("identifier: app-%05d\nproperties:\n  score: 9\n", i))}
		head[p] = &fstest.MapFile{Data: []byte(fmt.Sprintf("identifier: app-%05d\nproperties:\n  score: %d\n", i, i%3))}
	}
	r := review.Compare(review.Input{Base: ptr(side(t, base)), Head: side(t, head), Now: now})
	if len(r.Changed) != n || len(r.Levels) != n {
		t.Fatalf("changed %d, level changes %d; want %d", len(r.Changed), len(r.Levels), n)
	}
	md := r.Markdown(review.MarkdownOptions{Link: link, MaxRows: 5})
	if len(md) > 8000 {
		t.Errorf("Markdown of %d bytes for %d changes; want a capped report", len(md), n)
	}
	golden(t, "large.md", md)
	if got, want := r.Title(), "No errors, 10,000 levels down, 1 gate failed"; got != want {
		t.Errorf("Title() = %q, want %q", got, want)
	}
}

// TestPermissionChanges lists pages, roles, blueprints and users whose
// permissions or access a change edits, where, and nothing else.
func TestPermissionChanges(t *testing.T) {
	const users = "entities/_user/users.yaml"
	base := example(t)
	head := example(t)
	edit(head, "roles/rbac.yaml", "Standard developer access", "Developers")
	edit(head, "blueprints/incident.yaml", "ownedByTeam: true", "ownedByTeam: false")
	edit(head, "roles/domain-permissions.yaml", "roles: [Admin, Member, developer]", "roles: [Admin, Member]")
	edit(head, "blueprints/service.yaml", "title: Service", "title: Services") // no permissions
	edit(head, users, "  port_role: Member\n  github: jweber", "  port_role: Admin\n  github: jweber")
	edit(head, users, "team: platform\nproperties:\n  port_role: Member\n  github: tbecker", "team: payments\nproperties:\n  port_role: Member\n  github: tbecker")
	edit(head, users, "github: pnatarajan", "github: mchen2")                         // whose PRs pass the guard
	edit(head, users, "title: Lucas Oliveira", "title: Lucas O.")                     // not access
	edit(head, users, "  status: Invited", "  status: Active")                        // elena
	edit(head, users, "  roles: [developer]\n  github: kpark\n", "  github: kpark\n") // kim: developer → Member
	edit(head, users, "# Left the company", "identifier: new.lead@example.com\nproperties:\n  roles: [team_lead]\n---\n"+
		"identifier: new.member@example.com\nproperties:\n  port_role: Member\n---\n"+
		"identifier: new.admin@example.com\nproperties:\n  port_role: Admin\n---\n# Left the company")
	edit(head, users, "identifier: ravi.shah@example.com", "identifier: ravi.shah@example.org") // a new user, and one removed
	b, h := side(t, base), side(t, head)
	got := review.PermissionChanges(b.Catalog, h.Catalog, []string{"roles/rbac.yaml", "blueprints/incident.yaml", "blueprints/service.yaml", users})
	pos := func(file string, line, col int) catalog.Position {
		return catalog.Position{File: file, Line: line, Col: col}
	}
	want := []review.PermissionChange{
		{Position: pos("blueprints/incident.yaml", 46, 1), Kind: "blueprint", Identifier: "incident", Field: "permissions", Change: "changed"},
		{Position: pos(users, 0, 0), Kind: "user", Identifier: "ravi.shah@example.com", Field: "roles", Change: "removed", From: "team_lead"},
		{Position: pos(users, 14, 1), Kind: "user", Identifier: "tom.becker@example.com", Field: "team", Change: "changed", From: "platform", To: "payments"},
		{Position: pos(users, 24, 3), Kind: "user", Identifier: "jonas.weber@example.com", Field: "port_role", Change: "changed", From: "Member", To: "Admin"},
		{Position: pos(users, 41, 3), Kind: "user", Identifier: "priya.natarajan@example.com", Field: "github", Change: "changed", From: "pnatarajan", To: "mchen2"},
		{Position: pos(users, 50, 3), Kind: "user", Identifier: "elena.petrova@example.com", Field: "status", Change: "changed", From: "Invited", To: "Active"},
		{Position: pos(users, 65, 1), Kind: "user", Identifier: "kim.park@example.com", Field: "roles", Change: "changed", From: "developer"},
		{Position: pos(users, 75, 3), Kind: "user", Identifier: "ravi.shah@example.org", Field: "roles", Change: "added", To: "team_lead"},
		{Position: pos(users, 81, 3), Kind: "user", Identifier: "new.lead@example.com", Field: "roles", Change: "added", To: "team_lead"},
		{Position: pos(users, 89, 3), Kind: "user", Identifier: "new.admin@example.com", Field: "roles", Change: "added", To: "Admin"},
		// Blueprint permissions set under roles/ point there.
		{Position: pos("roles/domain-permissions.yaml", 7, 1), Kind: "blueprint", Identifier: "domain", Field: "permissions", Change: "changed"},
		{Position: pos("roles/rbac.yaml", 4, 5), Kind: "role", Identifier: "developer", Change: "changed"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("PermissionChanges (-want +got):\n%s", diff)
	}
	var descs []string
	for _, p := range got[:4] {
		descs = append(descs, p.Describe())
	}
	wantDescs := []string{
		`blueprint "incident": entity permissions changed`,
		`user "ravi.shah@example.com" removed (roles team_lead)`,
		`user "tom.becker@example.com": team changed (platform → payments)`,
		`user "jonas.weber@example.com": port_role changed (Member → Admin)`,
	}
	if diff := cmp.Diff(wantDescs, descs); diff != "" {
		t.Errorf("Describe (-want +got):\n%s", diff)
	}
	// Pages, roles and blueprints are compared whichever files changed: a
	// blueprint's permissions may be set outside its own file. Users are
	// compared in the changed files only.
	if diff := cmp.Diff([]review.PermissionChange{want[0], want[len(want)-2], want[len(want)-1]}, review.PermissionChanges(b.Catalog, h.Catalog, []string{})); diff != "" {
		t.Errorf("PermissionChanges without changed files (-want +got):\n%s", diff)
	}
}
