package schema

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	cueerrors "cuelang.org/go/cue/errors"

	"github.com/berth-dev/berth/pkg/catalog"
)

// cueIssue is one CUE error, its path in the document and its message.
type cueIssue struct {
	path []string
	msg  string
	// merged is set when msg merges a disjunction's literal conflicts.
	merged bool
}

// issues flattens a CUE error into one issue per path, in path order. A
// disjunction yields an error per alternative at the same path; they are
// merged into one "is not one of" message where they are all conflicts with
// literals.
func issues(err error) []cueIssue {
	var out []cueIssue
	byPath := map[string]int{}
	conflicts := map[string][]string{}
	got := map[string]string{}
	for _, e := range cueerrors.Errors(err) {
		path := unquotePath(e.Path())
		format, args := e.Msg()
		msg := fmt.Sprintf(format, args...)
		key := strings.Join(path, "\x00")
		if m := conflictRE.FindStringSubmatch(msg); m != nil {
			conflicts[key] = append(conflicts[key], m[1])
			got[key] = m[2]
		}
		if strings.Contains(msg, "empty disjunction") {
			continue // its parts follow as separate errors
		}
		if _, seen := byPath[key]; seen {
			continue
		}
		byPath[key] = len(out)
		out = append(out, cueIssue{path: path, msg: msg})
	}
	for key, alts := range conflicts {
		i, ok := byPath[key]
		if !ok || len(alts) < 2 {
			continue
		}
		slices.Sort(alts)
		alts = slices.Compact(alts)
		out[i].msg = fmt.Sprintf("%s is not one of %s", got[key], strings.Join(alts, ", "))
		out[i].merged = true
	}
	out = prune(out)
	slices.SortStableFunc(out, func(a, b cueIssue) int { return slices.Compare(a.path, b.path) })
	return out
}

// prune drops the noise a disjunction of structs leaves: an "incomplete
// value" above a more specific issue, and a merged discriminator conflict
// (type: "WEBHOOK" is not one of ...) when a sibling issue shows the
// alternative the document meant and what is wrong in it.
func prune(in []cueIssue) []cueIssue {
	under := func(p, q []string) bool { // q strictly under p
		return len(q) > len(p) && slices.Equal(p, q[:len(p)])
	}
	var out []cueIssue
	for i, is := range in {
		drop := false
		for j, o := range in {
			if i == j {
				continue
			}
			if strings.HasPrefix(is.msg, "incomplete value") && under(is.path, o.path) {
				drop = true
			}
			if is.merged && !o.merged && len(is.path) > 0 && under(is.path[:len(is.path)-1], o.path) && !slices.Equal(o.path, is.path) &&
				!strings.HasPrefix(o.msg, "incomplete value") {
				drop = true
			}
		}
		if drop {
			continue
		}
		if strings.HasPrefix(is.msg, "incomplete value") {
			is.msg = "does not match any of its allowed forms"
		}
		out = append(out, is)
	}
	return out
}

// conflictRE matches CUE's "conflicting values A and B" where A is a
// literal alternative and B the document's value.
var conflictRE = regexp.MustCompile(`^conflicting values ("[^"]*"|[-\w.]+) and (.+?)(?: \(mismatched types .*\))?$`)

func unquotePath(p []string) []string {
	out := make([]string, 0, len(p))
	for _, s := range p {
		if strings.HasPrefix(s, "#") {
			continue
		}
		if len(s) >= 2 && s[0] == '"' {
			if u, err := strconv.Unquote(s); err == nil {
				s = u
			}
		}
		out = append(out, s)
	}
	return out
}

// position returns where an issue belongs in d: the key of a field that
// is not allowed, the parent's key for a missing field, else the value.
func position(d *catalog.Document, is cueIssue) catalog.Position {
	if strings.Contains(is.msg, "not allowed") {
		return d.KeyPos(is.path...)
	}
	return d.Pos(is.path...)
}

// pathString renders a path as a.b[0].c for messages.
func pathString(p []string) string {
	var b strings.Builder
	for _, s := range p {
		if _, err := strconv.Atoi(s); err == nil {
			fmt.Fprintf(&b, "[%s]", s)
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(s)
	}
	return b.String()
}

// friendly rewrites CUE's stock messages in people's words.
func friendly(msg string) string {
	switch {
	case strings.Contains(msg, "field is required but not present"):
		return "is required but missing"
	case strings.Contains(msg, "field not allowed"):
		return "is not a known field here"
	}
	if m := runesRE.FindStringSubmatch(msg); m != nil {
		switch {
		case m[1] == "Min" && m[2] == "1":
			return "must not be empty"
		case m[1] == "Min":
			return fmt.Sprintf("is shorter than the minimum of %s characters", m[2])
		}
		return fmt.Sprintf("is longer than the maximum of %s characters", m[2])
	}
	if m := invalidValueRE.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("%s does not match %s", m[1], m[2])
	}
	return msg
}

var (
	invalidValueRE = regexp.MustCompile(`^invalid value (.+?) \(out of bound (.+)\)$`)
	runesRE        = regexp.MustCompile(`^invalid value .* \(does not satisfy strings\.(Min|Max)Runes\((\d+)\)\)$`)
)
