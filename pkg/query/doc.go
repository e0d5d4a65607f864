// Package query implements Port's search rules: it parses a query
// ({combinator, rules}) into a typed AST, binds the caller's context
// values, evaluates the AST against an entity in memory (the scorecard
// engine's path) and compiles it to a parameterised SQL WHERE fragment
// over the index schema (the API's path). Both paths give the same answer;
// a differential test holds them to it.
//
// The package imports the standard library and pkg/catalog only.
//
// # Flow
//
//	q, err := query.Parse(m)                       // or ParseJSON(body)
//	q, err = q.Bind(query.Context{User: u, UserTeams: teams})
//	ok, err := q.Eval(&query.Env{Catalog: c, Now: now}, entity)
//	where, args, err := query.Compile(q, query.CompileOptions{Now: now})
//
// # Values
//
// A property's value is read as a list of items (IndexValues): a scalar is
// one item, an array one item per non-null element, null or an absent
// property no item at all. Numbers (int64, float64, json.Number) compare as
// float64. A string that is an RFC 3339 date-time or a YYYY-MM-DD date
// (midnight UTC) is also an instant, at millisecond precision. Booleans
// equal only booleans; "1" never equals 1. Objects match nothing but
// isEmpty/isNotEmpty.
//
// # Operators
//
// A positive operator holds when some item matches some rule value; a
// negative operator (!=, notIn, doesNotContains, doesNotBeginsWith,
// doesNotEndsWith, notBetween, isNotEmpty) is exactly the negation of its
// positive form, so it holds for absent and null values. In detail:
//
//   - = matches an equal item: strings exactly (case-sensitive), dates as
//     the same instant, numbers numerically, booleans as booleans. On an
//     array it means "some item equals" (Port's arrays behave so in
//     search). "= null" is isEmpty, "!= null" isNotEmpty.
//   - in and containsAny both mean "some item equals some value"; Port's
//     docs give in for strings and containsAny for arrays, and berth treats
//     a scalar as a one-item array, so the two coincide.
//   - contains, beginsWith, endsWith compare strings ignoring ASCII case
//     (SQLite LIKE semantics; non-ASCII letters compare exactly).
//   - > >= < <= compare numbers with a number value and dates with a date
//     value; other items never match.
//   - between/notBetween take {from, to} (inclusive; both dates or both
//     numbers) or {preset}. Presets: today, yesterday, tomorrow are UTC
//     calendar days; lastDay, lastWeek, last2Weeks, lastMonth (and the
//     seed's last30days), last3Months, last6Months, last12Months,
//     last2Years, last3Years reach back 1, 7, 14, 30, 90, 180, 365, 730,
//     1095 days from now; nextDay ... next12Months reach forward.
//   - isEmpty: no item. isExpired: some item is a date at or before now;
//     isNotExpired: some item is a date after now (a timer without a value
//     is neither).
//
// Meta-properties: $identifier, $title, $icon, $blueprint, $createdBy and
// $updatedBy are plain text (an empty title is absent); $team is the list
// of teams; $createdAt and $updatedAt are instants at whole seconds.
//
// # Relations
//
//   - relatedTo {blueprint, value, direction?, required?} matches entities
//     one relation away from the given entities: upstream, the entities
//     they point to (what they depend on); downstream, the entities that
//     point to them (their dependents); no direction, either. required
//     keeps only relations whose definition's required equals it. Deeper
//     walks are matchAny's job.
//   - matchAny {property: {path, fromBlueprint?}, value}: without
//     fromBlueprint, the entity's path (relations followed in order) ends
//     at an entity whose identifier is in value. With fromBlueprint, the
//     entity is reached by following the path from the fromBlueprint
//     entities named in value. A step {relation, maxHops: n} follows its
//     relation 1 to n times (Port allows one such step per path, n ≤ 15).
//   - {relation, targetProperty?, operator, value} compares the related
//     entities' identifiers (default) or titles as text.
//   - {scorecard, scorecardRule?, operator, value} compares the entity's
//     level title in the scorecard, or the rule's status (SUCCESS, FAILURE).
//
// Relations count only toward entities that exist (an applied index has
// no dangling relations), except that relation rules on $identifier compare
// the identifiers as written.
//
// # Context
//
// {context: user|userTeams, property?} as a value, "My Teams" in a $team
// in/notIn/containsAny list, and the seed's "{{ user.team }}" template are
// resolved by Bind; as a rule's property, {context, property} makes the
// rule a constant for the caller. An empty group matches every entity,
// whatever its combinator. "not: true" on a rule or group negates it.
package query
