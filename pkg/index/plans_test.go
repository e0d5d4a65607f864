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
// each other: every rule on a property is answered by searching the index
// of entity_values it names, never by scanning the table (a million rows
// at 100k entities). entity_values_num indexes only rows with a number, so
// a rule reading num must compare it to use it; a rule with no value to
// compare (isEmpty) uses entity_values_str, which has every row.
func TestValueIndexPlans(t *testing.T) {
	db := openDB(t)
	// Each rule's plan, uncorrelated, must search this index by key and,
	// where the rule compares a value, by the value: a rule on numbers or
	// dates reaches entity_values_num, which only holds rows with one.
	const (
		str    = `entity_values_str \(key=\? AND str=\?\)`
		byKey  = `entity_values_str \(key=\?\)`
		numCmp = `entity_values_num \(key=\? AND num[<>=]`
	)
	rules := []struct {
		rule map[string]any
		want string
	}{
		{map[string]any{"property": "language", "operator": "=", "value": "go"}, str},
		{map[string]any{"property": "language", "operator": "!=", "value": "go"}, str},
		{map[string]any{"property": "language", "operator": "in", "value": []any{"go", "java"}}, str},
		{map[string]any{"property": "language", "operator": "notIn", "value": []any{"go"}}, str},
		{map[string]any{"property": "language", "operator": "beginsWith", "value": "ja"}, byKey},
		{map[string]any{"property": "language", "operator": "contains", "value": "av"}, byKey},
		{map[string]any{"property": "language", "operator": "isEmpty"}, byKey},
		{map[string]any{"property": "language", "operator": "isNotEmpty"}, byKey},
		{map[string]any{"property": "replicas", "operator": ">=", "value": 2.0}, numCmp},
		{map[string]any{"property": "replicas", "operator": "<", "value": 2.0}, numCmp},
		{map[string]any{"property": "replicas", "operator": "=", "value": 2.0}, numCmp},
		{map[string]any{"property": "replicas", "operator": "between", "value": map[string]any{"from": 1.0, "to": 3.0}}, numCmp},
		{map[string]any{"property": "public", "operator": "=", "value": true}, numCmp},
		{map[string]any{"property": "deployed", "operator": "=", "value": "2024-03-01"}, numCmp},
		{map[string]any{"property": "deployed", "operator": "between", "value": map[string]any{"preset": "lastWeek"}}, numCmp},
		{map[string]any{"property": "deployed", "operator": "isExpired"}, numCmp},
		{map[string]any{"property": "deployed", "operator": "isNotExpired"}, numCmp},
		// Values of several types are ORed: a range over the key's rows.
		{map[string]any{"property": "tags", "operator": "containsAny", "value": []any{"tier-1", 2.0, true}}, byKey},
		{map[string]any{"property": "replicas", "operator": "in", "value": []any{2.0, true}}, byKey},
	}
	scan := regexp.MustCompile(`SCAN v\d+\b`)
	for _, tc := range rules {
		r := tc.rule
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
				// Correlated, each entity's rows are probed by primary key.
				want := `SEARCH v\d+ (EXISTS )?USING PRIMARY KEY \(entity_id=\? AND key=\?\)`
				if !correlated {
					want = `SEARCH v\d+ USING (COVERING )?INDEX ` + tc.want
				}
				if scan.MatchString(text) || !regexp.MustCompile(want).MatchString(text) {
					t.Errorf("entity_values is not searched as expected (%s):\n%s\nplan:\n%s", want, where, text)
				}
			})
		}
	}
}
