package compute_test

import (
	"context"
	"fmt"
	"sort"
	"testing/fstest"

	"github.com/berth-dev/berth/pkg/catalog"
	"github.com/berth-dev/berth/pkg/compute"
)

func Example() {
	fsys := fstest.MapFS{
		"blueprints/service.yaml": {Data: []byte(`
identifier: service
schema:
  properties:
    cost_per_month: {type: number}
    requests_per_month: {type: number}
    cost_per_request:
      type: number
      calculation: {type: formula, formula: "cost_per_month / (requests_per_month || 1)"}
calculationProperties:
  slug:
    calculation: '.identifier | ascii_upcase'
    type: string
aggregationProperties:
  deployments:
    target: deployment
    calculationSpec: {calculationBy: entities, func: count}
`)},
		"blueprints/deployment.yaml": {Data: []byte(`
identifier: deployment
schema: {properties: {}}
relations:
  service: {target: service}
mirrorProperties:
  service_cost: {path: service.cost_per_request}
`)},
		"entities/service/api.yaml":     {Data: []byte("identifier: api\nproperties: {cost_per_month: 300, requests_per_month: 0}\n")},
		"entities/deployment/d1.yaml":   {Data: []byte("identifier: d1\nrelations: {service: api}\n")},
		"entities/deployment/d2.yaml":   {Data: []byte("identifier: d2\nrelations: {service: api}\n")},
		"entities/deployment/none.yaml": {Data: []byte("identifier: none\n")},
	}
	ctx := context.Background()
	cat, err := catalog.Load(ctx, fsys, catalog.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	cat.Build()

	prog, diags := compute.Compile(cat)
	if diags.HasErrors() {
		fmt.Println(diags)
		return
	}
	vals, _, err := prog.Evaluate(ctx, cat, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	api := vals[catalog.EntityKey{Blueprint: "service", Identifier: "api"}]
	fmt.Println("api:", api["slug"], api["cost_per_request"], api["deployments"])
	d1 := vals[catalog.EntityKey{Blueprint: "deployment", Identifier: "d1"}]
	fmt.Println("d1 mirrors:", d1["service_cost"])

	// After a commit that changes d2, recompute only what it affects.
	changed := []catalog.EntityKey{{Blueprint: "deployment", Identifier: "d2"}}
	var affected []string
	for k := range prog.Affected(cat, changed) {
		affected = append(affected, k.Blueprint+"/"+k.Identifier)
	}
	sort.Strings(affected)
	fmt.Println("affected:", affected)
	// Output:
	// api: API 300 2
	// d1 mirrors: 300
	// affected: [deployment/d2 service/api]
}
