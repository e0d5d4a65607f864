package catalog_test

import (
	"context"
	"testing"
	"testing/fstest"

	"github.com/berth-dev/berth/pkg/catalog"
	"github.com/google/go-cmp/cmp"
)

// TestPage_ReadPermissions covers the default, explicit lists, empty lists
// and lists left out; the lists are never nil, so they encode as [].
func TestPage_ReadPermissions(t *testing.T) {
	tests := []struct {
		name, page string
		want       catalog.PermissionSet
	}{
		{"NoPermissions", "identifier: p", catalog.DefaultPageRead()},
		{"NullRead", "identifier: p\npermissions: {read: null}", catalog.DefaultPageRead()},
		{"Explicit", "identifier: p\npermissions: {read: {roles: [Admin], users: [a@b.c], teams: [t]}}",
			catalog.PermissionSet{Roles: []string{"Admin"}, Users: []string{"a@b.c"}, Teams: []string{"t"}}},
		{"EmptyLists", "identifier: p\npermissions: {read: {roles: [], users: [], teams: []}}",
			catalog.PermissionSet{Roles: []string{}, Users: []string{}, Teams: []string{}}},
		{"ListsLeftOut", "identifier: p\npermissions: {read: {roles: [Admin]}}",
			catalog.PermissionSet{Roles: []string{"Admin"}, Users: []string{}, Teams: []string{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cat, err := catalog.Load(context.Background(), fstest.MapFS{"pages/p.yaml": {Data: []byte(tt.page)}}, catalog.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if diags := append(cat.Diagnostics(), cat.Build()...); len(diags) > 0 || len(cat.Pages) != 1 {
				t.Fatalf("%d pages, diagnostics %v", len(cat.Pages), diags)
			}
			got := cat.Pages[0].ReadPermissions()
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			for _, l := range [][]string{got.Roles, got.Users, got.Teams} {
				if l == nil {
					t.Errorf("a nil list in %#v", got)
				}
			}
		})
	}
}
