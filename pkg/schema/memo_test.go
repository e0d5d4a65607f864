package schema_test

import (
	"context"
	"fmt"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/berth-dev/berth/pkg/catalog"
	"github.com/berth-dev/berth/pkg/schema"
	"github.com/berth-dev/berth/schemas"
)

// TestValidateEntities_MemoIsSound validates many valid entities of one
// shape (so CUE's verdicts are memoised), then entities of the same shape
// with one bad value each: every one must still be reported, at its line.
func TestValidateEntities_MemoIsSound(t *testing.T) {
	fsys := fstest.MapFS{"blueprints/svc.yaml": {Data: []byte(`identifier: svc
title: Service
schema:
  properties:
    tier: {type: string, enum: [gold, silver]}
    replicas: {type: number, maximum: 10}
    name: {type: string}
    url: {type: string, format: url}
    code: {type: string, maxLength: 4}
relations:
  parent: {target: svc}
  deps: {target: svc, many: true}
`)}}
	entity := func(id, tier, replicas, name, url, rels string) []byte {
		return fmt.Appendf(nil, "identifier: %s\ntitle: T%s\nproperties: {tier: %s, replicas: %s, name: %s, url: %q, code: c%d}\nrelations: %s\n", id, id, tier, replicas, name, url, len(id)%1000, rels)
	}
	for i := range 200 {
		fsys[fmt.Sprintf("entities/svc/ok%03d.yaml", i)] = &fstest.MapFile{Data: entity(fmt.Sprintf("ok%03d", i), "gold", fmt.Sprint(i%10), fmt.Sprintf("n%d", i), fmt.Sprintf("https://x/%d", i), "{parent: ok000, deps: [ok001]}")}
	}
	bad := map[string][]byte{
		"enum":     entity("bad1", "bronze", "1", "n", "https://x", "{parent: ok000, deps: [ok001]}"),
		"bound":    entity("bad2", "gold", "11", "n", "https://x", "{parent: ok000, deps: [ok001]}"),
		"type":     entity("bad3", "gold", "1", "[n]", "https://x", "{parent: ok000, deps: [ok001]}"),
		"format":   entity("bad4", "gold", "1", "n", "not a url", "{parent: ok000, deps: [ok001]}"),
		"relshape": entity("bad5", "gold", "1", "n", "https://x", "{parent: [ok000], deps: [ok001]}"),
		"relid":    entity("bad6", "gold", "1", "n", "https://x", "{parent: \"..\", deps: [ok001]}"),
		"unknown":  []byte("identifier: bad7\ntitle: T\nproperties: {tier: gold, replicas: 1, name: n, url: \"https://x\", extra: 1}\nrelations: {parent: ok000, deps: [ok001]}\n"),
		"title":    []byte("identifier: bad8\ntitle: " + strings.Repeat("x", 101) + "\nproperties: {tier: gold, replicas: 1, name: n, url: \"https://x\"}\nrelations: {parent: ok000, deps: [ok001]}\n"),
		"teamtype": []byte("identifier: bad9\ntitle: T\nteam: [1]\nproperties: {tier: gold, replicas: 1, name: n, url: \"https://x\"}\nrelations: {parent: ok000, deps: [ok001]}\n"),
		"codelen":  []byte("identifier: bad11\ntitle: T\nproperties: {tier: gold, replicas: 1, name: n, url: \"https://x\", code: c1234}\nrelations: {parent: ok000, deps: [ok001]}\n"),
		"reltype":  []byte("identifier: bad12\ntitle: T\nproperties: {tier: gold, replicas: 1, name: n, url: \"https://x\"}\nrelations: {parent: ok000, deps: [ok001, 7]}\n"),
		"topkey":   []byte("identifier: bad10\ntitle: T\ncreatedAt: 5\nproperties: {tier: gold, replicas: 1, name: n, url: \"https://x\"}\nrelations: {parent: ok000, deps: [ok001]}\n"),
	}
	for name, data := range bad {
		fsys["entities/svc/zz-"+name+".yaml"] = &fstest.MapFile{Data: data}
	}
	cat, err := catalog.Load(context.Background(), fsys, catalog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	built := cat.Build() // a team of numbers fails typed decoding already
	v, err := schema.New()
	if err != nil {
		t.Fatal(err)
	}
	diags := append(built, v.ValidateEntities(context.Background(), cat, schema.EntityOptions{Workers: 1})...)
	got := map[string]bool{}
	for _, d := range diags {
		got[strings.TrimSuffix(strings.TrimPrefix(d.File, "entities/svc/zz-"), ".yaml")] = true
		if strings.Contains(d.File, "/ok") {
			t.Errorf("valid entity reported: %v", d)
		}
	}
	for name := range bad {
		if !got[name] {
			t.Errorf("%s: invalid entity passed (memoised verdict?)", name)
		}
	}
}

// TestMemo_TitleIsLengthOnly holds #Title to what the memo assumes when it
// judges titles by their length: a string of 1..100 runes. Should
// #Title gain a pattern or a format, the title's class in fixedFields must
// become byValue.
func TestMemo_TitleIsLengthOnly(t *testing.T) {
	src, err := fs.ReadFile(schemas.FS, "common.cue")
	if err != nil {
		t.Fatal(err)
	}
	var def string
	for _, line := range strings.Split(string(src), "\n") {
		if name, rest, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(name) == "#Title" {
			def = strings.Join(strings.Fields(rest), " ")
		}
	}
	if def != "string & strings.MinRunes(1) & strings.MaxRunes(100)" {
		t.Errorf("#Title is %q; the memo judges titles by length only (see fixedFields)", def)
	}
}
