package api_test

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/pkg/api"
)

// TestServer_SearchBlueprintShape: the include and exclude of a blueprint
// search body shape the entities found, as the query parameters of the
// same name do (and together with them).
func TestServer_SearchBlueprintShape(t *testing.T) {
	h := newServer(t, exampleDB(t), api.Config{}).Handler()
	goServices := map[string]any{"combinator": "and", "rules": []any{
		map[string]any{"property": "language", "operator": "=", "value": "Go"},
	}}
	full := do(t, h, "POST", "/v1/blueprints/service/entities/search", map[string]any{"query": goServices}, nil).
		want(t, 200, "").list("entities")
	if len(full) < 2 {
		t.Fatalf("%d Go services in catalog-example, want several", len(full))
	}
	for _, tc := range []struct {
		name  string
		path  string // query parameters after the search path
		body  map[string]any
		check func(t *testing.T, got, full map[string]any)
	}{
		{"ExcludeProperties", "", map[string]any{"exclude": []string{"properties"}},
			func(t *testing.T, got, full map[string]any) {
				delete(full, "properties")
				if diff := cmp.Diff(full, got); diff != "" {
					t.Errorf("exclude properties (-want +got):\n%s", diff)
				}
			}},
		{"ExcludeNestedAndTop", "", map[string]any{"exclude": []string{"properties.language", "relations", "scorecards"}},
			func(t *testing.T, got, full map[string]any) {
				delete(full["properties"].(map[string]any), "language")
				delete(full, "relations")
				delete(full, "scorecards")
				if diff := cmp.Diff(full, got); diff != "" {
					t.Errorf("exclude (-want +got):\n%s", diff)
				}
			}},
		{"Include", "", map[string]any{"include": []string{"identifier", "title"}},
			func(t *testing.T, got, full map[string]any) {
				want := map[string]any{"identifier": full["identifier"], "title": full["title"]}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("include (-want +got):\n%s", diff)
				}
			}},
		{"IncludeNested", "", map[string]any{"include": []string{"identifier", "properties.language"}},
			func(t *testing.T, got, full map[string]any) {
				want := map[string]any{"identifier": full["identifier"], "properties": map[string]any{"language": "Go"}}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("include (-want +got):\n%s", diff)
				}
			}},
		{"IncludeThenExclude", "", map[string]any{"include": []string{"identifier", "properties"}, "exclude": []string{"properties"}},
			func(t *testing.T, got, full map[string]any) {
				if diff := cmp.Diff(map[string]any{"identifier": full["identifier"]}, got); diff != "" {
					t.Errorf("include then exclude (-want +got):\n%s", diff)
				}
			}},
		{"BodyAndQueryParameter", "?include=identifier", map[string]any{"include": []string{"team"}},
			func(t *testing.T, got, full map[string]any) {
				want := map[string]any{"identifier": full["identifier"], "team": full["team"]}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("include from both (-want +got):\n%s", diff)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := map[string]any{"query": goServices}
			for k, v := range tc.body {
				body[k] = v
			}
			r := do(t, h, "POST", "/v1/blueprints/service/entities/search"+tc.path, body, nil).want(t, 200, "")
			got := r.list("entities")
			if !slices.Equal(identifiers(got), identifiers(full)) {
				t.Fatalf("entities %v, want %v: the shape changed what was found", identifiers(got), identifiers(full))
			}
			// full is decoded afresh for each case: check may edit it.
			fresh := do(t, h, "POST", "/v1/blueprints/service/entities/search", map[string]any{"query": goServices}, nil).
				want(t, 200, "").list("entities")
			for i := range got {
				tc.check(t, got[i], fresh[i])
			}
		})
	}
	// A misspelt shape key is refused, not ignored.
	do(t, h, "POST", "/v1/blueprints/service/entities/search", map[string]any{"query": goServices, "excludes": []string{"properties"}}, nil).
		want(t, 400, "invalid_request")
}
