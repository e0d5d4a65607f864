package edit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/berth-dev/berth/pkg/catalog"
	"github.com/berth-dev/berth/pkg/edit"
	"github.com/berth-dev/berth/pkg/schema"
	"github.com/google/go-cmp/cmp"
	"github.com/rogpeppe/go-internal/txtar"
)

var update = flag.Bool("update", false, "rewrite golden files")

var (
	validatorOnce sync.Once
	validator     *schema.Validator
	validatorErr  error
)

// newValidator compiles berth's schemas once per test binary.
func newValidator(tb testing.TB) *schema.Validator {
	tb.Helper()
	validatorOnce.Do(func() { validator, validatorErr = schema.New() })
	if validatorErr != nil {
		tb.Fatal(validatorErr)
	}
	return validator
}

// extract writes testdata/<name>.txtar into a temporary catalog directory.
// pages/crlf.yaml gets Windows line breaks, pages/nonl.yaml loses its
// final line break.
func extract(tb testing.TB, name string) string {
	tb.Helper()
	ar, err := txtar.ParseFile(filepath.Join("testdata", name+".txtar"))
	if err != nil {
		tb.Fatal(err)
	}
	dir := tb.TempDir()
	for _, f := range ar.Files {
		p := filepath.Join(dir, filepath.FromSlash(f.Name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			tb.Fatal(err)
		}
		data := f.Data
		switch path.Base(f.Name) {
		case "crlf.yaml":
			data = bytes.ReplaceAll(data, []byte("\n"), []byte("\r\n"))
		case "nonl.yaml":
			data = bytes.TrimSuffix(data, []byte("\n"))
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	return dir
}

// readBack reads the page id from dir as a fresh process would.
func readBack(tb testing.TB, dir, id string) *catalog.Page {
	tb.Helper()
	cat, diags, err := edit.Pages(context.Background(), os.DirFS(dir))
	if err != nil {
		tb.Fatal(err)
	}
	if diags.HasErrors() {
		tb.Fatalf("page files have errors after the edit:\n%v", diags)
	}
	p, err := edit.FindPage(cat, id)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name+".golden")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s (-want +got):\n%s", path, diff)
	}
}

func set(roles, users, teams []string) catalog.PermissionSet {
	return catalog.PermissionSet{Roles: roles, Users: users, Teams: teams}
}

var none = []string{}

// TestPatchPermissions applies a PATCH body to a page file, writes the
// result, reads the page back and compares its effective read permissions
// with what the seed document says the PATCH leads to. The edited file is
// a golden file (-update rewrites it).
func TestPatchPermissions(t *testing.T) {
	seedStart := set([]string{"Admin", "Member"}, none, none)
	tests := []struct {
		name    string
		archive string
		page    string
		patch   string
		want    catalog.PermissionSet // effective read permissions after
		wantUpd *catalog.PermissionSet
	}{
		// The seed's examples, from {roles: [Admin, Member], users: [], teams: []}.
		{name: "seed_add_role", archive: "seed", page: "services",
			patch: `{"read": {"roles": ["Admin", "Member", "Services-Moderator"]}}`,
			want:  set([]string{"Admin", "Member", "Services-Moderator"}, none, none)},
		{name: "seed_remove_role", archive: "seed", page: "services",
			patch: `{"read": {"roles": ["Admin"]}}`,
			want:  set([]string{"Admin"}, none, none)},
		{name: "seed_add_users", archive: "seed", page: "services",
			patch: `{"read": {"users": ["exampleUser1@example.com", "exampleUser2@example.com"]}}`,
			want:  set([]string{"Admin", "Member"}, []string{"exampleUser1@example.com", "exampleUser2@example.com"}, none)},
		{name: "seed_add_teams", archive: "seed", page: "services",
			patch: `{"read": {"teams": ["Team 1", "Team 2"]}}`,
			want:  set([]string{"Admin", "Member"}, none, []string{"Team 1", "Team 2"})},
		{name: "seed_multiple_keys", archive: "seed", page: "services",
			patch: `{"read": {"roles": ["Admin"], "users": ["exampleUser1@example.com"], "teams": ["Team 1"]}}`,
			want:  set([]string{"Admin"}, []string{"exampleUser1@example.com"}, []string{"Team 1"})},
		{name: "seed_unchanged", archive: "seed", page: "services",
			patch: `{"read": {"roles": ["Admin", "Member"], "users": []}}`,
			want:  seedStart},

		// Layouts.
		{name: "stream_second_doc", archive: "layouts", page: "catalog_services",
			patch: `{"read": {"roles": ["Admin", "Services-Moderator"]}}`,
			want:  set([]string{"Admin", "Services-Moderator"}, none, none)},
		{name: "stream_add_teams", archive: "layouts", page: "catalog_services",
			patch: `{"read": {"teams": ["platform"]}}`,
			want:  set([]string{"Admin", "Member"}, none, []string{"platform"})},
		{name: "json_list", archive: "layouts", page: "second_json",
			patch:   `{"read": {"users": ["a@example.com"]}, "update": {"teams": ["platform"]}}`,
			want:    set([]string{"Admin", "Member"}, []string{"a@example.com"}, none),
			wantUpd: &catalog.PermissionSet{Roles: []string{"Admin"}, Users: none, Teams: []string{"platform"}}},
		{name: "no_permissions", archive: "layouts", page: "bare",
			patch: `{"read": {"users": ["a@example.com"]}}`,
			want:  set([]string{"Admin", "Member"}, []string{"a@example.com"}, none)},
		{name: "no_permissions_update", archive: "layouts", page: "bare",
			patch:   `{"update": {"roles": ["Admin", "service-moderator"]}}`,
			want:    set([]string{"Admin", "Member"}, none, none),
			wantUpd: &catalog.PermissionSet{Roles: []string{"Admin", "service-moderator"}, Users: none, Teams: none}},
		{name: "flow_page", archive: "layouts", page: "flow_two",
			patch: `{"read": {"teams": ["platform"], "users": []}}`,
			want:  set([]string{"Admin"}, none, []string{"platform"})},
		{name: "flow_list_item", archive: "layouts", page: "flow_one",
			patch: `{"read": {"roles": ["Admin"]}}`,
			want:  set([]string{"Admin"}, none, none)},
		{name: "wrapped_block_list", archive: "layouts", page: "wrapped",
			patch: `{"read": {"roles": ["Admin", "Member"], "users": ["b@example.com"]}}`,
			want:  set([]string{"Admin", "Member"}, []string{"b@example.com"}, []string{"platform"})},
		{name: "wrapped_empty_list", archive: "layouts", page: "wrapped",
			patch: `{"read": {"roles": []}}`,
			want:  set(none, none, []string{"platform"})},
		{name: "null_permissions", archive: "edge", page: "null_permissions",
			patch: `{"read": {"roles": ["Admin"]}}`,
			want:  set([]string{"Admin"}, none, none)},
		{name: "empty_read", archive: "edge", page: "empty_read",
			patch: `{"read": {"teams": ["platform"]}}`,
			want:  set([]string{"Admin", "Member"}, none, []string{"platform"})},
		{name: "multiline_flow_list", archive: "edge", page: "multiline",
			patch: `{"read": {"roles": ["Member", "Admin", "Services-Moderator"]}}`,
			want:  set([]string{"Member", "Admin", "Services-Moderator"}, []string{"a@example.com", "b@example.com"}, none)},
		{name: "multiline_block_list", archive: "edge", page: "multiline",
			patch: `{"read": {"users": ["b@example.com", "c@example.com"]}}`,
			want:  set([]string{"Admin", "Member"}, []string{"b@example.com", "c@example.com"}, none)},
		{name: "flow_document", archive: "edge", page: "flowdoc",
			patch: `{"read": {"users": ["a@example.com"]}}`,
			want:  set([]string{"Admin"}, []string{"a@example.com"}, none)},
		{name: "oneline_json", archive: "edge", page: "oneline",
			patch: `{"read": {"teams": ["platform"]}}`,
			want:  set([]string{"Admin", "Member"}, none, []string{"platform"})},
		{name: "no_final_newline", archive: "edge", page: "nonl",
			patch: `{"read": {"teams": ["platform"]}}`,
			want:  set([]string{"Admin"}, none, []string{"platform"})},
		{name: "crlf", archive: "layouts", page: "crlf",
			patch: `{"read": {"users": ["a@example.com"]}}`,
			want:  set([]string{"Admin"}, []string{"a@example.com"}, none)},
	}
	v := newValidator(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := extract(t, tt.archive)
			patch, err := edit.ParsePatch([]byte(tt.patch))
			if err != nil {
				t.Fatal(err)
			}
			ed, err := edit.Open(context.Background(), os.DirFS(dir), v)
			if err != nil {
				t.Fatal(err)
			}
			e, err := ed.PatchPermissions(context.Background(), tt.page, patch)
			if err != nil {
				t.Fatal(err)
			}
			if err := e.Write(dir); err != nil {
				t.Fatal(err)
			}
			golden(t, tt.name, e.After)
			if strings.HasSuffix(e.File, ".json") && !json.Valid(e.After) {
				t.Errorf("%s is no longer JSON", e.File)
			}
			p := readBack(t, dir, tt.page)
			if diff := cmp.Diff(tt.want, p.ReadPermissions()); diff != "" {
				t.Errorf("read permissions after the PATCH (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.want, e.Edited.ReadPermissions()); diff != "" {
				t.Errorf("Edit.Edited read permissions (-want +got):\n%s", diff)
			}
			if tt.wantUpd != nil {
				if diff := cmp.Diff(*tt.wantUpd, edit.Effective(p, "update")); diff != "" {
					t.Errorf("update permissions after the PATCH (-want +got):\n%s", diff)
				}
			}
			if tt.name == "seed_unchanged" && e.Changed() {
				t.Errorf("a PATCH that changes nothing changed the file:\n%s", e.After)
			}
		})
	}
}

// TestPatchPermissions_Preserves checks what the edit leaves alone, byte
// for byte: the other documents of a stream, the comments and key order of
// the edited one, and the lines outside the edited entry.
func TestPatchPermissions_Preserves(t *testing.T) {
	v := newValidator(t)
	run := func(t *testing.T, archive, page, patch string) *edit.Edit {
		t.Helper()
		dir := extract(t, archive)
		ed, err := edit.Open(context.Background(), os.DirFS(dir), v)
		if err != nil {
			t.Fatal(err)
		}
		p, err := edit.ParsePatch([]byte(patch))
		if err != nil {
			t.Fatal(err)
		}
		e, err := ed.PatchPermissions(context.Background(), page, p)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	t.Run("OtherDocuments", func(t *testing.T) {
		e := run(t, "layouts", "catalog_services", `{"read": {"roles": ["Admin"], "teams": ["platform"]}}`)
		before, after := strings.Split(string(e.Before), "\n---\n"), strings.Split(string(e.After), "\n---\n")
		if len(before) != 3 || len(after) != 3 {
			t.Fatalf("want 3 documents before and after, got %d and %d", len(before), len(after))
		}
		if before[0] != after[0] || before[2] != after[2] {
			t.Errorf("the other documents changed:\n%s", e.After)
		}
	})
	t.Run("CommentsAndOrder", func(t *testing.T) {
		e := run(t, "seed", "services", `{"read": {"users": ["a@example.com"], "teams": ["Team 1"]}}`)
		var keys [2][]string
		for i, text := range [][]byte{e.Before, e.After} {
			for _, l := range strings.Split(string(text), "\n") {
				l = strings.TrimSpace(l)
				if k, _, ok := strings.Cut(l, ":"); ok && !strings.HasPrefix(l, "#") {
					keys[i] = append(keys[i], k)
				}
			}
		}
		for _, c := range []string{"# The service catalog page.", "# Who sees the page in the portal.", "# the built-in roles", "# end of page"} {
			if !bytes.Contains(e.After, []byte(c)) {
				t.Errorf("comment %q lost:\n%s", c, e.After)
			}
		}
		if diff := cmp.Diff(keys[0], keys[1]); diff != "" {
			t.Errorf("keys or their order changed (-before +after):\n%s", diff)
		}
		// Only the users and teams lines differ.
		bl, al := strings.Split(string(e.Before), "\n"), strings.Split(string(e.After), "\n")
		if len(bl) != len(al) {
			t.Fatalf("line count changed: %d → %d", len(bl), len(al))
		}
		for i := range bl {
			if bl[i] != al[i] && !strings.Contains(bl[i], "users:") && !strings.Contains(bl[i], "teams:") {
				t.Errorf("line %d changed: %q → %q", i+1, bl[i], al[i])
			}
		}
	})
	t.Run("JSONKeyOrder", func(t *testing.T) {
		e := run(t, "layouts", "second_json", `{"read": {"teams": ["platform"]}}`)
		var order func(b []byte) []string
		order = func(b []byte) []string {
			var keys []string
			dec := json.NewDecoder(bytes.NewReader(b))
			for {
				tok, err := dec.Token()
				if err != nil {
					return keys
				}
				if s, ok := tok.(string); ok {
					keys = append(keys, s)
				}
			}
		}
		want := order(bytes.ReplaceAll(e.Before, []byte(`\/`), []byte("/")))
		if len(want) == 0 || want[len(want)-1] != "teams" {
			t.Fatalf("the page should end with its teams: %q", want)
		}
		want = append(want, "platform")
		if diff := cmp.Diff(want, order(e.After)); diff != "" {
			t.Errorf("JSON keys and strings changed beyond the edit (-before +after):\n%s", diff)
		}
	})
}

// TestPatchPermissions_Refused covers the edits berth refuses, each
// leaving nothing to write.
func TestPatchPermissions_Refused(t *testing.T) {
	v := newValidator(t)
	tests := []struct {
		name, page, patch string
		want              error
		msg               string
	}{
		{"SystemPage", "status", `{"read": {"roles": ["Member"]}}`, edit.ErrSystemPage, "permissions cannot be changed"},
		{"AuditLog", "audit_log", `{"read": {"roles": ["Member"]}}`, edit.ErrSystemPage, "permissions cannot be changed"},
		{"UnknownPage", "nope", `{"read": {"roles": ["Admin"]}}`, edit.ErrNotFound, "pages: bare, broken"},
		{"Alias", "shared_b", `{"read": {"roles": ["Member"]}}`, edit.ErrLayout, "alias *shared"},
		{"SharedAnchor", "shared_a", `{"read": {"roles": ["Member"]}}`, edit.ErrLayout, "anchor &shared"},
		{"InvalidFile", "broken", `{"read": {"roles": ["Member"]}}`, edit.ErrInvalid, "pages/broken.yaml"},
	}
	dir := extract(t, "layouts")
	ed, err := edit.Open(context.Background(), os.DirFS(dir), v)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := edit.ParsePatch([]byte(tt.patch))
			if err != nil {
				t.Fatal(err)
			}
			e, err := ed.PatchPermissions(context.Background(), tt.page, p)
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("got %v, %v; want an error matching %v containing %q", e, err, tt.want, tt.msg)
			}
			var ie *edit.InvalidError
			if errors.As(err, &ie) && (len(ie.Diagnostics) == 0 || ie.Diagnostics[0].Code != catalog.CodeUnknownBP) {
				t.Errorf("diagnostics: %v", ie.Diagnostics)
			}
		})
	}
}

// TestParsePatch covers the bodies ParsePatch refuses, and what it keeps.
func TestParsePatch(t *testing.T) {
	bad := []struct{ body, msg string }{
		{``, "not JSON"},
		{`{"read": {"roles": ["Admin"]}} {}`, "text after"},
		{`[]`, "want an object"},
		{`{}`, "names no permission set"},
		{`{"locked": true}`, "berth pages lock"},
		{`{"reed": {"roles": []}}`, `unknown key "reed": want read or update`},
		{`{"read": ["Admin"]}`, "read: want an object"},
		{`{"read": null}`, "read: want an object"},
		{`{"read": {"role": ["Admin"]}}`, `read: unknown key "role": want roles, users or teams`},
		{`{"read": {"roles": "Admin"}}`, `read.roles: want a list of strings, got the string "Admin"`},
		{`{"read": {"roles": null}}`, "read.roles: want a list of strings, got null"},
		{`{"update": {"users": ["a", 3]}}`, "update.users[1]: want a string, got the number 3"},
		{`{"read": {"teams": [{"name": "x"}]}}`, "read.teams[0]: want a string, got an object"},
		{`{"read": {"roles": [""]}}`, "read.roles[0]: empty"},
		{`{"read": {"roles": ["Admin", "Admin"]}}`, `read.roles names "Admin" twice`},
	}
	for _, tt := range bad {
		_, err := edit.ParsePatch([]byte(tt.body))
		if !errors.Is(err, edit.ErrBadPatch) || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("ParsePatch(%s) = %v; want ErrBadPatch containing %q", tt.body, err, tt.msg)
		}
	}
	p, err := edit.ParsePatch([]byte(`{"read": {"users": [], "roles": ["Admin"]}, "update": {}}`))
	if err != nil {
		t.Fatal(err)
	}
	want := edit.Patch{Read: edit.Lists{"users": {}, "roles": {"Admin"}}, Update: edit.Lists{}}
	if diff := cmp.Diff(want, p); diff != "" {
		t.Errorf("ParsePatch (-want +got):\n%s", diff)
	}
}

// TestSetLocked locks and unlocks pages: the key goes after the page's
// leading scalar entries, and a page already so is not touched.
func TestSetLocked(t *testing.T) {
	v := newValidator(t)
	tests := []struct {
		name, page string
		locked     bool
		changed    bool
	}{
		{"lock_yaml", "bare", true, true},
		{"lock_json", "second_json", true, true},
		{"lock_flow", "flow_one", true, true},
		{"unlock_unlocked", "bare", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := extract(t, "layouts")
			ed, err := edit.Open(context.Background(), os.DirFS(dir), v)
			if err != nil {
				t.Fatal(err)
			}
			e, err := ed.SetLocked(context.Background(), tt.page, tt.locked)
			if err != nil {
				t.Fatal(err)
			}
			if e.Changed() != tt.changed {
				t.Fatalf("Changed() = %v, want %v:\n%s", e.Changed(), tt.changed, e.After)
			}
			if !tt.changed {
				return
			}
			golden(t, tt.name, e.After)
			if err := e.Write(dir); err != nil {
				t.Fatal(err)
			}
			if got := readBack(t, dir, tt.page).Locked; got != tt.locked {
				t.Errorf("locked = %v after the edit, want %v", got, tt.locked)
			}
			// And back.
			ed, err = edit.Open(context.Background(), os.DirFS(dir), v)
			if err != nil {
				t.Fatal(err)
			}
			e2, err := ed.SetLocked(context.Background(), tt.page, !tt.locked)
			if err != nil {
				t.Fatal(err)
			}
			if err := e2.Write(dir); err != nil {
				t.Fatal(err)
			}
			if got := readBack(t, dir, tt.page).Locked; got != !tt.locked {
				t.Errorf("locked = %v after the second edit, want %v", got, !tt.locked)
			}
		})
	}
}

// TestEdit_Write refuses to overwrite a file that changed after it was
// read.
func TestEdit_Write(t *testing.T) {
	dir := extract(t, "seed")
	ed, err := edit.Open(context.Background(), os.DirFS(dir), newValidator(t))
	if err != nil {
		t.Fatal(err)
	}
	e, err := ed.SetLocked(context.Background(), "services", true)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "pages", "services.yaml")
	if err := os.WriteFile(p, []byte("identifier: services\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := e.Write(dir); !errors.Is(err, edit.ErrChanged) {
		t.Fatalf("Write over a changed file: %v, want ErrChanged", err)
	}
}

func TestCommands(t *testing.T) {
	tests := []struct{ got, want string }{
		{edit.PatchCommand("services", []byte("{\n  \"read\": {\"roles\": [\"Admin\"]}\n}\n")),
			`berth pages permissions services --patch '{"read":{"roles":["Admin"]}}'`},
		{edit.PatchCommand("services", []byte(`{"read": {"teams": ["O'Brien's team"]}}`)),
			`berth pages permissions services --patch '{"read":{"teams":["O'\''Brien'\''s team"]}}'`},
		{edit.PatchCommand("a b;rm", []byte(`not json`)), `berth pages permissions 'a b;rm' --patch 'not json'`},
		{edit.LockCommand("services", true), "berth pages lock services"},
		{edit.LockCommand("services", false), "berth pages unlock services"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got  %s\nwant %s", tt.got, tt.want)
		}
	}
	for body, want := range map[string]string{
		`{"locked": true}`:  "berth pages lock x",
		`{"locked":false}`:  "berth pages unlock x",
		`{"locked": null}`:  "",
		`{"title": "x"}`:    "",
		`{"locked": "yes"}`: "",
	} {
		got, ok := edit.PageCommand("x", []byte(body))
		if got != want || ok != (want != "") {
			t.Errorf("PageCommand(%s) = %q, %v; want %q", body, got, ok, want)
		}
	}
}
