package edit_test

import (
	"context"
	"fmt"
	"testing/fstest"

	"github.com/berth-dev/berth/pkg/edit"
	"github.com/berth-dev/berth/pkg/schema"
)

// The seed's "remove permissions from role" PATCH, applied to a page file:
// only the roles line changes.
func ExampleEditor_PatchPermissions() {
	fsys := fstest.MapFS{"pages/services.yaml": {Data: []byte(`# Who may see the services page.
identifier: services
title: Services
permissions:
  read:
    roles: [Admin, Member]   # Member: every engineer
    users: []
    teams: []
`)}}
	v, err := schema.New()
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	ed, err := edit.Open(ctx, fsys, v)
	if err != nil {
		panic(err)
	}
	patch, err := edit.ParsePatch([]byte(`{"read": {"roles": ["Admin"]}}`))
	if err != nil {
		panic(err)
	}
	e, err := ed.PatchPermissions(ctx, "services", patch)
	if err != nil {
		panic(err)
	}
	fmt.Print(string(e.After))
	fmt.Println(e.Edited.ReadPermissions())
	fmt.Println(edit.PatchCommand("services", []byte(`{"read": {"roles": ["Admin"]}}`)))
	// Output:
	// # Who may see the services page.
	// identifier: services
	// title: Services
	// permissions:
	//   read:
	//     roles: [Admin]   # Member: every engineer
	//     users: []
	//     teams: []
	// {[Admin] [] []}
	// berth pages permissions services --patch '{"read":{"roles":["Admin"]}}'
}
