package review_test

import (
	"context"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/pkg/catalog"
	"github.com/berth-dev/berth/pkg/review"
)

// TestPermissionChanges_ContextProperties: a property a read rule takes
// from the caller — a user's clearance in a blueprint's policy, a team's
// region through {context: userTeams} — is access: raising one's own is a
// permission change the guard judges.
func TestPermissionChanges_ContextProperties(t *testing.T) {
	cat := func(clearance, region string) *catalog.Catalog {
		fsys := fstest.MapFS{
			"blueprints/doc.yaml": {Data: []byte(`
identifier: doc
schema: {properties: {level: {type: string}, region: {type: string}}}
permissions:
  entities:
    read:
      policy:
        combinator: or
        rules:
          - {property: level, operator: "=", value: {context: user, property: clearance}}
          - {property: region, operator: "=", value: {context: userTeams, property: region}}
`)},
			"entities/_user/u.yaml": {Data: []byte("identifier: a@example.com\nteam: t\nproperties: {github: a, clearance: " + clearance + ", note: x}\n")},
			"entities/_team/t.yaml": {Data: []byte("identifier: t\nproperties: {region: " + region + ", description: d}\n")},
		}
		c, err := catalog.Load(context.Background(), fsys, catalog.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if d := c.Build(); d.HasErrors() {
			t.Fatal(d)
		}
		return c
	}
	got := review.PermissionChanges(cat("low", "eu"), cat("top-secret", "us"), nil)
	var descs []string
	for _, c := range got {
		descs = append(descs, c.Describe())
	}
	want := []string{
		`team "t": region changed (eu → us)`,
		`user "a@example.com": clearance changed (low → top-secret)`,
	}
	if diff := cmp.Diff(want, descs); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if got := review.PermissionChanges(cat("low", "eu"), cat("low", "eu"), nil); len(got) != 0 {
		t.Errorf("no change reported %v", got)
	}
}
