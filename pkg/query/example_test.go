package query_test

import (
	"fmt"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/pkg/catalog"
	"github.com/berth-dev/berth/pkg/query"
)

func Example() {
	// A scorecard rule as the seed writes it, parsed from YAML/JSON values.
	q, err := query.Parse(catalog.Query{
		"combinator": "and",
		"rules": []any{
			map[string]any{"property": "$blueprint", "operator": "=", "value": "service"},
			map[string]any{"property": "test_coverage", "operator": ">=", "value": int64(80)},
			map[string]any{"property": "team", "operator": "=", "value": "{{ user.team }}"},
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	q, _ = q.Bind(query.Context{UserTeams: []string{"payments"}})

	svc := &catalog.Entity{Identifier: "pay", Blueprint: "service",
		Properties: map[string]any{"test_coverage": 91.5, "team": "payments"}}
	ok, err := q.Eval(&query.Env{Now: time.Now()}, svc)
	fmt.Println(ok, err)

	where, args, _ := query.Compile(q, query.CompileOptions{})
	fmt.Println("SELECT e.doc FROM entities e WHERE " + where)
	fmt.Println(args)
	// Output:
	// true <nil>
	// SELECT e.doc FROM entities e WHERE ((e.blueprint IN (?)) AND e.id IN (SELECT v1.entity_id FROM entity_values v1 WHERE v1.key = ? AND (v1.typ = 'n' AND v1.num >= ?)) AND e.id IN (SELECT v2.entity_id FROM entity_values v2 WHERE v2.key = ? AND (v2.typ = 's' AND v2.str IN (?))))
	// [service test_coverage 80 team payments]
}

func ExampleParseJSON_error() {
	_, err := query.ParseJSON([]byte(`{"combinator": "and", "rules": [
		{"property": "a", "operator": "=", "value": 1},
		{"property": "b", "operator": "equals", "value": 2}]}`))
	fmt.Println(err)
	// Output:
	// rules[1].operator: unknown operator "equals" (want one of =, !=, in, notIn, contains, doesNotContains, containsAny, beginsWith, doesNotBeginsWith, endsWith, doesNotEndsWith, >, >=, <, <=, between, notBetween, isEmpty, isNotEmpty, isExpired, isNotExpired, relatedTo, matchAny)
}

// TestImports keeps the package pure: the standard library and
// pkg/catalog only, outside tests.
func TestImports(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, src, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if strings.Contains(strings.SplitN(path, "/", 2)[0], ".") && path != "github.com/berth-dev/berth/pkg/catalog" {
				t.Errorf("%s imports %s; pkg/query may import only the standard library and pkg/catalog", name, path)
			}
		}
	}
}
