package api

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/berth-dev/berth/pkg/access"
	"github.com/berth-dev/berth/pkg/catalog"
	"github.com/berth-dev/berth/pkg/index"
	"github.com/berth-dev/berth/pkg/query"
)

// Widget kinds, each with the type names Port and the seed give it.
const (
	widgetNumber = "number"
	widgetPie    = "pie"
	widgetTable  = "table"
	widgetLine   = "line"
)

var widgetKinds = map[string]string{
	"number": widgetNumber, "entities-number-chart": widgetNumber,
	"pie-chart": widgetPie, "entities-pie-chart": widgetPie,
	"table": widgetTable, "table-entities-explorer": widgetTable, "entities-table": widgetTable,
	"line-chart": widgetLine,
}

// widget is one widget of a page, as a data request reads it.
type widget struct {
	page *catalog.Page
	def  map[string]any
	id   string
	typ  string
	kind string
	// scope are the blueprints the widget reads: those its blueprint key
	// or its dataset's top-level $blueprint rule names, else every one.
	scope []string
}

func (wd *widget) str(key string) string {
	s, _ := wd.def[key].(string)
	return s
}

// invalid is the error of a widget whose definition berth cannot use: the
// page's file is at fault, not the request.
func (wd *widget) invalid(format string, args ...any) error {
	return errorf(kindInvalidRequest, "page %q, widget %q: %s; fix the page's file", wd.page.Identifier, wd.id,
		fmt.Sprintf(format, args...))
}

// widgetData is GET /v1/pages/{id}/widgets/{widget}/data: what a widget
// shows, computed in SQL over the entities the caller may read that match
// the widget's dataset, the page's filters (with the caller's
// {{ user.team }}) and the request's filters (a JSON list of rules, or a
// query, ANDed; refused on a locked page). A table pages with limit and
// from, like a blueprint search.
func (s *Server) widgetData(w http.ResponseWriter, r *http.Request) {
	pageID, widgetID := r.PathValue("id"), r.PathValue("widget")
	q := r.URL.Query()
	extra, err := filtersParam(q)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	limit, err := intParam(q, "limit", DefaultSearchLimit, 1, MaxSearchLimit)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	// A line chart's days move with the clock: the day goes into the
	// ETag (read hashes it as it would a body), so a cached answer
	// expires at midnight UTC.
	day := []byte(s.cfg.Now().UTC().Format(time.DateOnly))
	s.read(w, r, day, func(rd *reader) (any, error) {
		p, _, err := rd.findPage(pageID)
		if err != nil {
			return nil, err
		}
		wd, err := rd.widget(p, widgetID)
		if err != nil {
			return nil, err
		}
		if p.Locked && extra != nil {
			return nil, errorf(kindPageLocked, "page %q is locked: its filters apply as written and a request "+
				"may not add its own; drop the filters parameter, or unlock the page in Git (berth pages unlock %s)",
				p.Identifier, p.Identifier)
		}
		where, args, err := rd.widgetWhere(wd, extra)
		if err != nil {
			return nil, err
		}
		out := map[string]any{"ok": true, "widget": map[string]any{"id": wd.id, "type": wd.typ, "title": wd.str("title")}}
		switch wd.kind {
		case widgetNumber:
			err = rd.numberData(wd, where, args, out)
		case widgetPie:
			err = rd.pieData(wd, where, args, out)
		case widgetTable:
			err = rd.tableData(wd, where, args, limit, q.Get("from"), q.Get("filters"), out)
		case widgetLine:
			err = rd.lineData(wd, where, args, out)
		}
		return out, err
	})
}

// filtersParam reads the filters query parameter: nil when absent.
func filtersParam(q url.Values) (catalog.Query, error) {
	vs, ok := q["filters"]
	if !ok {
		return nil, nil
	}
	if len(vs) != 1 {
		return nil, errorf(kindInvalidRequest, "filters: give it once, as a JSON list of rules")
	}
	dec := json.NewDecoder(strings.NewReader(vs[0]))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	if err == nil {
		if _, tail := dec.Token(); tail != io.EOF {
			err = errors.New("data after the list")
		}
	}
	if err != nil {
		return nil, errorf(kindInvalidRequest, "filters: want a JSON list of rules: %v", err)
	}
	switch x := v.(type) {
	case []any:
		return catalog.Query{"combinator": "and", "rules": x}, nil
	case map[string]any:
		return x, nil
	}
	return nil, errorf(kindInvalidRequest, "filters: want a JSON list of rules or a query {combinator, rules}")
}

// widget finds a page's widget by id, in the page's widgets or nested in
// one (Port's dashboard-widget holds the others), answering not_found for
// a missing one and invalid_request for one without data.
func (rd *reader) widget(p *catalog.Page, id string) (*widget, error) {
	def := findWidget(p.Widgets, id)
	if def == nil {
		return nil, errorf(kindNotFound, "widget %q not found on page %q", id, p.Identifier)
	}
	wd := &widget{page: p, def: def, id: id}
	wd.typ = wd.str("type")
	wd.kind = widgetKinds[wd.typ]
	if wd.kind == "" {
		return nil, errorf(kindInvalidRequest, "widget %q of page %q is a %q widget: it has no data", id, p.Identifier, wd.typ)
	}
	wd.scope = rd.widgetScope(def)
	return wd, nil
}

func findWidget(ws []map[string]any, id string) map[string]any {
	for _, w := range ws {
		if w["id"] == id {
			return w
		}
		if inner, ok := w["widgets"].([]any); ok {
			var nested []map[string]any
			for _, it := range inner {
				if m, ok := it.(map[string]any); ok {
					nested = append(nested, m)
				}
			}
			if m := findWidget(nested, id); m != nil {
				return m
			}
		}
	}
	return nil
}

// widgetScope returns the blueprints a widget reads, sorted.
func (rd *reader) widgetScope(def map[string]any) []string {
	var named []string
	if bp, ok := def["blueprint"].(string); ok && bp != "" {
		named = []string{bp}
	} else if ds, ok := def["dataset"].(map[string]any); ok && ds["combinator"] == "and" {
		rules, _ := ds["rules"].([]any)
		for _, it := range rules {
			m, _ := it.(map[string]any)
			if m["property"] != query.MetaBlueprint || m["not"] == true {
				continue
			}
			switch v := m["value"].(type) {
			case string:
				if m["operator"] == "=" {
					named = []string{v}
				}
			case []any:
				if m["operator"] == "in" {
					named = nil
					for _, x := range v {
						if s, ok := x.(string); ok {
							named = append(named, s)
						}
					}
				}
			}
		}
	}
	if len(named) == 0 {
		named = slices.Collect(maps.Keys(rd.meta.blueprints))
	}
	slices.Sort(named)
	return slices.Compact(named)
}

// widgetWhere compiles what the widget counts, for the caller: its
// blueprint, its dataset, the page's filters and the request's, each
// parsed and bound on its own so that an error names its source.
func (rd *reader) widgetWhere(wd *widget, extra catalog.Query) (string, []any, error) {
	type part struct {
		what string
		q    catalog.Query
	}
	var parts []part
	if bp := wd.str("blueprint"); bp != "" {
		parts = append(parts, part{"blueprint", catalog.Query{"combinator": "and", "rules": []any{
			map[string]any{"property": query.MetaBlueprint, "operator": "=", "value": bp}}}})
	}
	if ds, ok := wd.def["dataset"].(map[string]any); ok {
		parts = append(parts, part{"dataset", ds})
	} else if wd.def["dataset"] != nil {
		return "", nil, wd.invalid("dataset: want a query {combinator, rules}")
	}
	if len(wd.page.Filters) > 0 {
		rules := make([]any, len(wd.page.Filters))
		for i, f := range wd.page.Filters {
			rules[i] = f
		}
		parts = append(parts, part{"page filters", catalog.Query{"combinator": "and", "rules": rules}})
	}
	if extra != nil {
		parts = append(parts, part{"filters", extra})
	}
	root := &query.Group{Combinator: query.And}
	for _, p := range parts {
		raw := rd.bareFields(p.q, wd.scope).(map[string]any)
		q, err := query.Parse(raw, query.WithLimits(rd.s.cfg.QueryLimits))
		if err == nil {
			q, err = q.Bind(rd.who.qc)
		}
		switch {
		case err != nil && p.what == "filters":
			return "", nil, errorf(kindInvalidQuery, "filters: %v", err)
		case err != nil:
			return "", nil, wd.invalid("%s: %v", p.what, err)
		}
		root.Items = append(root.Items, q.Root)
	}
	return rd.compileQuery(&query.Query{Root: root}, false)
}

// bareFields rewrites the seed's bare entity fields (team, title, ...) in
// page filters and datasets the way role conditions are read
// (access.BareFields): Port's meta-property for the blueprints of scope
// without a property of that name.
func (rd *reader) bareFields(v any, scope []string) any {
	return access.BareFields(v, scope, rd.hasProperty)
}

// hasProperty reports whether a blueprint has a property key, stored or
// computed.
func (rd *reader) hasProperty(bp, key string) bool {
	b := rd.meta.blueprints[bp]
	return b != nil && b.HasProperty(key)
}

// metaColumns are the meta-properties stored as columns of entities.
var metaColumns = map[string]string{
	query.MetaIdentifier: "identifier", query.MetaTitle: "title", query.MetaIcon: "icon",
	query.MetaBlueprint: "blueprint", query.MetaCreatedAt: "created_at", query.MetaUpdatedAt: "updated_at",
	query.MetaCreatedBy: "created_by", query.MetaUpdatedBy: "updated_by",
}

var scorecardLevel = regexp.MustCompile(`^\$scorecard\.([^.]+)\.level$`)

// field resolves a widget's property: a meta-property, $scorecard.<id>.level,
// Port's property#x and relation#x, a property or relation of the scope's
// blueprints, and the seed's bare team and title. A scorecard comes with
// its levels.
func (rd *reader) field(wd *widget, name string) (index.Field, *scorecardMeta, error) {
	if m := scorecardLevel.FindStringSubmatch(name); m != nil {
		for _, bp := range wd.scope {
			if sm := rd.meta.scorecards[bp][m[1]]; sm != nil {
				return index.Field{Kind: index.FieldScorecard, Name: m[1]}, sm, nil
			}
		}
		return index.Field{}, nil, wd.invalid("property %q: no scorecard %q on %s", name, m[1], strings.Join(wd.scope, ", "))
	}
	if name == query.MetaTeam {
		return index.Field{Kind: index.FieldTeam}, nil, nil
	}
	if col, ok := metaColumns[name]; ok {
		return index.Field{Kind: index.FieldColumn, Name: col}, nil, nil
	}
	if strings.HasPrefix(name, "$") {
		return index.Field{}, nil, wd.invalid("unknown meta-property %q", name)
	}
	if rel, ok := strings.CutPrefix(name, "relation#"); ok {
		return index.Field{Kind: index.FieldRelation, Name: rel}, nil, nil
	}
	if p, ok := strings.CutPrefix(name, "property#"); ok {
		return index.Field{Kind: index.FieldProperty, Name: p}, nil, nil
	}
	for _, bp := range wd.scope {
		if rd.hasProperty(bp, name) {
			return index.Field{Kind: index.FieldProperty, Name: name}, nil, nil
		}
	}
	for _, bp := range wd.scope {
		if b := rd.meta.blueprints[bp]; b != nil {
			if _, ok := b.Relations[name]; ok {
				return index.Field{Kind: index.FieldRelation, Name: name}, nil, nil
			}
		}
	}
	if name == "team" {
		return index.Field{Kind: index.FieldTeam}, nil, nil
	}
	if col, ok := metaColumns["$"+name]; ok {
		return index.Field{Kind: index.FieldColumn, Name: col}, nil, nil
	}
	return index.Field{Kind: index.FieldProperty, Name: name}, nil, nil
}

var aggregates = map[string]index.Aggregate{
	"sum": index.Sum, "average": index.Average, "avg": index.Average, "min": index.Min, "max": index.Max,
	"median": index.Median,
}

// numberData: the number of entities, or an aggregate of a number
// property or of a scorecard's level indexes (then with the level title
// the value rounds to).
func (rd *reader) numberData(wd *widget, where string, args []any, out map[string]any) error {
	calc := cmp.Or(wd.str("calculation"), wd.str("func"), "count")
	out["calculation"] = calc
	if calc == "count" {
		n, err := index.CountTx(rd.ctx, rd.tx, where, args)
		out["value"] = n
		return err
	}
	fn, ok := aggregates[calc]
	if !ok {
		return wd.invalid("calculation %q: want count, sum, average, min, max or median", calc)
	}
	if by := wd.str("calculationBy"); by != "" && by != "property" {
		return wd.invalid("calculationBy %q with %s: berth computes %s over a property (calculationBy: property)", by, calc, calc)
	}
	prop := wd.str("property")
	if prop == "" {
		return wd.invalid("calculation %q needs a property", calc)
	}
	f, sm, err := rd.field(wd, prop)
	if err != nil {
		return err
	}
	if f.Kind != index.FieldProperty && f.Kind != index.FieldScorecard {
		return wd.invalid("property %q holds no numbers", prop)
	}
	v, n, err := index.AggregateTx(rd.ctx, rd.tx, where, args, f, fn)
	if err != nil {
		return err
	}
	// The sum of nothing is 0; nothing has no average, least or median.
	out["property"], out["count"], out["value"] = prop, n, nil
	if n > 0 || fn == index.Sum {
		out["value"] = v
	}
	if sm != nil {
		out["levels"] = sm.levels
		if n > 0 && fn != index.Sum {
			i := min(max(int(math.Round(v)), 0), len(sm.levels)-1)
			out["level"] = sm.levels[i]
		}
	}
	return nil
}

// slice is one slice of a pie chart.
type slice struct {
	Value any    `json:"value"`
	Title string `json:"title,omitempty"`
	Count int    `json:"count"`
}

// pieData counts the entities per value of the widget's property. An
// entity with several values (teams, array items, many relations) counts
// in each; entities without one make the null slice. Scorecard levels come
// in level order, every level present; other slices by count, largest
// first. total is the number of entities.
func (rd *reader) pieData(wd *widget, where string, args []any, out map[string]any) error {
	prop := wd.str("property")
	if prop == "" {
		return wd.invalid("a pie chart needs a property")
	}
	f, sm, err := rd.field(wd, prop)
	if err != nil {
		return err
	}
	groups, err := index.GroupCountsTx(rd.ctx, rd.tx, where, args, f)
	if err != nil {
		return err
	}
	total, err := index.CountTx(rd.ctx, rd.tx, where, args)
	if err != nil {
		return err
	}
	var visible map[int64]bool
	if f.Kind == index.FieldRelation {
		ids := make([]int64, 0, len(groups))
		for _, g := range groups {
			if g.TargetID != 0 {
				ids = append(ids, g.TargetID)
			}
		}
		// A related entity the caller may not read keeps its identifier
		// (the counted entities' own data) but shows no title.
		if visible, err = rd.visibleIDs(ids); err != nil {
			return err
		}
	}
	data := make([]slice, 0, len(groups))
	var none *slice
	for _, g := range groups {
		sl := slice{Value: g.Value, Count: g.Count}
		if visible[g.TargetID] {
			sl.Title = g.Title
		}
		if g.Value == nil {
			none = &sl
			continue
		}
		data = append(data, sl)
	}
	if sm != nil {
		byLevel := map[string]int{}
		for _, sl := range data {
			byLevel[sl.Value.(string)] = sl.Count
		}
		data = data[:0]
		for _, l := range sm.levels {
			data = append(data, slice{Value: l, Count: byLevel[l]})
		}
	} else {
		slices.SortFunc(data, func(a, b slice) int {
			return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(fmt.Sprint(a.Value), fmt.Sprint(b.Value)))
		})
	}
	if none != nil {
		data = append(data, *none)
	}
	out["property"], out["data"], out["total"] = prop, data, total
	return nil
}

// entityFields are where Port's entity holds the columns of entities.
var entityFields = map[string]string{
	"identifier": "identifier", "title": "title", "icon": "icon", "blueprint": "blueprint",
	"created_at": "createdAt", "updated_at": "updatedAt", "created_by": "createdBy", "updated_by": "updatedBy",
}

// columnPath is where a table column lives in Port's entity, for include.
func columnPath(f index.Field) string {
	switch f.Kind {
	case index.FieldColumn:
		return entityFields[f.Name]
	case index.FieldTeam:
		return "team"
	case index.FieldRelation:
		return "relations." + f.Name
	case index.FieldScorecard:
		return "scorecards." + f.Name
	}
	return "properties." + f.Name
}

// tableData lists the entities in Port's shape with the widget's columns
// (and their identifier and blueprint), in blueprint then identifier
// order, limit at a time: next, when present, is the from of the next
// page. total counts every row.
func (rd *reader) tableData(wd *widget, where string, args []any, limit int, from, filters string, out map[string]any) error {
	var cols []string
	switch c := wd.def["columns"].(type) {
	case nil:
		cols = []string{"title"}
	case []any:
		for _, x := range c {
			s, ok := x.(string)
			if !ok {
				return wd.invalid("columns: want a list of property names")
			}
			cols = append(cols, s)
		}
	default:
		return wd.invalid("columns: want a list of property names")
	}
	sh := shape{include: []string{"identifier", "blueprint"}}
	for _, c := range cols {
		f, _, err := rd.field(wd, c)
		if err != nil {
			return err
		}
		sh.include = append(sh.include, columnPath(f))
		sh.attachTitles = sh.attachTitles || f.Kind == index.FieldRelation
	}
	total, err := index.CountTx(rd.ctx, rd.tx, where, args)
	if err != nil {
		return err
	}
	qhash := queryHash("page "+wd.page.Identifier+" widget "+wd.id, rd.id.User, json.RawMessage(filters))
	pageWhere, pageArgs := where, args
	if from != "" {
		after, err := rd.cursorAfter(from, qhash)
		if err != nil {
			return err
		}
		bp, id, _ := strings.Cut(after, "\x00")
		pageWhere, pageArgs = "("+cmp.Or(where, "1")+") AND (e.blueprint, e.identifier) > (?, ?)", append(slices.Clip(args), bp, id)
	}
	ents, err := index.SearchTx(rd.ctx, rd.tx, pageWhere, pageArgs, "e.blueprint, e.identifier", limit+1)
	if err != nil {
		return err
	}
	if len(ents) > limit {
		ents = ents[:limit]
		last := ents[limit-1]
		out["next"] = cursor{Revision: rd.revID, Commit: rd.commit, After: last.Blueprint + "\x00" + last.Identifier, Query: qhash}.encode()
	}
	rows, err := rd.entities(ents, sh, nil)
	out["columns"], out["entities"], out["total"] = cols, rows, total
	return err
}

// point is one day of a line chart.
type point struct {
	Date  string `json:"date"`
	Count int    `json:"count"`
}

var lastNDays = regexp.MustCompile(`^last([0-9]{1,4})days$`)

// maxTimeframeDays bounds a line chart's days (ten years).
const maxTimeframeDays = 3660

// timeframe turns a line chart's timeframe into whole UTC days: lastNdays
// (last7days, last30days, last90days...) and Port's date presets; the
// days reaching back end today, those reaching forward start today.
func timeframe(name string, now time.Time) (first time.Time, days int, err error) {
	day := 24 * time.Hour
	today := now.UTC().Truncate(day)
	if m := lastNDays.FindStringSubmatch(name); m != nil {
		n, _ := strconv.Atoi(m[1])
		if n < 1 || n > maxTimeframeDays {
			return first, 0, fmt.Errorf("timeframe %q: want 1 to %d days", name, maxTimeframeDays)
		}
		return today.Add(-time.Duration(n-1) * day), n, nil
	}
	span, ok := query.Presets[name]
	switch {
	case !ok:
		names := slices.Sorted(maps.Keys(query.Presets))
		return first, 0, fmt.Errorf("timeframe %q: want lastNdays (last7days, last30days...) or one of %s", name,
			strings.Join(names, ", "))
	case span < 0:
		return today.Add(time.Duration(span+1) * day), -span, nil
	case span > 0:
		return today, span, nil
	case name == "yesterday":
		return today.Add(-day), 1, nil
	case name == "tomorrow":
		return today.Add(day), 1, nil
	}
	return today, 1, nil
}

// lineData counts the entities per day of a date ($createdAt by default,
// $updatedAt or a date property) over the widget's timeframe (last30days
// by default), every day present.
func (rd *reader) lineData(wd *widget, where string, args []any, out map[string]any) error {
	prop := cmp.Or(wd.str("property"), wd.str("measureTimeBy"), query.MetaCreatedAt)
	f, _, err := rd.field(wd, prop)
	if err != nil {
		return err
	}
	if f.Kind != index.FieldProperty && !(f.Kind == index.FieldColumn && (f.Name == "created_at" || f.Name == "updated_at")) {
		return wd.invalid("property %q holds no dates (want $createdAt, $updatedAt or a date property)", prop)
	}
	tf := cmp.Or(wd.str("timeframe"), "last30days")
	first, days, err := timeframe(tf, rd.s.cfg.Now())
	if err != nil {
		return wd.invalid("%v", err)
	}
	end := first.Add(time.Duration(days) * 24 * time.Hour)
	counts, err := index.DailyCountsTx(rd.ctx, rd.tx, where, args, f, first, end)
	if err != nil {
		return err
	}
	data := make([]point, days)
	total := 0
	for i := range data {
		d := first.Add(time.Duration(i) * 24 * time.Hour).Format(index.Day)
		data[i] = point{Date: d, Count: counts[d]}
		total += counts[d]
	}
	out["property"], out["timeframe"], out["data"], out["total"] = prop, tf, data, total
	out["from"], out["to"] = first.Format(time.RFC3339), end.Format(time.RFC3339)
	return nil
}
