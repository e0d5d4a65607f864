package gitsource

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
)

func TestCommitFiles(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "new.git")
	files := map[string][]byte{"b.yaml": []byte("b"), "a/x.yaml": []byte("x"), "a.yaml": []byte("a"), "a-b/y": {}}
	c1, err := CommitFiles(ctx, dir, "trunk", files, "first", "Ada Lovelace <ada@example.com>", when(1))
	if err != nil {
		t.Fatal(err)
	}

	// The result is a valid repository for go-git (which checks tree order
	// when it walks), with HEAD on the new branch.
	repo, err := git.PlainOpen(dir)
	if err != nil {
		t.Fatal(err)
	}
	headRef, err := repo.Head()
	if err != nil || headRef.Name() != plumbing.NewBranchReferenceName("trunk") || headRef.Hash().String() != c1 {
		t.Errorf("HEAD = %v, %v; want trunk at %s", headRef, err, c1)
	}
	commit, err := repo.CommitObject(plumbing.NewHash(c1))
	if err != nil {
		t.Fatal(err)
	}
	tree, err := commit.Tree()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range tree.Entries {
		names = append(names, e.Name)
	}
	// Git order: "a-b" < "a.yaml" < "a" (read as "a/") < "b.yaml".
	if got := strings.Join(names, " "); got != "a-b a.yaml a b.yaml" {
		t.Errorf("root tree order = %q", got)
	}

	// Deleting a directory and editing a file keep everything else.
	c2, err := CommitFiles(ctx, dir, "trunk", map[string][]byte{"a": nil, "b.yaml": []byte("b2")}, "second", "Ada", when(2))
	if err != nil {
		t.Fatal(err)
	}
	r := open(t, Options{URL: dir, Branch: "trunk"})
	got, err := r.Changes(ctx, c1, c2)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != (Change{Path: "a/x.yaml", Op: Deleted}) || got[1] != (Change{Path: "b.yaml", Op: Modified}) {
		t.Errorf("changes = %v", got)
	}

	t.Run("Errors", func(t *testing.T) {
		notRepo := t.TempDir()
		if err := os.WriteFile(filepath.Join(notRepo, "file"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name  string
			dir   string
			files map[string][]byte
			want  string
		}{
			{"DeleteMissing", dir, map[string][]byte{"nope.yaml": nil}, "no such file"},
			{"BadPath", dir, map[string][]byte{"../x": []byte("x")}, "invalid path"},
			{"GitDir", dir, map[string][]byte{"a/.git/config": []byte("x")}, "invalid path"},
			{"FileAndDir", dir, map[string][]byte{"d": []byte("x"), "d/e": []byte("y")}, "d"},
			{"NotRepository", notRepo, map[string][]byte{"x": []byte("x")}, "not a git repository"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, err := CommitFiles(ctx, tt.dir, "trunk", tt.files, "m", "Ada", when(3))
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("err = %v, want one mentioning %q", err, tt.want)
				}
			})
		}
	})
}
