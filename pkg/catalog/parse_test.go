package catalog

import (
	"strings"
	"testing"
)

func TestParseFile_Smoke(t *testing.T) {
	docs, diags := ParseFile("entities/service/a.yaml", []byte("identifier: a\nproperties:\n  x: 1\n  y: [1, 2]\n"), KindEntity, Limits{})
	if len(diags) != 0 || len(docs) != 1 {
		t.Fatalf("docs=%d diags=%v", len(docs), diags)
	}
	if got := docs[0].Pos("properties", "y", "1").String(); got != "entities/service/a.yaml:4:10" {
		t.Errorf("pos = %s", got)
	}
	if got := docs[0].Pos("properties", "missing").String(); got != "entities/service/a.yaml:2:1" {
		t.Errorf("missing pos = %s", got)
	}
	_, diags = ParseFile("x.yaml", []byte("a: 1\na: 2\n"), KindEntity, Limits{})
	if len(diags) != 1 || !strings.Contains(diags[0].String(), "x.yaml:2:1: error: duplicate key") {
		t.Errorf("dup: %v", diags)
	}
}
