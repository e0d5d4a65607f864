// Package scorecard evaluates scorecards over a catalog's entities and
// compares two evaluations.
//
// An entity's level is the highest level L such that every rule at L and at
// every level below L passes; the first (base) level has no rules, so every
// scored entity has at least it. A failing Bronze rule keeps an entity at
// Basic even when every Silver rule passes. Only entities matching a
// scorecard's filter are scored.
//
// Beyond Port, two things are code here: an exemption lets one entity pass
// one rule until it expires (the result says so), and a rule with
// enforceFrom reports before that date but does not lower levels.
//
// The package is pure: it imports the catalog model and the query
// evaluator, and knows nothing of storage.
package scorecard
