// Package gen generates realistic synthetic catalogs for benchmarks and
// tests.
//
// A generated catalog has five blueprints (domain, team, service,
// microservice, deployment) using enums, formats (date-time, url, email,
// team), bounded numbers, patterns, required properties and single and many
// relations; the built-in _team entities that own everything; and two
// scorecards of six rules each over services, one written in Port's form
// (blueprint key, conditions) and one in the seed cheat sheet's form
// ($blueprint filter rule, rules). Entities are written one file per entity
// under entities/<blueprint>/, about 60% of them services and microservices.
//
// Every relation resolves: targets are generated before the entities that
// point at them. The output is a pure function of [Options]: the same seed
// gives the same bytes, so benchmarks in other packages can write the same
// catalog into a Git repository with [Files].
package gen
