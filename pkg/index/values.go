package index

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"time"

	"github.com/berth-dev/berth/pkg/catalog"
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
// entities give equal bytes.
func encodeEntity(e *catalog.Entity, props map[string]any) ([]byte, string, error) {
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
	sum := sha256.Sum256(b)
	return b, hex.EncodeToString(sum[:16]), nil
}

// value is one row of entity_values.
type value struct {
	key string
	idx int
	typ string
	str any // string or nil
	num any // float64 or nil
}

// flatten appends the rows for property key holding v: none for null, one
// per item for an array (idx 0..n-1, null items skipped), else one with
// idx -1.
func flatten(out []value, key string, v any) ([]value, error) {
	if strs, ok := v.([]string); ok {
		for i, s := range strs {
			row, _ := scalar(key, i, s) // strings always convert
			out = append(out, row)
		}
		return out, nil
	}
	if arr, ok := v.([]any); ok {
		for i, item := range arr {
			if item == nil {
				continue
			}
			row, err := scalar(key, i, item)
			if err != nil {
				return out, err
			}
			out = append(out, row)
		}
		return out, nil
	}
	if v == nil {
		return out, nil
	}
	row, err := scalar(key, -1, v)
	if err != nil {
		return out, err
	}
	return append(out, row), nil
}

func scalar(key string, idx int, v any) (value, error) {
	row := value{key: key, idx: idx}
	switch v := v.(type) {
	case string:
		row.typ, row.str = "s", v
		if t, ok := dateValue(v); ok {
			row.num = float64(t.Unix())
		}
		return row, nil
	case bool:
		row.typ, row.num = "b", 0.0
		if v {
			row.num = 1.0
		}
		return row, nil
	case json.Number:
		f, err := v.Float64()
		if err != nil {
			return row, fmt.Errorf("property %s: %w", key, err)
		}
		row.typ, row.num = "n", f
		return row, nil
	}
	if f, ok := number(v); ok {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			// Not representable in JSON either; keep the row, without a value.
			row.typ = "n"
			return row, nil
		}
		row.typ, row.num = "n", f
		return row, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return row, fmt.Errorf("property %s: %w", key, err)
	}
	row.typ, row.str = "j", string(b)
	return row, nil
}

func number(v any) (float64, bool) {
	switch v := v.(type) {
	case float64:
		return v, true
	case float32:
		return float64(v), true
	case int:
		return float64(v), true
	case int64:
		return float64(v), true
	case int32:
		return float64(v), true
	case uint64:
		return float64(v), true
	case uint32:
		return float64(v), true
	case uint:
		return float64(v), true
	}
	return 0, false
}

// dateValue parses s as an RFC 3339 date-time or a YYYY-MM-DD date (UTC
// midnight). It checks the shape first: most strings are not dates, and
// time.Parse on them would cost an error allocation each.
func dateValue(s string) (time.Time, bool) {
	switch {
	case len(s) == 10 && s[4] == '-' && s[7] == '-':
		t, err := time.Parse(time.DateOnly, s)
		return t, err == nil
	case len(s) >= 20 && s[4] == '-' && s[7] == '-' && (s[10] == 'T' || s[10] == 't'):
		t, err := time.Parse(time.RFC3339Nano, s)
		return t, err == nil
	}
	return time.Time{}, false
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
