package api_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/berth-dev/berth/pkg/api"
	"github.com/berth-dev/berth/pkg/edit"
	"github.com/berth-dev/berth/pkg/gitsource"
	"github.com/berth-dev/berth/pkg/index"
	"github.com/berth-dev/berth/pkg/schema"
)

// exampleFiles are catalog-example's files by catalog path.
func exampleFiles(t *testing.T) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	root := filepath.Join("..", "..", "catalog-example")
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		files[filepath.ToSlash(rel)], err = os.ReadFile(p)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestPagePermissions_GitOps runs each PATCH example of the seed's page
// permissions document the GitOps way: `berth pages permissions --patch`
// (pkg/edit) edits the page file, the edit is committed, the reconciler
// applies the commit, and the read API answers the new permissions and
// shows the page to exactly its new readers.
func TestPagePermissions_GitOps(t *testing.T) {
	ctx := context.Background()
	v, err := schema.New()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, patch string
		want        string   // GET /v1/pages/services/permissions
		readers     []string // of admin, member, dev, lead: who GET /v1/pages/services
	}{
		{"AddRole", `{"read": {"roles": ["Admin", "Member", "service-moderator"]}}`,
			`{"read":{"roles":["Admin","Member","service-moderator"],"users":[],"teams":[]}}`, []string{"admin", "member"}},
		{"RemoveRole", `{"read": {"roles": ["Admin"]}}`,
			`{"read":{"roles":["Admin"],"users":[],"teams":[]}}`, []string{"admin"}},
		{"AddUsers", `{"read": {"users": ["kim.park@example.com"]}}`,
			`{"read":{"roles":["Admin","Member"],"users":["kim.park@example.com"],"teams":[]}}`, []string{"admin", "member", "dev"}},
		{"AddTeams", `{"read": {"teams": ["payments"]}}`,
			`{"read":{"roles":["Admin","Member"],"users":[],"teams":["payments"]}}`, []string{"admin", "member", "lead"}},
		{"SeveralKeys", `{"read": {"roles": ["Admin"], "teams": ["identity"]}}`,
			`{"read":{"roles":["Admin"],"users":[],"teams":["identity"]}}`, []string{"admin", "dev"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			remote, db, rec, _ := reconciledRemote(t)
			ed, err := edit.Open(ctx, os.DirFS(filepath.Join("..", "..", "catalog-example")), v)
			if err != nil {
				t.Fatal(err)
			}
			patch, err := edit.ParsePatch([]byte(tc.patch))
			if err != nil {
				t.Fatal(err)
			}
			e, err := ed.PatchPermissions(ctx, "services", patch)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := gitsource.CommitFiles(ctx, remote, "main", map[string][]byte{e.File: e.After}, "pages: "+tc.name,
				"Maria Chen <maria.chen@example.com>", epoch.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			if res, err := rec.Reconcile(ctx); err != nil || res.Status != index.StatusApplied {
				t.Fatalf("reconcile the edit: %+v, %v", res, err)
			}

			_, _, as := rbacServerFrom(t, db, api.Config{})
			if got := string(as("dev", "GET", "/v1/pages/services/permissions", nil).Raw); got != tc.want+"\n" {
				t.Errorf("permissions = %s, want %s", got, tc.want)
			}
			var readers []string
			for _, who := range []string{"admin", "member", "dev", "lead"} {
				if as(who, "GET", "/v1/pages/services", nil).Code == 200 {
					readers = append(readers, who)
				}
			}
			if !slices.Equal(readers, tc.readers) {
				t.Errorf("readers = %v, want %v", readers, tc.readers)
			}
		})
	}
}
