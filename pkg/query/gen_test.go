package query_test

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"

	"github.com/berth-dev/berth/pkg/catalog"
	"github.com/berth-dev/berth/pkg/query"
)

// testNow is the fixed "now" of generated catalogs and queries.
var testNow = time.Date(2025, 3, 14, 15, 9, 26, 535_000_000, time.UTC)

// world is a generated catalog, the index built from it, and the pools of
// values queries draw from.
type world struct {
	cat   *catalog.Catalog
	db    *sql.DB
	env   *query.Env
	ids   map[string][]string // blueprint -> identifiers
	strs  []any
	nums  []any
	dates []any
	teams []string
	user  *catalog.Entity
}

var hostile = []string{
	"", "a", "A", "abc", "ABC", "x'y", `x"y`, "50%", "50% off", "a_b", "a\\b", `\%`, "_", "%",
	"'; DROP TABLE entities; --", "Go", "go", "golang", "python", "Ünïcödé", "é", "É", "ä_%", "2024-01-01",
	"2024-01-01T10:00:00Z", "2025-03-14T12:00:00+02:00", "1", "true", "null",
}

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

// genBlueprints: domain (self parent chain), service (domain required,
// deps many self), deployment (service required, domains many).
func genBlueprints() []map[string]any {
	prop := func(t string) map[string]any { return map[string]any{"type": t} }
	return []map[string]any{
		{"identifier": "domain", "title": "Domain", "schema": map[string]any{"properties": map[string]any{
			"name": prop("string"), "budget": prop("number"), "tags": prop("array")}},
			"relations": map[string]any{"parent": map[string]any{"target": "domain", "required": false, "many": false}}},
		{"identifier": "service", "title": "Service", "schema": map[string]any{"properties": map[string]any{
			"lang": prop("string"), "score": prop("number"), "since": prop("string"), "active": prop("boolean"),
			"tags": prop("array"), "meta": prop("object"), "note": prop("string"), "timer": prop("string")}},
			"relations": map[string]any{
				"domain": map[string]any{"target": "domain", "required": true, "many": false},
				"deps":   map[string]any{"target": "service", "required": false, "many": true}}},
		{"identifier": "deployment", "title": "Deployment", "schema": map[string]any{"properties": map[string]any{
			"env": prop("string"), "version": prop("number"), "at": prop("string"), "tags": prop("array")}},
			"relations": map[string]any{
				"service": map[string]any{"target": "service", "required": true, "many": false},
				"domains": map[string]any{"target": "domain", "required": false, "many": true}}},
	}
}

func newWorld(tb testing.TB, seed uint64, perBlueprint [3]int) *world {
	tb.Helper()
	r := rand.New(rand.NewPCG(seed, 7))
	w := &world{ids: map[string][]string{}, teams: []string{"alpha", "beta", "gamma's", "50%_off"}}
	for _, s := range hostile {
		w.strs = append(w.strs, s)
	}
	w.nums = []any{int64(0), int64(1), int64(-3), 2.5, int64(80), 79.999, int64(100), 1e9}
	for _, d := range []time.Duration{-400, -200, -35, -8, -1, 0, 1, 3, 60} {
		t := testNow.Add(d * 24 * time.Hour).Add(time.Duration(r.IntN(86400)) * time.Second)
		w.dates = append(w.dates, t.Format(time.RFC3339), t.Format(time.DateOnly), t.Format("2006-01-02T15:04:05.000Z07:00"))
	}
	bps := []string{"domain", "service", "deployment"}
	for i, bp := range bps {
		for j := 0; j < perBlueprint[i]; j++ {
			id := fmt.Sprintf("%s-%d", bp[:3], j)
			if j%17 == 5 {
				id += "_x%"
			}
			w.ids[bp] = append(w.ids[bp], id)
		}
	}
	val := func(kind string) any {
		if r.IntN(8) == 0 {
			return nil
		}
		switch kind {
		case "string":
			if r.IntN(5) == 0 {
				return pick(r, w.dates)
			}
			return pick(r, w.strs)
		case "number":
			if r.IntN(12) == 0 {
				return "12" // a number as text never equals 12
			}
			return pick(r, w.nums)
		case "date":
			return pick(r, w.dates)
		case "bool":
			return r.IntN(2) == 0
		case "array":
			n := r.IntN(4)
			arr := make([]any, 0, n)
			for k := 0; k < n; k++ {
				switch r.IntN(6) {
				case 0:
					arr = append(arr, nil)
				case 1:
					arr = append(arr, pick(r, w.nums))
				default:
					arr = append(arr, pick(r, w.strs))
				}
			}
			return arr
		case "object":
			return map[string]any{"k": pick(r, w.strs)}
		}
		return nil
	}
	props := map[string]map[string]string{
		"domain":     {"name": "string", "budget": "number", "tags": "array"},
		"service":    {"lang": "string", "score": "number", "since": "date", "active": "bool", "tags": "array", "meta": "object", "note": "string", "timer": "date"},
		"deployment": {"env": "string", "version": "number", "at": "date", "tags": "array"},
	}
	var docs []*catalog.Document
	for _, b := range genBlueprints() {
		docs = append(docs, &catalog.Document{Kind: catalog.KindBlueprint, File: "gen", Value: b})
	}
	for _, bp := range bps {
		for j, id := range w.ids[bp] {
			p := map[string]any{}
			for k, kind := range props[bp] {
				if r.IntN(6) == 0 {
					continue // absent
				}
				p[k] = val(kind)
			}
			rel := map[string]any{}
			switch bp {
			case "domain":
				if j > 0 && r.IntN(5) != 0 {
					rel["parent"] = w.ids["domain"][r.IntN(j)] // a forest: chains of any depth
				}
			case "service":
				rel["domain"] = pick(r, w.ids["domain"])
				var deps []any
				for k := 0; k < r.IntN(4); k++ {
					d := pick(r, w.ids["service"])
					if !containsAny(deps, d) {
						deps = append(deps, d)
					}
				}
				rel["deps"] = deps
			case "deployment":
				if r.IntN(10) != 0 {
					rel["service"] = pick(r, w.ids["service"])
				}
				var ds []any
				for k := 0; k < r.IntN(3); k++ {
					d := pick(r, w.ids["domain"])
					if !containsAny(ds, d) {
						ds = append(ds, d)
					}
				}
				rel["domains"] = ds
			}
			var team []any
			for _, t := range w.teams {
				if r.IntN(3) == 0 {
					team = append(team, t)
				}
			}
			v := map[string]any{"identifier": id, "blueprint": bp, "properties": p, "relations": rel, "team": team}
			if r.IntN(4) != 0 {
				v["title"] = pick(r, w.strs)
			}
			if r.IntN(3) == 0 {
				v["icon"] = pick(r, []string{"Go", "Python", ""})
			}
			docs = append(docs, &catalog.Document{Kind: catalog.KindEntity, File: "gen", Blueprint: bp, Value: v})
		}
	}
	cat := catalog.New([]*catalog.File{{Path: "gen", Kind: catalog.KindEntity, Docs: docs}})
	if diags := cat.Build(); len(diags) > 0 {
		tb.Fatalf("build: %v", diags)
	}
	for _, e := range cat.Entities {
		if r.IntN(8) != 0 {
			e.Meta.CreatedAt = testNow.Add(-time.Duration(r.IntN(800*24)) * time.Hour).Add(time.Duration(r.IntN(3600)) * time.Second)
			e.Meta.UpdatedAt = e.Meta.CreatedAt.Add(time.Duration(r.IntN(300*24)) * time.Hour)
			e.Meta.CreatedBy = pick(r, []string{"ann@x.io", "bob@x.io", "o'hara@x.io"})
			e.Meta.UpdatedBy = pick(r, []string{"ann@x.io", "bob@x.io"})
		}
	}
	w.cat = cat
	w.user = &catalog.Entity{Identifier: "ann@x.io", Blueprint: catalog.UserBlueprint, Team: []string{"alpha"},
		Properties: map[string]any{"department": "abc", "lang": "Go"}}

	levels := []string{"Basic", "Bronze", "Silver", "Gold"}
	level := map[catalog.EntityKey]string{}
	status := map[catalog.EntityKey]string{}
	for _, e := range cat.Entities {
		if e.Blueprint == "service" && r.IntN(5) != 0 {
			level[e.Key()] = pick(r, levels)
			status[e.Key()] = pick(r, []string{"SUCCESS", "FAILURE"})
		}
	}
	w.env = &query.Env{
		Catalog: cat,
		Now:     testNow,
		// risk is a computed property: twice the score.
		Property: func(e *catalog.Entity, key string) (any, bool) {
			if key != "risk" {
				return nil, false
			}
			if f, ok := e.Properties["score"].(float64); ok {
				return f * 2, true
			}
			if i, ok := e.Properties["score"].(int64); ok {
				return i * 2, true
			}
			return nil, true
		},
		Scorecard: func(e *catalog.Entity, sc string) (string, bool) {
			l, ok := level[e.Key()]
			return l, ok && sc == "prod"
		},
		ScorecardRule: func(e *catalog.Entity, sc, rule string) (string, bool) {
			s, ok := status[e.Key()]
			return s, ok && sc == "prod" && rule == "has_readme"
		},
	}
	w.db = loadIndex(tb, w, levels)
	return w
}

func containsAny(xs []any, x any) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// loadIndex writes the world into a real SQLite file made from the shared
// schema, the way pkg/index is to write it (IndexValues rows, FormatTime).
func loadIndex(tb testing.TB, w *world, levels []string) *sql.DB {
	tb.Helper()
	schema, err := os.ReadFile(filepath.Join("..", "index", "migrations", "0001_init.sql"))
	if err != nil {
		tb.Fatal(err)
	}
	db, err := sql.Open("sqlite3", filepath.Join(tb.TempDir(), "index.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(string(schema)); err != nil {
		tb.Fatalf("schema: %v", err)
	}
	tx, err := db.Begin()
	if err != nil {
		tb.Fatal(err)
	}
	must := func(_ sql.Result, err error) {
		tb.Helper()
		if err != nil {
			tb.Fatal(err)
		}
	}
	nullStr := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	nullTime := func(t time.Time) any {
		if t.IsZero() {
			return nil
		}
		return query.FormatTime(t)
	}
	ids := map[catalog.EntityKey]int64{}
	for i, e := range w.cat.Entities {
		id := int64(i + 1)
		ids[e.Key()] = id
		doc, _ := json.Marshal(e)
		must(tx.Exec(`INSERT INTO entities (id, blueprint, identifier, title, icon, created_at, updated_at, created_by, updated_by, file, line, doc)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'gen', 1, ?)`, id, e.Blueprint, e.Identifier, nullStr(e.Title), nullStr(e.Icon),
			nullTime(e.Meta.CreatedAt), nullTime(e.Meta.UpdatedAt), nullStr(e.Meta.CreatedBy), nullStr(e.Meta.UpdatedBy), string(doc)))
		for _, t := range e.Team {
			must(tx.Exec(`INSERT OR IGNORE INTO entity_teams (entity_id, team) VALUES (?, ?)`, id, t))
		}
		props := map[string]any{}
		for k, v := range e.Properties {
			props[k] = v
		}
		if v, ok := w.env.Property(e, "risk"); ok {
			props["risk"] = v
		}
		for k, v := range props {
			for _, iv := range query.IndexValues(v) {
				var str, num any
				if iv.Typ == "s" || iv.Typ == "j" {
					str = iv.Str
				}
				if iv.HasNum {
					num = iv.Num
				}
				must(tx.Exec(`INSERT INTO entity_values (entity_id, key, idx, typ, str, num) VALUES (?, ?, ?, ?, ?, ?)`, id, k, iv.Idx, iv.Typ, str, num))
			}
		}
		if l, ok := w.env.Scorecard(e, "prod"); ok {
			idx := 0
			for i, x := range levels {
				if x == l {
					idx = i
				}
			}
			must(tx.Exec(`INSERT INTO scorecard_results (entity_id, scorecard, level, level_index, passed, total) VALUES (?, 'prod', ?, ?, 0, 0)`, id, l, idx))
		}
		if s, ok := w.env.ScorecardRule(e, "prod", "has_readme"); ok {
			must(tx.Exec(`INSERT INTO scorecard_rule_results (entity_id, scorecard, rule, status) VALUES (?, 'prod', 'has_readme', ?)`, id, s))
		}
	}
	for _, e := range w.cat.Entities {
		for rel, rv := range e.Relations {
			def := w.cat.Blueprints[e.Blueprint].Relations[rel]
			for _, t := range rv.Targets {
				var tid any
				if x, ok := ids[catalog.EntityKey{Blueprint: def.Target, Identifier: t}]; ok {
					tid = x
				}
				must(tx.Exec(`INSERT OR IGNORE INTO relations (source_id, relation, target_blueprint, target_identifier, target_id) VALUES (?, ?, ?, ?, ?)`,
					ids[e.Key()], rel, def.Target, t, tid))
			}
		}
	}
	if err := tx.Commit(); err != nil {
		tb.Fatal(err)
	}
	return db
}

// search runs a compiled query against the index and returns the matching
// entities' keys.
func (w *world) search(tb testing.TB, q *query.Query) map[string]bool {
	tb.Helper()
	return w.searchVisible(tb, q, nil)
}

// searchVisible is search for a caller who may read the entities vis
// selects (nil: all): vis restricts the matched entities and, through
// CompileOptions.Visible, the entities q's rules reach.
func (w *world) searchVisible(tb testing.TB, q, vis *query.Query) map[string]bool {
	tb.Helper()
	out := w.searchWith(tb, q, vis, false)
	// The correlated form (blueprint search pages) must select the same.
	if corr := w.searchWith(tb, q, vis, true); !maps.Equal(out, corr) {
		tb.Fatalf("correlated compile selects %v, plain %v", keys(corr), keys(out))
	}
	return out
}

func (w *world) searchWith(tb testing.TB, q, vis *query.Query, correlated bool) map[string]bool {
	tb.Helper()
	where, args, err := query.Compile(q, query.CompileOptions{Now: testNow, Blueprints: w.cat.Blueprints, Visible: vis,
		Correlated: correlated})
	if err != nil {
		tb.Fatalf("compile: %v", err)
	}
	if vis != nil {
		vw, vargs, err := query.Compile(vis, query.CompileOptions{Now: testNow, Blueprints: w.cat.Blueprints})
		if err != nil {
			tb.Fatalf("compile visible: %v", err)
		}
		where = "(" + where + ") AND (" + vw + ")"
		args = append(args, vargs...)
	}
	rows, err := w.db.Query("SELECT e.blueprint || '/' || e.identifier FROM entities e WHERE "+where, args...)
	if err != nil {
		tb.Fatalf("query: %v\nSQL: %s\nargs: %v", err, where, args)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			tb.Fatal(err)
		}
		out[k] = true
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}

// eval runs q in memory over every entity.
func (w *world) eval(tb testing.TB, q *query.Query) map[string]bool {
	tb.Helper()
	return w.evalVisible(tb, q, nil)
}

// evalVisible is eval for a caller who may read the entities vis selects.
func (w *world) evalVisible(tb testing.TB, q, vis *query.Query) map[string]bool {
	tb.Helper()
	env := w.env
	if vis != nil {
		seen := map[*catalog.Entity]bool{}
		for _, e := range w.cat.Entities {
			ok, err := vis.Eval(w.env, e)
			if err != nil {
				tb.Fatalf("eval visible: %v", err)
			}
			seen[e] = ok
		}
		cp := *w.env
		cp.Visible = func(e *catalog.Entity) bool { return seen[e] }
		env = &cp
	}
	out := map[string]bool{}
	for _, e := range w.cat.Entities {
		if vis != nil && !env.Visible(e) {
			continue
		}
		ok, err := q.Eval(env, e)
		if err != nil {
			tb.Fatalf("eval: %v", err)
		}
		if ok {
			out[e.Blueprint+"/"+e.Identifier] = true
		}
	}
	return out
}
