package catalog_test

import (
	"fmt"
	"net/mail"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/pkg/catalog"
)

// exampleDir is the catalog the README's quick start runs on.
const exampleDir = "../../catalog-example"

func TestExampleCatalog_Loads(t *testing.T) {
	cat, diags := loadTree(t, exampleDir)
	if len(diags) != 0 {
		t.Errorf("catalog-example has diagnostics:\n%v", diags)
	}

	counts := map[string]int{}
	for _, e := range cat.Entities {
		counts[e.Blueprint]++
	}
	wantCounts := map[string]int{
		"_team": 4, "_user": 7, "team": 4, "domain": 3,
		"service": 11, "microservice": 5, "deployment": 7, "incident": 5,
	}
	if d := cmp.Diff(wantCounts, counts); d != "" {
		t.Errorf("entities per blueprint (-want +got):\n%s", d)
	}
	if cat.Config == nil || len(cat.Config.Gates) != 2 || cat.Config.Gates[0].Mode != "block" {
		t.Errorf("berth.yaml gates = %+v", cat.Config)
	}
	if p := cat.Blueprints["incident"].Permissions; p == nil || !p.Entities.Read.OwnedByTeam {
		t.Errorf("incident permissions = %+v, want entities.read.ownedByTeam", p)
	}

	// Until the cross-file checks land, check here what makes the example
	// valid, so that it cannot rot unnoticed.
	for _, problem := range integrity(cat) {
		t.Error(problem)
	}
}

// TestExampleCatalog_SeedObjects checks that the example's scorecards,
// actions, dashboards and roles, written as YAML, are the seed's JSON ones,
// and that its service and microservice blueprints keep every seed property
// (the example may add constraints, such as bounds and enum colours).
func TestExampleCatalog_SeedObjects(t *testing.T) {
	seed, _ := loadTree(t, "testdata/seed")
	calc, _ := loadTree(t, "testdata/seed-calc")
	ex, _ := loadTree(t, exampleDir)

	for _, kind := range []catalog.Kind{catalog.KindScorecard, catalog.KindAction, catalog.KindPage, catalog.KindRole} {
		exDocs := map[string]map[string]any{}
		for _, d := range ex.Docs(kind) {
			exDocs[d.Identifier()] = d.Value
		}
		for _, d := range seed.Docs(kind) {
			if diff := cmp.Diff(d.Value, exDocs[d.Identifier()]); diff != "" {
				t.Errorf("%s %s differs from the seed (-seed +example):\n%s", kind, d.Identifier(), diff)
			}
		}
	}

	for _, src := range []*catalog.Catalog{seed, calc} {
		for _, id := range []string{"service", "microservice"} {
			want := src.Blueprints[id]
			if want == nil {
				continue
			}
			got := ex.Blueprints[id]
			for name, p := range want.Schema.Properties {
				if diff := cmp.Diff(seedKeys(p), seedKeys(got.Schema.Properties[name])); diff != "" {
					t.Errorf("%s.%s differs from the seed (-seed +example):\n%s", id, name, diff)
				}
			}
			for name, r := range want.Relations {
				if diff := cmp.Diff(r, got.Relations[name]); diff != "" {
					t.Errorf("%s relation %s differs from the seed (-seed +example):\n%s", id, name, diff)
				}
			}
		}
	}
}

// integrity reports what would make a built catalog inconsistent: entities
// of unknown blueprints, undefined or missing required properties, enum
// values out of range, relations that do not resolve, team and user
// references to nobody, mirror paths and scorecard rules naming properties
// that do not exist.
func integrity(cat *catalog.Catalog) []string {
	var out []string
	report := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	exists := func(bp, id string) bool { return cat.Entity(catalog.EntityKey{Blueprint: bp, Identifier: id}) != nil }

	for _, e := range cat.Entities {
		b := cat.Blueprints[e.Blueprint]
		where := e.Doc.File + ": " + e.Blueprint + "/" + e.Identifier
		if b == nil {
			report("%s: unknown blueprint", where)
			continue
		}
		for _, t := range e.Team {
			if !exists(catalog.TeamBlueprint, t) {
				report("%s: team %q is not a _team entity", where, t)
			}
		}
		for _, r := range b.Schema.Required {
			if _, ok := e.Properties[r]; !ok {
				report("%s: required property %s missing", where, r)
			}
		}
		for name, v := range e.Properties {
			p, ok := b.Schema.Properties[name]
			if !ok {
				report("%s: property %s is not defined by %s", where, name, b.Identifier)
				continue
			}
			if p.Calculation != nil {
				report("%s: property %s is calculated and must not be set", where, name)
			}
			if len(p.Enum) > 0 && !slices.Contains(p.Enum, v) {
				report("%s: %s = %v is not one of %v", where, name, v, p.Enum)
			}
			if !typeMatches(p.Type, v) {
				report("%s: %s = %#v is not of type %s", where, name, v, p.Type)
			}
			s, _ := v.(string)
			if p.Pattern != "" && !regexp.MustCompile(p.Pattern).MatchString(s) {
				report("%s: %s = %q does not match %s", where, name, s, p.Pattern)
			}
			if p.Minimum != nil && toFloat(v) < *p.Minimum || p.Maximum != nil && toFloat(v) > *p.Maximum {
				report("%s: %s = %v is out of bounds", where, name, v)
			}
			switch p.Format {
			case "date-time":
				if _, err := time.Parse(time.RFC3339, s); err != nil {
					report("%s: %s: %v", where, name, err)
				}
			case "url":
				if u, err := url.Parse(s); err != nil || u.Scheme != "https" || u.Host == "" {
					report("%s: %s = %q is not an https URL", where, name, s)
				}
			case "email":
				if _, err := mail.ParseAddress(s); err != nil {
					report("%s: %s = %q: %v", where, name, s, err)
				}
			case "team":
				if !exists(catalog.TeamBlueprint, s) {
					report("%s: %s = %q is not a _team entity", where, name, s)
				}
			case "user":
				if !exists(catalog.UserBlueprint, s) {
					report("%s: %s = %q is not a _user entity", where, name, s)
				}
			}
		}
		for name, def := range b.Relations {
			rv, ok := e.Relations[name]
			if def.Required && (!ok || len(rv.Targets) == 0) {
				report("%s: required relation %s missing", where, name)
			}
		}
		for name, rv := range e.Relations {
			def, ok := b.Relations[name]
			switch {
			case !ok:
				report("%s: relation %s is not defined by %s", where, name, b.Identifier)
				continue
			case def.Many != rv.Many && len(rv.Targets) > 0:
				report("%s: relation %s: many=%v but value has many=%v", where, name, def.Many, rv.Many)
			}
			for _, target := range rv.Targets {
				if !exists(def.Target, target) {
					report("%s: relation %s: no %s %q", where, name, def.Target, target)
				}
			}
		}
	}

	for _, b := range cat.Blueprints {
		for name, m := range b.MirrorProperties {
			if !mirrorResolves(cat, b, m.Path) {
				report("blueprint %s: mirror %s: path %q does not resolve", b.Identifier, name, m.Path)
			}
		}
		for name, a := range b.AggregationProperties {
			if cat.Blueprints[a.Target] == nil {
				report("blueprint %s: aggregation %s: no blueprint %q", b.Identifier, name, a.Target)
			}
		}
		for name, r := range b.Relations {
			if cat.Blueprints[r.Target] == nil {
				report("blueprint %s: relation %s: no blueprint %q", b.Identifier, name, r.Target)
			}
		}
	}

	for _, s := range cat.Scorecards {
		b := cat.Blueprints[scorecardBlueprint(s)]
		if b == nil {
			report("scorecard %s: no blueprint", s.Identifier)
			continue
		}
		for _, r := range s.Rules {
			for _, p := range ruleProperties(r.Query) {
				if _, ok := b.Schema.Properties[p]; !ok && !strings.HasPrefix(p, "$") {
					report("scorecard %s rule %s: %s has no property %s", s.Identifier, r.Identifier, b.Identifier, p)
				}
			}
		}
	}
	for _, a := range cat.Actions {
		if bp := a.Trigger.BlueprintIdentifier; bp != "" && cat.Blueprints[bp] == nil {
			report("action %s: no blueprint %q", a.Identifier, bp)
		}
	}
	for _, p := range cat.Pages {
		if p.Blueprint != "" && cat.Blueprints[p.Blueprint] == nil {
			report("page %s: no blueprint %q", p.Identifier, p.Blueprint)
		}
	}
	return out
}

// mirrorResolves follows a mirror path's relations from b and checks that
// it ends in a property or meta-property of the last target.
func mirrorResolves(cat *catalog.Catalog, b *catalog.Blueprint, path string) bool {
	parts := strings.Split(path, ".")
	for _, rel := range parts[:len(parts)-1] {
		r, ok := b.Relations[rel]
		if !ok || cat.Blueprints[r.Target] == nil {
			return false
		}
		b = cat.Blueprints[r.Target]
	}
	last := parts[len(parts)-1]
	_, ok := b.Schema.Properties[last]
	return ok || strings.HasPrefix(last, "$")
}

// scorecardBlueprint returns a scorecard's blueprint: its blueprint key or
// the seed's $blueprint rule in its filter.
func scorecardBlueprint(s *catalog.Scorecard) string {
	if s.Blueprint != "" {
		return s.Blueprint
	}
	rules, _ := s.Filter["rules"].([]any)
	for _, r := range rules {
		if m, _ := r.(map[string]any); m["property"] == "$blueprint" {
			bp, _ := m["value"].(string)
			return bp
		}
	}
	return ""
}

// ruleProperties lists the properties a query's rules name, groups included.
func ruleProperties(q catalog.Query) []string {
	var out []string
	for _, key := range []string{"rules", "conditions"} {
		rules, _ := q[key].([]any)
		for _, r := range rules {
			m, _ := r.(map[string]any)
			if p, ok := m["property"].(string); ok {
				out = append(out, p)
			}
			if _, group := m["combinator"]; group {
				out = append(out, ruleProperties(m)...)
			}
		}
	}
	return out
}

// seedKeys keeps the keywords of a property that the seed sets.
func seedKeys(p catalog.Property) catalog.Property {
	return catalog.Property{Title: p.Title, Type: p.Type, Format: p.Format, Enum: p.Enum, Calculation: p.Calculation}
}

func typeMatches(typ string, v any) bool {
	switch v.(type) {
	case string:
		return typ == "string"
	case int64, float64:
		return typ == "number"
	case bool:
		return typ == "boolean"
	case []any:
		return typ == "array"
	case map[string]any:
		return typ == "object"
	}
	return v == nil
}

func toFloat(v any) float64 {
	switch v := v.(type) {
	case int64:
		return float64(v)
	case float64:
		return v
	}
	return 0
}
