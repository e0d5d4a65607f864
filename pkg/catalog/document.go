package catalog

import "strings"

// Kind names the sort of object a document holds; it follows from the folder
// the file lives in.
type Kind string

// The kinds of catalog documents.
const (
	KindConfig    Kind = "config"
	KindBlueprint Kind = "blueprint"
	KindEntity    Kind = "entity"
	KindScorecard Kind = "scorecard"
	KindAction    Kind = "action"
	KindPage      Kind = "page"
	KindRole      Kind = "role"
	KindPolicy    Kind = "policy"
)

// span is where a value, and the key that names it, start.
type span struct {
	keyLine, keyCol int32
	line, col       int32
}

// Document is one object read from a catalog file, as JSON-compatible Go
// values (map[string]any, []any, string, int64, float64, bool, nil) with the
// position of every key and value.
type Document struct {
	Kind  Kind
	File  string // slash-separated path relative to the catalog root
	Index int    // the object's place in its file, from 0
	// Blueprint is the blueprint implied by an entity file's folder
	// (entities/<blueprint>/...), or "".
	Blueprint string
	// Value is the object itself.
	Value map[string]any
	// Invalid is set by a validation layer when the document breaks its
	// kind's schema; Build skips invalid documents.
	Invalid bool

	// prefix is prepended to lookups: a document split out of a list or a
	// wrapper object keeps the positions of the whole file.
	prefix string
	pos    map[string]span
}

// pathSep separates path elements in position keys; it cannot occur in YAML
// keys that berth accepts, and a key holding it only loses its position.
const pathSep = "\x00"

func joinPath(prefix string, path []string) string {
	if len(path) == 0 {
		return prefix
	}
	p := strings.Join(path, pathSep)
	if prefix == "" {
		return p
	}
	return prefix + pathSep + p
}

// Pos returns the position of the value at path (object keys and list
// indexes as decimal strings). Where the path does not exist, as for a
// missing required field, it returns the position of the nearest ancestor's
// key, so the message points at the object that lacks the field.
func (d *Document) Pos(path ...string) Position {
	for i := len(path); i >= 0; i-- {
		if s, ok := d.pos[joinPath(d.prefix, path[:i])]; ok {
			if i == len(path) {
				return d.at(s.line, s.col)
			}
			if s.keyLine > 0 {
				return d.at(s.keyLine, s.keyCol)
			}
			return d.at(s.line, s.col)
		}
	}
	return Position{File: d.File}
}

// KeyPos returns the position of the key that names the value at path, or
// Pos(path...) when the value has no key (a list item, the document root).
func (d *Document) KeyPos(path ...string) Position {
	if s, ok := d.pos[joinPath(d.prefix, path)]; ok && s.keyLine > 0 {
		return d.at(s.keyLine, s.keyCol)
	}
	return d.Pos(path...)
}

func (d *Document) at(line, col int32) Position {
	return Position{File: d.File, Line: int(line), Col: int(col)}
}

// Identifier returns the document's "identifier" string, or "".
func (d *Document) Identifier() string {
	s, _ := d.Value["identifier"].(string)
	return s
}
