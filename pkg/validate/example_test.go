package validate_test

import (
	"context"
	"fmt"
	"testing/fstest"

	"github.com/berth-dev/berth/pkg/schema"
	"github.com/berth-dev/berth/pkg/validate"
)

func ExampleRun() {
	fsys := fstest.MapFS{
		"blueprints/service.yaml": {Data: []byte(`identifier: service
title: Service
schema:
  properties:
    lifecycle: {type: string, enum: [Production, Staging]}
  required: [lifecycle]
`)},
		"entities/service/api.yaml": {Data: []byte(`identifier: api
title: API
properties:
  lifecycle: Prod
`)},
	}
	v, err := schema.New()
	if err != nil {
		panic(err)
	}
	res, err := validate.Run(context.Background(), v, fsys, validate.Options{})
	if err != nil {
		panic(err)
	}
	for _, d := range res.Diagnostics {
		fmt.Println(d)
	}
	// Output:
	// entities/service/api.yaml:4:14: error: entity "api": property lifecycle: "Prod" is not one of "Production", "Staging" [entity-schema]
}
