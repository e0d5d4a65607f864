package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/berth-dev/berth/pkg/index"
)

// shape is how entities are rendered: Port's include, exclude,
// exclude_calculated_properties and attach_title_to_relation.
type shape struct {
	include, exclude  []string
	excludeCalculated bool
	attachTitles      bool
}

func (sh shape) plain() bool {
	return len(sh.include) == 0 && len(sh.exclude) == 0 && !sh.excludeCalculated && !sh.attachTitles
}

// shapeFromQuery reads the shape's query parameters. include and exclude
// may repeat, be written include[]=, or list fields separated by commas.
func shapeFromQuery(q url.Values) (shape, error) {
	var sh shape
	sh.include = listParam(q, "include")
	sh.exclude = listParam(q, "exclude")
	var err error
	if sh.excludeCalculated, err = boolParam(q, "exclude_calculated_properties"); err != nil {
		return sh, err
	}
	if sh.attachTitles, err = boolParam(q, "attach_title_to_relation"); err != nil {
		return sh, err
	}
	return sh, nil
}

func listParam(q url.Values, name string) []string {
	var out []string
	for _, v := range append(q[name], q[name+"[]"]...) {
		for _, f := range strings.Split(v, ",") {
			if f = strings.TrimSpace(f); f != "" {
				out = append(out, f)
			}
		}
	}
	return out
}

func boolParam(q url.Values, name string) (bool, error) {
	v := q.Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, errorf(kindInvalidRequest, "%s: want true or false, got %q", name, v)
	}
	return b, nil
}

func intParam(q url.Values, name string, def, lo, hi int) (int, error) {
	v := q.Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, errorf(kindInvalidRequest, "%s: want a whole number from %d to %d, got %q", name, lo, hi, v)
	}
	return n, nil
}

// source is berth's addition to Port's entity: where it lives in Git.
type source struct {
	File  string `json:"file"`
	Line  int    `json:"line"`
	Depth int    `json:"depth,omitempty"` // related walks only
}

type entityScore struct {
	Level string      `json:"level"`
	Rules []ruleScore `json:"rules"`
}

type ruleScore struct {
	Identifier string `json:"identifier"`
	Status     string `json:"status"`
	Level      string `json:"level"`
	Exempt     bool   `json:"exempt,omitempty"`
	// EnforceFrom is berth's: the failing rule is not enforced before
	// this date and did not lower the level.
	EnforceFrom string `json:"enforceFrom,omitempty"`
}

// entities renders index entities in Port's shape, with their scorecards
// and berth's source field; depth, when set, adds each one's distance in a
// relation walk.
func (rd *reader) entities(ents []index.Entity, sh shape, depth map[int64]int) ([]json.RawMessage, error) {
	ids := make([]int64, len(ents))
	for i, e := range ents {
		ids[i] = e.ID
	}
	var scores map[int64][]index.ScorecardResult
	if len(rd.meta.scorecards) > 0 && len(ids) > 0 {
		var err error
		if scores, err = index.ScoresTx(rd.ctx, rd.tx, ids); err != nil {
			return nil, err
		}
	}
	var titles map[relKey]string
	if sh.attachTitles && len(ids) > 0 {
		edges, err := index.RelationsTx(rd.ctx, rd.tx, ids, true)
		if err != nil {
			return nil, err
		}
		targets := make([]int64, len(edges))
		for i, e := range edges {
			targets[i] = e.Target
		}
		// A target the caller may not read keeps its identifier (the
		// entity's own data) but shows no title.
		visible, err := rd.visibleIDs(targets)
		if err != nil {
			return nil, err
		}
		titles = make(map[relKey]string, len(edges))
		for _, e := range edges {
			if visible[e.Target] {
				titles[relKey{e.Source, e.Relation, e.TargetIdentifier}] = e.TargetTitle
			}
		}
	}
	// Every entity is rendered into one buffer, the reader's arena when it
	// has one (the answer is written before the arena is reused).
	buf := rd.arena
	if buf == nil {
		buf = new(bytes.Buffer)
	}
	if sh.plain() {
		// Reshaped entities are copied out one at a time and the buffer
		// cut back (below): only a plain page stays in it whole.
		need := 0
		for _, e := range ents {
			need += len(e.Doc) + rd.tailSize(e, scores[e.ID])
		}
		buf.Grow(need)
	}
	out := make([]json.RawMessage, len(ents))
	for i, e := range ents {
		start := buf.Len()
		if err := rd.appendEntity(buf, e, scores[e.ID], depth[e.ID]); err != nil {
			return nil, err
		}
		b := buf.Bytes()[start:buf.Len():buf.Len()]
		if !sh.plain() {
			var err error
			if b, err = rd.reshape(e, b, sh, titles); err != nil {
				return nil, err
			}
			buf.Truncate(start) // reshape made a copy
		}
		out[i] = b
	}
	return out, nil
}

type relKey struct {
	source   int64
	relation string
	target   string
}

// appendEntity renders an entity into buf: the stored document, which is
// Port's shape already, with berth's fields spliced in before its closing
// brace, each encoded as json.Marshal encodes a struct field.
func (rd *reader) appendEntity(buf *bytes.Buffer, e index.Entity, scores []index.ScorecardResult, depth int) error {
	doc := bytes.TrimSpace(e.Doc)
	if len(doc) < 2 || doc[len(doc)-1] != '}' {
		return fmt.Errorf("entity %s/%s: stored document is not an object", e.Blueprint, e.Identifier)
	}
	buf.Write(doc[:len(doc)-1])
	if len(doc) > 2 {
		buf.WriteByte(',')
	}
	enc := json.NewEncoder(buf)
	field := func(name string, v any) error {
		buf.WriteString(name)
		if err := enc.Encode(v); err != nil {
			return fmt.Errorf("encode entity %s/%s: %w", e.Blueprint, e.Identifier, err)
		}
		buf.Truncate(buf.Len() - 1) // Encode's newline
		return nil
	}
	cards, stats := rd.scorecards(e.Blueprint, scores)
	if err := field(`"berth":`, source{e.File, e.Line, depth}); err != nil {
		return err
	}
	if err := field(`,"scorecards":`, cards); err != nil {
		return err
	}
	if stats != nil {
		if err := field(`,"scorecardsStats":`, *stats); err != nil {
			return err
		}
	}
	buf.WriteByte('}')
	return nil
}

// tailSize is about the size of berth's fields of a rendered entity (its
// source and scorecards), so that a page's buffer is allocated once.
func (rd *reader) tailSize(e index.Entity, scores []index.ScorecardResult) int {
	n := 64 + len(e.File)
	cards := rd.meta.scorecards[e.Blueprint]
	for _, r := range scores {
		n += 32 + len(r.Scorecard) + len(r.Level)
		sm := cards[r.Scorecard]
		if sm == nil {
			n += 64 * len(r.Rules)
			continue
		}
		for _, id := range sm.rules {
			// {"identifier":"…","status":"FAILURE","level":"…"},
			n += 48 + len(id) + len(sm.ruleLevel[id])
		}
	}
	return n
}

// reshape applies a shape's options to a rendered entity.
func (rd *reader) reshape(e index.Entity, b []byte, sh shape, titles map[relKey]string) (json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("decode entity %s/%s: %w", e.Blueprint, e.Identifier, err)
	}
	if props, ok := m["properties"].(map[string]any); ok && sh.excludeCalculated {
		for k := range rd.meta.computed[e.Blueprint] {
			delete(props, k)
		}
	}
	if rels, ok := m["relations"].(map[string]any); ok && sh.attachTitles {
		for name, v := range rels {
			rels[name] = attachTitles(e.ID, name, v, titles)
		}
	}
	if len(sh.include) > 0 {
		m = include(m, sh.include)
	}
	for _, p := range sh.exclude {
		top, sub, nested := strings.Cut(p, ".")
		if !nested {
			delete(m, top)
		} else if inner, ok := m[top].(map[string]any); ok {
			delete(inner, sub)
		}
	}
	out, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode entity %s/%s: %w", e.Blueprint, e.Identifier, err)
	}
	return out, nil
}

// attachTitles turns a relation value (an identifier, a list, or null) into
// {identifier, title} objects, as Port does with attach_title_to_relation.
func attachTitles(src int64, rel string, v any, titles map[relKey]string) any {
	one := func(id string) any {
		t, ok := titles[relKey{src, rel, id}]
		if !ok {
			return map[string]any{"identifier": id, "title": nil}
		}
		return map[string]any{"identifier": id, "title": t}
	}
	switch v := v.(type) {
	case string:
		return one(v)
	case []any:
		out := make([]any, len(v))
		for i, it := range v {
			if s, ok := it.(string); ok {
				out[i] = one(s)
			} else {
				out[i] = it
			}
		}
		return out
	}
	return v
}

// include keeps only the listed fields: top-level keys, or one level
// deeper (properties.x, relations.y).
func include(m map[string]any, paths []string) map[string]any {
	out := map[string]any{}
	for _, p := range paths {
		top, sub, nested := strings.Cut(p, ".")
		v, ok := m[top]
		if !ok {
			continue
		}
		if !nested {
			out[top] = v
			continue
		}
		inner, ok := v.(map[string]any)
		if !ok {
			continue
		}
		if _, ok := inner[sub]; !ok {
			continue
		}
		dst, ok := out[top].(map[string]any)
		if !ok {
			dst = map[string]any{}
			out[top] = dst
		}
		dst[sub] = inner[sub]
	}
	return out
}

// scorecards renders an entity's results in Port's shape, with
// scorecardsStats the percentage of rules passed across them.
func (rd *reader) scorecards(blueprint string, scores []index.ScorecardResult) (map[string]entityScore, *float64) {
	out := make(map[string]entityScore, len(scores))
	passed, total := 0, 0
	cards := rd.meta.scorecards[blueprint]
	for _, r := range scores {
		sm := cards[r.Scorecard]
		// The index lists the rules that failed or are exempt; the
		// scorecard's other rules passed.
		var ids []string
		if sm != nil {
			ids = sm.rules
		} else {
			for _, rr := range r.Rules {
				ids = append(ids, rr.Rule)
			}
		}
		es := entityScore{Level: r.Level, Rules: make([]ruleScore, 0, len(ids))}
		for _, id := range ids {
			rs := ruleScore{Identifier: id, Status: "SUCCESS"}
			// Few rules are listed: a scan beats building a map.
			if i := slices.IndexFunc(r.Rules, func(rr index.RuleResult) bool { return rr.Rule == id }); i >= 0 {
				rs.Status, rs.Exempt, rs.EnforceFrom = r.Rules[i].Status, r.Rules[i].Exempt, r.Rules[i].EnforceFrom
			}
			if sm != nil {
				rs.Level = sm.ruleLevel[id]
			}
			es.Rules = append(es.Rules, rs)
		}
		out[r.Scorecard] = es
		passed += r.Passed
		total += r.Total
	}
	if total == 0 {
		return out, nil
	}
	pct := math.Round(float64(passed)/float64(total)*10000) / 100
	return out, &pct
}

// object renders a blueprint, scorecard, action or page with berth's
// source field.
func object(o index.Object) (json.RawMessage, error) {
	tail, err := json.Marshal(struct {
		Berth source `json:"berth"`
	}{source{File: o.File, Line: o.Line}})
	if err != nil {
		return nil, err
	}
	doc := bytes.TrimSpace(o.Doc)
	if len(doc) < 2 || doc[len(doc)-1] != '}' {
		return nil, fmt.Errorf("object %s: stored document is not an object", o.Identifier)
	}
	b := append([]byte{}, doc[:len(doc)-1]...)
	if len(doc) > 2 {
		b = append(b, ',')
	}
	return append(b, tail[1:]...), nil
}

func objects(objs []index.Object) ([]json.RawMessage, error) {
	out := make([]json.RawMessage, len(objs))
	for i, o := range objs {
		b, err := object(o)
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
}
