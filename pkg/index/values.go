package index

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/berth-dev/berth/pkg/catalog"
	"github.com/berth-dev/berth/pkg/query"
)

// timeLayout is how the index writes instants: RFC 3339 in UTC with whole
// seconds, which sorts as text in time order.
const timeLayout = "2006-01-02T15:04:05Z"

func formatTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(timeLayout)
}

func parseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t
}

// entityContent is an entity as its file in Git says it, in the Port JSON
// shape the index stores and the API serves. The stored document is this
// with computed properties among the stored ones and entityMeta's fields
// appended.
type entityContent struct {
	Identifier string                           `json:"identifier"`
	Title      string                           `json:"title,omitempty"`
	Icon       string                           `json:"icon,omitempty"`
	Blueprint  string                           `json:"blueprint"`
	Team       []string                         `json:"team"`
	Properties map[string]any                   `json:"properties"`
	Relations  map[string]catalog.RelationValue `json:"relations"`
}

// entityMeta is the part of an entity's document that comes from Git's
// history rather than from its file.
type entityMeta struct {
	CreatedAt any    `json:"createdAt,omitempty"`
	CreatedBy string `json:"createdBy,omitempty"`
	UpdatedAt any    `json:"updatedAt,omitempty"`
	UpdatedBy string `json:"updatedBy,omitempty"`
}

// properties returns e's properties with computed ones added; a computed
// value wins over a stored one of the same name. With computed ones they
// are merged into into, an empty map, when it is not nil.
func properties(e *catalog.Entity, computed, into map[string]any) map[string]any {
	if len(computed) == 0 {
		if e.Properties == nil {
			return map[string]any{}
		}
		return e.Properties
	}
	if into == nil {
		into = make(map[string]any, len(e.Properties)+len(computed))
	}
	maps.Copy(into, e.Properties)
	maps.Copy(into, computed)
	return into
}

// encodeEntity returns the entity's JSON document, the hash Apply uses to
// skip unchanged entities, and the hash of the entity's own content (no
// computed properties, no history): what the audit log calls a change.
// props are e's properties with the computed ones (see properties);
// computed says whether there were any. encoding/json writes map keys
// sorted, so equal entities give equal bytes.
func encodeEntity(e *catalog.Entity, props map[string]any, computed bool) (doc, hash, src string, err error) {
	team := e.Team
	if team == nil {
		team = []string{}
	}
	rels := e.Relations
	if rels == nil {
		rels = map[string]catalog.RelationValue{}
	}
	c := entityContent{Identifier: e.Identifier, Title: e.Title, Icon: e.Icon, Blueprint: e.Blueprint,
		Team: team, Properties: props, Relations: rels}
	full, err := json.Marshal(c)
	if err != nil {
		return "", "", "", fmt.Errorf("encode entity %s/%s: %w", e.Blueprint, e.Identifier, err)
	}
	meta, err := json.Marshal(entityMeta{CreatedAt: formatTime(e.Meta.CreatedAt), CreatedBy: e.Meta.CreatedBy,
		UpdatedAt: formatTime(e.Meta.UpdatedAt), UpdatedBy: e.Meta.UpdatedBy})
	if err != nil {
		return "", "", "", fmt.Errorf("encode entity %s/%s: %w", e.Blueprint, e.Identifier, err)
	}
	// The document is full with meta's fields appended, byte for byte what
	// json.Marshal writes for one struct of both; both hashes leave out the
	// closing brace, so that without computed properties one pass over the
	// content serves both.
	body := full[:len(full)-1]
	h := sha256.New()
	h.Write(body)
	var srcSum []byte
	if computed {
		own, err := json.Marshal(entityContent{Identifier: e.Identifier, Title: e.Title, Icon: e.Icon,
			Blueprint: e.Blueprint, Team: team, Properties: properties(e, nil, nil), Relations: rels})
		if err != nil {
			return "", "", "", fmt.Errorf("encode entity %s/%s: %w", e.Blueprint, e.Identifier, err)
		}
		s := sha256.Sum256(own[:len(own)-1])
		srcSum = s[:]
	} else {
		srcSum = h.Sum(nil)
	}
	// Built as a string, not bytes converted (and copied) to one.
	tail := [][]byte{{'}'}}
	if len(meta) > 2 {
		tail = [][]byte{{','}, meta[1:]}
	}
	var b strings.Builder
	b.Grow(len(full) + len(meta))
	b.Write(body)
	for _, t := range tail {
		b.Write(t)
		h.Write(t)
	}
	doc = b.String()
	return doc, hex.EncodeToString(h.Sum(nil)[:16]), hex.EncodeToString(srcSum[:16]), nil
}

// appendIndexValues appends the entity_values rows of property value v, as
// query.IndexValues defines them, to dst: using that one definition keeps
// SQL search and in-memory evaluation in agreement.
func appendIndexValues(dst []query.IndexValue, v any) []query.IndexValue {
	if strs, ok := v.([]string); ok {
		arr := make([]any, len(strs))
		for i, s := range strs {
			arr[i] = s
		}
		v = arr
	}
	return query.AppendIndexValues(dst, v)
}

// object is a row of one of the small object tables.
type object struct {
	blueprint  string // scorecards only
	identifier string
	doc        []byte
	file       any
	line       any
}

func newObject(identifier string, v any, d *catalog.Document) (object, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return object{}, fmt.Errorf("encode %s: %w", identifier, err)
	}
	o := object{identifier: identifier, doc: b}
	if d != nil {
		p := d.Pos()
		o.file, o.line = p.File, p.Line
	}
	return o, nil
}
