package reconcile_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/pkg/catalog"
	"github.com/berth-dev/berth/pkg/index"
	"github.com/berth-dev/berth/pkg/reconcile"
	"github.com/google/go-cmp/cmp"
)

// chain is a catalog that changes at random, commit after commit: entities
// added, edited, deleted and moved, blueprints and scorecards edited, and
// now and then a change that breaks the catalog, sometimes only in files it
// does not touch (a deleted entity others still name, a narrowed enum).
type chain struct {
	r         *rand.Rand
	files     map[string][]byte // the catalog, path → content
	committed map[string][]byte // as last committed
	good      map[string][]byte // as last applied
}

const chainServices, chainDomains, chainTeams = 30, 4, 3

func chainServiceBlueprint(factor int, bronze, leadIsTeam bool) string {
	enum := "[gold, silver]"
	if bronze {
		enum = "[gold, silver, bronze]"
	}
	lead := "{type: string}"
	if leadIsTeam {
		lead = "{type: string, format: team}"
	}
	return fmt.Sprintf(`identifier: service
title: Service
schema:
  properties:
    tier: {type: string, enum: %s}
    replicas: {type: number}
    since: {type: string, format: date-time}
    lead: %s
relations:
  deps: {target: service, many: true}
  domain: {target: domain}
calculationProperties:
  double: {calculation: '(.properties.replicas // 0) * %d', type: number}
  inverse: {calculation: 'if (.properties.replicas // 0) == 0 then error("no replicas") else 1 / .properties.replicas end', type: number}
mirrorProperties:
  domainName: {path: domain.$title}
`, enum, lead, factor)
}

// chainDomainBlueprint aggregates services; with clocked, also an average
// per hour, whose values change with every commit's time.
func chainDomainBlueprint(fn string, clocked bool) string {
	s := fmt.Sprintf(`identifier: domain
title: Domain
schema: {properties: {}}
aggregationProperties:
  services: {target: service, calculationSpec: {calculationBy: entities, func: count}}
  replicas: {target: service, calculationSpec: {calculationBy: property, func: %s, property: replicas}}
`, fn)
	if clocked {
		s += "  perHour: {target: service, calculationSpec: {calculationBy: entities, func: average, averageOf: hour, measureTimeBy: since}}\n"
	}
	return s
}

func chainScorecard(min int) string {
	return fmt.Sprintf(`identifier: ready
title: Ready
blueprint: service
rules:
  - {identifier: tiered, level: Bronze, query: {combinator: and, conditions: [{property: tier, operator: isNotEmpty}]}}
  - {identifier: scaled, level: Silver, query: {combinator: and, conditions: [{property: double, operator: ">=", value: %d}]}}
  - {identifier: placed, level: Gold, query: {combinator: and, conditions: [{property: domainName, operator: isNotEmpty}]}}
`, min)
}

func newChain(seed uint64) *chain {
	c := &chain{r: rand.New(rand.NewPCG(seed, 7)), files: map[string][]byte{
		"blueprints/service.yaml": []byte(chainServiceBlueprint(2, true, false)),
		"blueprints/domain.yaml":  []byte(chainDomainBlueprint("sum", false)),
		"scorecards/ready.yaml":   []byte(chainScorecard(4)),
	}}
	for i := range chainTeams {
		c.files[fmt.Sprintf("entities/_team/t%d.yaml", i)] = fmt.Appendf(nil, "identifier: t%d\n", i)
	}
	for i := range chainDomains {
		c.files[c.domainPath(i)] = c.domain(i)
	}
	for i := range chainServices {
		c.files[c.servicePath(i)] = c.service(i, false)
	}
	c.good, c.committed = maps.Clone(c.files), maps.Clone(c.files)
	return c
}

func (c *chain) domainPath(i int) string { return fmt.Sprintf("entities/domain/d%d.yaml", i) }

func (c *chain) domain(i int) []byte {
	return fmt.Appendf(nil, "identifier: d%d\ntitle: Domain %d v%d\n", i, i, c.r.IntN(3))
}

// servicePath returns where service i lives, or a fresh place for it.
func (c *chain) servicePath(i int) string {
	for _, p := range []string{"entities/service/s%02d.yaml", "entities/service/moved/s%02d.yaml"} {
		if _, ok := c.files[fmt.Sprintf(p, i)]; ok {
			return fmt.Sprintf(p, i)
		}
	}
	return fmt.Sprintf("entities/service/s%02d.yaml", i)
}

// service writes service i; related entities are drawn from those that
// exist unless dangling.
func (c *chain) service(i int, dangling bool) []byte {
	pick := func(n int, prefix string, path func(int) string) string {
		for range 8 {
			j := c.r.IntN(n)
			if _, ok := c.files[path(j)]; ok || dangling {
				return fmt.Sprintf("%s%d", prefix, j)
			}
		}
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "identifier: s%d\ntitle: S%d\n", i, i)
	if c.r.IntN(2) == 0 {
		if t := pick(chainTeams, "t", func(j int) string { return fmt.Sprintf("entities/_team/t%d.yaml", j) }); t != "" {
			fmt.Fprintf(&b, "team: %s\n", t)
		}
	}
	tier := []string{"gold", "silver", "bronze"}[c.r.IntN(3)]
	// Mostly no replicas: the calculation of inverse then warns, often
	// for more entities than the warnings cap.
	replicas := max(0, c.r.IntN(12)-8)
	fmt.Fprintf(&b, "properties: {tier: %s, replicas: %d, since: \"2025-12-0%dT00:00:00Z\", lead: t%d}\n",
		tier, replicas, 1+c.r.IntN(5), c.r.IntN(chainTeams))
	var deps []string
	for range c.r.IntN(3) {
		if d := pick(chainServices, "s", c.servicePath); d != "" {
			deps = append(deps, d)
		}
	}
	dom := pick(chainDomains, "d", c.domainPath)
	if dom == "" {
		dom = "null"
	}
	fmt.Fprintf(&b, "relations: {deps: [%s], domain: %s}\n", strings.Join(deps, ", "), dom)
	return []byte(b.String())
}

// step changes one to three things and returns the files to commit (nil
// content deletes).
func (c *chain) step() map[string][]byte {
	before := c.committed
	for range 1 + c.r.IntN(3) {
		c.mutate()
	}
	out := map[string][]byte{}
	for p, data := range c.files {
		if string(before[p]) != string(data) {
			out[p] = data
		}
	}
	for p := range before {
		if _, ok := c.files[p]; !ok {
			out[p] = nil
		}
	}
	c.committed = maps.Clone(c.files)
	return out
}

func (c *chain) mutate() {
	i := c.r.IntN(chainServices)
	switch n := c.r.IntN(100); {
	case n < 40: // edit or add a service
		c.files[c.servicePath(i)] = c.service(i, false)
	case n < 50: // delete a service: fails when another still names it
		delete(c.files, c.servicePath(i))
	case n < 60: // move a service without editing it
		p := c.servicePath(i)
		data, ok := c.files[p]
		if !ok {
			return
		}
		delete(c.files, p)
		if strings.Contains(p, "/moved/") {
			c.files[fmt.Sprintf("entities/service/s%02d.yaml", i)] = data
		} else {
			c.files[fmt.Sprintf("entities/service/moved/s%02d.yaml", i)] = data
		}
	case n < 66: // a domain's title, or a domain added or deleted
		j := c.r.IntN(chainDomains)
		if _, ok := c.files[c.domainPath(j)]; ok && c.r.IntN(3) == 0 {
			delete(c.files, c.domainPath(j))
		} else {
			c.files[c.domainPath(j)] = c.domain(j)
		}
	case n < 70: // a team added or deleted
		j := c.r.IntN(chainTeams)
		p := fmt.Sprintf("entities/_team/t%d.yaml", j)
		if _, ok := c.files[p]; ok {
			delete(c.files, p)
		} else {
			c.files[p] = fmt.Appendf(nil, "identifier: t%d\n", j)
		}
	case n < 76: // the service blueprint: calculation, enum, team format
		c.files["blueprints/service.yaml"] = []byte(chainServiceBlueprint(2+c.r.IntN(2), c.r.IntN(3) > 0, c.r.IntN(2) == 0))
	case n < 80:
		c.files["blueprints/domain.yaml"] = []byte(chainDomainBlueprint([]string{"sum", "max", "average"}[c.r.IntN(3)], c.r.IntN(2) == 0))
	case n < 85:
		c.files["scorecards/ready.yaml"] = []byte(chainScorecard(2 * c.r.IntN(4)))
	case n < 89: // a relation to nothing
		c.files[c.servicePath(i)] = c.service(i, true)
	case n < 92: // a value the schema refuses
		c.files[c.servicePath(i)] = fmt.Appendf(nil, "identifier: s%d\nproperties: {tier: platinum}\n", i)
	case n < 96: // an empty file: a warning
		c.files["entities/service/empty.yaml"] = []byte("# nothing yet\n")
	default: // a file outside the catalog folders: a warning
		c.files[fmt.Sprintf("docs/notes%d.yaml", c.r.IntN(2))] = []byte("a: b\n")
	}
}

// dumpIndex renders every entity of an index (without the $created and
// $updated facts, which a full build takes from file history and an
// incremental one from entity changes) with its scores.
func dumpIndex(t *testing.T, db *index.DB) map[string]string {
	t.Helper()
	ctx := context.Background()
	keys, err := db.EntityKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, k := range keys {
		e, err := db.Entity(ctx, k.Blueprint, k.Identifier)
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if err := json.Unmarshal(e.Doc, &doc); err != nil {
			t.Fatal(err)
		}
		for _, m := range []string{"createdAt", "updatedAt", "createdBy", "updatedBy"} {
			delete(doc, m)
		}
		b, _ := json.Marshal(doc)
		sc, err := db.Scores(ctx, k.Blueprint, k.Identifier)
		if err != nil {
			t.Fatal(err)
		}
		out[k.Blueprint+"/"+k.Identifier] = fmt.Sprintf("%s %s:%d %+v", b, e.File, e.Line, sc)
	}
	return out
}

func diagLines(ds catalog.Diagnostics) []string {
	var out []string
	for _, d := range slices.Clone(ds).Sort() {
		out = append(out, fmt.Sprintf("%s %s %s", d.String(), d.Severity, d.Code))
	}
	return out
}

// TestReconcile_IncrementalChain reconciles a random chain of commits
// incrementally, restarting the reconciler now and then, and after every
// commit compares with a full build of the same commit in a fresh index:
// the same status, the same diagnostics, and when applied the same
// entities, positions, computed values and scores. A failed commit leaves
// the last good revision applied; the next commit fixes it.
func TestReconcile_IncrementalChain(t *testing.T) {
	if testing.Short() {
		t.Skip("a full build per commit")
	}
	clock := func() time.Time { return time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC) }
	for _, seed := range []uint64{1, 2} {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			c := newChain(seed)
			f := newFixture(t, c.files, reconcile.Options{Now: clock})
			if res := f.reconcile(); res.Status != index.StatusApplied {
				t.Fatalf("initial: %+v", res)
			}
			dbPath := f.db.Path()
			applied := f.applied()
			var failed, incremental, capped int
			for step := range 40 {
				if step%13 == 12 {
					// A restart: a new reconciler on the same index.
					f.open(dbPath, reconcile.Options{Now: clock})
				}
				change := c.step()
				if len(change) == 0 {
					continue
				}
				head := f.commit(fmt.Sprintf("step %d", step), change)
				res := f.reconcile()

				full := &fixture{t: t, remote: f.remote}
				full.open(filepath.Join(t.TempDir(), "full.db"), reconcile.Options{Now: clock})
				want := full.reconcile()
				paths := slices.Sorted(maps.Keys(change))
				if res.Status != want.Status || !res.Incremental {
					t.Fatalf("step %d %v: status %s (incremental %v), full build %s: %s",
						step, paths, res.Status, res.Incremental, want.Status, want.Reason)
				}
				if diff := cmp.Diff(diagLines(want.Diagnostics), diagLines(res.Diagnostics)); diff != "" {
					t.Fatalf("step %d %v: diagnostics (-full +incremental):\n%s", step, paths, diff)
				}
				incremental++
				if slices.ContainsFunc(res.Diagnostics, func(d catalog.Diagnostic) bool { return strings.Contains(d.Message, "more entities") }) {
					capped++
				}
				if res.Status != index.StatusApplied {
					failed++
					if f.applied() != applied {
						t.Fatalf("step %d: a failed commit moved the index to %s", step, f.applied())
					}
					// The next commit fixes the catalog.
					c.files = maps.Clone(c.good)
					continue
				}
				applied = head
				c.good = maps.Clone(c.files)
				if diff := cmp.Diff(dumpIndex(t, full.db), dumpIndex(t, f.db)); diff != "" {
					t.Fatalf("step %d %v: index (-full +incremental):\n%s", step, paths, diff)
				}
			}
			t.Logf("%d incremental commits, %d failed, %d with capped warnings", incremental, failed, capped)
			if failed == 0 || failed == incremental {
				t.Errorf("want both applied and failed commits, got %d failed of %d", failed, incremental)
			}
		})
	}
}

// sameAsFull reconciles the head of f's remote in a fresh index and fails
// unless the outcome matches res and, when applied, f's index.
func sameAsFull(t *testing.T, f *fixture, res reconcile.Result) {
	t.Helper()
	full := &fixture{t: t, remote: f.remote}
	full.open(filepath.Join(t.TempDir(), "full.db"), reconcile.Options{})
	want := full.reconcile()
	if want.Status != res.Status {
		t.Fatalf("status %s, a full build says %s: %s", res.Status, want.Status, want.Reason)
	}
	if diff := cmp.Diff(diagLines(want.Diagnostics), diagLines(res.Diagnostics)); diff != "" {
		t.Fatalf("diagnostics (-full +incremental):\n%s", diff)
	}
	if res.Status == index.StatusApplied {
		if diff := cmp.Diff(dumpIndex(t, full.db), dumpIndex(t, f.db)); diff != "" {
			t.Fatalf("index (-full +incremental):\n%s", diff)
		}
	}
}

// TestReconcile_Incremental walks through the cases that an incremental
// commit could get wrong, each compared with a full build.
func TestReconcile_Incremental(t *testing.T) {
	mirrorBP := `identifier: app
title: App
schema: {properties: {}}
relations:
  svc: {target: service}
mirrorProperties:
  svcDouble: {path: svc.double}
`
	files := base()
	files["blueprints/app.yaml"] = []byte(mirrorBP)
	files["entities/app/x.yaml"] = []byte("identifier: x\nrelations: {svc: a}\n")
	tests := []struct {
		name   string
		change map[string][]byte
		status index.Status
		check  func(t *testing.T, f *fixture, res reconcile.Result)
	}{
		{
			// b and c name a: deleting a breaks only files the commit
			// does not touch.
			name:   "DeleteNamedEntity",
			change: map[string][]byte{"entities/service/a.yaml": nil},
			status: index.StatusFailed,
			check: func(t *testing.T, f *fixture, res reconcile.Result) {
				files := map[string]bool{}
				for _, d := range res.Diagnostics {
					if d.Code == catalog.CodeDanglingRel {
						files[d.File] = true
					}
				}
				want := map[string]bool{"entities/service/b.yaml": true, "entities/service/c.yaml": true, "entities/app/x.yaml": true}
				if !maps.Equal(files, want) {
					t.Errorf("dangling relations reported in %v, want %v", files, want)
				}
			},
		},
		{
			name:   "DeleteTeamInUse",
			change: map[string][]byte{"entities/_team/core.yaml": nil},
			status: index.StatusFailed,
		},
		{
			name: "PureRename",
			change: map[string][]byte{
				"entities/service/b.yaml":       nil,
				"entities/service/moved/b.yaml": entity("b", "silver", 1, "a"),
			},
			status: index.StatusApplied,
			check: func(t *testing.T, f *fixture, res reconcile.Result) {
				b, err := f.db.Entity(context.Background(), "service", "b")
				if err != nil || b.File != "entities/service/moved/b.yaml" {
					t.Errorf("b after a move: %+v, %v", b, err)
				}
			},
		},
		{
			// Not a CUE schema change, yet every service's double and
			// x's mirror of it change.
			name:   "CalculationEdit",
			change: map[string][]byte{"blueprints/service.yaml": []byte(strings.Replace(blueprint, "* 2'", "* 10'", 1))},
			status: index.StatusApplied,
			check: func(t *testing.T, f *fixture, res reconcile.Result) {
				x, _ := f.db.Entity(context.Background(), "app", "x")
				if !strings.Contains(string(x.Doc), `"svcDouble":30`) {
					t.Errorf("x's mirror after the calculation edit: %s", x.Doc)
				}
			},
		},
		{
			name:   "ScorecardEdit",
			change: map[string][]byte{"scorecards/ready.yaml": []byte(strings.Replace(card, `value: 4`, `value: 3`, 1))},
			status: index.StatusApplied,
		},
		{
			name:   "EnumNarrowed",
			change: map[string][]byte{"blueprints/service.yaml": []byte(strings.Replace(blueprint, "enum: [gold, silver, bronze]", "enum: [gold, silver]", 1))},
			status: index.StatusFailed,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := maps.Clone(files)
			files["entities/_team/core.yaml"] = []byte("identifier: core\n")
			files["entities/_team/other.yaml"] = []byte("identifier: other\n") // with no team left, teams go unchecked
			files["entities/service/c.yaml"] = append(entity("c", "bronze", 2, "a", "b"), "team: core\n"...)
			f := newFixture(t, files, reconcile.Options{})
			f.reconcile()
			good := f.applied()
			f.commit(tt.name, tt.change)
			res := f.reconcile()
			if res.Status != tt.status || !res.Incremental {
				t.Fatalf("%s (incremental %v), want %s: %s", res.Status, res.Incremental, tt.status, res.Reason)
			}
			if res.Status != index.StatusApplied && f.applied() != good {
				t.Errorf("the index left the last good revision")
			}
			sameAsFull(t, f, res)
			if tt.check != nil {
				tt.check(t, f, res)
			}
		})
	}
}

// TestReconcile_Restart restarts the reconciler on an existing index, warm
// (as berth serve does) or not, and checks the next commit is incremental
// and right.
func TestReconcile_Restart(t *testing.T) {
	for _, warm := range []bool{true, false} {
		t.Run(fmt.Sprintf("Warm=%v", warm), func(t *testing.T) {
			f := newFixture(t, base(), reconcile.Options{})
			f.reconcile()
			f.commit("d", map[string][]byte{"entities/service/d.yaml": entity("d", "gold", 0, "a")})
			f.reconcile()
			f.open(f.db.Path(), reconcile.Options{})
			if warm {
				if err := f.rec.Warm(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			f.commit("edit", map[string][]byte{"entities/service/a.yaml": entity("a", "silver", 0), "entities/service/b.yaml": nil,
				"entities/service/c.yaml": entity("c", "bronze", 2, "a")})
			res := f.reconcile()
			if res.Status != index.StatusApplied || !res.Incremental {
				t.Fatalf("after a restart: %+v", res)
			}
			sameAsFull(t, f, res)
		})
	}
}

// TestReconcile_ExemptionExpires checks that a commit made after an
// exemption expired re-scores the exempt entity, which it does not touch.
func TestReconcile_ExemptionExpires(t *testing.T) {
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	files := base()
	files["scorecards/ready.yaml"] = []byte(card + "exemptions:\n  - {entity: b, rule: scaled, reason: migrating, expires: \"2026-03-10\"}\n")
	f := newFixture(t, files, reconcile.Options{Now: clock})
	f.reconcile()
	now = now.AddDate(0, 0, 20)
	f.commit("d", map[string][]byte{"entities/service/d.yaml": entity("d", "gold", 4)})
	res := f.reconcile()
	if res.Status != index.StatusApplied || !res.Incremental {
		t.Fatalf("%+v", res)
	}
	if sc, _ := f.db.Scores(context.Background(), "service", "b"); len(sc) != 1 || sc[0].Level != "Bronze" {
		t.Errorf("b after its exemption expired: %+v", sc)
	}
	full := &fixture{t: t, remote: f.remote}
	full.open(filepath.Join(t.TempDir(), "full.db"), reconcile.Options{Now: clock})
	full.reconcile()
	if diff := cmp.Diff(dumpIndex(t, full.db), dumpIndex(t, f.db)); diff != "" {
		t.Fatalf("index (-full +incremental):\n%s", diff)
	}
}

// TestReconcile_EnforceFromPasses checks that a rule's deadline reaches the
// index with its failing result, and that a commit made after the deadline
// re-scores the entity, which it does not touch, as a full build would.
func TestReconcile_EnforceFromPasses(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	files := base()
	files["scorecards/ready.yaml"] = []byte(strings.Replace(card, "{identifier: scaled, level: Silver,",
		`{identifier: scaled, level: Silver, enforceFrom: "2026-03-10",`, 1))
	f := newFixture(t, files, reconcile.Options{Now: clock})
	f.reconcile()
	scaled := func(sc []index.ScorecardResult) index.RuleResult {
		for _, r := range sc[0].Rules {
			if r.Rule == "scaled" {
				return r
			}
		}
		return index.RuleResult{}
	}
	sc, err := f.db.Scores(ctx, "service", "b")
	if err != nil || len(sc) != 1 || sc[0].Level != "Gold" || scaled(sc) != (index.RuleResult{Rule: "scaled", Status: "FAILURE", EnforceFrom: "2026-03-10"}) {
		t.Errorf("b before the deadline: %+v, %v", sc, err)
	}
	now = now.AddDate(0, 0, 20)
	f.commit("d", map[string][]byte{"entities/service/d.yaml": entity("d", "gold", 4)})
	if res := f.reconcile(); res.Status != index.StatusApplied || !res.Incremental {
		t.Fatalf("%+v", res)
	}
	sc, err = f.db.Scores(ctx, "service", "b")
	if err != nil || len(sc) != 1 || sc[0].Level != "Bronze" || scaled(sc) != (index.RuleResult{Rule: "scaled", Status: "FAILURE"}) {
		t.Errorf("b after the deadline: %+v, %v", sc, err)
	}
	full := &fixture{t: t, remote: f.remote}
	full.open(filepath.Join(t.TempDir(), "full.db"), reconcile.Options{Now: clock})
	full.reconcile()
	if diff := cmp.Diff(dumpIndex(t, full.db), dumpIndex(t, f.db)); diff != "" {
		t.Fatalf("index (-full +incremental):\n%s", diff)
	}
}
