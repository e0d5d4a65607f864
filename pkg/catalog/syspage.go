package catalog

// CodeSystemPagePermissions marks a page file that sets permissions on one
// of berth's system pages, whose permissions are fixed (Admins only).
const CodeSystemPagePermissions = "system-page-permissions"

// systemPages reports system pages whose file sets permissions: berth's own
// pages are read by Admins only, and no catalog file may say otherwise.
// The key's presence is the fault, whatever it holds, so that a file cannot
// appear to grant access it does not.
func (ck *checker) systemPages() {
	for _, p := range ck.c.Pages {
		if !IsSystemPage(p.Identifier) {
			continue
		}
		if _, set := p.Doc.Value["permissions"]; set {
			ck.errorf(p.Doc.KeyPos("permissions"), CodeSystemPagePermissions,
				"page %q is a system page: only Admins read it and its permissions cannot be changed; remove permissions", p.Identifier)
		}
	}
}
