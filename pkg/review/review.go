package review

import (
	"cmp"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/berth-dev/berth/pkg/catalog"
	"github.com/berth-dev/berth/pkg/scorecard"
)

// Side is one side of a change: a built catalog and its scorecard
// evaluation.
type Side struct {
	// Catalog is built (catalog.Build) and, for the head, validated.
	Catalog *catalog.Catalog
	// Scores is the catalog's scorecard evaluation; nil when it could not be
	// scored (the head has errors).
	Scores *scorecard.Evaluation
	// Property supplies computed property values for gate filters; nil
	// reads stored properties only.
	Property func(e *catalog.Entity, key string) (any, bool)
}

// Input is what Compare compares.
type Input struct {
	// Base is the side the change starts from; nil when there is none (a
	// new branch, or a base that could not be loaded).
	Base *Side
	Head Side
	// Diagnostics are the head's findings.
	Diagnostics catalog.Diagnostics
	// Changed lists the catalog-relative paths that differ between base and
	// head. When set, entities in other files are taken as unchanged
	// without comparing them; nil compares every entity.
	Changed []string
	// Now anchors date presets in gate filters; zero means time.Now().
	Now time.Time
	// Notes are sentences the report shows first ("base could not be
	// loaded: ...").
	Notes []string
	// Guard asks for the pull-request permission guard; nil lists the
	// permission changes without judging them.
	Guard *GuardInput
}

// EntityRef names an entity and the file it lives in.
type EntityRef struct {
	Blueprint  string `json:"blueprint"`
	Identifier string `json:"identifier"`
	File       string `json:"file,omitempty"`
}

// String returns blueprint/identifier.
func (r EntityRef) String() string { return r.Blueprint + "/" + r.Identifier }

func ref(e *catalog.Entity) EntityRef {
	r := EntityRef{Blueprint: e.Blueprint, Identifier: e.Identifier}
	if e.Doc != nil {
		r.File = e.Doc.File
	}
	return r
}

// EntityChange is an entity present on both sides whose data differs.
type EntityChange struct {
	EntityRef
	// Properties are the changed property identifiers, with $title, $icon
	// and $team for the meta-properties, sorted.
	Properties []string `json:"properties,omitempty"`
	// Relations are the changed relation identifiers, sorted.
	Relations []string `json:"relations,omitempty"`
}

// Report is what a change does to a catalog. It marshals to the JSON that
// `berth check --output json` prints.
type Report struct {
	// Base and Head label the two sides (commit hashes); the caller sets
	// them.
	Base string `json:"base,omitempty"`
	Head string `json:"head,omitempty"`
	// OK is false when the head has errors, a blocking gate failed or the
	// permission guard refused the change.
	OK          bool                `json:"ok"`
	Errors      int                 `json:"errors"`
	Warnings    int                 `json:"warnings"`
	Files       int                 `json:"files"`
	Entities    int                 `json:"entities"`
	Notes       []string            `json:"notes,omitempty"`
	Diagnostics catalog.Diagnostics `json:"diagnostics"`
	Added       []EntityRef         `json:"added"`
	Changed     []EntityChange      `json:"changed"`
	Removed     []EntityRef         `json:"removed"`
	// Levels are the scorecard results that changed: level, newly failing
	// or newly passing rules (scorecard.Diff), worst first.
	Levels      []scorecard.Change `json:"levels"`
	Gates       []GateResult       `json:"gates"`
	Permissions []PermissionChange `json:"permissions"`
	// Guard is the permission guard's verdict; nil when it was not asked
	// for.
	Guard *GuardResult `json:"guard,omitempty"`
	// Compared is false when there was no base to compare with.
	Compared bool `json:"compared"`
}

// Compare computes the report of the change from in.Base to in.Head.
func Compare(in Input) *Report {
	r := &Report{Diagnostics: in.Diagnostics, Notes: in.Notes, Compared: in.Base != nil}
	head := in.Head.Catalog
	if head != nil {
		r.Files, r.Entities = len(head.Files), len(head.Entities)
	}
	var base *catalog.Catalog
	var baseScores *scorecard.Evaluation
	if in.Base != nil {
		base, baseScores = in.Base.Catalog, in.Base.Scores
	}
	r.Added, r.Changed, r.Removed = diffEntities(base, head, in.Changed)
	if in.Base != nil && in.Head.Scores != nil {
		r.Levels = scorecard.Diff(baseScores, in.Head.Scores)
		slices.SortStableFunc(r.Levels, func(a, b scorecard.Change) int {
			return cmp.Compare(a.Direction(), b.Direction()) // downs first
		})
	}
	if base != nil && head != nil {
		r.Permissions = PermissionChanges(base, head, in.Changed)
	}
	judgeGuard(in, base, r)
	if r.Diagnostics == nil {
		r.Diagnostics = catalog.Diagnostics{}
	}
	r.Errors, r.Warnings = r.Diagnostics.Count()
	r.Gates = judgeGates(in, r)
	for _, s := range []*[]EntityRef{&r.Added, &r.Removed} {
		if *s == nil {
			*s = []EntityRef{}
		}
	}
	if r.Changed == nil {
		r.Changed = []EntityChange{}
	}
	if r.Levels == nil {
		r.Levels = []scorecard.Change{}
	}
	if r.Permissions == nil {
		r.Permissions = []PermissionChange{}
	}
	r.OK = r.Errors == 0 && r.GatesFailed(ModeBlock) == 0 && !r.GuardFailed()
	return r
}

// GatesFailed counts the gates of the given mode (ModeBlock or ModeWarn)
// that failed.
func (r *Report) GatesFailed(mode string) int {
	n := 0
	for _, g := range r.Gates {
		if g.Mode == mode && !g.Passed {
			n++
		}
	}
	return n
}

// diffEntities returns the entities only in head, changed, and only in
// base. With changed paths given, entities outside them are not compared.
func diffEntities(base, head *catalog.Catalog, changed []string) (added []EntityRef, edited []EntityChange, removed []EntityRef) {
	if head == nil {
		return nil, nil, nil
	}
	if base == nil {
		return nil, nil, nil // nothing to compare with: the head is not "all added"
	}
	var touched map[string]bool
	if changed != nil {
		touched = make(map[string]bool, len(changed))
		for _, p := range changed {
			touched[p] = true
		}
	}
	inFile := func(e *catalog.Entity) bool { return touched == nil || e.Doc == nil || touched[e.Doc.File] }
	for _, e := range head.Entities {
		old := base.Entity(e.Key())
		if old == nil {
			added = append(added, ref(e))
			continue
		}
		if old != e && (inFile(e) || inFile(old)) {
			if c, diff := compareEntity(old, e); diff {
				edited = append(edited, c)
			}
		}
	}
	for _, e := range base.Entities {
		if head.Entity(e.Key()) == nil {
			removed = append(removed, ref(e))
		}
	}
	byKey := func(a, b EntityRef) int {
		return cmp.Or(strings.Compare(a.Blueprint, b.Blueprint), strings.Compare(a.Identifier, b.Identifier))
	}
	slices.SortFunc(added, byKey)
	slices.SortFunc(removed, byKey)
	slices.SortFunc(edited, func(a, b EntityChange) int { return byKey(a.EntityRef, b.EntityRef) })
	return slices.CompactFunc(added, func(a, b EntityRef) bool { return byKey(a, b) == 0 }),
		edited,
		slices.CompactFunc(removed, func(a, b EntityRef) bool { return byKey(a, b) == 0 })
}

// compareEntity lists what differs between two versions of an entity.
func compareEntity(a, b *catalog.Entity) (EntityChange, bool) {
	c := EntityChange{EntityRef: ref(b)}
	if a.Title != b.Title {
		c.Properties = append(c.Properties, "$title")
	}
	if a.Icon != b.Icon {
		c.Properties = append(c.Properties, "$icon")
	}
	if !slices.Equal(a.Team, b.Team) {
		c.Properties = append(c.Properties, "$team")
	}
	for _, k := range unionKeys(a.Properties, b.Properties) {
		av, aok := a.Properties[k]
		bv, bok := b.Properties[k]
		if aok != bok || !reflect.DeepEqual(av, bv) {
			c.Properties = append(c.Properties, k)
		}
	}
	for _, k := range unionKeys(a.Relations, b.Relations) {
		if !slices.Equal(a.Relations[k].Targets, b.Relations[k].Targets) {
			c.Relations = append(c.Relations, k)
		}
	}
	slices.Sort(c.Properties)
	return c, len(c.Properties) > 0 || len(c.Relations) > 0
}

func unionKeys[V any](a, b map[string]V) []string {
	out := make([]string, 0, len(a)+len(b))
	for k := range a {
		out = append(out, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}
