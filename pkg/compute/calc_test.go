package compute_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/pkg/catalog"
	"github.com/berth-dev/berth/pkg/compute"
	"github.com/google/go-cmp/cmp"
)

// calcCatalog is a service blueprint with one calculation c and entities
// with the given YAML bodies.
func calcCatalog(tb testing.TB, src, typ string, entities ...string) *catalog.Catalog {
	tb.Helper()
	bp := fmt.Sprintf(`identifier: service
schema:
  properties:
    a: {type: number}
    b: {type: number}
    name: {type: string}
relations:
  system: {target: system}
calculationProperties:
  c:
    calculation: %q
    type: %s
`, src, typ)
	files := map[string]string{
		"blueprints/service.yaml": bp,
		"blueprints/system.yaml":  "identifier: system\nschema: {properties: {}}\n",
		"entities/system/s.yaml":  "identifier: core\n",
	}
	for i, e := range entities {
		files[fmt.Sprintf("entities/service/e%d.yaml", i)] = e
	}
	return build(tb, files)
}

const calcEntity = `identifier: api
title: API
team: [platform, sre]
properties: {a: 2, b: 0.5, name: checkout}
relations: {system: core}
`

func TestEvaluate_Calculation(t *testing.T) {
	tests := []struct {
		name, src, typ string
		want           any
		warn           string // a substring of the single expected warning
	}{
		{"Arithmetic", ".properties.a + 1", "number", int64(3), ""},
		{"Float", ".properties.a * .properties.b + 0.25", "number", 1.25, ""},
		{"Title", `.title + " (" + .identifier + ")"`, "string", "API (api)", ""},
		{"Relation", ".relations.system", "string", "core", ""},
		{"Team", ".team | length", "number", int64(2), ""},
		{"Blueprint", ".blueprint", "string", "service", ""},
		{"Boolean", ".properties.a > 1", "boolean", true, ""},
		{"Object", "{n: .properties.name, a: .properties.a}", "object", map[string]any{"n": "checkout", "a": int64(2)}, ""},
		{"Array", "[.properties.a, .properties.b]", "array", []any{int64(2), 0.5}, ""},
		{"MissingIsNull", ".properties.nothing", "string", nil, ""},
		{"Empty", "empty", "number", nil, ""},
		{"NoMeta", ".createdAt", "string", nil, ""},
		{"WrongType", ".properties.a", "string", nil, `value 2 is a number, not a string`},
		{"WrongTypeObject", ".properties", "number", nil, `is a object, not a number`},
		{"RuntimeError", `.properties.name | error("boom: " + .)`, "string", nil, "boom: checkout"},
		{"TypeError", ".properties.name + 1", "string", nil, "cannot add"},
		{"DivisionByZero", ".properties.a / 0", "number", nil, "cannot divide number (2) by: number (0)"},
		{"ManyValues", "range(1e9)", "number", nil, "yields more than one value"},
		{"Halt", `"stop" | halt_error`, "number", nil, "halted: stop"},
		{"Infinite", "infinite", "number", nil, "not a finite number"},
		{"EnvIsEmpty", "$ENV | length", "number", int64(0), ""},
		{"EnvFunctionIsEmpty", "env | length", "number", int64(0), ""},
		{"EnvVariable", "$ENV.HOME // env.PATH", "string", nil, ""},
		{"Timeout", "def f: f; f", "number", nil, "timed out after 20ms"},
		{"TimeoutRange", "last(range(1e12))", "number", nil, "timed out"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cat := calcCatalog(t, tt.src, tt.typ, calcEntity)
			vals, diags := evaluate(t, cat, compute.Options{Timeout: 20 * time.Millisecond}, nil)
			if diff := cmp.Diff(tt.want, vals[key("service", "api")]["c"]); diff != "" {
				t.Errorf("value (-want +got):\n%s", diff)
			}
			if tt.warn == "" {
				if len(diags) > 0 {
					t.Errorf("unexpected diagnostics:\n%s", format(diags))
				}
				return
			}
			if len(diags) != 1 || !strings.Contains(diags[0].Message, tt.warn) {
				t.Fatalf("want one warning containing %q, got:\n%s", tt.warn, format(diags))
			}
			d := diags[0]
			if d.Severity != catalog.SeverityWarning || d.Code != catalog.CodeCalculation {
				t.Errorf("want a %s warning, got %v", catalog.CodeCalculation, d)
			}
			if d.File != "blueprints/service.yaml" || d.Line != 11 || !strings.Contains(d.Message, `entity "api"`) {
				t.Errorf("warning should point at the calculation and name the entity: %v", d)
			}
		})
	}
}

func TestCompile_CalculationErrors(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"Syntax", ".properties.a |", "parse jq"},
		{"Input", "input", "input(s)/0 is not allowed"},
		{"Inputs", "[inputs]", "input(s)/0 is not allowed"},
		{"UnknownFunction", "frobnicate(1)", "function not defined: frobnicate/1"},
		{"Import", `import "x" as x; .`, "compile jq"},
		{"UnknownVariable", "$secret", "variable not defined: $secret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cat := calcCatalog(t, tt.src, "number", calcEntity)
			prog, diags := compute.Compile(cat)
			if len(diags) != 1 || diags[0].Severity != catalog.SeverityError || !strings.Contains(diags[0].Message, tt.want) {
				t.Fatalf("want one error containing %q, got:\n%s", tt.want, format(diags))
			}
			if diags[0].Line != 11 || diags[0].Code != catalog.CodeCalculation {
				t.Errorf("error should point at the calculation: %v", diags[0])
			}
			vals, _, err := prog.Evaluate(context.Background(), cat, nil)
			if err != nil {
				t.Fatal(err)
			}
			if v, ok := vals[key("service", "api")]["c"]; !ok || v != nil {
				t.Errorf("a calculation that does not compile evaluates to null, got %v (present %v)", v, ok)
			}
		})
	}
}

// TestEvaluate_CalculationBreaker checks that a runaway calculation stops
// being run after MaxTimeouts deadlines, and that warnings are capped.
func TestEvaluate_CalculationBreaker(t *testing.T) {
	var entities []string
	for i := range 6 {
		entities = append(entities, fmt.Sprintf("identifier: e%d\n", i))
	}
	cat := calcCatalog(t, "def f: f; f", "number", entities...)
	vals, diags := evaluate(t, cat, compute.Options{Timeout: 5 * time.Millisecond, MaxWarnings: 4}, nil)
	if len(vals) != 6 {
		t.Fatalf("want 6 entities, got %d", len(vals))
	}
	var timeouts, skipped, more int
	for _, d := range diags {
		switch {
		case strings.Contains(d.Message, "timed out"):
			timeouts++
		case strings.Contains(d.Message, "skipped"):
			skipped++
		case strings.Contains(d.Message, "2 more entities"):
			more++
		}
	}
	if timeouts != compute.MaxTimeouts || skipped != 1 || more != 1 {
		t.Errorf("want %d timeouts, 1 skipped and 1 summary, got:\n%s", compute.MaxTimeouts, format(diags))
	}
}

// TestEvaluate_CalculationInput checks the entity JSON a calculation reads.
func TestEvaluate_CalculationInput(t *testing.T) {
	cat := calcCatalog(t, ".", "object", calcEntity)
	e := cat.Entity(key("service", "api"))
	e.Meta = catalog.Meta{CreatedAt: fixedNow, CreatedBy: "ann@example.com"}
	vals, diags := evaluate(t, cat, compute.Options{}, nil)
	if len(diags) > 0 {
		t.Fatalf("unexpected diagnostics:\n%s", format(diags))
	}
	want := map[string]any{
		"identifier": "api", "title": "API", "icon": nil, "blueprint": "service",
		"team":       []any{"platform", "sre"},
		"properties": map[string]any{"a": int64(2), "b": 0.5, "name": "checkout"},
		"relations":  map[string]any{"system": "core"},
		"createdAt":  "2025-03-01T00:00:00Z", "updatedAt": nil,
		"createdBy": "ann@example.com", "updatedBy": nil,
	}
	if diff := cmp.Diff(want, vals[key("service", "api")]["c"]); diff != "" {
		t.Errorf("entity JSON (-want +got):\n%s", diff)
	}
	// The result is a copy: changing it leaves the entity alone.
	vals[key("service", "api")]["c"].(map[string]any)["properties"].(map[string]any)["a"] = "x"
	if e.Properties["a"] != int64(2) {
		t.Errorf("result aliases the entity's properties")
	}
}

// TestEvaluate_CanceledDuringCalculation checks that the caller's context
// stops a running calculation, whatever the calculation's own timeout.
func TestEvaluate_CanceledDuringCalculation(t *testing.T) {
	cat := calcCatalog(t, "def f: f; f", "number", calcEntity)
	prog, _ := compute.CompileWith(cat, compute.Options{Timeout: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, _, err := prog.Evaluate(ctx, cat, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("want context.DeadlineExceeded, got %v", err)
	}
}
