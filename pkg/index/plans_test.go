package index_test

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/berth-dev/berth/pkg/catalog"
	"github.com/berth-dev/berth/pkg/query"
)

// TestValueIndexPlans holds the query compiler and the value indexes to
// each other: every rule on a property is answered by searching an index
// of entity_values, never by scanning the table (a million rows at 100k
// entities). entity_values_num indexes only rows with a number, so a rule
// reading num must compare it; a rule with no value to compare (isEmpty)
// uses entity_values_str, which has every row.
func TestValueIndexPlans(t *testing.T) {
	db := openDB(t)
	rules := []map[string]any{
		{"property": "language", "operator": "=", "value": "go"},
		{"property": "language", "operator": "!=", "value": "go"},
		{"property": "language", "operator": "in", "value": []any{"go", "java"}},
		{"property": "language", "operator": "notIn", "value": []any{"go"}},
		{"property": "language", "operator": "beginsWith", "value": "ja"},
		{"property": "language", "operator": "contains", "value": "av"},
		{"property": "language", "operator": "isEmpty"},
		{"property": "language", "operator": "isNotEmpty"},
		{"property": "replicas", "operator": ">=", "value": 2.0},
		{"property": "replicas", "operator": "<", "value": 2.0},
		{"property": "replicas", "operator": "=", "value": 2.0},
		{"property": "replicas", "operator": "between", "value": map[string]any{"from": 1.0, "to": 3.0}},
		{"property": "public", "operator": "=", "value": true},
		{"property": "deployed", "operator": "=", "value": "2024-03-01"},
		{"property": "deployed", "operator": "between", "value": map[string]any{"preset": "lastWeek"}},
		{"property": "deployed", "operator": "isExpired"},
		{"property": "deployed", "operator": "isNotExpired"},
		{"property": "tags", "operator": "containsAny", "value": []any{"tier-1", 2.0, true}},
	}
	scan := regexp.MustCompile(`SCAN v\d+\b`)
	search := regexp.MustCompile(`SEARCH v\d+ (EXISTS )?USING (COVERING )?INDEX entity_values_(str|num)|SEARCH v\d+ (EXISTS )?USING PRIMARY KEY`)
	for _, r := range rules {
		q, err := query.Parse(catalog.Query{"combinator": "and", "rules": []any{r}})
		if err != nil {
			t.Fatal(err)
		}
		for _, correlated := range []bool{false, true} {
			t.Run(fmt.Sprintf("%v_%v/correlated=%v", r["property"], r["operator"], correlated), func(t *testing.T) {
				where, args, err := query.Compile(q, query.CompileOptions{Correlated: correlated})
				if err != nil {
					t.Fatal(err)
				}
				var plan []string
				err = db.ReadTx(context.Background(), func(tx *sql.Tx) error {
					rows, err := tx.Query("EXPLAIN QUERY PLAN SELECT e.id FROM entities e WHERE "+where+" ORDER BY e.identifier", args...)
					if err != nil {
						return err
					}
					defer rows.Close()
					for rows.Next() {
						var id, parent, unused int
						var detail string
						if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
							return err
						}
						plan = append(plan, detail)
					}
					return rows.Err()
				})
				if err != nil {
					t.Fatal(err)
				}
				text := strings.Join(plan, "\n")
				if scan.MatchString(text) || !search.MatchString(text) {
					t.Errorf("entity_values is not searched by an index:\n%s\nplan:\n%s", where, text)
				}
			})
		}
	}
}
