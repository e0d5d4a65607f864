package gen_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/pkg/catalog"
	"github.com/berth-dev/berth/pkg/gen"
)

func TestWrite_LoadsClean(t *testing.T) {
	dir := t.TempDir()
	opts := gen.Options{Entities: 200, Seed: 1}
	if err := gen.Write(dir, opts); err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.Load(context.Background(), os.DirFS(dir), catalog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	diags := append(cat.Diagnostics(), cat.Build()...)
	if len(diags) != 0 {
		t.Fatalf("diagnostics:\n%v", diags)
	}

	got := map[string]int{}
	for _, e := range cat.Entities {
		got[e.Blueprint]++
	}
	if d := cmp.Diff(gen.Counts(opts), got); d != "" {
		t.Errorf("entities per blueprint (-want +got):\n%s", d)
	}
	if len(cat.Entities) != 200 {
		t.Errorf("%d entities, want 200", len(cat.Entities))
	}
	if n := len(cat.Scorecards); n != 2 {
		t.Errorf("%d scorecards, want 2", n)
	}
	for _, s := range cat.Scorecards {
		levels := map[string]int{}
		for _, r := range s.Rules {
			levels[r.Level]++
		}
		if d := cmp.Diff(map[string]int{"Bronze": 2, "Silver": 2, "Gold": 2}, levels); d != "" {
			t.Errorf("scorecard %s rules per level (-want +got):\n%s", s.Identifier, d)
		}
	}
	for _, problem := range consistency(cat) {
		t.Error(problem)
	}
}

// consistency reports entities that break their blueprint in ways a
// generator bug would: unknown or missing required properties, values
// outside an enum, relations or teams that do not resolve.
func consistency(cat *catalog.Catalog) []string {
	var out []string
	exists := func(bp, id string) bool { return cat.Entity(catalog.EntityKey{Blueprint: bp, Identifier: id}) != nil }
	for _, e := range cat.Entities {
		where := e.Doc.File
		b := cat.Blueprints[e.Blueprint]
		if b == nil {
			out = append(out, where+": unknown blueprint")
			continue
		}
		for _, team := range e.Team {
			if !exists(catalog.TeamBlueprint, team) {
				out = append(out, fmt.Sprintf("%s: no _team %q", where, team))
			}
		}
		for _, r := range b.Schema.Required {
			if _, ok := e.Properties[r]; !ok {
				out = append(out, fmt.Sprintf("%s: missing required %s", where, r))
			}
		}
		for name, v := range e.Properties {
			p, ok := b.Schema.Properties[name]
			switch {
			case !ok:
				out = append(out, fmt.Sprintf("%s: undefined property %s", where, name))
			case len(p.Enum) > 0 && !slices.Contains(p.Enum, v):
				out = append(out, fmt.Sprintf("%s: %s = %v not in %v", where, name, v, p.Enum))
			case p.Format == "team" && !exists(catalog.TeamBlueprint, v.(string)):
				out = append(out, fmt.Sprintf("%s: %s = %v is no _team", where, name, v))
			}
		}
		for name, def := range b.Relations {
			rv := e.Relations[name]
			if def.Required && len(rv.Targets) == 0 {
				out = append(out, fmt.Sprintf("%s: missing required relation %s", where, name))
			}
			if len(rv.Targets) > 0 && rv.Many != def.Many {
				out = append(out, fmt.Sprintf("%s: relation %s: many=%v, want %v", where, name, rv.Many, def.Many))
			}
			for _, target := range rv.Targets {
				if !exists(def.Target, target) {
					out = append(out, fmt.Sprintf("%s: relation %s: no %s %q", where, name, def.Target, target))
				}
			}
		}
		for name := range e.Relations {
			if _, ok := b.Relations[name]; !ok {
				out = append(out, fmt.Sprintf("%s: undefined relation %s", where, name))
			}
		}
	}
	return out
}

func TestFiles_Deterministic(t *testing.T) {
	digest := func(opts gen.Options) [32]byte {
		h := sha256.New()
		for p, data := range gen.Files(opts) {
			fmt.Fprintf(h, "%s\x00%d\x00", p, len(data))
			h.Write(data)
		}
		var sum [32]byte
		h.Sum(sum[:0])
		return sum
	}
	a := digest(gen.Options{Entities: 500, Seed: 3})
	if b := digest(gen.Options{Entities: 500, Seed: 3}); a != b {
		t.Error("same options, different catalogs")
	}
	if c := digest(gen.Options{Entities: 500, Seed: 4}); a == c {
		t.Error("different seeds, same catalog")
	}
}

// TestWrite_MatchesFiles checks that Write puts exactly Files' output on
// disk, so benchmarks that commit Files into Git see the same catalog.
func TestWrite_MatchesFiles(t *testing.T) {
	dir := t.TempDir()
	opts := gen.Options{Entities: 100, Seed: 9}
	if err := gen.Write(dir, opts); err != nil {
		t.Fatal(err)
	}
	n := 0
	for p, want := range gen.Files(opts) {
		n++
		got, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(p)))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("%s differs from Files", p)
		}
	}
	var onDisk int
	err := filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			onDisk++
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if onDisk != n {
		t.Errorf("%d files on disk, Files yields %d", onDisk, n)
	}
}

func TestWrite_NotEmpty(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "stale.yaml"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := gen.Write(dir, gen.Options{Entities: 10}); !errors.Is(err, gen.ErrNotEmpty) {
		t.Errorf("Write into a non-empty dir = %v, want ErrNotEmpty", err)
	}
}

func TestFiles_StopsEarly(t *testing.T) {
	n := 0
	for range gen.Files(gen.Options{Entities: 1000}) {
		n++
		if n == 20 {
			break
		}
	}
	if n != 20 {
		t.Errorf("got %d files", n)
	}
}

func TestCounts(t *testing.T) {
	for _, tc := range []struct {
		opts gen.Options
		want int
	}{
		{gen.Options{Entities: 0}, gen.MinEntities},
		{gen.Options{Entities: gen.MinEntities}, gen.MinEntities},
		{gen.Options{Entities: 200}, 200},
		{gen.Options{Entities: 1000}, 1000},
		{gen.Options{Entities: 100_000}, 100_000},
	} {
		t.Run(fmt.Sprint(tc.opts.Entities), func(t *testing.T) {
			c := gen.Counts(tc.opts)
			total := 0
			for bp, n := range c {
				if n < 1 {
					t.Errorf("%s: %d entities", bp, n)
				}
				total += n
			}
			if total != tc.want {
				t.Errorf("total %d, want %d", total, tc.want)
			}
			if tc.want >= 1000 {
				share := float64(c[gen.Service]+c[gen.Microservice]) / float64(total)
				if share < 0.55 || share > 0.65 {
					t.Errorf("services and microservices are %.0f%% of the catalog, want about 60%%", share*100)
				}
			}
		})
	}
}

// BenchmarkFiles measures generation alone (no disk), per 1,000 entities.
func BenchmarkFiles(b *testing.B) {
	var bytes int64
	for b.Loop() {
		bytes = 0
		for _, data := range gen.Files(gen.Options{Entities: 1000, Seed: 1}) {
			bytes += int64(len(data))
		}
	}
	b.SetBytes(bytes)
}
