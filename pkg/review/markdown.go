package review

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/berth-dev/berth/pkg/catalog"
	"github.com/berth-dev/berth/pkg/scorecard"
)

// MarkdownOptions configure Report.Markdown.
type MarkdownOptions struct {
	// Link returns the URL of a catalog file at a line (line 0: the whole
	// file); nil prints file:line without links.
	Link func(file string, line int) string
	// MaxRows caps each list and table; 0 means DefaultMaxRows. Longer
	// lists are summarised (counts per scorecard, per blueprint) and cut
	// with a line saying how many were left out.
	MaxRows int
}

// DefaultMaxRows is how many rows a list or table of the Markdown report
// shows when MarkdownOptions.MaxRows is zero.
const DefaultMaxRows = 50

// Title is the report's one-line headline: "2 errors, Silver→Bronze on 3
// services, 1 gate failed", or "No errors, 3 entities changed".
func (r *Report) Title() string {
	var parts []string
	errs := r.Errors - r.guardErrors()
	if errs > 0 {
		parts = append(parts, plural(errs, "error", "errors"))
	}
	if r.GuardFailed() {
		if n := len(r.Permissions); n > 0 {
			parts = append(parts, plural(n, "permission change needs", "permission changes need")+" an Admin")
		} else {
			parts = append(parts, "permission guard failed")
		}
	}
	if s := levelHeadline(r.Levels); s != "" {
		parts = append(parts, s)
	}
	if n := r.GatesFailed(ModeBlock); n > 0 {
		parts = append(parts, plural(n, "gate", "gates")+" failed")
	}
	if n := r.GatesFailed(ModeWarn); n > 0 {
		parts = append(parts, plural(n, "gate warning", "gate warnings"))
	}
	if n := len(r.Permissions); n > 0 && !r.GuardFailed() {
		s := plural(n, "permission change", "permission changes")
		if g := r.Guard; g != nil && g.Judged {
			s += " by an Admin"
		}
		parts = append(parts, s)
	}
	if errs == 0 && !r.GuardFailed() {
		lead := "No errors"
		if r.Compared && len(parts) == 0 {
			lead += ", " + plural(len(r.Added)+len(r.Changed)+len(r.Removed), "entity", "entities") + " changed"
		}
		parts = append([]string{lead}, parts...)
	}
	return strings.Join(parts, ", ")
}

// levelHeadline summarises level changes: the largest group of drops
// ("Silver→Bronze on 3 services"), or counts.
func levelHeadline(levels []scorecard.Change) string {
	type group struct{ from, to, bp string }
	groups := map[group]int{}
	downs, ups := 0, 0
	for _, c := range levels {
		switch c.Direction() {
		case -1:
			downs++
			groups[group{c.From, c.To, c.Entity.Blueprint}]++
		case 1:
			ups++
		}
	}
	var parts []string
	switch {
	case len(groups) == 1:
		for g, n := range groups {
			parts = append(parts, fmt.Sprintf("%s→%s on %s", g.from, g.to, plural(n, g.bp, g.bp+"s")))
		}
	case downs > 0:
		parts = append(parts, plural(downs, "level", "levels")+" down")
	}
	if ups > 0 {
		parts = append(parts, plural(ups, "level", "levels")+" up")
	}
	return strings.Join(parts, ", ")
}

// Markdown renders the report for a check run summary or a comment.
func (r *Report) Markdown(opts MarkdownOptions) string {
	if opts.MaxRows <= 0 {
		opts.MaxRows = DefaultMaxRows
	}
	m := &mdWriter{opts: opts}
	icon := "✅"
	switch {
	case !r.OK:
		icon = "❌"
	case r.Warnings > 0 || r.GatesFailed(ModeWarn) > 0:
		icon = "⚠️"
	}
	m.f("## %s berth: %s\n\n", icon, r.Title())
	if r.Base != "" || r.Head != "" {
		if r.Compared {
			m.f("Compared `%s` (base) with `%s` (head).", short(r.Base), short(r.Head))
		} else {
			m.f("Checked `%s` alone.", short(r.Head))
		}
		m.f(" %s in %s: %s, %s.\n\n", plural(r.Entities, "entity", "entities"), plural(r.Files, "file", "files"),
			plural(r.Errors-r.guardErrors(), "error", "errors"), plural(r.Warnings, "warning", "warnings"))
	}
	for _, n := range r.Notes {
		m.f("> [!NOTE]\n> %s\n\n", n)
	}
	if r.Compared {
		m.f("| Entities added | changed | removed | Levels ↑ | Levels ↓ |\n|---:|---:|---:|---:|---:|\n")
		ups, downs := countDirections(r.Levels)
		m.f("| %s | %s | %s | %s | %s |\n\n", num(len(r.Added)), num(len(r.Changed)), num(len(r.Removed)), num(ups), num(downs))
	}
	m.gates(r)
	m.permissions(r)
	m.diagnostics("Errors", r.Diagnostics, catalog.SeverityError, false)
	m.diagnostics("Warnings", r.Diagnostics, catalog.SeverityWarning, true)
	m.levels(r.Levels)
	m.entities(r)
	return m.String()
}

type mdWriter struct {
	strings.Builder
	opts MarkdownOptions
}

func (m *mdWriter) f(format string, args ...any) { fmt.Fprintf(m, format, args...) }

func (m *mdWriter) where(file string, line int) string {
	label := file
	if line > 0 {
		label += ":" + strconv.Itoa(line)
	}
	if m.opts.Link == nil || file == "" {
		return "`" + label + "`"
	}
	return fmt.Sprintf("[%s](%s)", label, m.opts.Link(file, line))
}

func (m *mdWriter) more(n int, what string) {
	if n > 0 {
		m.f("\n… and %s more %s.\n", num(n), what)
	}
}

func (m *mdWriter) gates(r *Report) {
	if len(r.Gates) == 0 {
		return
	}
	m.f("### Quality gates\n\n| | Gate | Mode | Result |\n|---|---|---|---|\n")
	for _, g := range r.Gates {
		icon := "✅"
		if !g.Passed {
			icon = "❌"
			if g.Mode == ModeWarn {
				icon = "⚠️"
			}
		}
		m.f("| %s | %s %s | %s | %s |\n", icon, cell(g.Description), m.where(g.Position.File, g.Position.Line), g.Mode, cell(gateResult(g, 5)))
	}
	m.f("\n")
}

// gateResult says in one cell how a gate did, naming up to n entities.
func gateResult(g GateResult, n int) string {
	if g.Error != "" {
		return "could not be judged: " + g.Error
	}
	var s string
	if len(g.Failures) == 0 {
		s = fmt.Sprintf("passed (%s judged)", plural(g.Checked, "entity", "entities"))
	} else {
		names := make([]string, 0, n)
		for _, f := range g.Failures[:min(n, len(g.Failures))] {
			if f.From != "" {
				names = append(names, fmt.Sprintf("`%s` %s→%s", f.Entity, f.From, f.Level))
			} else {
				names = append(names, fmt.Sprintf("`%s` (%s)", f.Entity, f.Level))
			}
		}
		s = fmt.Sprintf("%s: %s", plural(len(g.Failures), "entity fails", "entities fail"), strings.Join(names, ", "))
		if len(g.Failures) > n {
			s += fmt.Sprintf(" and %s more", num(len(g.Failures)-n))
		}
	}
	if g.Preexisting > 0 {
		s += fmt.Sprintf("; %s already below before this change", plural(g.Preexisting, "entity", "entities"))
	}
	return s
}

func (m *mdWriter) diagnostics(title string, ds catalog.Diagnostics, sev catalog.Severity, fold bool) {
	var sel catalog.Diagnostics
	for _, d := range ds {
		if d.Severity == sev && d.Code != CodePermissionGuard { // shown with the guard's verdict
			sel = append(sel, d)
		}
	}
	if len(sel) == 0 {
		return
	}
	if fold {
		m.f("<details><summary>%s (%s)</summary>\n\n", title, num(len(sel)))
	} else {
		m.f("### %s (%s)\n\n", title, num(len(sel)))
	}
	for _, d := range sel[:min(len(sel), m.opts.MaxRows)] {
		m.f("- %s: %s `%s`\n", m.where(d.File, d.Line), escape(d.Message), d.Code)
	}
	m.more(len(sel)-m.opts.MaxRows, strings.ToLower(title)+" (see the annotations or `berth check --output json`)")
	if fold {
		m.f("\n</details>")
	}
	m.f("\n")
}

func (m *mdWriter) levels(levels []scorecard.Change) {
	if len(levels) == 0 {
		return
	}
	ups, downs := countDirections(levels)
	m.f("### Scorecards (%s: %s ↑, %s ↓)\n\n", plural(len(levels), "change", "changes"), num(ups), num(downs))
	if len(levels) > m.opts.MaxRows {
		type agg struct{ up, down, other int }
		per := map[string]*agg{}
		for _, c := range levels {
			a := per[c.Scorecard]
			if a == nil {
				a = &agg{}
				per[c.Scorecard] = a
			}
			switch c.Direction() {
			case 1:
				a.up++
			case -1:
				a.down++
			default:
				a.other++
			}
		}
		m.f("| Scorecard | ↑ | ↓ | rules only, or entered/left |\n|---|---:|---:|---:|\n")
		for _, id := range slices.Sorted(maps.Keys(per)) {
			a := per[id]
			m.f("| %s | %s | %s | %s |\n", id, num(a.up), num(a.down), num(a.other))
		}
		m.f("\nThe first %d changes, drops first:\n\n", m.opts.MaxRows)
	}
	m.f("| Entity | Scorecard | Level | Rules |\n|---|---|---|---|\n")
	for _, c := range levels[:min(len(levels), m.opts.MaxRows)] {
		m.f("| `%s/%s` | %s | %s | %s |\n", c.Entity.Blueprint, c.Entity.Identifier, c.Scorecard, levelCell(c), rulesCell(c))
	}
	m.more(len(levels)-m.opts.MaxRows, "changes")
	m.f("\n")
}

func levelCell(c scorecard.Change) string {
	switch {
	case c.From == "":
		return "new: " + c.To
	case c.To == "":
		return c.From + " → not scored"
	case c.Direction() > 0:
		return fmt.Sprintf("%s → **%s** ↑", c.From, c.To)
	case c.Direction() < 0:
		return fmt.Sprintf("%s → **%s** ↓", c.From, c.To)
	}
	return c.To
}

func rulesCell(c scorecard.Change) string {
	var parts []string
	if len(c.NewlyFail) > 0 {
		parts = append(parts, "❌ "+strings.Join(c.NewlyFail, ", "))
	}
	if len(c.NewlyPass) > 0 {
		parts = append(parts, "✅ "+strings.Join(c.NewlyPass, ", "))
	}
	return strings.Join(parts, "; ")
}

func (m *mdWriter) entities(r *Report) {
	if !r.Compared || len(r.Added)+len(r.Changed)+len(r.Removed) == 0 {
		return
	}
	m.f("### Entities\n\n")
	list := func(title string, refs []EntityRef, detail func(i int) string) {
		if len(refs) == 0 {
			return
		}
		m.f("**%s (%s)**", title, num(len(refs)))
		if len(refs) > m.opts.MaxRows {
			per := map[string]int{}
			for _, e := range refs {
				per[e.Blueprint]++
			}
			var ps []string
			for _, bp := range slices.Sorted(maps.Keys(per)) {
				ps = append(ps, fmt.Sprintf("%s %s", num(per[bp]), bp))
			}
			m.f(": %s", strings.Join(ps, ", "))
		}
		m.f("\n\n")
		for i, e := range refs[:min(len(refs), m.opts.MaxRows)] {
			m.f("- `%s` %s%s\n", e, m.where(e.File, 0), detail(i))
		}
		m.more(len(refs)-m.opts.MaxRows, strings.ToLower(title))
		m.f("\n")
	}
	none := func(int) string { return "" }
	list("Added", r.Added, none)
	changed := make([]EntityRef, len(r.Changed))
	for i, c := range r.Changed {
		changed[i] = c.EntityRef
	}
	list("Changed", changed, func(i int) string {
		c := r.Changed[i]
		var what []string
		what = append(what, c.Properties...)
		for _, rel := range c.Relations {
			what = append(what, "relation "+rel)
		}
		return ": " + strings.Join(what, ", ")
	})
	list("Removed", r.Removed, none)
}

// permissions is the "Permission changes" section: the guard's verdict
// and the changes, each linked to its line.
func (m *mdWriter) permissions(r *Report) {
	ps, g := r.Permissions, r.Guard
	if len(ps) == 0 && !r.GuardFailed() {
		return
	}
	m.f("### Permission changes\n\n")
	switch {
	case g == nil:
		m.f("This change edits who may see or do what; ask the owners to review:\n\n")
	case !g.Judged:
		m.f("ℹ️ Not judged: %s.\n\n", escape(g.Reason))
	case g.Passed:
		m.f("✅ Allowed: %s.\n\n", escape(g.Reason))
	default:
		m.f("❌ **Blocked**: %s. %s\n\n", escape(g.Reason), g.ask(func(a Approver) string {
			if a.Login == "" {
				return "`" + a.Email + "`"
			}
			return fmt.Sprintf("`%s` (`@%s`)", a.Email, a.Login) // code spans notify no one
		}))
	}
	for _, p := range ps[:min(len(ps), m.opts.MaxRows)] {
		m.f("- %s %s\n", m.where(p.File, p.Line), escape(p.Describe()))
	}
	m.more(len(ps)-m.opts.MaxRows, "permission changes")
	m.f("\n")
}

func countDirections(levels []scorecard.Change) (ups, downs int) {
	for _, c := range levels {
		switch c.Direction() {
		case 1:
			ups++
		case -1:
			downs++
		}
	}
	return ups, downs
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return num(n) + " " + many
}

// num formats n with thousands separators: 10000 → "10,000".
func num(n int) string {
	s := strconv.Itoa(n)
	if n < 0 {
		return "-" + num(-n)
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func short(h string) string {
	if len(h) == 40 {
		return h[:12]
	}
	return cmp.Or(h, "?")
}

// cell keeps text inside one Markdown table cell.
func cell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

// escape keeps a message from opening HTML or breaking a list item.
func escape(s string) string {
	return strings.NewReplacer("<", "&lt;", ">", "&gt;", "\n", " ").Replace(s)
}
