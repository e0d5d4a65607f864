// Package compute derives the computed properties of a built catalog: the
// values Port calls calculation, mirror and aggregation properties, plus the
// seed's arithmetic formulas written inside a property definition.
//
// [Compile] turns every blueprint's computed-property definitions into a
// [Program] once: jq calculations are parsed and compiled with gojq, formulas
// are translated to jq and compiled the same way, mirror paths and
// aggregation specs are resolved against the blueprints. A definition that
// cannot be compiled is an error diagnostic. [Program.Evaluate] then computes
// the values of every entity, or only of the entities given, and
// [Program.Affected] names the entities whose values may change when some
// entities change, so that a commit recomputes only those.
//
// # Calculations
//
// A calculation is jq over the entity's Port JSON:
// {identifier, title, icon, blueprint, team, properties, relations,
// createdAt, updatedAt, createdBy, updatedBy}, with unknown values null and
// times in RFC 3339. properties holds the stored properties only: a
// calculation never sees computed values (catalog.Check reports a
// calculation that names another). The program
// has no environment ($ENV and env are empty objects) and no input or
// inputs. Each evaluation runs under a deadline ([Options.Timeout]); it must
// emit at most one value (none is null). A runtime error, a timeout, several
// values, or a value that does not fit the declared type (number, string,
// boolean, object, array) yields null and a warning that names the entity,
// at the calculation's place in the blueprint file. Null fits every type.
// After [MaxTimeouts] timeouts a calculation is not run again within the
// same evaluation: a runaway program costs at most that many deadlines.
// Warnings are capped per property and evaluation ([Options.MaxWarnings]).
// Memory is not bounded beyond gojq's own limits.
//
// # Formulas
//
// schema.properties.<id>.calculation: {type: formula, formula: "a / b"}
// accepts numbers, property identifiers, + - * / %, parentheses, the
// comparisons == != < <= > >=, and, or, null, true, false, && and ||.
// Identifiers read stored properties. The formula is translated to jq and
// parsed by gojq; the arithmetic operators are then replaced by functions
// with these semantics:
//   - an operand that is null (a missing property) makes the result null,
//     without a warning: a missing input is a missing output;
//   - operands must be numbers, otherwise the result is null with a warning;
//   - division or modulo by zero is null with a warning.
//
// a || b is a unless a is null, false or 0, in which case it is b; this is
// what the seed's "cost_per_month / (requests_per_month || 1)" means. It is
// jq's alternative operator on a filtered left side, so an error on the left
// also falls back to b.
//
// # Mirrors
//
// A mirror path rel1.rel2....relN.prop follows relations hop by hop, at each
// hop deduplicating the entities reached (in the order of the relation
// values) and skipping identifiers that name no entity. prop is a stored
// property, a calculation (computed for the related entity) or a
// meta-property ($identifier, $title, $team, $icon, $blueprint, $createdAt,
// $updatedAt, $createdBy, $updatedBy). If any relation on the path is a many
// relation the value is the list of the reached entities' non-null values
// (possibly empty); otherwise it is the single value, or null when a link is
// missing. A mirror may not read a mirror or an aggregation (a warning at
// compile time; the value is null).
//
// # Aggregations
//
// Port aggregates over entities of the target blueprint related "in any
// way" to the entity, considering all paths unless a pathFilter narrows
// them. berth aggregates over direct relations, in both directions: an
// entity X of the target blueprint is related to E when one of X's
// relations whose target is E's blueprint holds E (X points to E: the usual
// case, deployments of a service), or one of E's relations whose target is
// the target blueprint holds X. Each X counts once. Indirect paths are not
// followed: an aggregation whose target is not directly related is reported
// as a warning and computes over no entities.
//
// count is the number of related entities; sum, min, max, median and average
// (calculationBy: property) read a number property or calculation of each
// related entity, skipping entities without a number. An empty sum is 0;
// an empty min, max, median or average is null. calculationBy: entities with
// func: average divides the number of related entities that have a time
// (measureTimeBy: $createdAt by default, $updatedAt, or a date-time
// property) by the number of whole or partial periods (hour, day, week of 7
// days, month of 30 days) from the earliest such time to [Options.Now], at
// least one; averageOf: total divides by one. For calculationBy: property,
// average is the mean of the property and averageOf is ignored.
//
// An aggregation's query filters the related entities through
// [Options.Filter]. Without a filter every related entity is aggregated and
// [Compile] warns that the query is not applied.
//
// Numbers come out as int64 (counts, and whole jq results) or float64.
package compute
