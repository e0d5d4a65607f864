package main

import (
	"bytes"
	"context"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/berth-dev/berth/pkg/catalog"
	"github.com/berth-dev/berth/pkg/gen"
)

// TestScoreChange_SameAsFull checks that scoring a head from its base's
// results gives every entity the computed values and scorecard results that
// scoring the whole head gives, for changes that reach other entities
// through mirrors (a domain's title), aggregations (deployments added and
// removed) and moved relations; and that changes which may move every
// entity's scores are scored in full.
func TestScoreChange_SameAsFull(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	files := maps.Collect(gen.Files(gen.Options{Entities: 1500, Seed: 3}))
	pick := func(prefix string, n int) string {
		var ps []string
		for p := range files {
			if strings.HasPrefix(p, prefix) {
				ps = append(ps, p)
			}
		}
		slices.Sort(ps)
		return ps[n]
	}
	domainRE := regexp.MustCompile(`(?m)^  domain: .*$`)
	service := pick("entities/service/", 3)
	other := pick("entities/service/", 4)
	deployment := pick("entities/deployment/", 0)
	domain := pick("entities/domain/", 1)
	otherDomain := strings.TrimSuffix(strings.TrimPrefix(pick("entities/domain/", 2), "entities/domain/"), ".yaml")
	load := func(fsys fstest.MapFS) *catalog.Catalog {
		t.Helper()
		cat, err := catalog.Load(ctx, fsys, catalog.Options{})
		if err != nil {
			t.Fatal(err)
		}
		cat.Build()
		return cat
	}
	baseFS := fstest.MapFS{}
	for p, b := range files {
		baseFS[p] = &fstest.MapFile{Data: b}
	}
	baseCat := load(baseFS)
	base, err := scoreSide(ctx, baseCat, now)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name        string
		edit        map[string][]byte // nil content deletes
		incremental bool
	}{
		{"Property", map[string][]byte{service: regexp.MustCompile(`test_coverage: \d+`).ReplaceAll(files[service], []byte("test_coverage: 1"))}, true},
		{"MirroredTitle", map[string][]byte{domain: regexp.MustCompile(`(?m)^title: .*$`).ReplaceAll(files[domain], []byte("title: Renamed"))}, true},
		{"DeploymentRemoved", map[string][]byte{deployment: nil}, true},
		{"DeploymentAdded", map[string][]byte{"entities/deployment/new-one.yaml": bytes.Replace(files[deployment], []byte("identifier: "), []byte("identifier: new-one-"), 1)}, true},
		{"RelationMoved", map[string][]byte{other: domainRE.ReplaceAll(files[other], []byte("  domain: "+otherDomain))}, true},
		{"ServiceRemoved", map[string][]byte{other: nil}, true},
		{"Blueprint", map[string][]byte{"blueprints/domain.yaml": bytes.Replace(files["blueprints/domain.yaml"], []byte("title: Domain"), []byte("title: Area"), 1)}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			headFS := fstest.MapFS{}
			for p, f := range baseFS {
				headFS[p] = f
			}
			var changed []string
			for p, b := range tc.edit {
				changed = append(changed, p)
				if b == nil {
					delete(headFS, p)
				} else {
					headFS[p] = &fstest.MapFile{Data: b}
				}
			}
			headCat := load(headFS)
			want, err := scoreSide(ctx, headCat, now)
			if err != nil {
				t.Fatal(err)
			}
			got, ok, err := scoreChange(ctx, base, baseCat, headCat, changed, now)
			if err != nil {
				t.Fatal(err)
			}
			if ok != tc.incremental {
				t.Fatalf("scored incrementally: %v, want %v", ok, tc.incremental)
			}
			if !ok {
				return
			}
			if !reflect.DeepEqual(got.values, want.values) {
				t.Error("computed values differ from a full evaluation")
			}
			if !reflect.DeepEqual(got.side.Scores.Results, want.side.Scores.Results) {
				t.Error("scorecard results differ from a full evaluation")
			}
			if !reflect.DeepEqual(got.diags, want.diags) {
				t.Errorf("diagnostics %v, want %v", got.diags, want.diags)
			}
			for _, e := range headCat.Entities {
				for _, key := range []string{"display_name", "domain_title", "deployments"} {
					g, gok := got.side.Property(e, key)
					w, wok := want.side.Property(e, key)
					if gok != wok || !reflect.DeepEqual(g, w) {
						t.Fatalf("%v %s = %v, want %v", e.Key(), key, g, w)
					}
				}
			}
		})
	}
}
