package index

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
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

// entityDoc is the Port JSON shape of an entity as the index stores and the
// API serves it: computed properties sit among the stored ones.
type entityDoc struct {
	Identifier string                           `json:"identifier"`
	Title      string                           `json:"title,omitempty"`
	Icon       string                           `json:"icon,omitempty"`
	Blueprint  string                           `json:"blueprint"`
	Team       []string                         `json:"team"`
	Properties map[string]any                   `json:"properties"`
	Relations  map[string]catalog.RelationValue `json:"relations"`
	CreatedAt  any                              `json:"createdAt,omitempty"`
	CreatedBy  string                           `json:"createdBy,omitempty"`
	UpdatedAt  any                              `json:"updatedAt,omitempty"`
	UpdatedBy  string                           `json:"updatedBy,omitempty"`
}

// properties returns e's properties with computed ones added; a computed
// value wins over a stored one of the same name.
func properties(e *catalog.Entity, computed map[string]any) map[string]any {
	if len(computed) == 0 {
		if e.Properties == nil {
			return map[string]any{}
		}
		return e.Properties
	}
	props := make(map[string]any, len(e.Properties)+len(computed))
	maps.Copy(props, e.Properties)
	maps.Copy(props, computed)
	return props
}

// encodeEntity returns the entity's JSON document and the hash Apply uses to
// skip unchanged entities. encoding/json writes map keys sorted, so equal
// entities give equal bytes. The hash covers the source position as well: a
// file moved without an edit must still be written, or the index would keep
// pointing at the old path.
func encodeEntity(e *catalog.Entity, props map[string]any, file string, line int) ([]byte, string, error) {
	team := e.Team
	if team == nil {
		team = []string{}
	}
	rels := e.Relations
	if rels == nil {
		rels = map[string]catalog.RelationValue{}
	}
	b, err := json.Marshal(entityDoc{
		Identifier: e.Identifier, Title: e.Title, Icon: e.Icon, Blueprint: e.Blueprint,
		Team: team, Properties: props, Relations: rels,
		CreatedAt: formatTime(e.Meta.CreatedAt), CreatedBy: e.Meta.CreatedBy,
		UpdatedAt: formatTime(e.Meta.UpdatedAt), UpdatedBy: e.Meta.UpdatedBy,
	})
	if err != nil {
		return nil, "", fmt.Errorf("encode entity %s/%s: %w", e.Blueprint, e.Identifier, err)
	}
	h := sha256.New()
	h.Write(b)
	fmt.Fprintf(h, "\x00%s:%d", file, line)
	return b, hex.EncodeToString(h.Sum(nil)[:16]), nil
}

// value is one row of entity_values: a property key with one of the typed
// rows query.IndexValues defines. Using that one definition keeps SQL search
// and in-memory evaluation in agreement.
type value struct {
	key string
	query.IndexValue
}

// flatten appends the rows for property key holding v.
func flatten(out []value, key string, v any) []value {
	if strs, ok := v.([]string); ok {
		arr := make([]any, len(strs))
		for i, s := range strs {
			arr[i] = s
		}
		v = arr
	}
	for _, iv := range query.IndexValues(v) {
		out = append(out, value{key: key, IndexValue: iv})
	}
	return out
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
