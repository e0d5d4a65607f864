package catalog_test

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/berth-dev/berth/pkg/catalog"
	"github.com/google/go-cmp/cmp"
	"github.com/rogpeppe/go-internal/txtar"
)

var update = flag.Bool("update", false, "rewrite golden files")

// loadCheck runs every catalog layer that needs no CUE: load, build, check.
func loadCheck(tb testing.TB, fsys fstest.MapFS) catalog.Diagnostics {
	tb.Helper()
	cat, err := catalog.Load(context.Background(), fsys, catalog.Options{})
	if err != nil {
		tb.Fatalf("Load: %v", err)
	}
	diags := cat.Diagnostics()
	diags = append(diags, cat.Build()...)
	diags = append(diags, cat.Check()...)
	return diags.Sort()
}

func format(ds catalog.Diagnostics) string {
	var b strings.Builder
	for _, d := range ds {
		b.WriteString(d.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// TestCheck runs each testdata/check/*.txtar catalog through load, build and
// the cross-file checks, comparing the diagnostics with the archive's "want"
// file (rewritten by -update).
func TestCheck(t *testing.T) {
	files, _ := filepath.Glob("testdata/check/*.txtar")
	if len(files) == 0 {
		t.Fatal("no test archives")
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txtar"), func(t *testing.T) {
			ar, err := txtar.ParseFile(file)
			if err != nil {
				t.Fatal(err)
			}
			fsys := fstest.MapFS{}
			wantIdx := -1
			for i, f := range ar.Files {
				if f.Name == "want" {
					wantIdx = i
					continue
				}
				fsys[f.Name] = &fstest.MapFile{Data: f.Data}
			}
			got := format(loadCheck(t, fsys))
			if *update {
				if wantIdx < 0 {
					ar.Files = append(ar.Files, txtar.File{Name: "want"})
					wantIdx = len(ar.Files) - 1
				}
				ar.Files[wantIdx].Data = []byte(got)
				if err := os.WriteFile(file, txtar.Format(ar), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if wantIdx < 0 {
				t.Fatal("archive has no want file; run with -update")
			}
			if diff := cmp.Diff(string(ar.Files[wantIdx].Data), got); diff != "" {
				t.Errorf("diagnostics (-want +got):\n%s", diff)
			}
		})
	}
}

// TestLoad_HostileInput feeds each kind of bad input the loader must survive
// and checks the error names the file (and line where there is one) while the
// good file beside it still loads.
func TestLoad_HostileInput(t *testing.T) {
	good := "identifier: ok\nproperties: {}\n"
	deep := strings.Repeat("[", 10000) + strings.Repeat("]", 10000)
	var block strings.Builder
	for i := range 200 {
		block.WriteString(strings.Repeat("  ", i) + "a:\n")
	}
	bomb := "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	for i := 'b'; i <= 'j'; i++ {
		p := string(i - 1)
		bomb += string(i) + ": &" + string(i) + " [*" + p + ", *" + p + ", *" + p + ", *" + p + ", *" + p + ", *" + p + ", *" + p + ", *" + p + ", *" + p + ", *" + p + "]\n"
	}
	tests := []struct {
		name, file, data, want string
	}{
		{"MalformedYAML", "entities/svc/bad.yaml", "identifier: [unclosed\n", "entities/svc/bad.yaml:1: error: did not find expected ',' or ']' [syntax]"},
		{"Tabs", "entities/svc/bad.yaml", "identifier: x\nproperties:\n\tname: y\n", "entities/svc/bad.yaml:3: error: found character that cannot start any token [syntax]"},
		{"DuplicateKey", "entities/svc/bad.yaml", "identifier: x\nidentifier: y\n", `entities/svc/bad.yaml:2:1: error: duplicate key "identifier" (first at line 1) [duplicate-key]`},
		{"AliasBomb", "entities/svc/bad.yaml", bomb, "[alias-expansion]"},
		{"DeepFlow", "entities/svc/bad.yaml", deep, "entities/svc/bad.yaml:1:66: error: nesting deeper than 64 levels [too-deep]"},
		{"DeepBlock", "entities/svc/bad.yaml", block.String(), "error: nesting deeper than 64 levels [too-deep]"},
		{"InvalidUTF8", "entities/svc/bad.yaml", "identifier: x\ntitle: \xff\xfe\n", "entities/svc/bad.yaml:2:8: error: invalid UTF-8 at byte 21 [encoding]"},
		{"Binary", "entities/svc/bad.yaml", "\x7fELF\x02\x01\x01\x00\x00", "entities/svc/bad.yaml:1:8: error: binary file: NUL byte, not YAML or JSON text [encoding]"},
		{"Empty", "entities/svc/bad.yaml", "", "entities/svc/bad.yaml: warning: file holds no document [empty-file]"},
		{"ListOfLists", "entities/svc/bad.yaml", "- [a, b]\n", "entities/svc/bad.yaml:1:3: error: list item 0: expected a entity object, found a list [not-object]"},
		{"Scalar", "blueprints/bad.yaml", "just a string\n", `blueprints/bad.yaml:1:1: error: expected a blueprint object or a list of them, found the string "just a string" [not-object]`},
		{"NonFinite", "entities/svc/bad.yaml", "identifier: x\nproperties: {n: .inf}\n", "entities/svc/bad.yaml:2:17: error: number \".inf\" is not finite; JSON cannot hold it [syntax]"},
		{"ComplexKey", "entities/svc/bad.yaml", "? [a]\n: b\n", "entities/svc/bad.yaml:1:3: error: mapping key must be a string, found a list [syntax]"},
		{"UnknownFolder", "automations/x.yaml", "identifier: a\n", "automations: warning: folder automations/ is not part of the catalog layout and is ignored [unknown-file]"},
		{"RootFile", "stray.yaml", "identifier: a\n", "stray.yaml: warning: file is outside the catalog folders"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := fstest.MapFS{
				"blueprints/svc.yaml":    {Data: []byte("identifier: svc\nschema: {properties: {}}\n")},
				"entities/svc/good.yaml": {Data: []byte(good)},
				tt.file:                  {Data: []byte(tt.data)},
			}
			cat, err := catalog.Load(context.Background(), fsys, catalog.Options{})
			if err != nil {
				t.Fatal(err)
			}
			got := format(cat.Diagnostics())
			if !strings.Contains(got, tt.want) {
				t.Errorf("diagnostics:\n%s\nwant a line containing:\n%s", got, tt.want)
			}
			cat.Build()
			if cat.Entity(catalog.EntityKey{Blueprint: "svc", Identifier: "ok"}) == nil {
				t.Error("the good file beside the bad one did not load")
			}
		})
	}
}

// TestLoad_SizeLimit checks the size limit is enforced before reading, both
// by default (a 50 MB file) and as configured in berth.yaml.
func TestLoad_SizeLimit(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("entities/svc/huge.yaml", bytes.Repeat([]byte("# padding\n"), 5<<20))
	write("entities/svc/small.yaml", []byte("identifier: small\ntitle: "+strings.Repeat("x", 2000)+"\n"))
	cat, err := catalog.Load(context.Background(), os.DirFS(dir), catalog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := format(cat.Diagnostics())
	if !strings.Contains(got, "entities/svc/huge.yaml: error: file too large: 52428800 bytes, over the limit of 8388608") {
		t.Errorf("default limit: got\n%s", got)
	}
	write("berth.yaml", []byte("limits:\n  maxFileBytes: 1024\n"))
	cat, err = catalog.Load(context.Background(), os.DirFS(dir), catalog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := format(cat.Diagnostics()); !strings.Contains(got, "entities/svc/small.yaml: error: file too large: 2026 bytes, over the limit of 1024") {
		t.Errorf("configured limit: got\n%s", got)
	}
}

// TestLoad_Symlinks rejects a link leaving the catalog and follows one
// inside it.
func TestLoad_Symlinks(t *testing.T) {
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret.yaml")
	if err := os.WriteFile(secret, []byte("identifier: stolen\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "entities", "svc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "entities", "svc", "real.yaml"), []byte("identifier: real\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, target := range map[string]string{"abs.yaml": secret, "rel.yaml": "../../../" + filepath.Base(outside) + "/secret.yaml", "inside.yaml": "real.yaml"} {
		if err := os.Symlink(target, filepath.Join(dir, "entities", "svc", name)); err != nil {
			t.Fatal(err)
		}
	}
	cat, err := catalog.Load(context.Background(), os.DirFS(dir), catalog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := format(cat.Diagnostics())
	for _, want := range []string{"entities/svc/abs.yaml: error: symlink points outside the catalog", "entities/svc/rel.yaml: error: symlink points outside the catalog"} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
	if strings.Contains(got, "inside.yaml") {
		t.Errorf("link inside the catalog reported:\n%s", got)
	}
	cat.Build()
	for _, e := range cat.Entities {
		if e.Identifier == "stolen" {
			t.Error("read a file outside the catalog through a symlink")
		}
	}
}

// TestBuild_PermissionsDoc: a roles/ document naming a blueprint sets that
// blueprint's permissions (a built-in one's too, without touching the
// built-in shared by other catalogs) and records where they come from.
func TestBuild_PermissionsDoc(t *testing.T) {
	fsys := fstest.MapFS{
		"blueprints/service.yaml": {Data: []byte("identifier: service\nschema: {properties: {}}\n")},
		"roles/perms.yaml": {Data: []byte("blueprint: service\nentities: {read: {roles: [Admin], ownedByTeam: true}}\n" +
			"---\nblueprint: _user\nentities: {read: {roles: [Admin]}}\n")},
	}
	cat, err := catalog.Load(context.Background(), fsys, catalog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if diags := append(cat.Build(), cat.Check()...); len(diags) > 0 {
		t.Fatalf("diagnostics: %v", diags)
	}
	svc := cat.Blueprints["service"]
	if svc.Permissions == nil || !svc.Permissions.Entities.Read.OwnedByTeam || svc.PermissionsDoc.File != "roles/perms.yaml" {
		t.Errorf("service permissions = %+v from %v", svc.Permissions, svc.PermissionsDoc)
	}
	if len(cat.Roles) != 0 || len(cat.Permissions) != 2 {
		t.Errorf("roles %d, permission documents %d; want 0 and 2", len(cat.Roles), len(cat.Permissions))
	}
	if u := cat.Blueprints[catalog.UserBlueprint]; u.Permissions == nil {
		t.Error("_user has no permissions")
	}
	other := fstest.MapFS{"blueprints/service.yaml": fsys["blueprints/service.yaml"]}
	cat2, err := catalog.Load(context.Background(), other, catalog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cat2.Build()
	if cat2.Blueprints[catalog.UserBlueprint].Permissions != nil {
		t.Error("another catalog's built-in _user got the permissions")
	}
}
