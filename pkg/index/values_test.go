package index

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"maps"
	"math"
	"testing"
	"testing/fstest"
	"time"

	"github.com/berth-dev/berth/pkg/catalog"
	"github.com/berth-dev/berth/pkg/gen"
)

// The stored document used to be encoded with one json.Marshal of the
// entity (catalog.Entity, with team and relations never null, and the
// computed properties among its own) and one of entityMeta; docEncoder must
// write the same bytes (indexes written before keep their blob and content
// hashes).
type entityMeta struct {
	CreatedAt any    `json:"createdAt,omitempty"`
	CreatedBy string `json:"createdBy,omitempty"`
	UpdatedAt any    `json:"updatedAt,omitempty"`
	UpdatedBy string `json:"updatedBy,omitempty"`
}

// oracle returns what the document, its hash and the content hash used to
// be.
func oracle(t *testing.T, e *catalog.Entity, computed map[string]any) (doc, hash, src string) {
	t.Helper()
	team, rels := e.Team, e.Relations
	if team == nil {
		team = []string{}
	}
	if rels == nil {
		rels = map[string]catalog.RelationValue{}
	}
	props := maps.Clone(e.Properties)
	if props == nil {
		props = map[string]any{}
	}
	maps.Copy(props, computed)
	content := catalog.Entity{Identifier: e.Identifier, Title: e.Title, Icon: e.Icon, Blueprint: e.Blueprint,
		Team: team, Properties: props, Relations: rels}
	full, err := json.Marshal(content)
	if err != nil {
		t.Fatal(err)
	}
	meta, err := json.Marshal(entityMeta{CreatedAt: formatTime(e.Meta.CreatedAt), CreatedBy: e.Meta.CreatedBy,
		UpdatedAt: formatTime(e.Meta.UpdatedAt), UpdatedBy: e.Meta.UpdatedBy})
	if err != nil {
		t.Fatal(err)
	}
	doc = string(full[:len(full)-1]) + "}"
	if len(meta) > 2 {
		doc = string(full[:len(full)-1]) + "," + string(meta[1:])
	}
	content.Properties = e.Properties
	if content.Properties == nil {
		content.Properties = map[string]any{}
	}
	own, err := json.Marshal(content)
	if err != nil {
		t.Fatal(err)
	}
	h, o := sha256.Sum256([]byte(doc)), sha256.Sum256(own[:len(own)-1])
	return doc, hex.EncodeToString(h[:16]), hex.EncodeToString(o[:16])
}

// TestDocEncoder holds the stored document and its hashes to what the
// structs above give, and the content hash to the entity's own content.
func TestDocEncoder(t *testing.T) {
	when := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	base := func() *catalog.Entity {
		return &catalog.Entity{Identifier: "a", Title: "A", Blueprint: "service", Team: []string{"x"},
			Properties: map[string]any{"tier": "gold", "n": int64(2)},
			Relations:  map[string]catalog.RelationValue{"deps": {Many: true, Targets: []string{"b"}}}}
	}
	d := newDocEncoder() // one encoder for every case, as the pipeline reuses them
	for _, tc := range []struct {
		name     string
		edit     func(e *catalog.Entity)
		computed map[string]any
	}{
		{"NoHistory", nil, nil},
		{"History", func(e *catalog.Entity) {
			e.Meta = catalog.Meta{CreatedAt: when, CreatedBy: "ada@example.com", UpdatedAt: when.Add(time.Hour), UpdatedBy: "bob"}
		}, nil},
		{"UpdatedOnly", func(e *catalog.Entity) { e.Meta = catalog.Meta{UpdatedBy: "bob"} }, nil},
		{"Computed", func(e *catalog.Entity) { e.Meta = catalog.Meta{CreatedAt: when} }, map[string]any{"double": 4.0}},
		{"ComputedReplacesStored", nil, map[string]any{"tier": "platinum", "a-first": nil, "zz": []any{1.5, "x"}}},
		{"OnlyComputed", func(e *catalog.Entity) { e.Properties = nil }, map[string]any{"double": 4.0}},
		{"Empty", func(e *catalog.Entity) {
			e.Title, e.Team, e.Properties, e.Relations = "", nil, nil, nil
		}, nil},
		{"Escapes", func(e *catalog.Entity) {
			e.Title, e.Icon = `<b>"A" & 'B'</b>`, "ü\u2028 "
			e.Properties = map[string]any{"<key>": "a&b", "nested": map[string]any{"z": []any{true, nil}, "a": "é"},
				"ints": []any{int64(-3), 1e21, 0.5}, "tab\t": "\t\n\x01"}
			e.Relations = map[string]catalog.RelationValue{"one": {Targets: []string{"x<y"}}, "none": {}, "many": {Many: true}}
		}, map[string]any{"&computed": "<>"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := base()
			if tc.edit != nil {
				tc.edit(e)
			}
			doc, hash, src, err := d.encode(e, tc.computed)
			if err != nil {
				t.Fatal(err)
			}
			wantDoc, wantHash, wantSrc := oracle(t, e, tc.computed)
			if doc != wantDoc {
				t.Errorf("doc\n got %s\nwant %s", doc, wantDoc)
			}
			if hash != wantHash || src != wantSrc {
				t.Errorf("hashes %s %s, want %s %s", hash, src, wantHash, wantSrc)
			}
		})
	}

	t.Run("ContentHash", func(t *testing.T) {
		// The content hash ignores history and computed values, and
		// follows the entity's own content.
		_, _, plain, err := d.encode(base(), nil)
		if err != nil {
			t.Fatal(err)
		}
		e := base()
		e.Meta = catalog.Meta{CreatedAt: when, UpdatedBy: "bob"}
		if _, _, src, _ := d.encode(e, map[string]any{"double": 4.0}); src != plain {
			t.Errorf("content hash %s, want %s (the entity without history or computed values)", src, plain)
		}
		changed := base()
		changed.Properties["tier"] = "silver"
		if _, _, other, _ := d.encode(changed, nil); other == plain {
			t.Error("a changed property keeps the content hash")
		}
	})

	t.Run("Unencodable", func(t *testing.T) {
		e := base()
		e.Properties["bad"] = math.NaN()
		if _, _, _, err := d.encode(e, nil); err == nil {
			t.Fatal("NaN encoded")
		}
		// The encoder is fine afterwards.
		doc, _, _, err := d.encode(base(), nil)
		if want, _, _ := oracle(t, base(), nil); err != nil || doc != want {
			t.Errorf("after an error: %s, %v", doc, err)
		}
	})
}

// TestDocEncoder_Generated encodes every entity of a generated catalog,
// with computed values on every other one, as the structs above do.
func TestDocEncoder_Generated(t *testing.T) {
	fsys := fstest.MapFS{}
	for p, data := range gen.Files(gen.Options{Entities: 1000, Seed: 3}) {
		fsys[p] = &fstest.MapFile{Data: data}
	}
	cat, err := catalog.Load(context.Background(), fsys, catalog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cat.Build()
	when := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	d := newDocEncoder()
	for i, e := range cat.Entities {
		var computed map[string]any
		if i%2 == 0 {
			computed = map[string]any{"display": e.Title + " (" + e.Identifier + ")", "count": float64(i)}
			e.Meta = catalog.Meta{CreatedAt: when, CreatedBy: "ada@example.com", UpdatedAt: when, UpdatedBy: "ada@example.com"}
		}
		doc, hash, src, err := d.encode(e, computed)
		if err != nil {
			t.Fatal(err)
		}
		if wantDoc, wantHash, wantSrc := oracle(t, e, computed); doc != wantDoc || hash != wantHash || src != wantSrc {
			t.Fatalf("%s/%s:\n got %s %s %s\nwant %s %s %s", e.Blueprint, e.Identifier, doc, hash, src, wantDoc, wantHash, wantSrc)
		}
	}
	if len(cat.Entities) < 1000 {
		t.Fatalf("%d entities", len(cat.Entities))
	}
}
