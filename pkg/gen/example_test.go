package gen_test

import (
	"fmt"
	"strings"

	"github.com/berth-dev/berth/pkg/gen"
)

// Files yields configuration, blueprints and scorecards first, then the
// entities in dependency order.
func ExampleFiles() {
	for path, data := range gen.Files(gen.Options{Entities: 100, Seed: 1}) {
		if strings.HasPrefix(path, "entities/service/") {
			fmt.Println(path)
			fmt.Print(strings.Join(strings.SplitAfterN(string(data), "\n", 4)[:3], ""))
			break
		}
		fmt.Println(path)
	}
	// Output:
	// berth.yaml
	// blueprints/domain.yaml
	// blueprints/team.yaml
	// blueprints/service.yaml
	// blueprints/microservice.yaml
	// blueprints/deployment.yaml
	// scorecards/production_readiness.yaml
	// scorecards/security_compliance.yaml
	// entities/domain/commerce-0.yaml
	// entities/_team/payments-0.yaml
	// entities/_team/checkout-1.yaml
	// entities/team/payments-0.yaml
	// entities/team/checkout-1.yaml
	// entities/service/billing-api-0.yaml
	// identifier: billing-api-0
	// title: Billing API 0
	// team: payments-0
}
