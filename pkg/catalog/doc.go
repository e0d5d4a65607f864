// Package catalog is berth's domain model: the objects of a catalog-as-code
// repository (blueprints, entities, scorecards, self-service actions, pages,
// roles and the catalog's own berth.yaml), the diagnostics reported against
// them, and the loader that reads a catalog tree from an fs.FS with the
// position of every key and value.
//
// A catalog is read in layers. [Load] (or [ParseFile] for a single blob)
// parses YAML and JSON into [Document] values, reporting syntax and
// hostile-input problems. Structural validation (package schema) may then
// mark documents invalid. [Catalog.Build] decodes the remaining documents into
// typed objects, and [Catalog.Check] runs the checks that span files:
// identifiers unique, relations resolve, scorecards name real properties.
//
// A catalog that changes a few files at a time need not be rebuilt:
// [Update] derives the next catalog from the previous one at the cost of the
// change (the two share every unchanged file, document and entity, and a
// copy-on-write key map), [Catalog.Referrers] answers who names an entity,
// and [Catalog.CheckSince] runs the cross-file checks only for the entities
// a change can affect, giving exactly what Check gives.
//
// The package imports only the standard library and yaml.v3; it knows nothing
// of CUE, SQLite, Git, HTTP or GitHub.
package catalog
