package edit_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/berth-dev/berth/pkg/catalog"
	"github.com/berth-dev/berth/pkg/edit"
	"github.com/google/go-cmp/cmp"
)

// fuzzStream is a page file whose page is the second of three documents.
const fuzzStream = `# first document
identifier: overview
title: Overview   # keep
---
# the page being edited
identifier: services
blueprint: service
permissions:
  read:
    roles:
    - Admin
    - Member  # members too
    users: []
---
identifier: third
title: Third
`

// FuzzPatchPermissions applies any body to a fixed file. ParsePatch either
// refuses it with ErrBadPatch or PatchPermissions applies it; then the file
// loads, the other documents are unchanged byte for byte, and the page's
// read permissions are the PATCH applied to the old ones.
func FuzzPatchPermissions(f *testing.F) {
	for _, s := range []string{
		`{"read": {"roles": ["Admin", "Member", "Services-Moderator"]}}`,
		`{"read": {"roles": ["Admin"]}}`,
		`{"read": {"users": ["exampleUser1@example.com", "exampleUser2@example.com"]}}`,
		`{"read": {"teams": ["Team 1", "Team 2"]}}`,
		`{"read": {"roles": [], "users": ["a: b", "#x", "- y", "'q'", "\"d\"", "yes", "null", "1e3", "é\u2028"]}}`,
		`{"update": {"teams": ["platform"]}, "read": {"teams": []}}`,
		`{"read": {"teams": ["\tx", "a\nb", "  lead", "trail ", "\u007f", "x\u00a0", "---", "...", "%t", "@x", "` + "`" + `x", "&a", "*a", "!t", "|", ">", "{", "}", "[", "]", ",", "?", ":", "\u0000", "\ufeff", "\\"]}}`,
		`{"read": {"roles": "Admin"}}`,
		`{"locked": true}`,
		`[]`,
	} {
		f.Add([]byte(s))
	}
	fsys := fstest.MapFS{
		"blueprints/service.yaml": {Data: []byte("identifier: service\nschema:\n  properties: {}\n")},
		"pages/stream.yaml":       {Data: []byte(fuzzStream)},
	}
	ed, err := edit.Open(context.Background(), fsys, newValidator(f))
	if err != nil {
		f.Fatal(err)
	}
	before := catalog.PermissionSet{Roles: []string{"Admin", "Member"}, Users: []string{}, Teams: []string{}}
	f.Fuzz(func(t *testing.T, body []byte) {
		patch, err := edit.ParsePatch(body)
		if err != nil {
			if !errors.Is(err, edit.ErrBadPatch) {
				t.Fatalf("ParsePatch error %v is not ErrBadPatch", err)
			}
			return
		}
		e, err := ed.PatchPermissions(context.Background(), "services", patch)
		if err != nil {
			t.Fatalf("patch %s: %v", body, err)
		}
		docs, diags := catalog.ParseFile(e.File, e.After, catalog.KindPage, catalog.Limits{})
		if diags.HasErrors() || len(docs) != 3 {
			t.Fatalf("patch %s: the file no longer loads (%d documents, %v):\n%s", body, len(docs), diags, e.After)
		}
		old, now := strings.Split(fuzzStream, "\n---\n"), strings.Split(string(e.After), "\n---\n")
		if len(now) != 3 || now[0] != old[0] || now[2] != old[2] {
			t.Fatalf("patch %s: the other documents changed:\n%s", body, e.After)
		}
		want := before
		if patch.Read != nil {
			want = edit.Apply(before, patch.Read)
		}
		if diff := cmp.Diff(want, e.Edited.ReadPermissions()); diff != "" {
			t.Fatalf("patch %s: read permissions (-want +got):\n%s", body, diff)
		}
	})
}
