package checks

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// MaxStepSummary is GitHub's limit for one step's job summary, in bytes.
const MaxStepSummary = 1 << 20

// appendStepSummary appends the whole report to the job summary file.
func appendStepSummary(path string, rep Report) error {
	body := rep.Summary
	if rep.Text != "" {
		body += "\n\n" + rep.Text
	}
	body, _ = truncate(body, MaxStepSummary-1, "run berth check locally for the rest")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("open job summary: %w", err)
	}
	if _, err := io.WriteString(f, strings.TrimRight(body, "\n")+"\n"); err != nil {
		f.Close()
		return fmt.Errorf("write job summary: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write job summary: %w", err)
	}
	return nil
}

// WriteCommands prints one workflow command per annotation to w, which
// the runner turns into annotations without needing any token permission.
// It does not report write errors: w is the job's log.
func WriteCommands(w io.Writer, as []Annotation) {
	for _, a := range as {
		cmd := "notice"
		switch a.Level {
		case LevelFailure:
			cmd = "error"
		case LevelWarning:
			cmd = "warning"
		}
		props := []string{"file=" + escapeProperty(a.Path)}
		start := max(a.StartLine, 1)
		end := max(a.EndLine, start)
		props = append(props, "line="+strconv.Itoa(start))
		if end != start {
			props = append(props, "endLine="+strconv.Itoa(end))
		}
		if start == end && a.StartColumn > 0 {
			props = append(props, "col="+strconv.Itoa(a.StartColumn))
			if a.EndColumn > a.StartColumn {
				props = append(props, "endColumn="+strconv.Itoa(a.EndColumn))
			}
		}
		if a.Title != "" {
			props = append(props, "title="+escapeProperty(a.Title))
		}
		fmt.Fprintf(w, "::%s %s::%s\n", cmd, strings.Join(props, ","), escapeData(a.Message))
	}
}

// dataEscaper escapes a workflow command's message the way @actions/core
// does, so that a newline cannot end the command and start another.
var dataEscaper = strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A")

// propertyEscaper also escapes the property separators.
var propertyEscaper = strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C")

func escapeData(s string) string     { return dataEscaper.Replace(s) }
func escapeProperty(s string) string { return propertyEscaper.Replace(s) }
