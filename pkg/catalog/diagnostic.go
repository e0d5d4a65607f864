package catalog

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Position is a place in a catalog file. Line and Col count from 1; a zero
// Line means the whole file.
type Position struct {
	File string `json:"file"`
	Line int    `json:"line,omitempty"`
	Col  int    `json:"col,omitempty"`
}

// String formats p as compilers do: file:line:col, dropping unknown parts.
func (p Position) String() string {
	switch {
	case p.Line == 0:
		return p.File
	case p.Col == 0:
		return fmt.Sprintf("%s:%d", p.File, p.Line)
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// Severity says whether a Diagnostic blocks a catalog revision.
type Severity int

// Severities, most severe first. Only SeverityError blocks a revision.
const (
	SeverityError Severity = iota
	SeverityWarning
	SeverityNotice
)

var severityNames = [...]string{"error", "warning", "notice"}

// String returns "error", "warning" or "notice".
func (s Severity) String() string {
	if int(s) < len(severityNames) && s >= 0 {
		return severityNames[s]
	}
	return fmt.Sprintf("severity(%d)", int(s))
}

// MarshalText encodes s as its name.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText decodes a severity name; it fails on unknown names.
func (s *Severity) UnmarshalText(b []byte) error {
	for i, n := range severityNames {
		if n == string(b) {
			*s = Severity(i)
			return nil
		}
	}
	return fmt.Errorf("unknown severity %q", b)
}

// Diagnostic is one finding about a catalog: where, how bad, a stable code
// that scripts may match on, and a message for people.
type Diagnostic struct {
	Position
	Severity Severity `json:"severity"`
	Code     string   `json:"code"`
	Message  string   `json:"message"`
}

// String formats d as file:line:col: severity: message [code].
func (d Diagnostic) String() string {
	return fmt.Sprintf("%s: %s: %s [%s]", d.Position, d.Severity, d.Message, d.Code)
}

// MarshalJSON flattens the position into the diagnostic object.
func (d Diagnostic) MarshalJSON() ([]byte, error) {
	type flat struct {
		File     string   `json:"file"`
		Line     int      `json:"line"`
		Col      int      `json:"col"`
		Severity Severity `json:"severity"`
		Code     string   `json:"code"`
		Message  string   `json:"message"`
	}
	return json.Marshal(flat{d.File, d.Line, d.Col, d.Severity, d.Code, d.Message})
}

// Errorf returns an error Diagnostic at pos.
func Errorf(pos Position, code, format string, args ...any) Diagnostic {
	return Diagnostic{Position: pos, Severity: SeverityError, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Warningf returns a warning Diagnostic at pos.
func Warningf(pos Position, code, format string, args ...any) Diagnostic {
	return Diagnostic{Position: pos, Severity: SeverityWarning, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Diagnostics is a list of findings.
type Diagnostics []Diagnostic

// HasErrors reports whether any diagnostic is an error.
func (ds Diagnostics) HasErrors() bool {
	return slices.ContainsFunc(ds, func(d Diagnostic) bool { return d.Severity == SeverityError })
}

// Errors returns the errors of ds, in order, leaving warnings out; nil
// when there are none.
func (ds Diagnostics) Errors() Diagnostics {
	var errs Diagnostics
	for _, d := range ds {
		if d.Severity == SeverityError {
			errs = append(errs, d)
		}
	}
	return errs
}

// Count returns the number of errors and warnings.
func (ds Diagnostics) Count() (errors, warnings int) {
	for _, d := range ds {
		switch d.Severity {
		case SeverityError:
			errors++
		case SeverityWarning:
			warnings++
		}
	}
	return errors, warnings
}

// Sort orders ds by file, line, column, severity and message, and drops exact
// duplicates, so that output is stable across runs and parallel validation.
func (ds Diagnostics) Sort() Diagnostics {
	slices.SortFunc(ds, func(a, b Diagnostic) int {
		return cmp.Or(
			strings.Compare(a.File, b.File),
			cmp.Compare(a.Line, b.Line),
			cmp.Compare(a.Col, b.Col),
			cmp.Compare(a.Severity, b.Severity),
			strings.Compare(a.Code, b.Code),
			strings.Compare(a.Message, b.Message),
		)
	})
	return slices.Compact(ds)
}

// Diagnostic codes. They are stable: scripts and the GitHub check match on
// them, so a code is never renamed, only added.
const (
	CodeSyntax          = "syntax"          // the file is not valid YAML or JSON
	CodeEncoding        = "encoding"        // invalid UTF-8 or a binary file
	CodeTooLarge        = "too-large"       // the file exceeds the size limit
	CodeTooDeep         = "too-deep"        // nesting beyond the depth limit
	CodeAliasBomb       = "alias-expansion" // YAML aliases expand past the budget
	CodeDuplicateKey    = "duplicate-key"   // a mapping names a key twice
	CodeNotObject       = "not-object"      // a document is not an object
	CodeEmptyFile       = "empty-file"      // a file holds no document
	CodeSymlink         = "symlink"         // a symlink leaves the catalog
	CodeUnknownFile     = "unknown-file"    // a file outside the known folders
	CodeRead            = "read"            // the file could not be read
	CodeSchema          = "schema"          // a document breaks its kind's schema
	CodeEntitySchema    = "entity-schema"   // an entity breaks its blueprint
	CodePolicy          = "policy"          // an entity breaks a policies/*.cue rule
	CodePolicyInvalid   = "policy-invalid"  // a policy file does not compile
	CodeUnknownBP       = "unknown-blueprint"
	CodeBlueprintClash  = "blueprint-mismatch" // entity's blueprint key disagrees with its folder
	CodeDuplicateID     = "duplicate-identifier"
	CodeDanglingRel     = "dangling-relation"
	CodeUnknownTeam     = "unknown-team"
	CodeMirrorPath      = "mirror-path"
	CodeScorecardLevel  = "scorecard-level"
	CodeUnknownProperty = "unknown-property"
	CodeCalculation     = "calculation"
	CodeDecode          = "decode"
	// CodeDuplicatePermissions: a blueprint's permissions set in two places.
	CodeDuplicatePermissions = "duplicate-permissions"
	// CodeComputedReach: a mirror or an aggregation reads entities with
	// stricter read permissions (a warning).
	CodeComputedReach = "computed-reach"
	// CodeScorecardQuery: a scorecard's filter or rule uses a condition
	// that scorecard evaluation cannot evaluate (another scorecard's
	// results, a user's context values).
	CodeScorecardQuery = "scorecard-query"
	// CodeUserIdentifier: a _user entity's identifier is not an e-mail.
	CodeUserIdentifier = "user-identifier"
)
