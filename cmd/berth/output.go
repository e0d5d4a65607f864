package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/berth-dev/berth/pkg/catalog"
)

// Output formats shared by the commands that report diagnostics.
const (
	outputText   = "text"
	outputJSON   = "json"
	outputGitHub = "github"
)

func checkOutput(format string, allowed ...string) error {
	for _, a := range allowed {
		if format == a {
			return nil
		}
	}
	return usageError{fmt.Errorf("--output %q: want one of %s", format, strings.Join(allowed, ", "))}
}

// summary is the count line and the JSON report of a validation run.
type summary struct {
	OK          bool                `json:"ok"`
	Errors      int                 `json:"errors"`
	Warnings    int                 `json:"warnings"`
	Files       int                 `json:"files"`
	Entities    int                 `json:"entities"`
	Diagnostics catalog.Diagnostics `json:"diagnostics"`
}

func newSummary(cat *catalog.Catalog, diags catalog.Diagnostics) summary {
	errs, warns := diags.Count()
	s := summary{OK: errs == 0, Errors: errs, Warnings: warns, Diagnostics: diags}
	if s.Diagnostics == nil {
		s.Diagnostics = catalog.Diagnostics{}
	}
	if cat != nil {
		s.Files = len(cat.Files)
		s.Entities = len(cat.Entities)
	}
	return s
}

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

// writeDiagnostics prints s in the given format.
func writeDiagnostics(w io.Writer, format string, s summary) error {
	switch format {
	case outputJSON:
		return writeJSONTo(w, s)
	case outputGitHub:
		for _, d := range s.Diagnostics {
			fmt.Fprintln(w, githubCommand(d))
		}
	default:
		for _, d := range s.Diagnostics {
			fmt.Fprintln(w, d)
		}
	}
	fmt.Fprintf(w, "%s, %s, %s in %s\n", plural(s.Entities, "entity", "entities"),
		plural(s.Errors, "error", "errors"), plural(s.Warnings, "warning", "warnings"), plural(s.Files, "file", "files"))
	return nil
}

// githubCommand formats d as a GitHub Actions workflow command, which the
// runner turns into an annotation on the file and line.
func githubCommand(d catalog.Diagnostic) string {
	level := "error"
	switch d.Severity {
	case catalog.SeverityWarning:
		level = "warning"
	case catalog.SeverityNotice:
		level = "notice"
	}
	props := []string{"file=" + escapeProperty(d.File)}
	if d.Line > 0 {
		props = append(props, fmt.Sprintf("line=%d", d.Line))
	}
	if d.Col > 0 {
		props = append(props, fmt.Sprintf("col=%d", d.Col))
	}
	props = append(props, "title="+escapeProperty("berth "+d.Code))
	return fmt.Sprintf("::%s %s::%s", level, strings.Join(props, ","), escapeData(d.Message))
}

func escapeData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

func escapeProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}

// writeJSONTo writes v as indented JSON, for --output json.
func writeJSONTo(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
