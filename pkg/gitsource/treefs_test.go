package gitsource

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/berth-dev/berth/pkg/catalog"
	"github.com/google/go-cmp/cmp"
)

func TestTreeFS(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.commit(map[string]string{
		"README.md":                           "outside the catalog",
		"catalog/berth.yaml":                  "limits: {}\n",
		"catalog/blueprints/service.yaml":     "identifier: service\n",
		"catalog/entities/service/a.yaml":     "identifier: a\n",
		"catalog/entities/service/b.yaml":     "identifier: b\n",
		"catalog/entities/service/deep/c.yml": "identifier: c\n",
		"catalog/entities/team/a.yaml":        "identifier: a\n",
	})
	c := f.link("catalog/entities/service/alias.yaml", "b.yaml")
	r := open(t, Options{URL: f.path, Dir: "catalog"})
	fsys, err := r.FS(ctx, c)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("FSTest", func(t *testing.T) {
		if err := fstest.TestFS(fsys,
			"berth.yaml", "blueprints/service.yaml", "entities/service/a.yaml",
			"entities/service/deep/c.yml", "entities/service/alias.yaml", "entities/team/a.yaml"); err != nil {
			t.Error(err)
		}
	})

	t.Run("Walk", func(t *testing.T) {
		var got []string
		err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			got = append(got, p+" "+d.Type().String())
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		want := []string{
			". d---------",
			"berth.yaml ----------",
			"blueprints d---------",
			"blueprints/service.yaml ----------",
			"entities d---------",
			"entities/service d---------",
			"entities/service/a.yaml ----------",
			"entities/service/alias.yaml L---------",
			"entities/service/b.yaml ----------",
			"entities/service/deep d---------",
			"entities/service/deep/c.yml ----------",
			"entities/team d---------",
			"entities/team/a.yaml ----------",
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("walk (-want +got):\n%s", diff)
		}
	})

	t.Run("Symlink", func(t *testing.T) {
		target, err := fs.ReadLink(fsys, "entities/service/alias.yaml")
		if err != nil || target != "b.yaml" {
			t.Errorf("ReadLink = %q, %v; want b.yaml", target, err)
		}
		li, err := fs.Lstat(fsys, "entities/service/alias.yaml")
		if err != nil || li.Mode().Type() != fs.ModeSymlink {
			t.Errorf("Lstat mode = %v, %v; want a symlink", li, err)
		}
		b, err := fs.ReadFile(fsys, "entities/service/alias.yaml")
		if err != nil || string(b) != "identifier: b\n" {
			t.Errorf("ReadFile through the link = %q, %v", b, err)
		}
		if _, err := fs.ReadLink(fsys, "entities/service/a.yaml"); err == nil {
			t.Error("ReadLink of a regular file: no error")
		}
	})

	t.Run("BlobHash", func(t *testing.T) {
		a, ok1 := fsys.BlobHash("entities/service/a.yaml")
		ta, ok2 := fsys.BlobHash("entities/team/a.yaml")
		b, ok3 := fsys.BlobHash("entities/service/b.yaml")
		alias, ok4 := fsys.BlobHash("entities/service/alias.yaml")
		if !ok1 || !ok2 || !ok3 || !ok4 || a != ta || a == b || alias != b {
			t.Errorf("BlobHash: a=%s team/a=%s b=%s alias=%s; want a == team/a (same content), alias == b", a, ta, b, alias)
		}
		for _, p := range []string{"entities", ".", "missing.yaml"} {
			if h, ok := fsys.BlobHash(p); ok {
				t.Errorf("BlobHash(%q) = %s, true; want false", p, h)
			}
		}
	})

	t.Run("ReadDirFile", func(t *testing.T) {
		d, err := fsys.Open("entities/service")
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		rd := d.(fs.ReadDirFile)
		var names []string
		for {
			es, err := rd.ReadDir(2)
			for _, e := range es {
				names = append(names, e.Name())
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if diff := cmp.Diff([]string{"a.yaml", "alias.yaml", "b.yaml", "deep"}, names); diff != "" {
			t.Errorf("ReadDir(2) pages (-want +got):\n%s", diff)
		}
	})

	t.Run("Trim", func(t *testing.T) {
		// Emptied caches are refilled: reads give the same content.
		before, err := fs.ReadFile(fsys, "entities/service/deep/c.yml")
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Trim(); err != nil {
			t.Fatal(err)
		}
		after, err := fs.ReadFile(fsys, "entities/service/deep/c.yml")
		if err != nil || string(after) != string(before) {
			t.Errorf("after Trim: %q, %v; before %q", after, err, before)
		}
		if head, err := r.Head(ctx); err != nil || head.Hash != c {
			t.Errorf("head after Trim: %+v, %v", head, err)
		}
	})

	t.Run("DirMissing", func(t *testing.T) {
		r := open(t, Options{URL: f.path, Dir: "nope"})
		if _, err := r.FS(ctx, c); !errors.Is(err, ErrDirNotFound) {
			t.Errorf("FS with a missing dir: err = %v, want ErrDirNotFound", err)
		}
	})

	t.Run("BadHash", func(t *testing.T) {
		for _, h := range []string{"main", "0123456789012345678901234567890123456789"} {
			if _, err := r.FS(ctx, h); !errors.Is(err, ErrCommitNotFound) {
				t.Errorf("FS(%q): err = %v, want ErrCommitNotFound", h, err)
			}
		}
	})
}

// TestTreeFS_CatalogLoad checks the loader's view of symlinks through a
// commit's tree: a link inside the catalog is read, one leaving it is
// reported.
func TestTreeFS_CatalogLoad(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.commit(map[string]string{
		"secret.yaml":                      "identifier: secret\n",
		"catalog/entities/service/a.yaml":  "identifier: a\ntitle: A\n",
		"catalog/blueprints/service.yaml":  "identifier: service\ntitle: Service\n",
		"catalog/entities/service/x/.keep": "",
	})
	f.link("catalog/entities/service/inside.yaml", "a.yaml")
	f.link("catalog/entities/service/escape.yaml", "../../../secret.yaml")
	c := f.link("catalog/entities/service/abs.yaml", "/etc/passwd")
	r := open(t, Options{URL: f.path, Dir: "catalog"})
	fsys, err := r.FS(ctx, c)
	if err != nil {
		t.Fatal(err)
	}

	if _, err := fsys.Open("entities/service/escape.yaml"); err == nil {
		t.Error("Open of a link leaving the tree: no error")
	}
	cat, err := catalog.Load(ctx, fsys, catalog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var read []string
	for _, file := range cat.Files {
		read = append(read, file.Path)
	}
	if diff := cmp.Diff([]string{"blueprints/service.yaml", "entities/service/a.yaml", "entities/service/inside.yaml"}, read); diff != "" {
		t.Errorf("files read (-want +got):\n%s", diff)
	}
	var symlinkDiags []string
	for _, d := range cat.Diags {
		if d.Code == catalog.CodeSymlink {
			symlinkDiags = append(symlinkDiags, d.File)
		}
	}
	if diff := cmp.Diff([]string{"entities/service/abs.yaml", "entities/service/escape.yaml"}, symlinkDiags); diff != "" {
		t.Errorf("symlink diagnostics (-want +got):\n%s", diff)
	}
}

// TestTreeFS_Concurrent reads one commit from several goroutines while
// another diffs it; run with -race.
func TestTreeFS_Concurrent(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	files := map[string]string{}
	for i := range 200 {
		files[fmt.Sprintf("entities/bp%d/e%d.yaml", i%4, i)] = fmt.Sprintf("identifier: e%d\n", i)
	}
	c1 := f.commit(files)
	c2 := f.commit(map[string]string{"entities/bp0/e0.yaml": "changed"})
	r := open(t, Options{URL: f.path})
	fsys, err := r.FS(ctx, c2)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 5)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				_, err = fs.ReadFile(fsys, p)
				return err
			})
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, err := r.Changes(ctx, c1, c2)
		errs <- err
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}
