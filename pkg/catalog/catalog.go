package catalog

import (
	"bytes"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
)

// Built-in blueprint identifiers. They exist in every catalog; a catalog may
// extend them with a blueprint file of the same identifier.
const (
	UserBlueprint = "_user"
	TeamBlueprint = "_team"
)

// EmailPattern is the regular expression (RE2, also valid CUE) an e-mail
// address must match: a _user identifier and a property of format email,
// idn-email or user. It is deliberately loose: one @, a dot in the domain,
// no spaces.
const EmailPattern = `^[^@\s]+@[^@\s]+\.[^@\s]+$`

var emailRE = regexp.MustCompile(EmailPattern)

// IsEmail reports whether s matches EmailPattern.
func IsEmail(s string) bool { return emailRE.MatchString(s) }

// Catalog is a parsed catalog tree and, after Build, its typed objects.
type Catalog struct {
	// Files holds every file read, sorted by path.
	Files []*File
	// Diags are problems not tied to one file's content (unknown folders,
	// unreadable paths).
	Diags Diagnostics

	Config     *Config
	Blueprints map[string]*Blueprint
	Entities   []*Entity
	Scorecards []*Scorecard
	Actions    []*Action
	Pages      []*Page
	Roles      []*Role
	// Permissions are the blueprint permissions documents of roles/; Build
	// gives each blueprint its own (Blueprint.Permissions).
	Permissions []*PermissionsDoc

	// entities maps each key to its first entity in file order.
	entities *layered[EntityKey, *Entity]
	// same holds, for each key defined more than once (an error Check
	// reports), every entity with that key in file order.
	same map[EntityKey][]*Entity
	// teams counts the _team entities of each identifier.
	teams map[string]int
	// others are the files that hold no entities, sorted by path.
	others []*File
	// refs is the reverse relation index, built on first use.
	refs *refIndex
	// delta is how the catalog differs from the one it was updated from.
	delta *delta
}

// New returns a catalog of the given files, which it sorts by path.
func New(files []*File) *Catalog {
	slices.SortFunc(files, func(a, b *File) int { return strings.Compare(a.Path, b.Path) })
	return &Catalog{Files: files}
}

// Docs returns every document of the given kind, in file order.
func (c *Catalog) Docs(kind Kind) []*Document {
	files := c.Files
	if kind != KindEntity && c.entities != nil {
		files = c.others
	}
	var out []*Document
	for _, f := range files {
		if f.Kind == kind {
			out = append(out, f.Docs...)
		}
	}
	return out
}

// Policies returns the policy (.cue) files.
func (c *Catalog) Policies() []*File {
	files := c.Files
	if c.entities != nil {
		files = c.others
	}
	var out []*File
	for _, f := range files {
		if f.Kind == KindPolicy && f.Source != nil {
			out = append(out, f)
		}
	}
	return out
}

// Diagnostics returns the problems found loading the catalog: every file's
// and the catalog's own.
func (c *Catalog) Diagnostics() Diagnostics {
	out := slices.Clone(c.Diags)
	for _, f := range c.Files {
		out = append(out, f.Diags...)
	}
	return out
}

// Entity returns the entity with the given key, or nil. It is valid after
// Build.
func (c *Catalog) Entity(k EntityKey) *Entity {
	if c.entities == nil {
		return nil
	}
	return c.entities.get(k)
}

// Build decodes every document not marked Invalid into typed objects,
// replacing any built before. Documents whose shape does not fit the typed
// model (possible only when no schema layer ran first) are reported with
// CodeDecode and skipped.
func (c *Catalog) Build() Diagnostics {
	var diags Diagnostics
	c.others = nil
	for _, f := range c.Files {
		if holdsObjects(f) {
			c.others = append(c.others, f)
		}
	}
	c.buildObjects(func(*File) bool { return true }, &diags)

	c.Entities = nil
	byKey := make(map[EntityKey]*Entity, len(c.Files))
	c.same, c.teams, c.refs, c.delta = map[EntityKey][]*Entity{}, map[string]int{}, &refIndex{}, nil
	for _, f := range c.Files {
		for _, e := range fileEntities(f, &diags) {
			c.Entities = append(c.Entities, e)
			if e.Blueprint == TeamBlueprint {
				c.teams[e.Identifier]++
			}
			first, dup := byKey[e.Key()]
			if !dup {
				byKey[e.Key()] = e
				continue
			}
			if c.same[e.Key()] == nil {
				c.same[e.Key()] = []*Entity{first}
			}
			c.same[e.Key()] = append(c.same[e.Key()], e)
		}
	}
	c.entities = newLayered(byKey, func(e *Entity) bool { return e == nil })
	return diags
}

// buildObjects decodes the documents of every file but entities, replacing
// the objects built before; decoding problems of the files accepted by
// report are added to diags.
func (c *Catalog) buildObjects(report func(*File) bool, diags *Diagnostics) {
	c.Config = nil
	c.Blueprints = builtinBlueprints()
	c.Scorecards, c.Actions, c.Pages, c.Roles, c.Permissions = nil, nil, nil, nil, nil
	for _, f := range c.others {
		sink := diags
		if !report(f) {
			sink = new(Diagnostics)
		}
		for _, d := range f.Docs {
			if !d.Invalid {
				c.addObject(d, sink)
			}
		}
	}
	c.applyPermissions()
}

// addObject decodes one document that is not an entity.
func (c *Catalog) addObject(d *Document, diags *Diagnostics) {
	switch d.Kind {
	case KindConfig:
		var cfg Config
		if decode(d, &cfg, diags) {
			cfg.Doc = d
			c.Config = &cfg
		}
	case KindBlueprint:
		var b Blueprint
		if decode(d, &b, diags) {
			b.Doc = d
			c.addBlueprint(&b)
		}
	case KindScorecard:
		var s Scorecard
		if decode(d, &s, diags) {
			s.Doc = d
			c.Scorecards = append(c.Scorecards, &s)
		}
	case KindAction:
		var a Action
		if decode(d, &a, diags) {
			a.Doc = d
			c.Actions = append(c.Actions, &a)
		}
	case KindPage:
		var p Page
		if decode(d, &p, diags) {
			p.Doc = d
			if p.Type == "" {
				p.Type = "dashboard"
			}
			c.Pages = append(c.Pages, &p)
		}
	case KindRole:
		if _, perms := d.Value["blueprint"]; perms {
			var p PermissionsDoc
			if decode(d, &p, diags) {
				p.Doc = d
				c.Permissions = append(c.Permissions, &p)
			}
			return
		}
		var r Role
		if decode(d, &r, diags) {
			r.Doc = d
			c.Roles = append(c.Roles, &r)
		}
	}
}

// holdsObjects reports whether f holds documents other than entities (or
// is a policy). Load never mixes kinds in a file, but a catalog made by hand
// may.
func holdsObjects(f *File) bool {
	return f.Kind != KindEntity || slices.ContainsFunc(f.Docs, func(d *Document) bool { return d.Kind != KindEntity })
}

// fileEntities decodes the valid entity documents of f, once: a document's
// entity is cached, so catalogs built from the same documents share it.
func fileEntities(f *File, diags *Diagnostics) []*Entity {
	var out []*Entity
	for _, d := range f.Docs {
		if d.Invalid || d.Kind != KindEntity {
			continue
		}
		if d.entity == nil {
			e, ok := decodeEntity(d, diags)
			if !ok {
				continue
			}
			d.entity = e
		}
		out = append(out, d.entity)
	}
	return out
}

// addBlueprint adds b, extending a built-in of the same identifier rather
// than replacing it: a built-in's properties stay unless b redefines them.
func (c *Catalog) addBlueprint(b *Blueprint) {
	if base, ok := c.Blueprints[b.Identifier]; ok && base.Doc == nil {
		if b.Schema.Properties == nil {
			b.Schema.Properties = map[string]Property{}
		}
		for k, p := range base.Schema.Properties {
			if _, set := b.Schema.Properties[k]; !set {
				b.Schema.Properties[k] = p
			}
		}
	}
	if _, dup := c.Blueprints[b.Identifier]; dup && c.Blueprints[b.Identifier].Doc != nil {
		return // the duplicate is reported by Check; the first one wins
	}
	if b.Permissions != nil {
		b.PermissionsDoc = b.Doc
	}
	c.Blueprints[b.Identifier] = b
}

// decode converts d's value into a typed object through JSON, which keeps
// the typed model's tags the single description of Port's shapes.
func decode(d *Document, into any, diags *Diagnostics) bool {
	b, err := json.Marshal(d.Value)
	if err == nil {
		dec := json.NewDecoder(bytes.NewReader(b))
		err = dec.Decode(into)
	}
	if err != nil {
		var te *json.UnmarshalTypeError
		pos := d.Pos()
		if asTypeError(err, &te) && te.Field != "" {
			pos = d.Pos(strings.Split(te.Field, ".")...)
		}
		*diags = append(*diags, Errorf(pos, CodeDecode, "%s %q: %v", d.Kind, d.Identifier(), err))
		return false
	}
	return true
}

func asTypeError(err error, te **json.UnmarshalTypeError) bool {
	t, ok := err.(*json.UnmarshalTypeError)
	if ok {
		*te = t
	}
	return ok
}

// decodeEntity builds an Entity by hand: entities are the bulk of a catalog
// and the JSON round trip would double their cost.
func decodeEntity(d *Document, diags *Diagnostics) (*Entity, bool) {
	v := d.Value
	e := &Entity{Doc: d, Blueprint: d.Blueprint}
	bad := func(key, want string) (*Entity, bool) {
		*diags = append(*diags, Errorf(d.Pos(key), CodeDecode, "entity %q: %s must be %s", d.Identifier(), key, want))
		return nil, false
	}
	var ok bool
	if e.Identifier, ok = v["identifier"].(string); !ok {
		return bad("identifier", "a string")
	}
	for key, dst := range map[string]*string{"title": &e.Title, "icon": &e.Icon} {
		if x, present := v[key]; present && x != nil {
			if *dst, ok = x.(string); !ok {
				return bad(key, "a string")
			}
		}
	}
	if x, present := v["blueprint"]; present {
		s, ok := x.(string)
		if !ok {
			return bad("blueprint", "a string")
		}
		if e.Blueprint != "" && s != e.Blueprint {
			*diags = append(*diags, Errorf(d.Pos("blueprint"), CodeBlueprintClash,
				"entity %q says blueprint %q but lives in entities/%s/", e.Identifier, s, e.Blueprint))
			return nil, false
		}
		e.Blueprint = s
	}
	if e.Blueprint == "" {
		*diags = append(*diags, Errorf(d.Pos(), CodeUnknownBP,
			"entity %q names no blueprint: add a blueprint key or move it to entities/<blueprint>/", e.Identifier))
		return nil, false
	}
	switch t := v["team"].(type) {
	case nil:
	case string:
		e.Team = []string{t}
	case []any:
		for _, x := range t {
			s, ok := x.(string)
			if !ok {
				return bad("team", "a string or a list of strings")
			}
			e.Team = append(e.Team, s)
		}
	default:
		return bad("team", "a string or a list of strings")
	}
	switch p := v["properties"].(type) {
	case nil:
		e.Properties = map[string]any{}
	case map[string]any:
		e.Properties = p
	default:
		return bad("properties", "an object")
	}
	switch r := v["relations"].(type) {
	case nil:
	case map[string]any:
		e.Relations = make(map[string]RelationValue, len(r))
		for k, x := range r {
			rv, ok := relationValue(x)
			if !ok {
				*diags = append(*diags, Errorf(d.Pos("relations", k), CodeDecode,
					"entity %q: relation %s must be an identifier, a list of identifiers or null", e.Identifier, k))
				return nil, false
			}
			e.Relations[k] = rv
		}
	default:
		return bad("relations", "an object")
	}
	return e, true
}

func decodeConfig(f *File) (*Config, bool) {
	if len(f.Docs) == 0 {
		return nil, false
	}
	var cfg Config
	var diags Diagnostics
	if !decode(f.Docs[0], &cfg, &diags) {
		return nil, false
	}
	return &cfg, true
}

func builtinBlueprints() map[string]*Blueprint {
	str := func(title string) Property { return Property{Title: title, Type: "string"} }
	return map[string]*Blueprint{
		UserBlueprint: {
			Identifier: UserBlueprint, Title: "User", Icon: "User",
			Schema: BlueprintSchema{Properties: map[string]Property{
				"port_role": {Title: "Role", Type: "string", Enum: []any{"Admin", "Member"}},
				"roles":     {Title: "Roles", Type: "array", Items: &Property{Type: "string"}},
				"github":    str("GitHub login"),
				"status":    {Title: "Status", Type: "string", Enum: []any{"Active", "Invited", "Disabled"}},
			}},
		},
		TeamBlueprint: {
			Identifier: TeamBlueprint, Title: "Team", Icon: "Team",
			Schema: BlueprintSchema{Properties: map[string]Property{
				"description": str("Description"),
			}},
		},
	}
}
