package gitsource

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestRepo_Changes(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	base := f.commit(map[string]string{
		"README.md":                       "readme",
		"catalog/entities/service/a.yaml": "a",
		"catalog/entities/service/b.yaml": "b",
		"catalog/entities/service/c.yaml": "c",
		"catalog/blueprints/service.yaml": "service",
	})
	r := open(t, Options{URL: f.path, Dir: "catalog"})

	tests := []struct {
		name  string
		files map[string]string
		del   []string
		want  []Change
	}{
		{
			name:  "Add",
			files: map[string]string{"catalog/entities/team/x.yaml": "x"},
			want:  []Change{{Path: "entities/team/x.yaml", Op: Added}},
		},
		{
			name:  "Modify",
			files: map[string]string{"catalog/entities/service/a.yaml": "a2"},
			want:  []Change{{Path: "entities/service/a.yaml", Op: Modified}},
		},
		{
			name: "Delete",
			del:  []string{"catalog/entities/service/b.yaml"},
			want: []Change{{Path: "entities/service/b.yaml", Op: Deleted}},
		},
		{
			name:  "Rename",
			files: map[string]string{"catalog/entities/moved/c.yaml": "c"},
			del:   []string{"catalog/entities/service/c.yaml"},
			want:  []Change{{Path: "entities/moved/c.yaml", OldPath: "entities/service/c.yaml", Op: Renamed}},
		},
		{
			name:  "OutsideDir",
			files: map[string]string{"README.md": "changed", "src/main.go": "package main"},
			want:  []Change{},
		},
		{
			name:  "Several",
			files: map[string]string{"catalog/entities/service/a.yaml": "a3", "catalog/berth.yaml": "x"},
			del:   []string{"catalog/blueprints"},
			want: []Change{
				{Path: "berth.yaml", Op: Added},
				{Path: "blueprints/service.yaml", Op: Deleted},
				{Path: "entities/service/a.yaml", Op: Modified},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.reset(base)
			to := f.commit(tt.files, tt.del...)
			got, err := r.Changes(ctx, base, to)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Changes (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("Same", func(t *testing.T) {
		got, err := r.Changes(ctx, base, base)
		if err != nil || len(got) != 0 {
			t.Errorf("Changes of a commit with itself = %v, %v; want none", got, err)
		}
	})
	t.Run("DirAppears", func(t *testing.T) {
		r := open(t, Options{URL: f.path, Dir: "docs"})
		f.reset(base)
		to := f.commit(map[string]string{"docs/x.md": "x"})
		got, err := r.Changes(ctx, base, to)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]Change{{Path: "x.md", Op: Added}}, got); diff != "" {
			t.Errorf("Changes (-want +got):\n%s", diff)
		}
	})
}

func TestRepo_IsAncestor(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	c1 := f.commit(map[string]string{"entities/a.yaml": "1"})
	c2 := f.commit(map[string]string{"entities/a.yaml": "2"})
	r := open(t, Options{URL: f.url(), DataDir: t.TempDir()})
	if h := head(t, r); h != c2 {
		t.Fatalf("head = %s, want %s", h, c2)
	}

	// Force-push: the branch is rewritten from c1 on.
	f.reset(c1)
	c2b := f.commit(map[string]string{"entities/a.yaml": "2b"})
	if err := r.Fetch(ctx); err != nil {
		t.Fatalf("Fetch after a force-push: %v", err)
	}
	if h := head(t, r); h != c2b {
		t.Fatalf("head after force-push = %s, want %s", h, c2b)
	}

	tests := []struct {
		name string
		a, b string
		want bool
	}{
		{"Parent", c1, c2b, true},
		{"Self", c2b, c2b, true},
		{"Rewritten", c2, c2b, false},
		{"Descendant", c2b, c1, false},
		{"Unknown", "0123456789012345678901234567890123456789", c2b, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := r.IsAncestor(ctx, tt.a, tt.b)
			if err != nil || got != tt.want {
				t.Errorf("IsAncestor = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
	if _, err := r.IsAncestor(ctx, c1, "0123456789012345678901234567890123456789"); !errors.Is(err, ErrCommitNotFound) {
		t.Errorf("IsAncestor with an unknown descendant: err = %v, want ErrCommitNotFound", err)
	}
}

func TestRepo_FileHistory(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	ada, grace := "Ada <ada@example.com>", "Grace <grace@example.com>"
	c1 := f.commitAs(ada, map[string]string{
		"catalog/a.yaml": "a", "catalog/b.yaml": "b", "catalog/c.yaml": "c", "catalog/d.yaml": "d",
	})
	c2 := f.commitAs(grace, map[string]string{"catalog/a.yaml": "a2"})
	f.commitAs(grace, map[string]string{"README.md": "outside the catalog"})
	f.commitAs(ada, nil, "catalog/b.yaml")
	c5 := f.commitAs(grace, map[string]string{"catalog/b.yaml": "b again"})
	c6 := f.commitAs(grace, map[string]string{"catalog/sub/c.yaml": "c"}, "catalog/c.yaml")
	c7 := f.commitAs(ada, map[string]string{"catalog/e.yaml": "e"})

	s := func(hash string, i int, author string) Stamp {
		sig := parseSignature(author, when(i))
		return Stamp{Commit: hash, Author: sig.Name, AuthorEmail: sig.Email, When: when(i)}
	}
	want := map[string]FileMeta{
		"a.yaml":     {Created: s(c1, 1, ada), Updated: s(c2, 2, grace)},
		"b.yaml":     {Created: s(c5, 5, grace), Updated: s(c5, 5, grace)},
		"sub/c.yaml": {Created: s(c1, 1, ada), Updated: s(c6, 6, grace)},
		"d.yaml":     {Created: s(c1, 1, ada), Updated: s(c1, 1, ada)},
		"e.yaml":     {Created: s(c7, 7, ada), Updated: s(c7, 7, ada)},
	}
	r := open(t, Options{URL: f.path, Dir: "catalog"})
	got, err := r.FileHistory(ctx, c7)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("FileHistory (-want +got):\n%s", diff)
	}
}
