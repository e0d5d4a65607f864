package catalog

import (
	"cmp"
	"slices"
	"strings"
	"sync"
)

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
	// root is where the document's value starts, when rootKnown.
	root      span
	rootKnown bool
	// lazy finds the positions below the root, in the YAML document at
	// place stream of the file's stream.
	lazy   *filePos
	stream int
	// entity caches the decoded entity: Value never changes after parsing,
	// so a catalog rebuilt from the same documents reuses it.
	entity *Entity
}

// filePos finds the positions of a file's values by parsing the file again,
// once, when a document of the file is first asked for a position below its
// root. The file's content never changes under a catalog (a commit's tree,
// or a directory read seconds before); should it have, positions degrade to
// the document's root.
type filePos struct {
	file   string
	kind   Kind
	limits Limits
	once   sync.Once
	read   func() ([]byte, error)
	byDoc  map[int]*posIndex
}

func (f *filePos) index(stream int) *posIndex {
	if f == nil {
		return nil
	}
	f.once.Do(func() {
		if data, err := f.read(); err == nil {
			f.byDoc = positionsOf(f.file, data, f.kind, f.limits)
		}
		f.read = nil
	})
	return f.byDoc[stream]
}

// posIndex maps paths to spans compactly: sorted 64-bit FNV-1a hashes of
// the paths beside their spans. A catalog of 100k entities holds millions
// of positions; a map of path strings would cost several times more. A hash
// collision can only misplace a diagnostic, never change a verdict.
type posIndex struct {
	keys  []uint64
	spans []span
}

func newPosIndex(m map[string]span) *posIndex {
	idx := &posIndex{keys: make([]uint64, 0, len(m)), spans: make([]span, 0, len(m))}
	type kv struct {
		k uint64
		s span
	}
	all := make([]kv, 0, len(m))
	for p, s := range m {
		all = append(all, kv{hashPath(p), s})
	}
	slices.SortFunc(all, func(a, b kv) int { return cmp.Compare(a.k, b.k) })
	for _, e := range all {
		idx.keys = append(idx.keys, e.k)
		idx.spans = append(idx.spans, e.s)
	}
	return idx
}

func (x *posIndex) get(path string) (span, bool) {
	if x == nil {
		return span{}, false
	}
	i, ok := slices.BinarySearch(x.keys, hashPath(path))
	if !ok {
		return span{}, false
	}
	return x.spans[i], true
}

func hashPath(p string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(p); i++ {
		h ^= uint64(p[i])
		h *= 1099511628211
	}
	return h
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
	if len(path) > 0 {
		if idx := d.lazy.index(d.stream); idx != nil {
			for i := len(path); i > 0; i-- {
				if s, ok := idx.get(joinPath(d.prefix, path[:i])); ok {
					if i == len(path) {
						return d.at(s.line, s.col)
					}
					if s.keyLine > 0 {
						return d.at(s.keyLine, s.keyCol)
					}
					return d.at(s.line, s.col)
				}
			}
		}
	}
	if d.rootKnown {
		return d.at(d.root.line, d.root.col) // a root value has no key
	}
	return Position{File: d.File}
}

// KeyPos returns the position of the key that names the value at path, or
// Pos(path...) when the value has no key (a list item, the document root).
func (d *Document) KeyPos(path ...string) Position {
	if len(path) > 0 {
		if idx := d.lazy.index(d.stream); idx != nil {
			if s, ok := idx.get(joinPath(d.prefix, path)); ok && s.keyLine > 0 {
				return d.at(s.keyLine, s.keyCol)
			}
		}
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
