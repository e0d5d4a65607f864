package query

import (
	"errors"
	"strings"
)

// Errors returned by Parse, Bind, Eval and Compile. Parse errors are
// *Error values that wrap one of these and name the path to the bad rule.
var (
	// ErrSyntax: a key is missing, unknown, or of the wrong JSON type.
	ErrSyntax = errors.New("invalid query")
	// ErrUnknownOperator: a rule's operator is not one of Port's.
	ErrUnknownOperator = errors.New("unknown operator")
	// ErrBadValue: a rule's value does not fit its operator.
	ErrBadValue = errors.New("invalid value")
	// ErrTooComplex: the query exceeds the parser's Limits.
	ErrTooComplex = errors.New("query too complex")
	// ErrUnbound: the query uses context values ({context: user}, "My
	// Teams", "{{ user.team }}") and was evaluated or compiled before Bind.
	ErrUnbound = errors.New("query has unbound context values")
	// ErrNoCatalog: an in-memory evaluation needs the catalog (relations,
	// related entities) and the Env has none.
	ErrNoCatalog = errors.New("evaluation needs a catalog")
	// ErrNoScorecards: a scorecard rule was evaluated and the Env cannot
	// look scorecard results up.
	ErrNoScorecards = errors.New("evaluation needs scorecard results")
)

// Error is a problem in one place of a query. Path names the place the way
// the query was written: "rules[2].operator", "conditions[0].value.from".
type Error struct {
	Path string
	Err  error
}

// Error returns "path: message".
func (e *Error) Error() string {
	if e.Path == "" {
		return e.Err.Error()
	}
	return e.Path + ": " + e.Err.Error()
}

// Unwrap returns the underlying error, one of the package's sentinels.
func (e *Error) Unwrap() error { return e.Err }

// Combinator joins the items of a group.
type Combinator string

// The two combinators.
const (
	And Combinator = "and"
	Or  Combinator = "or"
)

// Operator is a rule operator, spelled as in Port.
type Operator string

// Port's operators. See the package documentation for their semantics.
const (
	OpEq                Operator = "="
	OpNeq               Operator = "!="
	OpIn                Operator = "in"
	OpNotIn             Operator = "notIn"
	OpContains          Operator = "contains"
	OpDoesNotContains   Operator = "doesNotContains"
	OpContainsAny       Operator = "containsAny"
	OpBeginsWith        Operator = "beginsWith"
	OpDoesNotBeginsWith Operator = "doesNotBeginsWith"
	OpEndsWith          Operator = "endsWith"
	OpDoesNotEndsWith   Operator = "doesNotEndsWith"
	OpGt                Operator = ">"
	OpGte               Operator = ">="
	OpLt                Operator = "<"
	OpLte               Operator = "<="
	OpBetween           Operator = "between"
	OpNotBetween        Operator = "notBetween"
	OpIsEmpty           Operator = "isEmpty"
	OpIsNotEmpty        Operator = "isNotEmpty"
	OpIsExpired         Operator = "isExpired"
	OpIsNotExpired      Operator = "isNotExpired"
	OpRelatedTo         Operator = "relatedTo"
	OpMatchAny          Operator = "matchAny"
)

// Operators lists every operator in the order of Port's reference table.
var Operators = []Operator{
	OpEq, OpNeq, OpIn, OpNotIn, OpContains, OpDoesNotContains, OpContainsAny,
	OpBeginsWith, OpDoesNotBeginsWith, OpEndsWith, OpDoesNotEndsWith,
	OpGt, OpGte, OpLt, OpLte, OpBetween, OpNotBetween,
	OpIsEmpty, OpIsNotEmpty, OpIsExpired, OpIsNotExpired, OpRelatedTo, OpMatchAny,
}

// negated maps each negative operator to the positive one it negates: a
// negative operator is true exactly when its positive form is false, so it
// matches entities where the property is absent.
var negated = map[Operator]Operator{
	OpNeq:               OpEq,
	OpNotIn:             OpIn,
	OpDoesNotContains:   OpContains,
	OpDoesNotBeginsWith: OpBeginsWith,
	OpDoesNotEndsWith:   OpEndsWith,
	OpNotBetween:        OpBetween,
	OpIsNotEmpty:        OpIsEmpty,
}

func operatorList() string {
	s := make([]string, len(Operators))
	for i, o := range Operators {
		s[i] = string(o)
	}
	return strings.Join(s, ", ")
}

// Meta-properties: entity fields that rules address with a leading $.
const (
	MetaIdentifier = "$identifier"
	MetaTitle      = "$title"
	MetaTeam       = "$team"
	MetaIcon       = "$icon"
	MetaBlueprint  = "$blueprint"
	MetaCreatedAt  = "$createdAt"
	MetaUpdatedAt  = "$updatedAt"
	MetaCreatedBy  = "$createdBy"
	MetaUpdatedBy  = "$updatedBy"
)

var metaProperties = []string{
	MetaIdentifier, MetaTitle, MetaTeam, MetaIcon, MetaBlueprint,
	MetaCreatedAt, MetaUpdatedAt, MetaCreatedBy, MetaUpdatedBy,
}

// Direction restricts relatedTo to one side of the dependency graph.
type Direction string

// relatedTo directions. Upstream: entities the given entity points to (its
// dependencies); downstream: entities that point to it (its dependents).
// DirectionAny (the default) is both.
const (
	DirectionAny        Direction = ""
	DirectionUpstream   Direction = "upstream"
	DirectionDownstream Direction = "downstream"
)

// Query is a parsed search query or scorecard condition. It is immutable:
// Bind returns a new Query, so one parsed query may serve many requests.
type Query struct {
	// Root is the top-level group.
	Root *Group
	// unbound counts context values left for Bind.
	unbound int
}

// Unbound reports whether the query has context values that Bind must
// resolve before Eval or Compile.
func (q *Query) Unbound() bool { return q.unbound > 0 }

// Node is a Group or a Rule.
type Node interface{ node() }

// Group combines rules and nested groups with and/or.
type Group struct {
	Combinator Combinator
	Items      []Node
	// Not negates the group (scorecard conditions' "not: true").
	Not bool
}

// Kind says what a rule reads.
type Kind int

// Rule kinds.
const (
	// KindProperty reads a property or meta-property of the entity.
	KindProperty Kind = iota
	// KindRelation reads the identifiers or titles of the entities a
	// relation points to.
	KindRelation
	// KindScorecard reads a scorecard level, or a scorecard rule's status.
	KindScorecard
	// KindRelatedTo is the relatedTo operator.
	KindRelatedTo
	// KindPath is matchAny over a relation path.
	KindPath
	// KindConstant compares a bound context value ({context: user} as the
	// rule's property): it is true or false for every entity alike.
	KindConstant
)

// Rule is one condition.
type Rule struct {
	Kind     Kind
	Operator Operator
	// Not negates the rule (scorecard conditions' "not: true").
	Not bool

	// Property is the property key or meta-property (KindProperty).
	Property string
	// Relation and TargetProperty ($identifier or $title) for KindRelation.
	Relation       string
	TargetProperty string
	// Scorecard and ScorecardRule for KindScorecard; ScorecardRule empty
	// reads the level title, else the rule's status (SUCCESS | FAILURE).
	Scorecard     string
	ScorecardRule string
	// Blueprint, Direction and Required for KindRelatedTo.
	Blueprint string
	Direction Direction
	Required  *bool
	// Path for KindPath.
	Path *RelationPath
	// Subject holds the bound values a KindConstant rule compares.
	Subject []any

	// Values are the rule's values, normalized: strings, float64 numbers,
	// booleans. A single value is a one-element list.
	Values []any
	// Range is the bound of between and notBetween.
	Range *Range

	// refs are context values still to bind: value or subject.
	value, subject *contextRef
	// myTeams marks a $team rule whose values include "My Teams".
	myTeams bool
	// path is where the rule was written, for errors after parsing.
	path string
}

// Unbound reports whether the rule has context values ({context: user},
// "{{ user.x }}", "My Teams") that Bind must resolve before Eval or
// Compile.
func (r *Rule) Unbound() bool { return r.value != nil || r.subject != nil || r.myTeams }

func (*Group) node() {}
func (*Rule) node()  {}

// RelationPath is matchAny's path: relations followed in order from the
// entity (or from FromBlueprint's entities when set).
type RelationPath struct {
	Steps         []PathStep
	FromBlueprint string
}

// PathStep follows Relation exactly once, or when MaxHops > 0, between 1
// and MaxHops times.
type PathStep struct {
	Relation string
	MaxHops  int
}

// Range is a between bound. From and To are inclusive. Numeric ranges set
// Numeric and compare numbers; other ranges compare instants (epoch seconds
// at millisecond precision). A preset is resolved against the evaluation
// or compile time.
type Range struct {
	Preset   string
	From, To float64
	Numeric  bool
}

// contextRef is an unbound {context: user|userTeams, property} value or a
// "{{ user.x }}" template.
type contextRef struct {
	Context  string // user | userTeams
	Property string
}
