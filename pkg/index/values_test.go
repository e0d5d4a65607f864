package index

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"testing"
	"time"

	"github.com/berth-dev/berth/pkg/catalog"
)

// TestEncodeEntity holds the stored document to what one json.Marshal of
// content and history writes (indexes written before the audit log keep
// their blob hashes), and the content hash to the entity's own content.
func TestEncodeEntity(t *testing.T) {
	when := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	base := func() *catalog.Entity {
		return &catalog.Entity{Identifier: "a", Title: "A", Blueprint: "service", Team: []string{"x"},
			Properties: map[string]any{"tier": "gold", "n": int64(2)},
			Relations:  map[string]catalog.RelationValue{"deps": {Many: true, Targets: []string{"b"}}}}
	}
	type whole struct {
		entityContent
		entityMeta
	}
	for _, tc := range []struct {
		name     string
		meta     catalog.Meta
		computed map[string]any
	}{
		{"NoHistory", catalog.Meta{}, nil},
		{"History", catalog.Meta{CreatedAt: when, CreatedBy: "ada@example.com", UpdatedAt: when.Add(time.Hour), UpdatedBy: "bob"}, nil},
		{"Computed", catalog.Meta{CreatedAt: when}, map[string]any{"double": 4.0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := base()
			e.Meta = tc.meta
			props := properties(e, tc.computed, nil)
			doc, hash, src, err := encodeEntity(e, props, len(tc.computed) > 0)
			if err != nil {
				t.Fatal(err)
			}
			want, err := json.Marshal(whole{
				entityContent{Identifier: "a", Title: "A", Blueprint: "service", Team: e.Team, Properties: props, Relations: e.Relations},
				entityMeta{CreatedAt: formatTime(e.Meta.CreatedAt), CreatedBy: e.Meta.CreatedBy,
					UpdatedAt: formatTime(e.Meta.UpdatedAt), UpdatedBy: e.Meta.UpdatedBy}})
			if err != nil {
				t.Fatal(err)
			}
			if string(doc) != string(want) {
				t.Errorf("doc\n got %s\nwant %s", doc, want)
			}
			if sum := sha256.Sum256(want); hash != hex.EncodeToString(sum[:16]) {
				t.Errorf("hash %s is not the document's", hash)
			}
			// The content hash ignores history and computed values.
			_, _, plain, err := encodeEntity(base(), properties(base(), nil, nil), false)
			if err != nil {
				t.Fatal(err)
			}
			if src != plain {
				t.Errorf("content hash %s, want %s (the entity without history or computed values)", src, plain)
			}
			changed := base()
			changed.Properties["tier"] = "silver"
			if _, _, other, _ := encodeEntity(changed, properties(changed, nil, nil), false); other == plain {
				t.Error("a changed property keeps the content hash")
			}
		})
	}
}
