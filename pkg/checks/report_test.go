package checks

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/berth-dev/berth/pkg/catalog"
	"github.com/google/go-cmp/cmp"
)

func TestFromDiagnostic(t *testing.T) {
	tests := []struct {
		name string
		dir  string
		d    catalog.Diagnostic
		want Annotation
	}{
		{
			name: "ErrorInSubdir",
			dir:  "catalog/",
			d:    catalog.Errorf(catalog.Position{File: "entities/service/payments.yaml", Line: 4, Col: 7}, catalog.CodeEntitySchema, "tier: must be one of gold, silver"),
			want: Annotation{Path: "catalog/entities/service/payments.yaml", StartLine: 4, EndLine: 4, StartColumn: 7, EndColumn: 7,
				Level: LevelFailure, Title: "entity-schema", Message: "tier: must be one of gold, silver"},
		},
		{
			name: "WarningAtRoot",
			dir:  ".",
			d:    catalog.Warningf(catalog.Position{File: "berth.yaml", Line: 2}, catalog.CodeUnknownProperty, "unknown"),
			want: Annotation{Path: "berth.yaml", StartLine: 2, EndLine: 2, Level: LevelWarning, Title: "unknown-property", Message: "unknown"},
		},
		{
			name: "NoticeWholeFile",
			dir:  "./cat",
			d:    catalog.Diagnostic{Position: catalog.Position{File: "x.yaml"}, Severity: catalog.SeverityNotice, Code: "c", Message: "m"},
			want: Annotation{Path: "cat/x.yaml", StartLine: 1, EndLine: 1, Level: LevelNotice, Title: "c", Message: "m"},
		},
		{
			name: "DotDotStaysInRepo",
			dir:  "../outside",
			d:    catalog.Errorf(catalog.Position{File: "a.yaml", Line: 1}, "c", "m"),
			want: Annotation{Path: "outside/a.yaml", StartLine: 1, EndLine: 1, Level: LevelFailure, Title: "c", Message: "m"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, FromDiagnostic(tt.dir, tt.d)); diff != "" {
				t.Errorf("FromDiagnostic mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTruncate(t *testing.T) {
	lines := func(n int, line string) string { return strings.Repeat(line+"\n", n) }
	tests := []struct {
		name     string
		in       string
		limit    int
		wantCut  bool
		wantTail string
	}{
		{name: "Fits", in: lines(3, "ok"), limit: 100},
		{name: "AtLineBreak", in: lines(2000, "| entity | Silver ↑ Gold |"), limit: 10000, wantCut: true,
			wantTail: "| entity | Silver ↑ Gold |\n\n… 1,660 more lines cut; full report in the job summary\n"},
		{name: "OneLongLineUTF8", in: strings.Repeat("é", 1000), limit: 301, wantCut: true,
			wantTail: "é\n\n… 1 more line cut; full report in the job summary\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, cut := Truncate(tt.in, tt.limit)
			if cut != tt.wantCut {
				t.Fatalf("Truncate cut = %v, want %v", cut, tt.wantCut)
			}
			if len(got) > tt.limit {
				t.Errorf("len = %d, over the limit %d", len(got), tt.limit)
			}
			if !utf8.ValidString(got) {
				t.Error("result is not valid UTF-8")
			}
			if !cut {
				if got != tt.in {
					t.Errorf("Truncate changed a fitting string")
				}
				return
			}
			if !strings.HasSuffix(got, tt.wantTail) {
				t.Errorf("Truncate tail = %q, want suffix %q", got[max(len(got)-120, 0):], tt.wantTail)
			}
		})
	}
}

func TestWriteCommands(t *testing.T) {
	var b bytes.Buffer
	WriteCommands(&b, []Annotation{
		{Path: "cat/a,b:c.yaml", StartLine: 3, EndLine: 3, StartColumn: 5, EndColumn: 5, Level: LevelFailure,
			Title: "schema: bad, very", Message: "100% wrong\r\nsecond line ::error::injected"},
		{Path: "x.yaml", StartLine: 2, EndLine: 4, StartColumn: 1, Level: LevelWarning, Message: "span"},
		{Path: "y.yaml", Level: LevelNotice, Title: "t", Message: "m"},
	})
	want := "::error file=cat/a%2Cb%3Ac.yaml,line=3,col=5,title=schema%3A bad%2C very::100%25 wrong%0D%0Asecond line ::error::injected\n" +
		"::warning file=x.yaml,line=2,endLine=4::span\n" +
		"::notice file=y.yaml,line=1,title=t::m\n"
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("WriteCommands mismatch (-want +got):\n%s", diff)
	}
}
