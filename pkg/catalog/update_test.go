package catalog_test

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"weak"

	"github.com/berth-dev/berth/pkg/catalog"
	"github.com/google/go-cmp/cmp"
)

// randomCatalog writes catalog files whose entities, relations and teams are
// drawn from small pools, so that duplicates, dangling relations, unknown
// teams and unknown blueprints happen often.
type randomCatalog struct {
	r   *rand.Rand
	fs  fstest.MapFS
	ids []string
}

var blueprintVariants = []string{
	// service → domain, service → service (many), a team property.
	`identifier: service
schema:
  properties:
    lead: {type: string, format: team}
relations:
  domain: {target: domain}
  deps: {target: service, many: true}
`,
	// The relation to domain now targets service; no team property.
	`identifier: service
schema:
  properties:
    lead: {type: string}
relations:
  domain: {target: service}
  deps: {target: service, many: true}
`,
	// Renamed: service entities lose their blueprint.
	`identifier: servise
schema:
  properties: {}
`,
}

func (rc *randomCatalog) id() string { return rc.ids[rc.r.IntN(len(rc.ids))] }

func (rc *randomCatalog) entity(bp string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "identifier: %s\n", rc.id())
	if rc.r.IntN(8) == 0 {
		fmt.Fprintf(&b, "blueprint: %s\n", []string{"service", "domain", "nope"}[rc.r.IntN(3)])
	}
	switch rc.r.IntN(4) {
	case 0:
		fmt.Fprintf(&b, "team: t%d\n", rc.r.IntN(4))
	case 1:
		fmt.Fprintf(&b, "team: [t%d, t%d]\n", rc.r.IntN(4), rc.r.IntN(4))
	}
	if bp == "service" {
		fmt.Fprintf(&b, "properties: {lead: t%d}\n", rc.r.IntN(4))
		fmt.Fprintf(&b, "relations: {domain: %s, deps: [%s, %s]}\n", rc.id(), rc.id(), rc.id())
	}
	return b.String()
}

// file writes a random file at a random place; it returns the path.
func (rc *randomCatalog) file() string {
	switch n := rc.r.IntN(20); {
	case n < 12:
		p := fmt.Sprintf("entities/service/s%d.yaml", rc.r.IntN(12))
		docs := []string{rc.entity("service")}
		if rc.r.IntN(4) == 0 {
			docs = append(docs, rc.entity("service"))
		}
		rc.fs[p] = &fstest.MapFile{Data: []byte(strings.Join(docs, "---\n"))}
		return p
	case n < 16:
		p := fmt.Sprintf("entities/domain/d%d.yaml", rc.r.IntN(6))
		rc.fs[p] = &fstest.MapFile{Data: []byte(rc.entity("domain"))}
		return p
	case n < 18:
		p := fmt.Sprintf("entities/_team/t%d.yaml", rc.r.IntN(4))
		rc.fs[p] = &fstest.MapFile{Data: fmt.Appendf(nil, "identifier: t%d\n", rc.r.IntN(5))}
		return p
	case n < 19:
		p := "blueprints/service.yaml"
		rc.fs[p] = &fstest.MapFile{Data: []byte(blueprintVariants[rc.r.IntN(len(blueprintVariants))])}
		return p
	default:
		p := fmt.Sprintf("entities/ghost/g%d.yaml", rc.r.IntN(2))
		rc.fs[p] = &fstest.MapFile{Data: []byte(rc.entity("ghost"))}
		return p
	}
}

// TestUpdate checks that a chain of Updates, each with CheckSince, gives
// what loading, building and checking every commit afresh gives.
func TestUpdate(t *testing.T) {
	for seed := range uint64(40) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rc := &randomCatalog{r: rand.New(rand.NewPCG(seed, 1)), fs: fstest.MapFS{
				"blueprints/service.yaml": {Data: []byte(blueprintVariants[0])},
				"blueprints/domain.yaml":  {Data: []byte("identifier: domain\nschema: {properties: {}}\n")},
				// Blueprint permissions kept in roles/, one naming no
				// blueprint: its finding must survive entity-only updates.
				"roles/perms.yaml": {Data: []byte("blueprint: domain\nentities: {read: {roles: [Admin, Member]}}\n---\n" +
					"blueprint: nosuch\nentities: {read: {roles: [Admin]}}\n")},
			}}
			for i := range 8 {
				rc.ids = append(rc.ids, fmt.Sprintf("e%d", i))
			}
			for range 15 {
				rc.file()
			}
			prev, prevBuild := fresh(t, rc.fs)
			prevCheck := prev.Check()
			for step := range 30 {
				changed := map[string]bool{}
				for range 1 + rc.r.IntN(3) {
					if rc.r.IntN(4) == 0 && len(rc.fs) > 2 {
						paths := slices.Sorted(maps.Keys(rc.fs))
						p := paths[rc.r.IntN(len(paths))]
						delete(rc.fs, p)
						changed[p] = true
					} else {
						changed[rc.file()] = true
					}
				}
				var files []*catalog.File
				var gone []string
				for p := range changed {
					if f, ok := catalog.ReadFile(rc.fs, p, catalog.Limits{}); ok && rc.fs[p] != nil {
						files = append(files, f)
					} else {
						gone = append(gone, p)
					}
				}
				cat, buildDiags := catalog.Update(prev, files, gone)
				for _, d := range prevBuild {
					if !changed[d.File] {
						buildDiags = append(buildDiags, d)
					}
				}
				check := cat.CheckSince(prev, prevCheck)

				want, wantBuild := fresh(t, rc.fs)
				ctx := fmt.Sprintf("step %d (changed %v)", step, slices.Sorted(maps.Keys(changed)))
				compareCatalogs(t, ctx, cat, want)
				if diff := cmp.Diff(format(wantBuild.Sort()), format(buildDiags.Sort())); diff != "" {
					t.Fatalf("%s: Build diagnostics (-full +update):\n%s", ctx, diff)
				}
				if diff := cmp.Diff(format(want.Check().Sort()), format(check.Sort())); diff != "" {
					t.Fatalf("%s: Check (-full +CheckSince):\n%s", ctx, diff)
				}
				wantKeys := map[catalog.EntityKey]bool{}
				for p := range changed {
					for _, e := range append(prev.EntitiesOf(p), cat.EntitiesOf(p)...) {
						wantKeys[e.Key()] = true
					}
				}
				keys, ok := cat.ChangedSince(prev)
				if !ok || !maps.Equal(wantKeys, toSet(keys)) {
					t.Fatalf("%s: ChangedSince = %v, %v; want %v", ctx, keys, ok, wantKeys)
				}
				prev, prevBuild, prevCheck = cat, buildDiags, check
			}
		})
	}
}

func fresh(tb testing.TB, fsys fstest.MapFS) (*catalog.Catalog, catalog.Diagnostics) {
	tb.Helper()
	cat, err := catalog.Load(context.Background(), fsys, catalog.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	return cat, cat.Build()
}

// compareCatalogs compares what Build derives: files, entities in order,
// the key map, duplicates, references and objects.
func compareCatalogs(t *testing.T, ctx string, got, want *catalog.Catalog) {
	t.Helper()
	paths := func(c *catalog.Catalog) (out []string) {
		for _, f := range c.Files {
			out = append(out, f.Path)
		}
		return out
	}
	if diff := cmp.Diff(paths(want), paths(got)); diff != "" {
		t.Fatalf("%s: files (-full +update):\n%s", ctx, diff)
	}
	ents := func(c *catalog.Catalog) (out []string) {
		for _, e := range c.Entities {
			first := c.Entity(e.Key()) == e
			out = append(out, fmt.Sprintf("%s:%d %v first=%v %v %v %v", e.Doc.File, e.Doc.Index, e.Key(), first, e.Team, e.Properties, e.Relations))
		}
		return out
	}
	if diff := cmp.Diff(ents(want), ents(got)); diff != "" {
		t.Fatalf("%s: entities (-full +update):\n%s", ctx, diff)
	}
	if got.KeyCount() != want.KeyCount() {
		t.Fatalf("%s: KeyCount = %d, want %d", ctx, got.KeyCount(), want.KeyCount())
	}
	refs := func(c *catalog.Catalog) (out []string) {
		ids := map[string]bool{}
		for _, e := range c.Entities {
			ids[e.Identifier] = true
			for _, rv := range e.Relations {
				for _, t := range rv.Targets {
					ids[t] = true
				}
			}
			for _, t := range e.Team {
				ids[t] = true
			}
		}
		for id := range ids {
			for _, r := range c.Referrers(id) {
				out = append(out, fmt.Sprintf("%s <- %s:%d.%s", id, r.From.Doc.File, r.From.Doc.Index, r.Rel))
			}
		}
		slices.Sort(out)
		return out
	}
	if diff := cmp.Diff(refs(want), refs(got)); diff != "" {
		t.Fatalf("%s: referrers (-full +update):\n%s", ctx, diff)
	}
	if diff := cmp.Diff(slices.Sorted(maps.Keys(want.Blueprints)), slices.Sorted(maps.Keys(got.Blueprints))); diff != "" {
		t.Fatalf("%s: blueprints (-full +update):\n%s", ctx, diff)
	}
}

func toSet[K comparable](l []K) map[K]bool {
	out := map[K]bool{}
	for _, k := range l {
		out[k] = true
	}
	return out
}

// TestUpdate_FreesPrevious checks that a chain of updates does not keep
// every catalog of the chain alive.
func TestUpdate_FreesPrevious(t *testing.T) {
	fsys := fstest.MapFS{
		"blueprints/service.yaml": {Data: []byte(blueprintVariants[0])},
		"entities/service/a.yaml": {Data: []byte("identifier: a\n")},
	}
	cat, _ := fresh(t, fsys)
	first := weak.Make(cat)
	for i := range 3 {
		fsys["entities/service/a.yaml"] = &fstest.MapFile{Data: fmt.Appendf(nil, "identifier: a\ntitle: A%d\n", i)}
		f, _ := catalog.ReadFile(fsys, "entities/service/a.yaml", catalog.Limits{})
		next, _ := catalog.Update(cat, []*catalog.File{f}, nil)
		if _, ok := next.ChangedSince(cat); !ok {
			t.Fatal("ChangedSince does not know the catalog it came from")
		}
		cat = next
	}
	runtime.GC()
	if first.Value() != nil {
		t.Error("the first catalog of the chain is still reachable")
	}
	runtime.KeepAlive(cat)
}

// TestRewalk checks that Rewalk gives what Load's walk reports after each
// change, without walking.
func TestRewalk(t *testing.T) {
	file := &fstest.MapFile{Data: []byte("a: b\n")}
	tests := []struct {
		name   string
		change map[string]*fstest.MapFile // nil deletes
	}{
		{"UnknownFolderAdded", map[string]*fstest.MapFile{"docs/a.yaml": file}},
		{"UnknownFolderEmptied", map[string]*fstest.MapFile{"notes/x.yaml": nil}},
		{"UnknownFolderKept", map[string]*fstest.MapFile{"notes/x.yaml": nil, "notes/y.md": file}},
		{"FileOutsideFolders", map[string]*fstest.MapFile{"top.yaml": file, "policies/p.yaml": file}},
		{"FileOutsideFoldersRemoved", map[string]*fstest.MapFile{"stray.json": nil}},
		{"HiddenAndTestdata", map[string]*fstest.MapFile{".github/x.yaml": file, "entities/testdata/x.yaml": file}},
		{"CatalogFile", map[string]*fstest.MapFile{"entities/service/a.yaml": file}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := fstest.MapFS{
				"blueprints/service.yaml": {Data: []byte(blueprintVariants[0])},
				"notes/x.yaml":            file,
				"stray.json":              file,
			}
			before, _ := fresh(t, fsys)
			var paths []string
			for p, f := range tt.change {
				paths = append(paths, p)
				if f == nil {
					delete(fsys, p)
				} else {
					fsys[p] = f
				}
			}
			after, _ := fresh(t, fsys)
			got := catalog.Rewalk(before.Diags, fsys, paths)
			if diff := cmp.Diff(format(after.Diags.Sort()), format(got)); diff != "" {
				t.Errorf("(-Load +Rewalk):\n%s", diff)
			}
		})
	}
}
