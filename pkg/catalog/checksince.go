package catalog

import (
	"maps"
	"slices"
)

// CheckSince returns what Check returns, at the cost of what changed: c
// must have been made by Update(prev, ...) and prevFindings must be what
// prev.Check() returned. The checks of single entities run again only for
// the entities whose findings the update can have changed: those of the
// files it touched, those whose relations or team name an entity it added
// or removed, those of blueprints it changed, and, when the set of teams
// changed, those naming a team of that change or found naming an unknown
// team before; the other entities' findings are carried over from
// prevFindings. The checks of blueprints, scorecards, actions, pages,
// berth.yaml, permissions, role names and duplicate identifiers always
// run: they are few. For any
// other catalog CheckSince is Check.
func (c *Catalog) CheckSince(prev *Catalog, prevFindings Diagnostics) Diagnostics {
	if !c.updatedFrom(prev) {
		return c.Check()
	}
	d := c.delta
	ck := &checker{c: c}
	ck.duplicates()
	ck.blueprints()
	if dirty, all := c.dirty(ck, prev, prevFindings); all {
		ck.entities()
	} else {
		for _, f := range prevFindings {
			if entityFinding(f) && !d.touched[f.File] && !dirty[f.File] {
				ck.diags = append(ck.diags, f)
			}
		}
		for _, p := range slices.Sorted(maps.Keys(dirty)) {
			for _, e := range c.EntitiesOf(p) {
				ck.entity(e)
			}
		}
	}
	ck.objects()
	return ck.diags
}

// entityFinding reports whether f is a finding of checker.entity.
func entityFinding(f Diagnostic) bool {
	switch f.Code {
	case CodeUnknownBP, CodeDanglingRel, CodeUnknownTeam, CodeUserIdentifier:
		k, _, _ := KindOf(f.File)
		return k == KindEntity
	}
	return false
}

// dirty returns the files whose entities CheckSince checks again, or all
// when every entity must be.
func (c *Catalog) dirty(ck *checker, prev *Catalog, prevFindings Diagnostics) (files map[string]bool, all bool) {
	d := c.delta
	files = map[string]bool{}
	for _, e := range d.added {
		files[e.Doc.File] = true
	}

	// Entities naming an entity that came or went.
	teams := map[string]bool{}
	for _, k := range d.keys {
		if (prev.Entity(k) == nil) == (c.Entity(k) == nil) {
			continue
		}
		if k.Blueprint == TeamBlueprint {
			teams[k.Identifier] = true
		}
		for _, r := range c.Referrers(k.Identifier) {
			if r.Rel == TeamRef {
				if k.Blueprint == TeamBlueprint {
					files[r.From.Doc.File] = true
				}
			} else if b := c.Blueprints[r.From.Blueprint]; b != nil && b.Relations[r.Rel].Target == k.Blueprint {
				files[r.From.Doc.File] = true
			}
		}
	}

	// A new set of teams: the suggestions of unknown teams may change, and
	// team properties are not in the reference index.
	var teamBPs map[string][]string
	if len(teams) > 0 {
		if (len(prev.teams) == 0) != (len(c.teams) == 0) {
			return nil, true
		}
		for _, f := range prevFindings {
			if f.Code == CodeUnknownTeam && entityFinding(f) {
				files[f.File] = true
			}
		}
		for id, b := range c.Blueprints {
			if props := ck.teamProps(b); len(props) > 0 {
				if teamBPs == nil {
					teamBPs = map[string][]string{}
				}
				teamBPs[id] = props
			}
		}
	}

	// Changed blueprints: all their entities; a new set of blueprints: the
	// suggestions for unknown ones.
	changed := map[string]bool{}
	renamed := false
	if d.objects {
		for id, b := range c.Blueprints {
			pb := prev.Blueprints[id]
			if pb == nil || pb.Doc != b.Doc {
				changed[id] = true
				renamed = renamed || pb == nil
			}
		}
		for id := range prev.Blueprints {
			if c.Blueprints[id] == nil {
				changed[id] = true
				renamed = true
			}
		}
	}

	if len(changed) > 0 || teamBPs != nil {
		for _, e := range c.Entities {
			if changed[e.Blueprint] || renamed && c.Blueprints[e.Blueprint] == nil || namesTeam(e, teamBPs[e.Blueprint], teams) {
				files[e.Doc.File] = true
			}
		}
	}
	return files, false
}

// namesTeam reports whether one of e's properties props holds one of teams.
func namesTeam(e *Entity, props []string, teams map[string]bool) bool {
	for _, name := range props {
		switch v := e.Properties[name].(type) {
		case string:
			if teams[v] {
				return true
			}
		case []any:
			for _, x := range v {
				if s, ok := x.(string); ok && teams[s] {
					return true
				}
			}
		}
	}
	return false
}
