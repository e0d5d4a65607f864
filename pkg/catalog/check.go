package catalog

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// MetaProperties are the meta-properties every entity has; queries, mirror
// paths and conditions may name them.
var MetaProperties = []string{
	"$identifier", "$title", "$team", "$icon", "$blueprint",
	"$createdAt", "$updatedAt", "$createdBy", "$updatedBy",
}

// Check runs the checks that span files (validation layer 4) over a built
// catalog: unknown blueprints, duplicate identifiers (naming both places),
// relation targets that do not exist, teams that are not _team entities,
// mirror paths that do not resolve, scorecard levels that are missing or the
// base level, conditions naming properties the blueprint lacks, and actions
// and pages naming unknown blueprints. It returns every finding.
func (c *Catalog) Check() Diagnostics {
	ck := &checker{c: c}
	ck.duplicates()
	ck.blueprints()
	ck.entities()
	ck.objects()
	return ck.diags
}

// objects runs the checks of everything but single entities: scorecards,
// actions, pages, berth.yaml, permissions and role names. They are few, so
// CheckSince runs them whole too.
func (ck *checker) objects() {
	ck.scorecards()
	ck.actions()
	ck.pages()
	ck.systemPages()
	ck.config()
	ck.diags = append(ck.diags, ck.c.checkPermissions()...)
	ck.roleNames()
}

type checker struct {
	c        *Catalog
	diags    Diagnostics
	teamList []string
	// teamPropsOf caches teamProps.
	teamPropsOf map[*Blueprint][]string
}

func (ck *checker) errorf(pos Position, code, format string, args ...any) {
	ck.diags = append(ck.diags, Errorf(pos, code, format, args...))
}

// duplicates reports identifiers defined twice, naming both places.
// Entities' duplicates were found by Build; the other kinds are few.
func (ck *checker) duplicates() {
	for _, k := range slices.SortedFunc(maps.Keys(ck.c.same), compareKeys) {
		defs := ck.c.same[k]
		prev := defs[0].Doc
		for _, e := range defs[1:] {
			d := e.Doc
			scope := d.Blueprint
			if bp, ok := d.Value["blueprint"].(string); ok {
				scope = bp
			}
			ck.errorf(d.Pos("identifier"), CodeDuplicateID, "entity identifier %q of blueprint %q is defined twice (first at %s)",
				d.Identifier(), scope, prev.Pos("identifier"))
		}
	}
	type key struct {
		kind  Kind
		scope string
		id    string
	}
	first := map[key]*Document{}
	for _, f := range ck.c.others {
		for _, d := range f.Docs {
			if d.Invalid || d.Kind == KindConfig || d.Kind == KindEntity {
				continue
			}
			id := d.Identifier()
			if id == "" {
				continue
			}
			k := key{kind: d.Kind, id: id}
			switch d.Kind {
			case KindEntity:
				k.scope = d.Blueprint
				if bp, ok := d.Value["blueprint"].(string); ok {
					k.scope = bp
				}
			case KindScorecard:
				k.scope = scorecardBlueprint(d.Value)
			}
			if prev, dup := first[k]; dup {
				scope := ""
				if k.scope != "" {
					scope = fmt.Sprintf(" of blueprint %q", k.scope)
				}
				ck.errorf(d.Pos("identifier"), CodeDuplicateID, "%s identifier %q%s is defined twice (first at %s)",
					d.Kind, id, scope, prev.Pos("identifier"))
				continue
			}
			first[k] = d
		}
	}
}

// blueprints checks relation targets, mirror paths, calculations,
// aggregations and ownership paths.
func (ck *checker) blueprints() {
	for _, id := range sortedKeys(ck.c.Blueprints) {
		b := ck.c.Blueprints[id]
		if b.Doc == nil {
			continue
		}
		d := b.Doc
		for _, rel := range sortedKeys(b.Relations) {
			if t := b.Relations[rel].Target; ck.c.Blueprints[t] == nil {
				ck.errorf(d.Pos("relations", rel, "target"), CodeUnknownBP,
					"blueprint %q: relation %s targets unknown blueprint %q%s", id, rel, t, ck.suggestBlueprint(t))
			}
		}
		for _, name := range sortedKeys(b.MirrorProperties) {
			if msg := ck.resolvePath(b, b.MirrorProperties[name].Path); msg != "" {
				ck.errorf(d.Pos("mirrorProperties", name, "path"), CodeMirrorPath,
					"blueprint %q: mirror property %s: %s", id, name, msg)
			}
		}
		if o := b.Ownership; o != nil && o.Type == "Inherited" {
			if msg := ck.resolveRelations(b, strings.Split(o.Path, ".")); msg != "" {
				ck.errorf(d.Pos("ownership", "path"), CodeMirrorPath, "blueprint %q: ownership path: %s", id, msg)
			}
		}
		ck.calculations(b)
		for _, name := range sortedKeys(b.AggregationProperties) {
			a := b.AggregationProperties[name]
			tb := ck.c.Blueprints[a.Target]
			if tb == nil {
				ck.errorf(d.Pos("aggregationProperties", name, "target"), CodeUnknownBP,
					"blueprint %q: aggregation %s targets unknown blueprint %q", id, name, a.Target)
				continue
			}
			if p := a.CalculationSpec.Property; p != "" && !tb.HasProperty(p) {
				ck.errorf(d.Pos("aggregationProperties", name, "calculationSpec", "property"), CodeUnknownProperty,
					"blueprint %q: aggregation %s: blueprint %q has no property %q%s", id, name, a.Target, p, suggest(p, tb.PropertyNames()))
			}
			if a.Query != nil {
				ck.conditions(tb, d, fmt.Sprintf("blueprint %q: aggregation %s", id, name), a.Query, "aggregationProperties", name, "query")
			}
		}
	}
}

var (
	jqPropertyRE      = regexp.MustCompile(`\.properties\.([A-Za-z0-9@_=\-]+)`)
	formulaIdentRE    = regexp.MustCompile(`[A-Za-z_][A-Za-z0-9_]*`)
	formulaKeywordSet = map[string]bool{"and": true, "or": true, "not": true, "null": true, "true": true, "false": true}
)

// calculations reports calculations that read other calculations, and
// formulas that name unknown properties.
func (ck *checker) calculations(b *Blueprint) {
	d := b.Doc
	calc := map[string]bool{}
	for name := range b.CalculationProperties {
		calc[name] = true
	}
	for name, p := range b.Schema.Properties {
		if p.Calculation != nil {
			calc[name] = true
		}
	}
	for _, name := range sortedKeys(b.CalculationProperties) {
		for _, m := range jqPropertyRE.FindAllStringSubmatch(b.CalculationProperties[name].Calculation, -1) {
			if calc[m[1]] {
				ck.errorf(d.Pos("calculationProperties", name, "calculation"), CodeCalculation,
					"blueprint %q: calculation %s reads calculation %s; a calculation may not use another calculation", b.Identifier, name, m[1])
			}
		}
	}
	for _, name := range sortedKeys(b.Schema.Properties) {
		p := b.Schema.Properties[name]
		if p.Calculation == nil {
			continue
		}
		pos := d.Pos("schema", "properties", name, "calculation", "formula")
		for _, ident := range formulaIdentRE.FindAllString(p.Calculation.Formula, -1) {
			switch {
			case formulaKeywordSet[ident]:
			case calc[ident]:
				ck.errorf(pos, CodeCalculation, "blueprint %q: formula of %s reads calculated property %s; a calculation may not use another calculation", b.Identifier, name, ident)
			case !b.HasProperty(ident):
				ck.errorf(pos, CodeUnknownProperty, "blueprint %q: formula of %s names unknown property %q%s", b.Identifier, name, ident, suggest(ident, b.PropertyNames()))
			}
		}
	}
}

// resolvePath checks a mirror path: relations then a property.
func (ck *checker) resolvePath(b *Blueprint, p string) string {
	parts := strings.Split(p, ".")
	if len(parts) < 2 {
		return fmt.Sprintf("path %q needs at least a relation and a property", p)
	}
	if msg := ck.resolveRelations(b, parts[:len(parts)-1]); msg != "" {
		return msg
	}
	t := b
	for _, rel := range parts[:len(parts)-1] {
		t = ck.c.Blueprints[t.Relations[rel].Target]
	}
	last := parts[len(parts)-1]
	if strings.HasPrefix(last, "$") {
		if !slices.Contains(MetaProperties, last) {
			return fmt.Sprintf("unknown meta-property %q", last)
		}
		return ""
	}
	if !t.HasProperty(last) {
		return fmt.Sprintf("blueprint %q has no property %q%s", t.Identifier, last, suggest(last, t.PropertyNames()))
	}
	return ""
}

func (ck *checker) resolveRelations(b *Blueprint, rels []string) string {
	t := b
	for _, rel := range rels {
		r, ok := t.Relations[rel]
		if !ok {
			return fmt.Sprintf("blueprint %q has no relation %q%s", t.Identifier, rel, suggest(rel, sortedKeys(t.Relations)))
		}
		if t = ck.c.Blueprints[r.Target]; t == nil {
			return fmt.Sprintf("relation %q targets unknown blueprint %q", rel, r.Target)
		}
	}
	return ""
}

// entities checks every entity.
func (ck *checker) entities() {
	for _, e := range ck.c.Entities {
		ck.entity(e)
	}
}

// entity checks e's blueprint, relation targets and teams.
func (ck *checker) entity(e *Entity) {
	d := e.Doc
	b := ck.c.Blueprints[e.Blueprint]
	if b == nil {
		pos := d.Pos("blueprint")
		if _, ok := d.Value["blueprint"]; !ok {
			pos = d.Pos("identifier")
		}
		ck.errorf(pos, CodeUnknownBP, "entity %q: unknown blueprint %q%s", e.Identifier, e.Blueprint, ck.suggestBlueprint(e.Blueprint))
		return
	}
	if e.Blueprint == UserBlueprint && !IsEmail(e.Identifier) {
		ck.errorf(d.Pos("identifier"), CodeUserIdentifier, "user %q: a _user entity's identifier is the user's e-mail address", e.Identifier)
	}
	for rel, rv := range e.Relations { // findings are sorted later
		def, ok := b.Relations[rel]
		if !ok {
			continue // the entity schema reports unknown relations
		}
		for i, t := range rv.Targets {
			if ck.c.Entity(EntityKey{def.Target, t}) != nil {
				continue
			}
			pos := d.Pos("relations", rel)
			if rv.Many {
				pos = d.Pos("relations", rel, strconv.Itoa(i))
			}
			ck.errorf(pos, CodeDanglingRel, "entity %q: relation %s points to %q, which is not a %s entity", e.Identifier, rel, t, def.Target)
		}
	}
	teams := ck.c.teams
	if len(teams) == 0 {
		return
	}
	for i, t := range e.Team {
		if teams[t] == 0 {
			pos := d.Pos("team")
			if _, list := d.Value["team"].([]any); list {
				pos = d.Pos("team", strconv.Itoa(i))
			}
			ck.errorf(pos, CodeUnknownTeam, "entity %q: team %q is not a _team entity%s", e.Identifier, t, suggest(t, ck.teamIDs()))
		}
	}
	for _, name := range ck.teamProps(b) {
		if _, set := e.Properties[name]; !set {
			continue
		}
		vals := []any{e.Properties[name]}
		if l, ok := e.Properties[name].([]any); ok {
			vals = l
		}
		for _, v := range vals {
			if s, ok := v.(string); ok && teams[s] == 0 {
				ck.errorf(d.Pos("properties", name), CodeUnknownTeam, "entity %q: property %s names team %q, which is not a _team entity%s", e.Identifier, name, s, suggest(s, ck.teamIDs()))
			}
		}
	}
}

// teamIDs returns the identifiers of the _team entities, sorted.
func (ck *checker) teamIDs() []string {
	if ck.teamList == nil {
		ck.teamList = sortedKeys(ck.c.teams)
	}
	return ck.teamList
}

// teamProps returns b's properties of format team, sorted.
func (ck *checker) teamProps(b *Blueprint) []string {
	if ck.teamPropsOf == nil {
		ck.teamPropsOf = map[*Blueprint][]string{}
	}
	out, ok := ck.teamPropsOf[b]
	if !ok {
		for _, name := range sortedKeys(b.Schema.Properties) {
			if b.Schema.Properties[name].Format == "team" {
				out = append(out, name)
			}
		}
		ck.teamPropsOf[b] = out
	}
	return out
}

// scorecardBlueprint returns a scorecard's blueprint: its blueprint key, or
// the value of a `$blueprint =` rule in its filter.
func scorecardBlueprint(v map[string]any) string {
	if s, ok := v["blueprint"].(string); ok {
		return s
	}
	f, _ := v["filter"].(map[string]any)
	for _, key := range []string{"rules", "conditions"} {
		rules, _ := f[key].([]any)
		for _, r := range rules {
			m, _ := r.(map[string]any)
			if m["property"] == "$blueprint" && m["operator"] == "=" {
				if s, ok := m["value"].(string); ok {
					return s
				}
			}
		}
	}
	return ""
}

// ScorecardBlueprint returns the blueprint a scorecard scores.
func (s *Scorecard) ScorecardBlueprint() string {
	if s.Blueprint != "" {
		return s.Blueprint
	}
	return scorecardBlueprint(map[string]any{"filter": s.Filter})
}

// LevelTitles returns the scorecard's level titles, lowest first.
func (s *Scorecard) LevelTitles() []string {
	levels := s.Levels
	if len(levels) == 0 {
		levels = DefaultLevels
	}
	out := make([]string, len(levels))
	for i, l := range levels {
		out[i] = l.Title
	}
	return out
}

func (ck *checker) scorecards() {
	for _, s := range ck.c.Scorecards {
		d := s.Doc
		bpID := s.ScorecardBlueprint()
		if bpID == "" {
			ck.errorf(d.Pos("identifier"), CodeUnknownBP,
				"scorecard %q names no blueprint: add a blueprint key or a {property: $blueprint, operator: \"=\", value: ...} rule to its filter", s.Identifier)
			continue
		}
		b := ck.c.Blueprints[bpID]
		if b == nil {
			pos := d.Pos("blueprint")
			ck.errorf(pos, CodeUnknownBP, "scorecard %q: unknown blueprint %q%s", s.Identifier, bpID, ck.suggestBlueprint(bpID))
			continue
		}
		levels := s.LevelTitles()
		for i, r := range s.Rules {
			at := d.Pos("rules", strconv.Itoa(i), "level")
			switch idx := slices.Index(levels, r.Level); {
			case idx < 0:
				ck.errorf(at, CodeScorecardLevel, "scorecard %q: rule %s has level %q, which is not one of %s",
					s.Identifier, r.Identifier, r.Level, strings.Join(levels, ", "))
			case idx == 0:
				ck.errorf(at, CodeScorecardLevel, "scorecard %q: rule %s is at the base level %s, which every entity starts at; use %s or higher",
					s.Identifier, r.Identifier, r.Level, levels[min(1, len(levels)-1)])
			}
			if r.Query != nil {
				ck.conditions(b, d, fmt.Sprintf("scorecard %q: rule %s", s.Identifier, r.Identifier), r.Query, "rules", strconv.Itoa(i), "query")
			}
		}
		if s.Filter != nil {
			ck.conditions(b, d, fmt.Sprintf("scorecard %q: filter", s.Identifier), s.Filter, "filter")
		}
		ruleIDs := map[string]bool{}
		for _, r := range s.Rules {
			ruleIDs[r.Identifier] = true
		}
		for i, ex := range s.Exemptions {
			if !ruleIDs[ex.Rule] {
				ck.errorf(d.Pos("exemptions", strconv.Itoa(i), "rule"), CodeUnknownProperty,
					"scorecard %q: exemption names unknown rule %q", s.Identifier, ex.Rule)
			}
			if ck.c.Entity(EntityKey{bpID, ex.Entity}) == nil {
				ck.errorf(d.Pos("exemptions", strconv.Itoa(i), "entity"), CodeDanglingRel,
					"scorecard %q: exemption names %q, which is not a %s entity", s.Identifier, ex.Entity, bpID)
			}
		}
	}
}

// conditions checks that every property and relation a query names exists
// on blueprint b; path locates the query inside document d.
func (ck *checker) conditions(b *Blueprint, d *Document, label string, q map[string]any, path ...string) {
	for _, key := range []string{"rules", "conditions"} {
		rules, _ := q[key].([]any)
		for i, r := range rules {
			m, ok := r.(map[string]any)
			if !ok {
				continue
			}
			rp := append(slices.Clone(path), key, strconv.Itoa(i))
			if _, group := m["combinator"]; group {
				ck.conditions(b, d, label, m, rp...)
				continue
			}
			if p, ok := m["property"].(string); ok {
				if !b.HasProperty(p) && !slices.Contains(MetaProperties, p) {
					ck.errorf(d.Pos(append(rp, "property")...), CodeUnknownProperty,
						"%s: condition names property %q, which blueprint %q does not define%s", label, p, b.Identifier, suggest(p, b.PropertyNames()))
				}
			}
			if rel, ok := m["relation"].(string); ok {
				if _, ok := b.Relations[rel]; !ok {
					ck.errorf(d.Pos(append(rp, "relation")...), CodeUnknownProperty,
						"%s: condition names relation %q, which blueprint %q does not define%s", label, rel, b.Identifier, suggest(rel, sortedKeys(b.Relations)))
				}
			}
		}
	}
}

func (ck *checker) actions() {
	for _, a := range ck.c.Actions {
		if bp := a.Trigger.BlueprintIdentifier; bp != "" && ck.c.Blueprints[bp] == nil {
			ck.errorf(a.Doc.Pos("trigger", "blueprintIdentifier"), CodeUnknownBP, "action %q: unknown blueprint %q%s", a.Identifier, bp, ck.suggestBlueprint(bp))
		}
		if a.Trigger.UserInputs == nil {
			continue
		}
		for _, name := range sortedKeys(a.Trigger.UserInputs.Properties) {
			if bp := a.Trigger.UserInputs.Properties[name].Blueprint; bp != "" && ck.c.Blueprints[bp] == nil {
				ck.errorf(a.Doc.Pos("trigger", "userInputs", "properties", name, "blueprint"), CodeUnknownBP,
					"action %q: input %s: unknown blueprint %q", a.Identifier, name, bp)
			}
		}
	}
}

func (ck *checker) pages() {
	for _, p := range ck.c.Pages {
		d := p.Doc
		var pageBP *Blueprint
		if p.Blueprint != "" {
			if pageBP = ck.c.Blueprints[p.Blueprint]; pageBP == nil {
				ck.errorf(d.Pos("blueprint"), CodeUnknownBP, "page %q: unknown blueprint %q%s", p.Identifier, p.Blueprint, ck.suggestBlueprint(p.Blueprint))
			}
		}
		for i, f := range p.Filters {
			if pageBP != nil {
				ck.conditions(pageBP, d, fmt.Sprintf("page %q: filter", p.Identifier), map[string]any{"rules": []any{f}}, "filters", strconv.Itoa(i))
			}
		}
		for i, w := range p.Widgets {
			ds, ok := w["dataset"].(map[string]any)
			if !ok {
				continue
			}
			b := pageBP
			if id := scorecardBlueprint(map[string]any{"filter": ds}); id != "" {
				if b = ck.c.Blueprints[id]; b == nil {
					ck.errorf(d.Pos("widgets", strconv.Itoa(i), "dataset"), CodeUnknownBP, "page %q: widget %v: unknown blueprint %q", p.Identifier, w["id"], id)
				}
			}
			if b != nil {
				ck.conditions(b, d, fmt.Sprintf("page %q: widget %v", p.Identifier, w["id"]), ds, "widgets", strconv.Itoa(i), "dataset")
			}
		}
	}
}

func (ck *checker) config() {
	cfg := ck.c.Config
	if cfg == nil {
		return
	}
	byID := map[string]*Scorecard{}
	for _, s := range ck.c.Scorecards {
		byID[s.Identifier] = s
	}
	for i, g := range cfg.Gates {
		gp := strconv.Itoa(i)
		if g.Scorecard != "" {
			s := byID[g.Scorecard]
			if s == nil {
				ck.errorf(cfg.Doc.Pos("gates", gp, "scorecard"), CodeUnknownProperty, "gate %d: unknown scorecard %q%s", i, g.Scorecard, suggest(g.Scorecard, sortedKeys(byID)))
			} else if g.MinLevel != "" && !slices.Contains(s.LevelTitles(), g.MinLevel) {
				ck.errorf(cfg.Doc.Pos("gates", gp, "minLevel"), CodeScorecardLevel, "gate %d: scorecard %q has no level %q (levels: %s)", i, g.Scorecard, g.MinLevel, strings.Join(s.LevelTitles(), ", "))
			}
		}
		for j, id := range g.NoRegression {
			if byID[id] == nil {
				ck.errorf(cfg.Doc.Pos("gates", gp, "noRegression", strconv.Itoa(j)), CodeUnknownProperty, "gate %d: unknown scorecard %q%s", i, id, suggest(id, sortedKeys(byID)))
			}
		}
	}
}

// HasProperty reports whether name is a stored, mirror, calculation or
// aggregation property of b.
func (b *Blueprint) HasProperty(name string) bool {
	if _, ok := b.Schema.Properties[name]; ok {
		return true
	}
	if _, ok := b.MirrorProperties[name]; ok {
		return true
	}
	if _, ok := b.CalculationProperties[name]; ok {
		return true
	}
	_, ok := b.AggregationProperties[name]
	return ok
}

// PropertyNames returns every property name of b, sorted.
func (b *Blueprint) PropertyNames() []string {
	var out []string
	out = append(out, sortedKeys(b.Schema.Properties)...)
	out = append(out, sortedKeys(b.MirrorProperties)...)
	out = append(out, sortedKeys(b.CalculationProperties)...)
	out = append(out, sortedKeys(b.AggregationProperties)...)
	sort.Strings(out)
	return out
}

func (ck *checker) suggestBlueprint(id string) string {
	return suggest(id, sortedKeys(ck.c.Blueprints))
}

// suggest returns `; did you mean "x"?` for the closest candidate within a
// small edit distance, or "".
func suggest(s string, candidates []string) string {
	best, bestD := "", 3
	for _, c := range candidates {
		if d := editDistance(s, c); d < bestD && d < len(c) {
			best, bestD = c, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf("; did you mean %q?", best)
}

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 99
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Suggest returns `; did you mean "x"?` for the candidate closest to s
// within a small edit distance, or "" when none is close.
func Suggest(s string, candidates []string) string { return suggest(s, candidates) }
