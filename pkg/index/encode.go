package index

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"slices"
	"strings"

	"github.com/berth-dev/berth/pkg/catalog"
)

// docEncoder writes entity documents. The stored document is, byte for
// byte, what encoding/json writes for
//
//	struct {
//		Identifier string                           `json:"identifier"`
//		Title      string                           `json:"title,omitempty"`
//		Icon       string                           `json:"icon,omitempty"`
//		Blueprint  string                           `json:"blueprint"`
//		Team       []string                         `json:"team"`       // never null
//		Properties map[string]any                   `json:"properties"` // stored and computed
//		Relations  map[string]catalog.RelationValue `json:"relations"`  // never null
//		CreatedAt  string                           `json:"createdAt,omitempty"`
//		CreatedBy  string                           `json:"createdBy,omitempty"`
//		UpdatedAt  string                           `json:"updatedAt,omitempty"`
//		UpdatedBy  string                           `json:"updatedBy,omitempty"`
//	}
//
// (indexes written before keep their hashes); the content hash is that of
// the same document up to the relations, with the stored properties only.
// Every value goes through encoding/json: the encoder only puts the field
// names and the sorted property keys around the values, so that each
// property is encoded once for both documents, and without the copies
// encoding/json makes of a map's keys and values to sort them. A
// docEncoder is reused from entity to entity by one goroutine at a time.
type docEncoder struct {
	slab bytes.Buffer // the entity's encoded pieces
	// marks are where, in the slab, the head (`{"identifier":…,
	// "properties":{`) ends, and the tail (`},"relations":{…}`) starts and
	// ends; the properties' keys and values come between, the history
	// fields (`,"createdAt":…`) after.
	marks     [3]int
	enc       *json.Encoder
	keys      []string
	props     []span
	order     []int
	full, own hash.Hash
	punct     []byte // ",:}"
}

// span is where a property's key and value are in the slab.
type span struct {
	key, val [2]int
	// computed is set for a computed property, overridden for a stored
	// one that a computed one of the same name replaces.
	computed, overridden bool
}

func newDocEncoder() *docEncoder {
	d := &docEncoder{full: sha256.New(), own: sha256.New(), punct: []byte(",:}")}
	d.enc = json.NewEncoder(&d.slab)
	return d
}

// value appends v's JSON to the slab and returns where it is.
func (d *docEncoder) value(v any) ([2]int, error) {
	start := d.slab.Len()
	if err := d.enc.Encode(v); err != nil {
		return [2]int{}, err
	}
	d.slab.Truncate(d.slab.Len() - 1) // Encode ends with a newline
	return [2]int{start, d.slab.Len()}, nil
}

// field appends `,"name":` (without the comma first) and value v.
func (d *docEncoder) field(name string, v any, first bool) error {
	if !first {
		d.slab.WriteByte(',')
	}
	d.slab.WriteByte('"')
	d.slab.WriteString(name)
	d.slab.WriteString(`":`)
	_, err := d.value(v)
	return err
}

func (d *docEncoder) at(s [2]int) []byte { return d.slab.Bytes()[s[0]:s[1]] }

// encode returns e's stored document, with computed's properties among its
// own (a computed value wins), the document's hash (Apply skips an upsert
// whose hash the index holds) and the hash of the entity's own content (no
// computed properties, no history): what the audit log calls a change.
func (d *docEncoder) encode(e *catalog.Entity, computed map[string]any) (doc, docHash, src string, err error) {
	defer d.slab.Reset()
	if err := d.pieces(e, computed); err != nil {
		return "", "", "", fmt.Errorf("encode entity %s/%s: %w", e.Blueprint, e.Identifier, err)
	}
	return d.assemble()
}

// pieces encodes e's fields, properties and history into the slab.
func (d *docEncoder) pieces(e *catalog.Entity, computed map[string]any) error {
	d.slab.WriteByte('{')
	if err := d.field("identifier", e.Identifier, true); err != nil {
		return err
	}
	for _, f := range []struct {
		name, v string
	}{{"title", e.Title}, {"icon", e.Icon}} {
		if f.v != "" {
			if err := d.field(f.name, f.v, false); err != nil {
				return err
			}
		}
	}
	if err := d.field("blueprint", e.Blueprint, false); err != nil {
		return err
	}
	team := e.Team
	if team == nil {
		team = []string{}
	}
	if err := d.field("team", team, false); err != nil {
		return err
	}
	d.slab.WriteString(`,"properties":{`)
	d.marks[0] = d.slab.Len()

	d.keys, d.props = d.keys[:0], d.props[:0]
	for k := range e.Properties {
		d.keys = append(d.keys, k)
	}
	for k := range computed {
		d.keys = append(d.keys, k)
	}
	own := len(e.Properties)
	for i, k := range d.keys {
		sp := span{computed: i >= own}
		v := computed[k]
		if !sp.computed {
			v = e.Properties[k]
			_, sp.overridden = computed[k]
		}
		var err error
		if sp.key, err = d.value(k); err != nil {
			return err
		}
		if sp.val, err = d.value(v); err != nil {
			return err
		}
		d.props = append(d.props, sp)
	}
	// Sorted by key, as encoding/json writes a map.
	d.order = d.order[:0]
	for i := range d.keys {
		d.order = append(d.order, i)
	}
	slices.SortFunc(d.order, func(a, b int) int { return strings.Compare(d.keys[a], d.keys[b]) })

	d.marks[1] = d.slab.Len()
	rels := e.Relations
	if rels == nil {
		rels = map[string]catalog.RelationValue{}
	}
	d.slab.WriteString(`},"relations":`)
	if _, err := d.value(rels); err != nil {
		return err
	}
	d.marks[2] = d.slab.Len()
	m := e.Meta
	for _, f := range []struct {
		name string
		v    any
		set  bool
	}{
		{"createdAt", formatTime(m.CreatedAt), !m.CreatedAt.IsZero()},
		{"createdBy", m.CreatedBy, m.CreatedBy != ""},
		{"updatedAt", formatTime(m.UpdatedAt), !m.UpdatedAt.IsZero()},
		{"updatedBy", m.UpdatedBy, m.UpdatedBy != ""},
	} {
		if f.set {
			if err := d.field(f.name, f.v, false); err != nil {
				return err
			}
		}
	}
	return nil
}

// assemble writes the document and hashes it and the content from the
// slab's pieces.
func (d *docEncoder) assemble() (doc, docHash, src string, err error) {
	slab := d.slab.Bytes()
	head, tail, meta := slab[:d.marks[0]], slab[d.marks[1]:d.marks[2]], slab[d.marks[2]:]
	comma, colon, closing := d.punct[0:1], d.punct[1:2], d.punct[2:3]
	d.full.Reset()
	d.own.Reset()
	var b strings.Builder
	b.Grow(len(slab) + 1)
	toDoc := func(ps ...[]byte) {
		for _, p := range ps {
			b.Write(p)
			d.full.Write(p)
		}
	}
	toOwn := func(ps ...[]byte) {
		for _, p := range ps {
			d.own.Write(p)
		}
	}
	toDoc(head)
	toOwn(head)
	firstDoc, firstOwn := true, true
	for _, i := range d.order {
		sp := d.props[i]
		key, val := d.at(sp.key), d.at(sp.val)
		if !sp.overridden {
			if !firstDoc {
				toDoc(comma)
			}
			firstDoc = false
			toDoc(key, colon, val)
		}
		if !sp.computed {
			if !firstOwn {
				toOwn(comma)
			}
			firstOwn = false
			toOwn(key, colon, val)
		}
	}
	toDoc(tail, meta, closing)
	toOwn(tail)
	var sum [sha256.Size]byte
	docHash = hex.EncodeToString(d.full.Sum(sum[:0])[:16])
	src = hex.EncodeToString(d.own.Sum(sum[:0])[:16])
	return b.String(), docHash, src, nil
}
