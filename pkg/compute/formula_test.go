package compute_test

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/berth-dev/berth/pkg/catalog"
	"github.com/berth-dev/berth/pkg/compute"
	"github.com/google/go-cmp/cmp"
)

func TestTranslateFormula(t *testing.T) {
	tests := []struct{ in, want, err string }{
		{in: "(cpu_requests / cpu_limits) * 100",
			want: `(.properties["cpu_requests"] / .properties["cpu_limits"]) * 100`},
		{in: "cost_per_month / (requests_per_month || 1)",
			want: `.properties["cost_per_month"] / (.properties["requests_per_month"] // 1)`},
		{in: "a && b or null", want: `.properties["a"]  and  .properties["b"] or null`},
		{in: ".5 + 1e3 - 2.5E-1 % x_1", want: `0.5 + 1e3 - 2.5E-1 % .properties["x_1"]`},
		{in: "a >= 1 == true", want: `.properties["a"] >= 1 == true`},
		{in: "a // b", err: `unexpected '/' at offset 2`},
		{in: "a /= b", err: `unexpected '/' at offset 2`},
		{in: "a | b", err: `unexpected '|'`},
		{in: `"x"`, err: `unexpected '"'`},
		{in: "a.b", err: `unexpected '.'`},
		{in: "$ENV", err: `unexpected '$'`},
		{in: "not a", err: "use == false rather than not"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := compute.TranslateFormula(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("want error containing %q, got %q, %v", tt.err, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// seedCatalog is the seed's "Custom Properties with Calculations" blueprint,
// verbatim, with entities of the given YAML bodies.
func seedCatalog(tb testing.TB, entities map[string]string) *catalog.Catalog {
	tb.Helper()
	bp, err := os.ReadFile("testdata/seed-service.json")
	if err != nil {
		tb.Fatal(err)
	}
	files := map[string]string{"blueprints/service.json": string(bp)}
	for id, body := range entities {
		files["entities/service/"+id+".yaml"] = "identifier: " + id + "\nproperties: " + body + "\n"
	}
	return build(tb, files)
}

func TestEvaluate_SeedFormulas(t *testing.T) {
	tests := []struct {
		name, props  string
		util, perReq any
		warn         string
	}{
		{"Both", "{cpu_requests: 250, cpu_limits: 500, cost_per_month: 100, requests_per_month: 4}", 50.0, 25.0, ""},
		{"FloatInputs", "{cpu_requests: 0.5, cpu_limits: 2.0, cost_per_month: 7.5, requests_per_month: 3}", 25.0, 2.5, ""},
		{"RequestsZero", "{cost_per_month: 100, requests_per_month: 0}", nil, 100.0, ""},
		{"RequestsMissing", "{cost_per_month: 100}", nil, 100.0, ""},
		{"RequestsNull", "{cost_per_month: 100, requests_per_month: null}", nil, 100.0, ""},
		{"CostMissing", "{requests_per_month: 4}", nil, nil, ""},
		{"LimitsZero", "{cpu_requests: 1, cpu_limits: 0}", nil, nil, "formula of cpu_utilization of entity \"x\": division by zero (1 / 0)"},
		{"RequestsString", `{cost_per_month: 100, requests_per_month: "many"}`, nil, nil, `cannot compute 100 / "many": operands must be numbers`},
		{"StoredValueIgnored", "{cpu_requests: 1, cpu_limits: 4, cpu_utilization: 99}", 25.0, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cat := seedCatalog(t, map[string]string{"x": tt.props})
			vals, diags := evaluate(t, cat, compute.Options{}, nil)
			want := map[string]any{"cpu_utilization": tt.util, "cost_per_request": tt.perReq}
			if diff := cmp.Diff(want, vals[key("service", "x")]); diff != "" {
				t.Errorf("values (-want +got):\n%s", diff)
			}
			switch {
			case tt.warn == "" && len(diags) > 0:
				t.Errorf("unexpected diagnostics:\n%s", format(diags))
			case tt.warn != "" && (len(diags) != 1 || !strings.Contains(diags[0].Message, tt.warn)):
				t.Errorf("want one warning containing %q, got:\n%s", tt.warn, format(diags))
			case tt.warn != "" && diags[0].File != "blueprints/service.json":
				t.Errorf("warning should point into the blueprint: %v", diags[0])
			}
		})
	}
}

func TestEvaluate_FormulaSemantics(t *testing.T) {
	tests := []struct {
		formula, typ string
		want         any
	}{
		{"a + b * 2", "number", 7.0},
		{"-a + 10", "number", 7.0},
		{"-(a - b)", "number", -1.0},
		{"a % 2", "number", 1.0},
		{"missing + 1", "number", nil},
		{"-missing", "number", nil},
		{"a > b", "boolean", true},
		{"a > b && b == 2", "boolean", true},
		{"a < b || zero", "number", int64(0)},
		{"zero || missing || 5", "number", int64(5)},
		{"(zero || a) * 2", "number", 6.0},
		{"flag || 1", "number", int64(1)},
	}
	for _, tt := range tests {
		t.Run(tt.formula, func(t *testing.T) {
			cat := build(t, map[string]string{
				"blueprints/x.yaml": fmt.Sprintf(`identifier: x
schema:
  properties:
    a: {type: number}
    b: {type: number}
    zero: {type: number}
    flag: {type: boolean}
    f:
      type: %s
      calculation: {type: formula, formula: %q}
`, tt.typ, tt.formula),
				"entities/x/e.yaml": "identifier: e\nproperties: {a: 3, b: 2, zero: 0, flag: false}\n",
			})
			vals, diags := evaluate(t, cat, compute.Options{}, nil)
			if len(diags) > 0 {
				t.Errorf("unexpected diagnostics:\n%s", format(diags))
			}
			if diff := cmp.Diff(tt.want, vals[key("x", "e")]["f"]); diff != "" {
				t.Errorf("value (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCompile_FormulaErrors(t *testing.T) {
	tests := []struct{ name, calc, want string }{
		{"BadCharacter", "{type: formula, formula: 'a | b'}", "unexpected '|'"},
		{"Unbalanced", "{type: formula, formula: '(a + b'}", "unexpected EOF"},
		{"Assignment", "{type: formula, formula: 'a = b'}", "unexpected '='"},
		{"Call", "{type: formula, formula: 'f(a)'}", "formula"},
		{"Empty", "{type: formula, formula: ''}", "formula is empty"},
		{"OtherType", "{type: jq, formula: 'a'}", `calculation type "jq" is not supported`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cat := build(t, map[string]string{
				"blueprints/x.yaml": "identifier: x\nschema:\n  properties:\n    a: {type: number}\n    f:\n      type: number\n      calculation: " + tt.calc + "\n",
			})
			_, diags := compute.Compile(cat)
			if len(diags) != 1 || diags[0].Severity != catalog.SeverityError || !strings.Contains(diags[0].Message, tt.want) {
				t.Fatalf("want one error containing %q, got:\n%s", tt.want, format(diags))
			}
			if diags[0].Line != 7 {
				t.Errorf("error should point at the calculation (line 7): %v", diags[0])
			}
		})
	}
}
