package edit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"gopkg.in/yaml.v3"
)

// writeJSON encodes a .json file's edited node tree as JSON, keeping key
// order and the original's indentation: the whitespace of its first
// indented line (two spaces when there is none), or none at all when the
// original is one line. A node verbatim returns text for (one the edit did
// not touch) is copied as it was. It fails for files JSON cannot hold
// (several documents, merge keys, non-finite numbers).
func writeJSON(orig []byte, docs []*yaml.Node, verbatim func(*yaml.Node) ([]byte, bool)) ([]byte, error) {
	var roots []*yaml.Node
	for _, d := range docs {
		if len(d.Content) > 0 && d.Content[0].ShortTag() != "!!null" {
			roots = append(roots, d.Content[0])
		}
	}
	if len(roots) != 1 {
		return nil, fmt.Errorf("%w: a .json file with %d documents cannot be written back as JSON", ErrLayout, len(roots))
	}
	w := &jsonWriter{indent: jsonIndent(orig), verbatim: verbatim, inline: inlineLists(docs)}
	if err := w.value(roots[0], 0); err != nil {
		return nil, err
	}
	if bytes.HasSuffix(bytes.TrimRight(orig, " \t"), []byte("\n")) {
		w.b.WriteByte('\n')
	}
	out := w.b.Bytes()
	if bytes.Contains(orig, []byte("\r\n")) {
		out = bytes.ReplaceAll(out, []byte("\n"), []byte("\r\n"))
	}
	return out, nil
}

// jsonIndent returns the indentation unit of a JSON text.
func jsonIndent(data []byte) string {
	body := bytes.TrimSpace(data)
	if !bytes.Contains(body, []byte("\n")) {
		return ""
	}
	for _, line := range strings.Split(string(body), "\n") {
		t := strings.TrimLeft(line, " \t")
		if t != "" && len(t) < len(line) {
			return line[:len(line)-len(t)]
		}
	}
	return "  "
}

type jsonWriter struct {
	b        bytes.Buffer
	indent   string
	verbatim func(*yaml.Node) ([]byte, bool)
	// inline writes lists of scalars on one line, as the file mostly does.
	inline bool
}

// inlineLists reports whether most of the file's non-empty lists of
// scalars are written on one line.
func inlineLists(docs []*yaml.Node) bool {
	one, more := 0, 0
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.SequenceNode && scalars(n) && n.Line > 0 {
			if n.Content[len(n.Content)-1].Line == n.Line {
				one++
			} else {
				more++
			}
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	for _, d := range docs {
		walk(d)
	}
	return one > more
}

// scalars reports whether n is a non-empty list of scalars.
func scalars(n *yaml.Node) bool {
	for _, c := range n.Content {
		if c.Kind != yaml.ScalarNode {
			return false
		}
	}
	return len(n.Content) > 0
}

func (w *jsonWriter) newline(depth int) {
	if w.indent == "" {
		return
	}
	w.b.WriteByte('\n')
	for range depth {
		w.b.WriteString(w.indent)
	}
}

func (w *jsonWriter) value(n *yaml.Node, depth int) error {
	if depth > 10000 {
		return fmt.Errorf("%w: nesting too deep for JSON", ErrLayout)
	}
	if text, ok := w.verbatim(n); ok {
		w.b.Write(text)
		return nil
	}
	switch n.Kind {
	case yaml.AliasNode:
		return w.value(n.Alias, depth)
	case yaml.MappingNode:
		if len(n.Content) == 0 {
			w.b.WriteString("{}")
			return nil
		}
		w.b.WriteByte('{')
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode || k.ShortTag() == "!!merge" {
				return fmt.Errorf("%w: line %d: JSON keys are strings; this file uses a YAML %s", ErrLayout, k.Line, describeKey(k))
			}
			if i > 0 {
				w.b.WriteByte(',')
			}
			w.newline(depth + 1)
			w.str(k.Value)
			w.b.WriteByte(':')
			if w.indent != "" {
				w.b.WriteByte(' ')
			}
			if err := w.value(n.Content[i+1], depth+1); err != nil {
				return err
			}
		}
		w.newline(depth)
		w.b.WriteByte('}')
	case yaml.SequenceNode:
		if len(n.Content) == 0 {
			w.b.WriteString("[]")
			return nil
		}
		inline := w.inline && scalars(n)
		w.b.WriteByte('[')
		for i, c := range n.Content {
			if i > 0 {
				w.b.WriteByte(',')
				if inline && w.indent != "" {
					w.b.WriteByte(' ')
				}
			}
			if !inline {
				w.newline(depth + 1)
			}
			if err := w.value(c, depth+1); err != nil {
				return err
			}
		}
		if !inline {
			w.newline(depth)
		}
		w.b.WriteByte(']')
	case yaml.ScalarNode:
		return w.scalar(n)
	default:
		return fmt.Errorf("%w: unexpected YAML node", ErrLayout)
	}
	return nil
}

func (w *jsonWriter) scalar(n *yaml.Node) error {
	switch n.ShortTag() {
	case "!!null":
		w.b.WriteString("null")
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			return fmt.Errorf("line %d: %w", n.Line, err)
		}
		fmt.Fprint(&w.b, b)
	case "!!int", "!!float":
		if json.Valid([]byte(n.Value)) {
			w.b.WriteString(n.Value)
			return nil
		}
		var v any
		if err := n.Decode(&v); err != nil {
			return fmt.Errorf("line %d: %w", n.Line, err)
		}
		if f, ok := v.(float64); ok && (math.IsInf(f, 0) || math.IsNaN(f)) {
			return fmt.Errorf("%w: line %d: JSON cannot hold the number %s", ErrLayout, n.Line, n.Value)
		}
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("line %d: %w", n.Line, err)
		}
		w.b.Write(b)
	default:
		w.str(n.Value)
	}
	return nil
}

// str writes s as a JSON string, leaving <, > and & as they are.
func (w *jsonWriter) str(s string) {
	enc := json.NewEncoder(&w.b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	w.b.Truncate(w.b.Len() - 1)
}

func describeKey(k *yaml.Node) string {
	if k.ShortTag() == "!!merge" {
		return "merge key (<<)"
	}
	return "non-string key"
}

// verbatimJSON returns the text of n as the file has it when n is a node
// of the file as parsed that the edit left alone (dirty holds the nodes it
// changed), and that text is one JSON value; encoding/json finds where the
// value ends.
func (s *source) verbatimJSON(dirty map[*yaml.Node]bool) func(*yaml.Node) ([]byte, bool) {
	return func(n *yaml.Node) ([]byte, bool) {
		if _, parsed := s.span[n]; !parsed || dirty[n] || n.Kind == yaml.AliasNode || n.Line < 1 || n.Line > len(s.lines) {
			return nil, false
		}
		var raw json.RawMessage
		if err := json.NewDecoder(bytes.NewReader(s.data[s.offset(n.Line, n.Column):])).Decode(&raw); err != nil {
			return nil, false
		}
		return raw, true
	}
}
