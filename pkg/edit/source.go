package edit

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// source is one catalog file parsed into yaml.v3 nodes, with what splicing
// needs: the byte offset of each line and, for every node as parsed, its
// place in document order. Edits change the node tree; set then rewrites
// only the text of the entry that changed and parses the result again.
type source struct {
	path string // slash-separated, relative to the catalog root
	json bool
	data []byte       // the text yaml.v3 reads (catalog.YAMLText)
	docs []*yaml.Node // document nodes

	order   []*yaml.Node          // every node as parsed, in document order
	span    map[*yaml.Node][2]int // a node's subtree: [first, end) in order
	aliased map[*yaml.Node]bool   // nodes an alias refers to
	lines   []int                 // byte offset where each line starts
	crlf    bool
	indent  int // the file's mapping indentation, for new nested entries

	page     string // the page's identifier
	pagePath []int  // document index, then Content indexes down to the page
}

// parseSource parses data (already in catalog.YAMLText form) and finds the
// page id whose object starts at line:col, as catalog reported it.
func parseSource(path string, data []byte, id string, line, col int) (*source, error) {
	s := &source{path: path, json: strings.HasSuffix(path, ".json"), page: id}
	if err := s.load(data); err != nil {
		return nil, err
	}
	for i, d := range s.docs {
		if p := find(d, line, col, []int{i}); p != nil {
			s.pagePath = p
			break
		}
	}
	if s.pagePath == nil {
		return nil, fmt.Errorf("%s: no object at line %d, column %d for page %q", path, line, col, id)
	}
	if n := s.node(s.pagePath); n.Kind == yaml.AliasNode {
		return nil, fmt.Errorf("%w: %s:%d: page %q is a YAML alias (*%s); edit the anchored object", ErrLayout, path, line, id, n.Value)
	}
	if _, err := s.pageNode(); err != nil {
		return nil, err
	}
	return s, nil
}

// find returns the Content path to the node starting at line:col.
func find(n *yaml.Node, line, col int, path []int) []int {
	if n.Line == line && n.Column == col && n.Kind != yaml.DocumentNode {
		return path
	}
	for i, c := range n.Content {
		if c.Line > line {
			break
		}
		if p := find(c, line, col, append(slices.Clip(path), i)); p != nil {
			return p
		}
	}
	return nil
}

// load parses data and indexes it.
func (s *source) load(data []byte) error {
	docs, err := decodeAll(data)
	if err != nil {
		return fmt.Errorf("%s: %w", s.path, err)
	}
	s.data, s.docs = data, docs
	s.order = s.order[:0]
	s.span = make(map[*yaml.Node][2]int)
	s.aliased = make(map[*yaml.Node]bool)
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		first := len(s.order)
		s.order = append(s.order, n)
		if n.Kind == yaml.AliasNode {
			s.aliased[n.Alias] = true
		} else {
			for _, c := range n.Content {
				walk(c)
			}
		}
		s.span[n] = [2]int{first, len(s.order)}
	}
	for _, d := range docs {
		for _, c := range d.Content {
			walk(c)
		}
	}
	s.lines = []int{0}
	for i, b := range data {
		if b == '\n' {
			s.lines = append(s.lines, i+1)
		}
	}
	s.crlf = bytes.Contains(data, []byte("\r\n"))
	s.indent = 0
	for _, n := range s.order {
		if s.indent = mappingIndent(n); s.indent > 0 {
			break
		}
	}
	if s.indent < 2 || s.indent > 9 {
		s.indent = 2
	}
	return nil
}

// mappingIndent returns how far a block mapping nested under n's first
// block-mapping value is indented, or 0.
func mappingIndent(n *yaml.Node) int {
	if n.Kind != yaml.MappingNode || n.Style&yaml.FlowStyle != 0 {
		return 0
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if v.Kind == yaml.MappingNode && v.Style&yaml.FlowStyle == 0 && v.Line > k.Line {
			return v.Column - k.Column
		}
	}
	return 0
}

func decodeAll(data []byte) ([]*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []*yaml.Node
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		docs = append(docs, &n)
	}
}

// node follows a Content path from the documents.
func (s *source) node(path []int) *yaml.Node {
	n := s.docs[path[0]]
	for _, i := range path[1:] {
		n = n.Content[i]
	}
	return n
}

// pageNode returns the page's mapping, checking it is still the page.
func (s *source) pageNode() (*yaml.Node, error) {
	n := s.node(s.pagePath)
	if n.Kind != yaml.MappingNode || s.aliased[n] {
		if s.aliased[n] {
			return nil, fmt.Errorf("%w: %s:%d: page %q carries the anchor &%s that other objects use; edit it by hand", ErrLayout, s.path, n.Line, s.page, n.Anchor)
		}
		return nil, fmt.Errorf("%w: %s:%d: page %q is not a YAML mapping", ErrLayout, s.path, n.Line, s.page)
	}
	if v := value(n, "identifier"); v == nil || v.Value != s.page {
		return nil, fmt.Errorf("%s:%d: expected page %q here", s.path, n.Line, s.page)
	}
	return n, nil
}

// slot is a place in the tree: parent.Content[idx].
type slot struct {
	parent *yaml.Node
	idx    int
}

func (sl slot) child() *yaml.Node { return sl.parent.Content[sl.idx] }

// chain returns the slots from the document down to the mapping at keys
// below the page, checking that each can be edited in place.
func (s *source) chain(keys []string) ([]slot, error) {
	if _, err := s.pageNode(); err != nil {
		return nil, err
	}
	var ch []slot
	n := s.docs[s.pagePath[0]]
	for _, i := range s.pagePath[1:] {
		ch = append(ch, slot{n, i})
		n = n.Content[i]
	}
	for i, k := range keys {
		vi := valueIndex(n, k)
		if vi < 0 {
			return nil, fmt.Errorf("%s: page %q has no %s", s.path, s.page, strings.Join(keys[:i+1], "."))
		}
		ch = append(ch, slot{n, vi})
		n = n.Content[vi]
	}
	for _, sl := range ch {
		if err := s.editable(sl.child(), keys); err != nil {
			return nil, err
		}
	}
	return ch, nil
}

// editable refuses nodes an in-place edit would get wrong: aliases (the
// edit would change the anchored original), anchors other objects use (the
// edit would change them too) and merge keys (the merged keys are not in
// the node).
func (s *source) editable(n *yaml.Node, keys []string) error {
	where := fmt.Sprintf("%s:%d: page %q", s.path, n.Line, s.page)
	if len(keys) > 0 {
		where += " " + strings.Join(keys, ".")
	}
	switch {
	case n.Kind == yaml.AliasNode:
		return fmt.Errorf("%w: %s goes through the YAML alias *%s; edit the anchored object by hand", ErrLayout, where, n.Value)
	case s.aliased[n]:
		return fmt.Errorf("%w: %s goes through the anchor &%s that other objects use; edit it by hand", ErrLayout, where, n.Anchor)
	}
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].ShortTag() == "!!merge" {
				return fmt.Errorf("%w: %s uses a YAML merge key (<<); edit it by hand", ErrLayout, where)
			}
		}
	}
	return nil
}

// get returns the value at keys below the page, or nil when a key is
// missing or its value is null.
func (s *source) get(keys ...string) (*yaml.Node, error) {
	n, err := s.pageNode()
	if err != nil {
		return nil, err
	}
	for i, k := range keys {
		if err := s.editable(n, keys[:i]); err != nil {
			return nil, err
		}
		if n.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("%w: %s:%d: page %q: %s is not an object", ErrLayout, s.path, n.Line, s.page, strings.Join(keys[:i], "."))
		}
		n = value(n, k)
		if n == nil || n.ShortTag() == "!!null" {
			return nil, nil
		}
	}
	if err := s.editable(n, keys); err != nil {
		return nil, err
	}
	return n, nil
}

func valueIndex(m *yaml.Node, key string) int {
	if m.Kind != yaml.MappingNode {
		return -1
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key && m.Content[i].Kind == yaml.ScalarNode {
			return i + 1
		}
	}
	return -1
}

func value(m *yaml.Node, key string) *yaml.Node {
	if i := valueIndex(m, key); i >= 0 {
		return m.Content[i]
	}
	return nil
}

// set makes key, in the mapping at keys below the page, hold what build
// returns from its current value (nil when absent). A new key goes after
// the entry whose index at returns. A value equal to the old one changes
// nothing.
func (s *source) set(keys []string, key string, at func(m *yaml.Node) int, build func(old *yaml.Node) *yaml.Node) error {
	ch, err := s.chain(keys)
	if err != nil {
		return err
	}
	m := ch[len(ch)-1].child()
	if m.Kind != yaml.MappingNode {
		return fmt.Errorf("%w: %s:%d: page %q: %s is not an object", ErrLayout, s.path, m.Line, s.page, strings.Join(keys, "."))
	}
	vi := valueIndex(m, key)
	var old *yaml.Node
	if vi >= 0 {
		old = m.Content[vi]
		sp := s.span[old]
		for _, n := range s.order[sp[0]:sp[1]] {
			if s.aliased[n] {
				return fmt.Errorf("%w: %s:%d: page %q: %s carries the anchor &%s that other objects use; edit it by hand",
					ErrLayout, s.path, n.Line, s.page, strings.Join(append(slices.Clip(keys), key), "."), n.Anchor)
			}
		}
	}
	nv := build(old)
	if old != nil && equalNodes(old, nv) {
		return nil
	}

	// Regions are measured on the tree as parsed, before it changes.
	// blockTo[i] reports whether ch[:i] are all in block style.
	blockTo := make([]bool, len(ch)+1)
	blockTo[0] = true
	for i, sl := range ch {
		blockTo[i+1] = blockTo[i] && sl.child().Style&yaml.FlowStyle == 0
	}
	j := -1
	if old == nil {
		j = at(m)
	}
	var regions []region
	if blockTo[len(ch)] {
		if old != nil {
			if old.Kind == yaml.SequenceNode && old.Style&yaml.FlowStyle == 0 && nv.Style&yaml.FlowStyle == 0 && old.Line > m.Content[vi-1].Line {
				// The list alone, under its key: listNode already dropped
				// the comment above the list.
				regions = append(regions, s.nodeRegion(old, false, func() *yaml.Node { return m.Content[vi] }))
			}
			regions = append(regions, s.entryRegion(m, vi, old))
		} else {
			regions = append(regions, s.insertRegion(m, j))
		}
	}
	// Wider regions, up to the whole document: the way out of flow style
	// and of layouts a narrow region cannot be cut from.
	for i := len(ch) - 1; i >= 0; i-- {
		sl := ch[i]
		if !blockTo[i] {
			continue
		}
		if sl.parent.Kind == yaml.MappingNode {
			regions = append(regions, s.entryRegion(sl.parent, sl.idx, sl.child()))
		} else {
			regions = append(regions, s.nodeRegion(sl.child(), true, sl.child))
		}
	}

	if old != nil {
		m.Content[vi] = nv
	} else {
		k := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}
		m.Content = slices.Insert(m.Content, 2*(j+1), k, nv)
	}

	if s.json {
		dirty := map[*yaml.Node]bool{}
		for _, sl := range ch {
			dirty[sl.child()] = true
		}
		out, err := writeJSON(s.data, s.docs, s.verbatimJSON(dirty))
		if err != nil {
			return fmt.Errorf("%s: %w", s.path, err)
		}
		return s.accept(out)
	}
	for _, r := range regions {
		if !r.ok {
			continue
		}
		out, err := s.splice(r)
		if err != nil {
			continue
		}
		if err := s.accept(out); err == nil {
			return nil
		}
	}
	return fmt.Errorf("%w: %s: cannot rewrite page %q's %s without changing the rest of the file; edit it by hand",
		ErrLayout, s.path, s.page, strings.Join(append(slices.Clip(keys), key), "."))
}

// accept takes out as the file's new text if it parses to the edited tree.
func (s *source) accept(out []byte) error {
	docs, err := decodeAll(out)
	if err != nil {
		return err
	}
	if len(docs) != len(s.docs) {
		return errors.New("document count changed")
	}
	for i := range docs {
		if !equalNodes(docs[i], s.docs[i]) {
			return errors.New("the text does not parse to the edited tree")
		}
	}
	return s.load(out)
}

// region is a byte range of the file to replace with the encoding of a
// node, measured before the edit and encoded after it.
type region struct {
	ok         bool
	start, end int
	// indent is prefixed to every line of the encoding but the first (the
	// first continues the start line), or to every line when insert.
	indent int
	insert bool
	node   func() *yaml.Node
	// comment and gap are a one-line region's line comment and the blanks
	// before it, which the encoder would shrink to one space.
	comment, gap string
}

// entryRegion covers the entry of m whose value is at vi: from its key to
// the last line of old, its value as parsed.
func (s *source) entryRegion(m *yaml.Node, vi int, old *yaml.Node) region {
	k := m.Content[vi-1]
	last, ok := s.lastLine(old)
	if !ok || m.Style&yaml.FlowStyle != 0 || !s.clean(k.Line, k.Column) || last < k.Line {
		return region{}
	}
	r := region{
		ok: true, start: s.offset(k.Line, k.Column), end: s.lineEnd(last), indent: k.Column - 1,
		node: func() *yaml.Node {
			kc := *k
			kc.HeadComment, kc.FootComment = "", ""
			return &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{&kc, trimFoot(m.Content[vi])}}
		},
	}
	if last == k.Line {
		for _, c := range []string{old.LineComment, k.LineComment} {
			line := strings.TrimRight(s.lineText(last), " \t\r")
			if c != "" && strings.HasSuffix(line, c) {
				rest := line[:len(line)-len(c)]
				r.comment, r.gap = c, rest[len(strings.TrimRight(rest, " \t")):]
				break
			}
		}
	}
	return r
}

// nodeRegion covers n alone, from its first character to its last line;
// head says whether the head comments of its leftmost nodes are above it.
func (s *source) nodeRegion(n *yaml.Node, head bool, now func() *yaml.Node) region {
	last, ok := s.lastLine(n)
	if !ok || !s.clean(n.Line, n.Column) {
		return region{}
	}
	return region{
		ok: true, start: s.offset(n.Line, n.Column), end: s.lineEnd(last), indent: n.Column - 1,
		node: func() *yaml.Node {
			if head {
				return trimHead(trimFoot(now()))
			}
			return trimFoot(now())
		},
	}
}

// insertRegion is the end of the j-th entry of block mapping m: new
// entries go on the lines after it, at the mapping's indentation.
func (s *source) insertRegion(m *yaml.Node, j int) region {
	if m.Style&yaml.FlowStyle != 0 || len(m.Content) < 2 {
		return region{}
	}
	last, ok := s.lastLine(m.Content[2*j+1])
	if !ok {
		return region{}
	}
	end := s.lineEnd(last)
	return region{
		ok: true, start: end, end: end, indent: m.Content[0].Column - 1, insert: true,
		node: func() *yaml.Node {
			return &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{m.Content[2*j+2], m.Content[2*j+3]}}
		},
	}
}

// lastLine returns the last line of n's text: at least the line of its
// last node, and any line before the next node's that is neither blank, a
// comment nor a document marker (a flow list's closing bracket, the rest
// of a multi-line scalar). ok is false when the next node starts on that
// line, so no line boundary ends n.
func (s *source) lastLine(n *yaml.Node) (int, bool) {
	sp, known := s.span[n]
	if !known {
		return 0, false
	}
	maxLine := 0
	for _, c := range s.order[sp[0]:sp[1]] {
		maxLine = max(maxLine, c.Line)
	}
	next := len(s.lines) + 1
	if sp[1] < len(s.order) {
		next = s.order[sp[1]].Line
	}
	if next <= maxLine {
		return 0, false
	}
	for l := next - 1; l > maxLine; l-- {
		if isContent(s.lineText(l)) {
			return l, true
		}
	}
	return maxLine, true
}

// isContent reports whether a line holds more than blanks, a comment or a
// document marker.
func isContent(line string) bool {
	t := strings.TrimRight(strings.TrimLeft(line, " \t"), " \t\r")
	if t == "" || t[0] == '#' {
		return false
	}
	if len(t) == len(strings.TrimRight(line, " \t\r")) && (strings.HasPrefix(t, "---") || strings.HasPrefix(t, "...")) {
		return len(t) > 3 && t[3] != ' ' && t[3] != '\t'
	}
	return true
}

// clean reports whether only indentation and sequence dashes precede
// line:col, so a region may start there.
func (s *source) clean(line, col int) bool {
	if line < 1 || line > len(s.lines) {
		return false
	}
	for _, r := range s.lineText(line)[:s.offset(line, col)-s.lines[line-1]] {
		if r != ' ' && r != '-' {
			return false
		}
	}
	return true
}

func (s *source) lineText(l int) string {
	return string(s.data[s.lines[l-1]:s.lineEnd(l)])
}

// lineEnd is the offset of line l's line break (before any \r).
func (s *source) lineEnd(l int) int {
	end := len(s.data)
	if l < len(s.lines) {
		end = s.lines[l] - 1
	}
	if end > s.lines[l-1] && s.data[end-1] == '\r' {
		end--
	}
	return end
}

// offset converts yaml.v3's line and column (in characters) to a byte
// offset.
func (s *source) offset(line, col int) int {
	off := s.lines[line-1]
	for i := 1; i < col && off < len(s.data) && s.data[off] != '\n'; i++ {
		_, size := utf8.DecodeRune(s.data[off:])
		off += size
	}
	return off
}

// splice returns the file with r replaced by its encoding.
func (s *source) splice(r region) ([]byte, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(s.indent)
	if err := enc.Encode(r.node()); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	text := strings.TrimSuffix(b.String(), "\n")
	if r.comment != "" && r.gap != "" && !strings.Contains(text, "\n") && strings.HasSuffix(text, " "+r.comment) {
		text = text[:len(text)-len(r.comment)-1] + r.gap + r.comment
	}
	lines := strings.Split(text, "\n")
	pad := strings.Repeat(" ", r.indent)
	for i, l := range lines {
		if (i > 0 || r.insert) && l != "" {
			lines[i] = pad + l
		}
	}
	nl := "\n"
	if s.crlf {
		nl = "\r\n"
	}
	text = strings.Join(lines, nl)
	if r.insert {
		text = nl + text
	}
	out := make([]byte, 0, len(s.data)+len(text))
	out = append(out, s.data[:r.start]...)
	out = append(out, text...)
	return append(out, s.data[r.end:]...), nil
}

// trimHead returns n without the head comments of its leftmost nodes: they
// sit above a region and stay in the text.
func trimHead(n *yaml.Node) *yaml.Node {
	c := *n
	c.HeadComment = ""
	if len(c.Content) > 0 && c.Kind != yaml.DocumentNode {
		c.Content = slices.Clone(c.Content)
		c.Content[0] = trimHead(c.Content[0])
	}
	return &c
}

// trimFoot returns n without the foot comments of its rightmost nodes:
// they sit below a region and stay in the text.
func trimFoot(n *yaml.Node) *yaml.Node {
	c := *n
	c.FootComment = ""
	if len(c.Content) > 0 {
		c.Content = slices.Clone(c.Content)
		last := len(c.Content) - 1
		c.Content[last] = trimFoot(c.Content[last])
		if c.Kind == yaml.MappingNode && last > 0 {
			k := *c.Content[last-1]
			k.FootComment = ""
			c.Content[last-1] = &k
		}
	}
	return &c
}

// equalNodes reports whether a and b hold the same data: kinds, tags,
// scalar values, anchors and aliases, in order. Styles, comments and
// positions do not count.
func equalNodes(a, b *yaml.Node) bool {
	if a.Kind != b.Kind || a.Anchor != b.Anchor || len(a.Content) != len(b.Content) {
		return false
	}
	switch a.Kind {
	case yaml.ScalarNode:
		return a.ShortTag() == b.ShortTag() && a.Value == b.Value
	case yaml.AliasNode:
		return a.Value == b.Value
	case yaml.MappingNode, yaml.SequenceNode:
		if a.ShortTag() != b.ShortTag() {
			return false
		}
	}
	for i := range a.Content {
		if !equalNodes(a.Content[i], b.Content[i]) {
			return false
		}
	}
	return true
}
