package index

import (
	"encoding/json"
	"fmt"
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
