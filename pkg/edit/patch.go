package edit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/berth-dev/berth/pkg/catalog"
	"gopkg.in/yaml.v3"
)

// The permission sets a patch may name, and the lists of each, in the
// order berth writes them.
var (
	setNames  = []string{"read", "update"}
	listNames = []string{"roles", "users", "teams"}
)

// Patch is a parsed body of Port's PATCH /v1/pages/{id}/permissions: for
// each permission set it names, the lists it replaces. A nil Lists leaves
// that set unchanged.
type Patch struct {
	Read   Lists
	Update Lists
}

// Lists maps "roles", "users" or "teams" to the list that replaces it; a
// list it does not name stays as it is.
type Lists map[string][]string

func (p Patch) set(name string) Lists {
	if name == "update" {
		return p.Update
	}
	return p.Read
}

// ParsePatch parses a permissions PATCH body such as
// {"read": {"roles": ["Admin"]}}. It fails with ErrBadPatch, naming the
// offending key, for anything else: not a JSON object, keys other than
// read and update, or roles, users and teams inside them, values that are
// not lists of non-empty strings, a list naming the same string twice, or
// a body that names no set at all.
func ParsePatch(body []byte) (Patch, error) {
	bad := func(format string, args ...any) (Patch, error) {
		return Patch{}, fmt.Errorf("%w: %s", ErrBadPatch, fmt.Sprintf(format, args...))
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return bad("not JSON: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return bad("not JSON: text after the object")
	}
	top, ok := v.(map[string]any)
	if !ok {
		return bad(`want an object such as {"read": {"roles": ["Admin"]}}, got %s`, describe(v))
	}
	var p Patch
	for _, k := range slices.Sorted(maps.Keys(top)) {
		if !slices.Contains(setNames, k) {
			if k == "locked" {
				return bad(`unknown key "locked": lock a page with berth pages lock or unlock`)
			}
			return bad("unknown key %q: want read or update", k)
		}
		sets, ok := top[k].(map[string]any)
		if !ok {
			return bad(`%s: want an object such as {"roles": ["Admin"]}, got %s`, k, describe(top[k]))
		}
		lists := Lists{}
		for _, l := range slices.Sorted(maps.Keys(sets)) {
			if !slices.Contains(listNames, l) {
				return bad("%s: unknown key %q: want roles, users or teams", k, l)
			}
			items, ok := sets[l].([]any)
			if !ok {
				return bad("%s.%s: want a list of strings, got %s", k, l, describe(sets[l]))
			}
			list := make([]string, 0, len(items))
			for i, it := range items {
				s, ok := it.(string)
				switch {
				case !ok:
					return bad("%s.%s[%d]: want a string, got %s", k, l, i, describe(it))
				case strings.TrimSpace(s) == "":
					return bad("%s.%s[%d]: empty", k, l, i)
				case slices.Contains(list, s):
					return bad("%s.%s names %q twice", k, l, s)
				}
				list = append(list, s)
			}
			lists[l] = list
		}
		if k == "read" {
			p.Read = lists
		} else {
			p.Update = lists
		}
	}
	if p.Read == nil && p.Update == nil {
		return bad(`names no permission set: want {"read": {...}} and/or {"update": {...}}`)
	}
	return p, nil
}

func describe(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	case string:
		return fmt.Sprintf("the string %q", v)
	case json.Number:
		return "the number " + v.String()
	}
	return fmt.Sprintf("%v", v)
}

// Effective returns a page's permission set "read" or "update" as berth
// enforces it: read is catalog's Page.ReadPermissions; update, when the
// page sets none, is Admins only (the seed: "users with permissions to
// update a page, usually users with the admin role"). The lists are never
// nil.
func Effective(p *catalog.Page, set string) catalog.PermissionSet {
	if set != "update" {
		return p.ReadPermissions()
	}
	if p.Permissions == nil || p.Permissions.Update == nil {
		return catalog.AdminsOnly()
	}
	return p.Permissions.Update.Lists()
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return slices.Clone(s)
}

// Apply returns ps with the lists named in l replaced, as Port's PATCH
// does; the others are unchanged.
func Apply(ps catalog.PermissionSet, l Lists) catalog.PermissionSet {
	out := ps.Lists()
	for k, v := range l {
		*list(&out, k) = nonNil(v)
	}
	return out
}

func list(ps *catalog.PermissionSet, name string) *[]string {
	switch name {
	case "users":
		return &ps.Users
	case "teams":
		return &ps.Teams
	}
	return &ps.Roles
}

// PatchPermissions applies patch to the permissions of page id in its file.
// Only the lists the patch names change; each replaces the old list. A
// set the page does not write yet starts from its effective value (for
// read, catalog.DefaultPageRead), so the file gets the full set. A patch
// that changes no effective permission changes nothing.
//
// It fails with ErrNotFound for an unknown page, ErrSystemPage for a
// system page, ErrLayout when the YAML cannot be edited in place, and an
// *InvalidError when the edited file would not validate; only a returned
// Edit is safe to write.
func (e *Editor) PatchPermissions(ctx context.Context, id string, patch Patch) (*Edit, error) {
	if catalog.IsSystemPage(id) {
		return nil, fmt.Errorf("%w: %q is one of berth's own pages: only Admins read it and its permissions cannot be changed", ErrSystemPage, id)
	}
	p, err := FindPage(e.cat, id)
	if err != nil {
		return nil, err
	}
	return e.edit(ctx, p, func(s *source) error {
		for _, name := range setNames {
			l := patch.set(name)
			if l == nil {
				continue
			}
			before := Effective(p, name)
			if equalSets(before, Apply(before, l)) {
				continue
			}
			if err := s.patchSet(name, l, before); err != nil {
				return err
			}
		}
		return nil
	})
}

// patchSet writes one permission set's patch into the page's node tree.
// before is the set's effective value: where the file lacks the set, it is
// written whole; where it has it, only the lists the patch changes are.
func (s *source) patchSet(name string, l Lists, before catalog.PermissionSet) error {
	full := Apply(before, l)
	perm, err := s.get("permissions")
	if err != nil {
		return err
	}
	if perm == nil {
		err := s.set(nil, "permissions", lastEntry, func(*yaml.Node) *yaml.Node {
			return mapping(name, setNode(full))
		})
		return err
	}
	set, err := s.get("permissions", name)
	if err != nil {
		return err
	}
	if set == nil {
		err := s.set([]string{"permissions"}, name, lastEntry, func(*yaml.Node) *yaml.Node { return setNode(full) })
		return err
	}
	if set.Kind != yaml.MappingNode {
		return fmt.Errorf("%w: %s:%d: page %q: permissions.%s is not an object", ErrLayout, s.path, set.Line, s.page, name)
	}
	for _, k := range listNames {
		items, named := l[k]
		if !named || slices.Equal(items, *list(&before, k)) && value(set, k) == nil {
			continue
		}
		if err := s.set([]string{"permissions", name}, k, lastEntry, func(old *yaml.Node) *yaml.Node {
			return listNode(old, items)
		}); err != nil {
			return err
		}
	}
	return nil
}

// SetLocked locks or unlocks page id, as Port's PATCH /v1/pages/{id} with
// {"locked": locked} does. A page already so changes nothing. Errors are
// those of PatchPermissions, less ErrSystemPage.
func (e *Editor) SetLocked(ctx context.Context, id string, locked bool) (*Edit, error) {
	p, err := FindPage(e.cat, id)
	if err != nil {
		return nil, err
	}
	return e.edit(ctx, p, func(s *source) error {
		if p.Locked == locked {
			return nil
		}
		err := s.set(nil, "locked", headerEnd, func(*yaml.Node) *yaml.Node {
			return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: fmt.Sprint(locked)}
		})
		return err
	})
}

func equalSets(a, b catalog.PermissionSet) bool {
	return slices.Equal(a.Roles, b.Roles) && slices.Equal(a.Users, b.Users) && slices.Equal(a.Teams, b.Teams)
}

// lastEntry places a new key after a mapping's last entry.
func lastEntry(m *yaml.Node) int { return len(m.Content)/2 - 1 }

// headerEnd places a new key after the page's leading scalar entries
// (identifier, title, icon...), before its filters, widgets and
// permissions.
func headerEnd(m *yaml.Node) int {
	j := -1
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i+1].Kind != yaml.ScalarNode {
			break
		}
		j = i / 2
	}
	if j < 0 && len(m.Content) >= 2 {
		return 0
	}
	return j
}

func mapping(key string, v *yaml.Node) *yaml.Node {
	return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: []*yaml.Node{strNode(key), v}}
}

func strNode(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }

// setNode is a whole permission set, its lists in flow style.
func setNode(ps catalog.PermissionSet) *yaml.Node {
	n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	for _, k := range listNames {
		n.Content = append(n.Content, strNode(k), listNode(nil, *list(&ps, k)))
	}
	return n
}

// listNode is the list of items replacing old. It keeps old's style and
// the nodes (with their comments and quoting) of items old already had;
// new items are quoted like old's first item. An empty list, or one with
// no old list, is in flow style.
func listNode(old *yaml.Node, items []string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Style: yaml.FlowStyle}
	var olds []*yaml.Node
	if old != nil && old.Kind == yaml.SequenceNode {
		n.Style = old.Style
		n.LineComment = old.LineComment
		olds = old.Content
	}
	if len(items) == 0 {
		n.Style = yaml.FlowStyle
	}
	var quote yaml.Style
	if len(olds) > 0 {
		quote = olds[0].Style & (yaml.DoubleQuotedStyle | yaml.SingleQuotedStyle)
	}
	used := make([]bool, len(olds))
	for _, it := range items {
		var c *yaml.Node
		for i, o := range olds {
			if !used[i] && o.Kind == yaml.ScalarNode && o.ShortTag() == "!!str" && o.Value == it {
				used[i] = true
				cp := *o
				if i == 0 {
					cp.HeadComment = "" // above the list: it stays where it is
				}
				cp.FootComment = ""
				c = &cp
				break
			}
		}
		if c == nil {
			c = strNode(it)
			c.Style = quote
		}
		n.Content = append(n.Content, c)
	}
	return n
}
