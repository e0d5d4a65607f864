package checks_test

import (
	"fmt"

	"github.com/berth-dev/berth/pkg/catalog"
	"github.com/berth-dev/berth/pkg/checks"
)

func ExampleFromDiagnostic() {
	d := catalog.Errorf(catalog.Position{File: "entities/service/payments.yaml", Line: 4, Col: 9},
		catalog.CodeEntitySchema, "tier: must be one of gold, silver")
	a := checks.FromDiagnostic("catalog", d)
	fmt.Println(a.Path, a.StartLine, a.StartColumn, a.Level, a.Title)
	// Output: catalog/entities/service/payments.yaml 4 9 failure entity-schema
}

func ExampleEnv_FileURL() {
	env := checks.Env{Owner: "acme", Repo: "catalog", SHA: "1111111", ServerURL: checks.DefaultServerURL}
	fmt.Println(env.FileURL("catalog/entities/service/payments.yaml", 4))
	// Output: https://github.com/acme/catalog/blob/1111111/catalog/entities/service/payments.yaml#L4
}

func ExampleTruncate() {
	s, cut := checks.Truncate("line one\nline two\nline three\n", 160)
	fmt.Println(cut, len(s))
	// Output: false 29
}
