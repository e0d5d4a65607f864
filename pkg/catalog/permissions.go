package catalog

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
	return diags
}
