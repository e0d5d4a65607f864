package catalog

import (
	"reflect"
	"strings"
)

// applyPermissions gives each blueprint the permissions a roles/ document
// sets for it, unless the blueprint already has some (from its own file or
// an earlier document): checkPermissions reports that conflict.
func (c *Catalog) applyPermissions() {
	for _, p := range c.Permissions {
		b := c.Blueprints[p.Blueprint]
		if b == nil || b.Permissions != nil {
			continue
		}
		b.Permissions = &BlueprintPermissions{Entities: p.Entities}
		b.PermissionsDoc = p.Doc
	}
}

// checkPermissions reports permissions documents of roles/ that name a
// blueprint the catalog lacks, or a blueprint whose permissions are set
// somewhere else already.
func (c *Catalog) checkPermissions() Diagnostics {
	var diags Diagnostics
	for _, p := range c.Permissions {
		b := c.Blueprints[p.Blueprint]
		switch {
		case b == nil:
			diags = append(diags, Errorf(p.Doc.Pos("blueprint"), CodeUnknownBP,
				"permissions for blueprint %q, which does not exist", p.Blueprint))
		case b.PermissionsDoc != p.Doc:
			at := b.PermissionsDoc.Pos()
			diags = append(diags, Errorf(p.Doc.Pos("blueprint"), CodeDuplicatePermissions,
				"blueprint %q has its permissions set already at %s:%d; keep them in one place", p.Blueprint, at.File, at.Line))
		}
	}
	return append(diags, c.checkComputedReach()...)
}

// checkComputedReach warns about mirror and aggregation properties that
// read a blueprint whose entities are restricted by read permissions the
// reading blueprint does not share: computed properties are computed over
// the whole catalog, so whoever reads the reading entity sees the
// restricted one's value, or a count, sum or average that includes the
// entities hidden from them.
func (c *Catalog) checkComputedReach() Diagnostics {
	read := func(b *Blueprint) *ReadGrant {
		if b == nil || b.Permissions == nil || b.Permissions.Entities == nil {
			return nil
		}
		return b.Permissions.Entities.Read
	}
	stricter := func(b, t *Blueprint) bool {
		return t != nil && read(t) != nil && !reflect.DeepEqual(read(t), read(b))
	}
	var diags Diagnostics
	for _, id := range sortedKeys(c.Blueprints) {
		b := c.Blueprints[id]
		if b.Doc == nil {
			continue
		}
		for _, name := range sortedKeys(b.MirrorProperties) {
			t, parts := b, strings.Split(b.MirrorProperties[name].Path, ".")
			for _, rel := range parts[:len(parts)-1] {
				if t = c.Blueprints[t.Relations[rel].Target]; t == nil || stricter(b, t) {
					break
				}
			}
			if stricter(b, t) {
				diags = append(diags, Warningf(b.Doc.Pos("mirrorProperties", name, "path"), CodeComputedReach,
					"blueprint %q: mirror property %s reads blueprint %q, whose read permissions %q does not share: "+
						"whoever reads a %s sees it", id, name, t.Identifier, id, id))
			}
		}
		for _, name := range sortedKeys(b.AggregationProperties) {
			a := b.AggregationProperties[name]
			if t := c.Blueprints[a.Target]; stricter(b, t) {
				diags = append(diags, Warningf(b.Doc.Pos("aggregationProperties", name, "target"), CodeComputedReach,
					"blueprint %q: aggregation property %s (%s) counts entities of blueprint %q, whose read permissions %q does not share: "+
						"whoever reads a %s sees a result that includes the %s entities hidden from them",
					id, name, a.CalculationSpec.Func, t.Identifier, id, id, t.Identifier))
			}
		}
	}
	return diags
}
