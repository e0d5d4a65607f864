package catalog

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Limits bound what a single catalog file may cost to read. The zero value
// of a field means its default.
type Limits struct {
	// MaxFileBytes is the largest file read (default 8 MiB).
	MaxFileBytes int64 `json:"maxFileBytes,omitempty" yaml:"maxFileBytes,omitempty"`
	// MaxDepth is the deepest nesting of objects and lists (default 64).
	MaxDepth int `json:"maxDepth,omitempty" yaml:"maxDepth,omitempty"`
	// MaxValues is how many values one file may expand to, counting YAML
	// alias expansion (default 1,000,000).
	MaxValues int `json:"maxValues,omitempty" yaml:"maxValues,omitempty"`
}

// Default limits.
const (
	DefaultMaxFileBytes = 8 << 20
	DefaultMaxDepth     = 64
	DefaultMaxValues    = 1_000_000
)

func (l Limits) withDefaults() Limits {
	if l.MaxFileBytes <= 0 {
		l.MaxFileBytes = DefaultMaxFileBytes
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	if l.MaxValues <= 0 {
		l.MaxValues = DefaultMaxValues
	}
	return l
}

var errStop = errors.New("stop")

// parser turns one file's YAML nodes into Documents. With pos set it
// records the position of every value (a position pass, see filePos);
// without, only the documents' own.
type parser struct {
	file   string
	limits Limits
	values int
	diags  Diagnostics
	pos    map[string]span
	// indexes collects each YAML document's positions in a position pass,
	// by the document's place in the stream.
	indexes map[int]*posIndex
	// lazy finds positions for the documents of a parse pass.
	lazy *filePos
	// in shares keys and short strings between files; nil shares nothing.
	in *interner
}

// ParseFile parses one catalog file of the given kind into documents. The
// file may hold one object, a multi-document YAML stream, or a list of
// objects; JSON is read as well. A document whose only key is the plural of
// its kind holding a list ({"roles": [...]}) is split into its items.
//
// ParseFile never panics on hostile input: malformed YAML, invalid UTF-8,
// binary data, duplicate keys, alias bombs and deep nesting each yield an
// error Diagnostic naming the file and line, and no documents from the
// offending YAML document. The size limit is the caller's to enforce before
// reading; ParseFile checks it again.
func ParseFile(file string, data []byte, kind Kind, limits Limits) ([]*Document, Diagnostics) {
	return parseFile(file, data, kind, limits, nil, func() ([]byte, error) { return data, nil })
}

// parseFile is ParseFile with a way to read the file again: positions below
// a document's root are found by parsing it again the first time one is
// asked for. Few documents ever need one (those with findings), and
// recording every position of a 100k-entity catalog up front cost more
// time and memory than parsing those few twice.
func parseFile(file string, data []byte, kind Kind, limits Limits, in *interner, reread func() ([]byte, error)) ([]*Document, Diagnostics) {
	limits = limits.withDefaults()
	data, diags := prepare(file, data, limits)
	if diags != nil {
		return nil, diags
	}
	p := &parser{file: file, limits: limits, in: in, lazy: &filePos{file: file, kind: kind, limits: limits, read: reread}}
	return p.stream(data, kind), p.diags
}

// positionsOf parses data again, recording the position of every value of
// each YAML document, by the document's place in the stream.
func positionsOf(file string, data []byte, kind Kind, limits Limits) map[int]*posIndex {
	data, diags := prepare(file, data, limits)
	if diags != nil {
		return nil
	}
	p := &parser{file: file, limits: limits, pos: map[string]span{}, indexes: map[int]*posIndex{}}
	p.stream(data, kind)
	return p.indexes
}

// prepare checks what yaml.v3 must not see (a file over the limit, binary
// data, invalid UTF-8) and rewrites the JSON escape YAML lacks.
func prepare(file string, data []byte, limits Limits) ([]byte, Diagnostics) {
	if int64(len(data)) > limits.MaxFileBytes {
		return nil, Diagnostics{Errorf(Position{File: file}, CodeTooLarge,
			"file is %d bytes, over the limit of %d (raise limits.maxFileBytes in berth.yaml)", len(data), limits.MaxFileBytes)}
	}
	if i := bytes.IndexByte(data, 0); i >= 0 {
		return nil, Diagnostics{Errorf(offsetPos(file, data, i), CodeEncoding, "binary file: NUL byte, not YAML or JSON text")}
	}
	if !utf8.Valid(data) {
		i := firstInvalidUTF8(data)
		return nil, Diagnostics{Errorf(offsetPos(file, data, i), CodeEncoding, "invalid UTF-8 at byte %d", i)}
	}
	if strings.HasSuffix(file, ".json") {
		data = unescapeJSONSolidus(data)
	}
	return data, nil
}

// stream converts every YAML document of data.
func (p *parser) stream(data []byte, kind Kind) []*Document {
	var docs []*Document
	dec := yaml.NewDecoder(bytes.NewReader(data))
	empty := true
	for i := 0; ; i++ {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			p.diags = append(p.diags, yamlError(p.file, err))
			break
		}
		if len(n.Content) == 0 || (n.Content[0].Kind == yaml.ScalarNode && n.Content[0].ShortTag() == "!!null") {
			continue // an empty document in a stream, such as a trailing "---"
		}
		empty = false
		docs = append(docs, p.document(&n, kind, i)...)
	}
	if empty && len(p.diags) == 0 {
		p.diags = append(p.diags, Warningf(Position{File: p.file}, CodeEmptyFile, "file holds no document"))
	}
	for i, d := range docs {
		d.Index = i
	}
	return docs
}

// document converts the i-th YAML document of the stream into catalog
// documents.
func (p *parser) document(n *yaml.Node, kind Kind, i int) []*Document {
	if p.pos != nil {
		clear(p.pos)
	}
	p.values = 0
	root := n.Content[0]
	v, err := p.value(root, "", 0, 0)
	if err != nil {
		return nil
	}
	if p.pos != nil {
		p.indexes[i] = newPosIndex(p.pos)
	}
	newDoc := func(prefix string, m map[string]any, at itemSpan) *Document {
		return &Document{Kind: kind, File: p.file, Value: m, prefix: prefix,
			root: at.span, rootKnown: at.known, lazy: p.lazy, stream: i}
	}
	switch v := v.(type) {
	case map[string]any:
		if items, ok := v[plural(kind)].([]any); ok && len(v) == 1 {
			return p.items(items, plural(kind), kind, wrappedSpans(root, plural(kind)), newDoc)
		}
		return []*Document{newDoc("", v, nodeSpan(root))}
	case []any:
		return p.items(v, "", kind, listSpans(root), newDoc)
	}
	p.diags = append(p.diags, Errorf(p.at(root.Line, root.Column), CodeNotObject,
		"expected a %s object or a list of them, found %s", kind, describeNode(root)))
	return nil
}

// itemSpan is where a document's root value starts, when the parse
// records it.
type itemSpan struct {
	span
	known bool
}

func nodeSpan(n *yaml.Node) itemSpan {
	return itemSpan{span{line: int32(n.Line), col: int32(n.Column)}, true}
}

// listSpans returns where each item of the list node l starts, as value
// records them.
func listSpans(l *yaml.Node) []itemSpan {
	out := make([]itemSpan, len(l.Content))
	for i, c := range l.Content {
		out[i] = nodeSpan(c)
	}
	return out
}

// wrappedSpans returns where the items of the list under key of mapping m
// start, as value records them: nothing for a list reached through an alias
// or a merge key, whose positions are not recorded.
func wrappedSpans(m *yaml.Node, key string) []itemSpan {
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Value == key && k.ShortTag() != "!!merge" && v.Kind == yaml.SequenceNode {
			return listSpans(v)
		}
	}
	return nil
}

func (p *parser) items(items []any, prefix string, kind Kind, spans []itemSpan, newDoc func(string, map[string]any, itemSpan) *Document) []*Document {
	var docs []*Document
	for i, it := range items {
		ip := strconv.Itoa(i)
		if prefix != "" {
			ip = prefix + pathSep + ip
		}
		var at itemSpan
		if i < len(spans) {
			at = spans[i]
		}
		m, ok := it.(map[string]any)
		if !ok {
			p.diags = append(p.diags, Errorf(p.at(int(at.line), int(at.col)), CodeNotObject,
				"list item %d: expected a %s object, found %s", i, kind, describeValue(it)))
			continue
		}
		docs = append(docs, newDoc(ip, m, at))
	}
	return docs
}

func plural(k Kind) string {
	if k == KindPolicy || k == KindConfig {
		return ""
	}
	return string(k) + "s"
}

func (p *parser) at(line, col int) Position { return Position{File: p.file, Line: line, Col: col} }

func (p *parser) fail(n *yaml.Node, code, format string, args ...any) error {
	p.diags = append(p.diags, Errorf(p.at(n.Line, n.Column), code, format, args...))
	return errStop
}

// value converts n into a JSON-compatible value, recording in a position
// pass the positions under path.
func (p *parser) value(n *yaml.Node, path string, depth, inAlias int) (any, error) {
	p.values++
	if p.values > p.limits.MaxValues {
		if inAlias > 0 {
			return nil, p.fail(n, CodeAliasBomb, "YAML aliases expand to more than %d values", p.limits.MaxValues)
		}
		return nil, p.fail(n, CodeTooLarge, "document holds more than %d values", p.limits.MaxValues)
	}
	if depth > p.limits.MaxDepth {
		return nil, p.fail(n, CodeTooDeep, "nesting deeper than %d levels", p.limits.MaxDepth)
	}
	if inAlias == 0 && p.pos != nil {
		s := p.pos[path]
		s.line, s.col = int32(n.Line), int32(n.Column)
		p.pos[path] = s
	}
	switch n.Kind {
	case yaml.AliasNode:
		if n.Alias == nil {
			return nil, p.fail(n, CodeSyntax, "unknown alias")
		}
		return p.value(n.Alias, path, depth, inAlias+1)
	case yaml.ScalarNode:
		return p.scalar(n)
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for i, c := range n.Content {
			var cp string
			if p.pos != nil {
				cp = child(path, strconv.Itoa(i))
			}
			v, err := p.value(c, cp, depth+1, inAlias)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.MappingNode:
		return p.mapping(n, path, depth, inAlias)
	}
	return nil, p.fail(n, CodeSyntax, "unexpected YAML node")
}

// smallMapping is the most keys a mapping may have for duplicates to be
// found by comparing with the keys before, not through a map.
const smallMapping = 32

func (p *parser) mapping(n *yaml.Node, path string, depth, inAlias int) (map[string]any, error) {
	pairs := len(n.Content) / 2
	out := make(map[string]any, pairs)
	var seen map[string]int
	if pairs > smallMapping {
		seen = make(map[string]int, pairs)
	}
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, vn := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			merges = append(merges, vn)
			continue
		}
		if k.Kind != yaml.ScalarNode {
			return nil, p.fail(k, CodeSyntax, "mapping key must be a string, found %s", describeNode(k))
		}
		key := p.in.key(k.Value)
		if line, dup := firstKey(n, i, key, seen); dup {
			return nil, p.fail(k, CodeDuplicateKey, "duplicate key %q (first at line %d)", key, line)
		}
		if seen != nil {
			seen[key] = k.Line
		}
		var cp string
		if p.pos != nil {
			cp = child(path, key)
			if inAlias == 0 {
				p.pos[cp] = span{keyLine: int32(k.Line), keyCol: int32(k.Column)}
			}
		}
		v, err := p.value(vn, cp, depth+1, inAlias)
		if err != nil {
			return nil, err
		}
		out[key] = v
	}
	// Merge keys (<<: *base) fill in keys the mapping does not set itself.
	for _, m := range merges {
		srcs := []*yaml.Node{m}
		if m.Kind == yaml.SequenceNode {
			srcs = m.Content
		}
		for _, src := range srcs {
			var mp string
			if p.pos != nil {
				mp = path + pathSep + "<<"
			}
			v, err := p.value(src, mp, depth+1, inAlias+1)
			if err != nil {
				return nil, err
			}
			mm, ok := v.(map[string]any)
			if !ok {
				return nil, p.fail(src, CodeSyntax, "merge key << needs an object, found %s", describeValue(v))
			}
			for k, v := range mm {
				if _, set := out[k]; !set {
					out[k] = v
				}
			}
		}
	}
	return out, nil
}

// firstKey reports whether key was already a key of mapping n before the
// pair at i, and the line it was at. seen holds the keys before i of a
// large mapping; a small one is searched.
func firstKey(n *yaml.Node, i int, key string, seen map[string]int) (int, bool) {
	if seen != nil {
		line, dup := seen[key]
		return line, dup
	}
	for j := 0; j < i; j += 2 {
		k := n.Content[j]
		if k.Value == key && k.Kind == yaml.ScalarNode && k.ShortTag() != "!!merge" {
			return k.Line, true
		}
	}
	return 0, false
}

func child(path, key string) string {
	if path == "" {
		return key
	}
	return path + pathSep + key
}

func (p *parser) scalar(n *yaml.Node) (any, error) {
	switch n.ShortTag() {
	case "!!null":
		return nil, nil
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			return nil, p.fail(n, CodeSyntax, "invalid boolean %q", n.Value)
		}
		return b, nil
	case "!!int":
		if i, err := strconv.ParseInt(n.Value, 10, 64); err == nil {
			return i, nil
		}
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, p.fail(n, CodeSyntax, "invalid integer %q", n.Value)
		}
		switch v := v.(type) {
		case int:
			return int64(v), nil
		case int64:
			return v, nil
		case uint64:
			return float64(v), nil
		case float64:
			return v, nil
		}
		return nil, p.fail(n, CodeSyntax, "invalid integer %q", n.Value)
	case "!!float":
		f, err := strconv.ParseFloat(n.Value, 64)
		if err != nil {
			if err := n.Decode(&f); err != nil {
				return nil, p.fail(n, CodeSyntax, "invalid number %q", n.Value)
			}
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, p.fail(n, CodeSyntax, "number %q is not finite; JSON cannot hold it", n.Value)
		}
		return f, nil
	}
	// Strings, timestamps (kept as written: Port dates are strings), binary
	// and custom tags are all text.
	return p.in.value(n.Value), nil
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yamlError turns a yaml.v3 error into a diagnostic at its line.
func yamlError(file string, err error) Diagnostic {
	msg := err.Error()
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return Errorf(Position{File: file, Line: line}, CodeSyntax, "%s", m[2])
	}
	return Errorf(Position{File: file}, CodeSyntax, "%s", strings.TrimPrefix(msg, "yaml: "))
}

func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "an object"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return "null"
		case "!!str":
			return fmt.Sprintf("the string %q", truncate(n.Value, 40))
		}
		return fmt.Sprintf("the value %s", truncate(n.Value, 40))
	}
	return "an alias"
}

func describeValue(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	case string:
		return fmt.Sprintf("the string %q", truncate(v, 40))
	}
	return fmt.Sprintf("the value %v", v)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// offsetPos converts a byte offset into a position.
func offsetPos(file string, data []byte, off int) Position {
	line := 1 + bytes.Count(data[:off], []byte{'\n'})
	col := off - bytes.LastIndexByte(data[:off], '\n')
	return Position{File: file, Line: line, Col: col}
}

func firstInvalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size <= 1 {
			return i
		}
		i += size
	}
	return len(b)
}

// unescapeJSONSolidus rewrites the JSON escape \/ (which YAML does not know)
// to a plain /, leaving every other escape alone. Only strings are touched.
func unescapeJSONSolidus(b []byte) []byte {
	if !bytes.Contains(b, []byte(`\/`)) {
		return b
	}
	out := make([]byte, 0, len(b))
	inString := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case c == '"':
			inString = !inString
		case c == '\\' && inString && i+1 < len(b):
			if b[i+1] == '/' {
				out = append(out, '/')
				i++
				continue
			}
			out = append(out, c, b[i+1])
			i++
			continue
		}
		out = append(out, c)
	}
	return out
}
