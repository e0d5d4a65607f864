package api

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/pkg/catalog"
	"github.com/berth-dev/berth/pkg/query"
)

func TestTimeframe(t *testing.T) {
	now := time.Date(2025, 6, 6, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name  string
		first string
		days  int
	}{
		{"last7days", "2025-05-31", 7},
		{"last30days", "2025-05-08", 30},
		{"last90days", "2025-03-09", 90},
		{"last1days", "2025-06-06", 1},
		{"lastWeek", "2025-05-31", 7},
		{"last3Months", "2025-03-09", 90},
		{"today", "2025-06-06", 1},
		{"yesterday", "2025-06-05", 1},
		{"tomorrow", "2025-06-07", 1},
		{"nextWeek", "2025-06-06", 7},
		{"last0days", "", 0},
		{"last9999days", "", 0},
		{"lastYear", "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			first, days, err := timeframe(tc.name, now)
			if tc.days == 0 {
				if err == nil {
					t.Fatalf("no error; got %v, %d days", first, days)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := first.Format(time.DateOnly); got != tc.first || days != tc.days {
				t.Errorf("got %s and %d days, want %s and %d", got, days, tc.first, tc.days)
			}
		})
	}
}

func TestBareTeam(t *testing.T) {
	rd := &reader{meta: &revMeta{
		blueprints: map[string]*catalog.Blueprint{
			"service": {Identifier: "service"},
			"squad":   {Identifier: "squad", Schema: catalog.BlueprintSchema{Properties: map[string]catalog.Property{"team": {Type: "string"}}}},
		},
		computed: map[string]map[string]bool{},
	}}
	rule := map[string]any{"property": "team", "operator": "=", "value": "{{ user.team }}"}
	q := map[string]any{"combinator": "and", "rules": []any{rule}}
	for _, tc := range []struct {
		name  string
		scope []string
		want  any
	}{
		{"NoTeamProperty", []string{"service"}, map[string]any{"combinator": "and", "rules": []any{
			map[string]any{"property": "$team", "operator": "=", "value": "{{ user.team }}"}}}},
		{"TeamProperty", []string{"squad"}, q},
		{"Mixed", []string{"service", "squad"}, map[string]any{"combinator": "and", "rules": []any{
			map[string]any{"combinator": "or", "rules": []any{
				map[string]any{"combinator": "and", "rules": []any{
					map[string]any{"property": "$blueprint", "operator": "in", "value": []any{"squad"}}, rule}},
				map[string]any{"combinator": "and", "rules": []any{
					map[string]any{"property": "$blueprint", "operator": "notIn", "value": []any{"squad"}},
					map[string]any{"property": "$team", "operator": "=", "value": "{{ user.team }}"}}},
			}}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := rd.bareFields(q, tc.scope)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if _, err := query.Parse(got.(map[string]any)); err != nil {
				t.Errorf("rewritten query does not parse: %v", err)
			}
		})
	}
}
