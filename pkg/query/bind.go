package query

import (
	"slices"

	"github.com/berth-dev/berth/pkg/catalog"
)

// Context is who runs a query: what {context: user|userTeams}, "My Teams"
// and "{{ user.x }}" stand for.
type Context struct {
	// User is the user's _user entity; nil for an anonymous caller, whose
	// context values are empty.
	User *catalog.Entity
	// UserTeams are the identifiers of the user's teams.
	UserTeams []string
	// Teams are the user's _team entities, needed only when a rule reads a
	// userTeams property other than $identifier.
	Teams []*catalog.Entity
}

// Bind returns the query with every context value resolved against c; a
// query without context values is returned as is. A resolved value is a
// list (a user's teams, an array property) or one value, and nothing when
// the user lacks it. Binding "=" to a list means "in", "!=" "notIn"; a
// "My Teams" item of a $team in/notIn/containsAny rule becomes the user's
// teams. Bind never fails today; the error is for future context kinds.
func (q *Query) Bind(c Context) (*Query, error) {
	if q.unbound == 0 {
		return q, nil
	}
	return &Query{Root: bindGroup(q.Root, c)}, nil
}

func bindGroup(g *Group, c Context) *Group {
	out := &Group{Combinator: g.Combinator, Not: g.Not, Items: make([]Node, len(g.Items))}
	for i, it := range g.Items {
		switch n := it.(type) {
		case *Group:
			out.Items[i] = bindGroup(n, c)
		case *Rule:
			out.Items[i] = bindRule(n, c)
		}
	}
	return out
}

func bindRule(r *Rule, c Context) *Rule {
	if !r.Unbound() {
		return r
	}
	b := *r
	b.value, b.subject, b.myTeams = nil, nil, false
	if r.subject != nil {
		b.Subject = c.resolve(r.subject)
	}
	if r.value != nil {
		b.Values = c.resolve(r.value)
		if len(b.Values) != 1 {
			switch b.Operator {
			case OpEq:
				b.Operator = OpIn
			case OpNeq:
				b.Operator = OpNotIn
			}
		}
	}
	if r.myTeams {
		b.Values = nil
		for _, v := range r.Values {
			if v == "My Teams" {
				for _, t := range c.UserTeams {
					b.Values = append(b.Values, t)
				}
				continue
			}
			b.Values = append(b.Values, v)
		}
	}
	return &b
}

func (c Context) resolve(ref *contextRef) []any {
	if ref.Context == "userTeams" {
		if ref.Property == "" || ref.Property == MetaIdentifier {
			return anys(c.UserTeams)
		}
		var out []any
		for _, t := range c.Teams {
			if t != nil && slices.Contains(c.UserTeams, t.Identifier) {
				out = append(out, entityValues(t, ref.Property)...)
			}
		}
		return out
	}
	switch ref.Property {
	case "team", MetaTeam:
		return anys(c.UserTeams)
	case "", MetaIdentifier, "identifier":
		if c.User == nil {
			return nil
		}
		return []any{c.User.Identifier}
	case "email":
		if c.User != nil {
			if _, ok := c.User.Properties["email"]; !ok {
				return []any{c.User.Identifier} // a _user's identifier is its e-mail
			}
		}
	}
	if c.User == nil {
		return nil
	}
	return entityValues(c.User, ref.Property)
}

// entityValues returns an entity's property or meta-property as a list of
// scalar values.
func entityValues(e *catalog.Entity, prop string) []any {
	switch prop {
	case MetaIdentifier:
		return []any{e.Identifier}
	case MetaTitle, "title":
		if e.Title == "" {
			return nil
		}
		return []any{e.Title}
	case MetaTeam:
		return anys(e.Team)
	case MetaBlueprint:
		return []any{e.Blueprint}
	}
	v := e.Properties[prop]
	items, isList := v.([]any)
	if !isList {
		items = []any{v}
	}
	var out []any
	for _, it := range items {
		if n, ok := normalize(it); ok {
			out = append(out, n)
		}
	}
	return out
}

func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
