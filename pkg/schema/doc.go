// Package schema validates catalog documents with CUE.
//
// It runs three of berth's validation layers: each document against its
// kind's definition in schemas/ (layer 1), each entity against a CUE
// definition compiled from its blueprint (layer 2), and each entity against
// the catalog's own policies/*.cue constraints (layer 3).
//
// Documents are not parsed again: the catalog loader already read each file
// once with yaml.v3 and kept the position of every key and value. A document
// is encoded into CUE, validated, and each CUE error's path is mapped back
// to the document's position (the value at the path, or the parent's key for
// a missing field). Messages about entity properties are phrased from the
// blueprint in Go, so people read "lifecycle: "Prod" is not one of ..."
// rather than CUE's disjunction trace; CUE decides, Go explains.
//
// CUE contexts are not safe for concurrent use: each worker goroutine owns a
// context with its own compiled definitions.
package schema
