package query

import (
	"encoding/json"
	"math"
	"sort"
	"strings"
	"time"
)

// IndexValue is one row of the index's entity_values table for a property
// value: the typed form that both the SQL compiler and the in-memory
// evaluator compare. The index must write exactly the rows IndexValues
// returns, or SQL and in-memory results will differ.
type IndexValue struct {
	// Idx is -1 for a scalar, else the item's position in the array.
	Idx int
	// Typ is "s" string, "n" number, "b" boolean or "j" JSON object/array.
	Typ string
	// Str is set for "s" and "j" (the JSON text).
	Str string
	// Num is set for "n", "b" (0 or 1), and for an "s" that is a date
	// (epoch seconds); HasNum says whether it is set.
	Num    float64
	HasNum bool
}

// IndexValues returns the entity_values rows of a property value: none for
// null (or an absent value), one row per non-null item of an array, one row
// for a scalar. Numbers become float64 (as SQLite's REAL does), strings
// that are dates also get their epoch seconds, and objects and nested
// arrays are kept as their JSON text.
func IndexValues(v any) []IndexValue {
	if arr, ok := v.([]any); ok {
		return AppendIndexValues(make([]IndexValue, 0, len(arr)), v)
	}
	return AppendIndexValues(nil, v)
}

// AppendIndexValues appends the rows IndexValues returns for v to dst, so
// that a caller flattening many values can reuse one slice.
func AppendIndexValues(dst []IndexValue, v any) []IndexValue {
	if arr, ok := v.([]any); ok {
		for i, x := range arr {
			if x == nil {
				continue
			}
			dst = append(dst, scalarValue(i, x))
		}
		return dst
	}
	if v == nil {
		return dst
	}
	return append(dst, scalarValue(-1, v))
}

func scalarValue(idx int, v any) IndexValue {
	switch x := v.(type) {
	case string:
		iv := IndexValue{Idx: idx, Typ: "s", Str: x}
		if t, ok := ParseTime(x); ok {
			iv.Num, iv.HasNum = Epoch(t), true
		}
		return iv
	case bool:
		n := 0.0
		if x {
			n = 1
		}
		return IndexValue{Idx: idx, Typ: "b", Num: n, HasNum: true}
	}
	if f, ok := toNumber(v); ok {
		return IndexValue{Idx: idx, Typ: "n", Num: f, HasNum: true}
	}
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte("null")
	}
	return IndexValue{Idx: idx, Typ: "j", Str: string(b)}
}

// toNumber converts the number types a YAML or JSON decoder produces.
func toNumber(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, !math.IsNaN(x) && !math.IsInf(x, 0)
	case float32:
		return float64(x), true
	case int64:
		return float64(x), true
	case int:
		return float64(x), true
	case int32:
		return float64(x), true
	case uint64:
		return float64(x), true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil && !math.IsInf(f, 0)
	}
	return 0, false
}

// ParseTime reports whether s is a date the way berth reads dates: an RFC
// 3339 date-time (any offset, optional fraction) or a YYYY-MM-DD date
// (midnight UTC).
func ParseTime(s string) (time.Time, bool) {
	if len(s) < 10 || len(s) > 40 || s[4] != '-' {
		return time.Time{}, false
	}
	if len(s) == 10 {
		t, err := time.Parse(time.DateOnly, s)
		return t, err == nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	return t, err == nil
}

// Epoch is a time as the index stores it in entity_values.num: seconds
// since 1970 at millisecond precision, the precision of SQLite's
// unixepoch(x, 'subsec').
func Epoch(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

// FormatTime is the text form of $createdAt and $updatedAt: RFC 3339, UTC,
// whole seconds. The index's entities.created_at/updated_at must use it.
func FormatTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// normalize converts a rule value to a string, float64 or bool.
func normalize(v any) (any, bool) {
	switch x := v.(type) {
	case string, bool:
		return x, true
	}
	if f, ok := toNumber(v); ok {
		return f, true
	}
	return nil, false
}

// foldASCII lowercases ASCII letters only, as SQLite's LIKE does.
func foldASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if b[j] >= 'A' && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// Presets are the between presets berth accepts, with their day spans:
// a negative span reaches back from now, a positive one forward; 0 marks
// the calendar days (today, yesterday, tomorrow, UTC).
var Presets = map[string]int{
	"today": 0, "yesterday": 0, "tomorrow": 0,
	"lastDay": -1, "lastWeek": -7, "last2Weeks": -14, "lastMonth": -30, "last30days": -30,
	"last3Months": -90, "last6Months": -180, "last12Months": -365,
	"last2Years": -730, "last3Years": -1095,
	"nextDay": 1, "nextWeek": 7, "next2Weeks": 14, "nextMonth": 30,
	"next3Months": 90, "next6Months": 180, "next12Months": 365,
}

func presetNames() string {
	names := make([]string, 0, len(Presets))
	for k := range Presets {
		names = append(names, k)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// bounds returns the inclusive epoch range of r at now.
func (r *Range) bounds(now time.Time) (from, to float64) {
	if r.Preset == "" {
		return r.From, r.To
	}
	now = now.UTC().Truncate(time.Millisecond)
	day := 24 * time.Hour
	span := Presets[r.Preset]
	switch {
	case span < 0:
		return Epoch(now.Add(time.Duration(span) * day)), Epoch(now)
	case span > 0:
		return Epoch(now), Epoch(now.Add(time.Duration(span) * day))
	}
	start := now.Truncate(day)
	switch r.Preset {
	case "yesterday":
		start = start.Add(-day)
	case "tomorrow":
		start = start.Add(day)
	}
	return Epoch(start), Epoch(start.Add(day - time.Millisecond))
}
