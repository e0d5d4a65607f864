package checks

import (
	"fmt"
	"path"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/berth-dev/berth/pkg/catalog"
)

// DefaultName is the check-run name used when a Report names none.
const DefaultName = "berth"

// Conclusion is how a check run ends.
type Conclusion string

// Conclusions berth uses; GitHub knows a few more that berth never sets.
const (
	Success Conclusion = "success"
	Failure Conclusion = "failure"
	Neutral Conclusion = "neutral"
)

// Level is an annotation's severity as GitHub names it.
type Level string

// Annotation levels.
const (
	LevelNotice  Level = "notice"
	LevelWarning Level = "warning"
	LevelFailure Level = "failure"
)

// Report is what one berth check tells GitHub. Summary and Text are Markdown
// rendered by the caller; Publish only truncates them.
type Report struct {
	// Name is the check run's name; DefaultName when empty.
	Name string
	// Title is the one-line headline of the run's output; Name when empty.
	Title      string
	Conclusion Conclusion
	// Summary is the Markdown shown first on the check run page, and the
	// body of the sticky comment.
	Summary string
	// Text is further Markdown shown below the summary.
	Text        string
	Annotations []Annotation
}

// Annotation marks a place in a file of the repository. Lines and columns
// count from 1; columns are kept only when StartLine equals EndLine, as
// GitHub requires.
type Annotation struct {
	// Path is relative to the repository root, with forward slashes.
	Path                   string
	StartLine, EndLine     int
	StartColumn, EndColumn int
	Level                  Level
	Title                  string
	Message                string
}

// FromDiagnostic converts a catalog diagnostic into an annotation. dir is the
// catalog's directory inside the repository ("" or "." for the root); it is
// prefixed to the diagnostic's file so that the annotation lands on the right
// file. A diagnostic about a whole file is placed on its first line.
func FromDiagnostic(dir string, d catalog.Diagnostic) Annotation {
	line := max(d.Line, 1)
	a := Annotation{
		Path:      repoPath(dir, d.File),
		StartLine: line,
		EndLine:   line,
		Level:     levelOf(d.Severity),
		Title:     d.Code,
		Message:   d.Message,
	}
	if d.Line > 0 && d.Col > 0 {
		a.StartColumn, a.EndColumn = d.Col, d.Col
	}
	return a
}

// FromDiagnostics converts every diagnostic with FromDiagnostic.
func FromDiagnostics(dir string, ds catalog.Diagnostics) []Annotation {
	out := make([]Annotation, 0, len(ds))
	for _, d := range ds {
		out = append(out, FromDiagnostic(dir, d))
	}
	return out
}

func levelOf(s catalog.Severity) Level {
	switch s {
	case catalog.SeverityError:
		return LevelFailure
	case catalog.SeverityWarning:
		return LevelWarning
	}
	return LevelNotice
}

// repoPath joins a catalog directory and a catalog-relative file into a
// clean repository-relative path.
func repoPath(dir, file string) string {
	dir = strings.Trim(path.Clean("/"+strings.ReplaceAll(dir, `\`, "/")), "/")
	return strings.TrimPrefix(path.Join(dir, file), "/")
}

// MaxOutput is GitHub's limit for a check run's output summary and text and
// for a comment body, in characters; Publish counts bytes, which is never
// more.
const MaxOutput = 65535

// noteReserve is room kept for the truncation note.
const noteReserve = 128

// Truncate returns s cut to at most limit bytes, and whether it cut. It cuts
// on a UTF-8 boundary, at the last line break when one lies in the second
// half of the kept text, and appends a line saying how many lines were cut.
func Truncate(s string, limit int) (string, bool) {
	return truncate(s, limit, "full report in the job summary")
}

// truncate is Truncate with the note's ending given.
func truncate(s string, limit int, where string) (string, bool) {
	if len(s) <= limit {
		return s, false
	}
	cut := max(limit-noteReserve, 0)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	if nl := strings.LastIndexByte(s[:cut], '\n'); nl >= cut/2 && nl >= 0 {
		cut = nl + 1
	}
	kept, rest := s[:cut], s[cut:]
	lines := strings.Count(rest, "\n")
	if !strings.HasSuffix(rest, "\n") {
		lines++
	}
	if !strings.HasSuffix(kept, "\n") {
		kept += "\n"
	}
	word := "lines"
	if lines == 1 {
		word = "line"
	}
	note := fmt.Sprintf("\n… %s more %s cut; %s\n", thousands(lines), word, where)
	out := kept + note
	if len(out) > limit { // only with limits too small for the note
		n := limit
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		out = s[:n]
	}
	return out, true
}

// thousands formats n with commas: 1234 → "1,234".
func thousands(n int) string {
	s := strconv.Itoa(n)
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}
