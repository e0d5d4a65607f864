package review

import (
	"fmt"
	"io"
	"strings"
)

// Text writes the report for a terminal: diagnostics as file:line:col:
// severity: message [code], then gates, level changes, entity changes and
// permission changes with the guard's verdict, each list cut after maxRows
// lines (0 means DefaultMaxRows), and the title last.
func (r *Report) Text(w io.Writer, maxRows int) error {
	if maxRows <= 0 {
		maxRows = DefaultMaxRows
	}
	var b strings.Builder
	more := func(n int, what string) {
		if n > 0 {
			fmt.Fprintf(&b, "  … and %s more %s\n", num(n), what)
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	for _, d := range r.Diagnostics {
		fmt.Fprintln(&b, d)
	}
	if len(r.Gates) > 0 {
		fmt.Fprintln(&b, "gates:")
		for _, g := range r.Gates {
			status := "passed"
			if !g.Passed {
				status = "FAILED"
				if g.Mode == ModeWarn {
					status = "warning"
				}
			}
			fmt.Fprintf(&b, "  %s: %s [%s]: %s\n", status, g.Description, g.Mode, strings.ReplaceAll(gateResult(g, 5), "`", ""))
		}
	}
	if len(r.Levels) > 0 {
		ups, downs := countDirections(r.Levels)
		fmt.Fprintf(&b, "scorecards: %s (%d up, %d down)\n", plural(len(r.Levels), "change", "changes"), ups, downs)
		for _, c := range r.Levels[:min(len(r.Levels), maxRows)] {
			line := fmt.Sprintf("  %s/%s %s: %s", c.Entity.Blueprint, c.Entity.Identifier, c.Scorecard,
				strings.ReplaceAll(levelCell(c), "**", ""))
			if rc := rulesCell(c); rc != "" {
				line += " (" + strings.NewReplacer("❌ ", "newly failing: ", "✅ ", "newly passing: ").Replace(rc) + ")"
			}
			fmt.Fprintln(&b, line)
		}
		more(len(r.Levels)-maxRows, "changes")
	}
	if r.Compared {
		fmt.Fprintf(&b, "entities: %s added, %s changed, %s removed\n", num(len(r.Added)), num(len(r.Changed)), num(len(r.Removed)))
		for _, e := range r.Added[:min(len(r.Added), maxRows)] {
			fmt.Fprintf(&b, "  + %s\n", e)
		}
		more(len(r.Added)-maxRows, "added")
		for _, c := range r.Changed[:min(len(r.Changed), maxRows)] {
			what := append([]string(nil), c.Properties...)
			for _, rel := range c.Relations {
				what = append(what, "relation "+rel)
			}
			fmt.Fprintf(&b, "  ~ %s: %s\n", c.EntityRef, strings.Join(what, ", "))
		}
		more(len(r.Changed)-maxRows, "changed")
		for _, e := range r.Removed[:min(len(r.Removed), maxRows)] {
			fmt.Fprintf(&b, "  - %s\n", e)
		}
		more(len(r.Removed)-maxRows, "removed")
	}
	if len(r.Permissions) > 0 || r.GuardFailed() {
		b.WriteString("permission changes")
		if r.Guard != nil {
			b.WriteString(": " + r.Guard.verdict())
		}
		b.WriteString("\n")
		for _, p := range r.Permissions[:min(len(r.Permissions), maxRows)] {
			fmt.Fprintf(&b, "  %s: %s\n", p.Position, p.Describe())
		}
		more(len(r.Permissions)-maxRows, "permission changes")
		if r.GuardFailed() {
			fmt.Fprintf(&b, "  %s\n", r.Guard.Ask())
		}
	}
	fmt.Fprintln(&b, r.Title())
	_, err := io.WriteString(w, b.String())
	return err
}
