package catalog

import (
	"encoding/json"
	"time"
)

// Query is a Port search query or condition group as written in the catalog:
// {combinator, rules} or {combinator, conditions}. Package query parses it.
type Query = map[string]any

// Blueprint is a Port blueprint: the schema of one kind of entity.
type Blueprint struct {
	Identifier            string                         `json:"identifier"`
	Title                 string                         `json:"title,omitempty"`
	Description           string                         `json:"description,omitempty"`
	Icon                  string                         `json:"icon,omitempty"`
	Ownership             *Ownership                     `json:"ownership,omitempty"`
	Schema                BlueprintSchema                `json:"schema"`
	Relations             map[string]RelationDef         `json:"relations,omitempty"`
	MirrorProperties      map[string]MirrorProperty      `json:"mirrorProperties,omitempty"`
	CalculationProperties map[string]CalculationProperty `json:"calculationProperties,omitempty"`
	AggregationProperties map[string]AggregationProperty `json:"aggregationProperties,omitempty"`
	ChangelogDestination  map[string]any                 `json:"changelogDestination,omitempty"`
	// Permissions is berth's catalog RBAC for this blueprint's entities,
	// from the blueprint file or a permissions document under roles/.
	Permissions *BlueprintPermissions `json:"permissions,omitempty"`
	// PermissionsDoc is the document that sets Permissions: the
	// blueprint's own, or a roles/ document; nil when none does.
	PermissionsDoc *Document `json:"-"`

	// Doc is the document the blueprint was read from; nil for built-ins.
	Doc *Document `json:"-"`
}

// BlueprintSchema holds a blueprint's properties.
type BlueprintSchema struct {
	Properties map[string]Property `json:"properties"`
	Required   []string            `json:"required,omitempty"`
}

// Property is a JSON-schema-like property definition.
type Property struct {
	Title            string            `json:"title,omitempty"`
	Description      string            `json:"description,omitempty"`
	Icon             string            `json:"icon,omitempty"`
	Type             string            `json:"type"`
	Format           string            `json:"format,omitempty"`
	Blueprint        string            `json:"blueprint,omitempty"` // format: entity (action inputs)
	Enum             []any             `json:"enum,omitempty"`
	EnumColors       map[string]string `json:"enumColors,omitempty"`
	Default          any               `json:"default,omitempty"`
	MinLength        *int              `json:"minLength,omitempty"`
	MaxLength        *int              `json:"maxLength,omitempty"`
	Pattern          string            `json:"pattern,omitempty"`
	Minimum          *float64          `json:"minimum,omitempty"`
	Maximum          *float64          `json:"maximum,omitempty"`
	ExclusiveMinimum *float64          `json:"exclusiveMinimum,omitempty"`
	ExclusiveMaximum *float64          `json:"exclusiveMaximum,omitempty"`
	MinItems         *int              `json:"minItems,omitempty"`
	MaxItems         *int              `json:"maxItems,omitempty"`
	UniqueItems      bool              `json:"uniqueItems,omitempty"`
	Items            *Property         `json:"items,omitempty"`
	Spec             string            `json:"spec,omitempty"`
	// Calculation is the seed's inline formula form of a calculated property.
	Calculation *FormulaCalculation `json:"calculation,omitempty"`
}

// FormulaCalculation is an arithmetic formula over sibling properties,
// written inside a property definition: {type: formula, formula: "a / b"}.
type FormulaCalculation struct {
	Type    string `json:"type"`
	Formula string `json:"formula"`
}

// RelationDef is a blueprint's relation to another blueprint.
type RelationDef struct {
	Title       string `json:"title,omitempty"`
	Description string `json:"description,omitempty"`
	Target      string `json:"target"`
	Required    bool   `json:"required"`
	Many        bool   `json:"many"`
}

// MirrorProperty shows a related entity's property: Path is a dot chain of
// relation identifiers ending in a property or meta-property.
type MirrorProperty struct {
	Title string `json:"title,omitempty"`
	Path  string `json:"path"`
}

// CalculationProperty is a jq expression over the entity's JSON.
type CalculationProperty struct {
	Title       string            `json:"title,omitempty"`
	Description string            `json:"description,omitempty"`
	Icon        string            `json:"icon,omitempty"`
	Calculation string            `json:"calculation"`
	Type        string            `json:"type"`
	Format      string            `json:"format,omitempty"`
	Colorized   bool              `json:"colorized,omitempty"`
	Colors      map[string]string `json:"colors,omitempty"`
}

// AggregationProperty aggregates over related entities of Target.
type AggregationProperty struct {
	Title           string          `json:"title,omitempty"`
	Description     string          `json:"description,omitempty"`
	Icon            string          `json:"icon,omitempty"`
	Target          string          `json:"target"`
	CalculationSpec AggregationSpec `json:"calculationSpec"`
	Query           Query           `json:"query,omitempty"`
}

// AggregationSpec is Port's calculationSpec.
type AggregationSpec struct {
	CalculationBy string `json:"calculationBy"` // entities | property
	Func          string `json:"func"`          // count average sum min max median
	AverageOf     string `json:"averageOf,omitempty"`
	MeasureTimeBy string `json:"measureTimeBy,omitempty"`
	Property      string `json:"property,omitempty"`
}

// Ownership says how an entity's owning teams are found.
type Ownership struct {
	Type string `json:"type"` // Direct | Inherited
	Path string `json:"path,omitempty"`
}

// BlueprintPermissions is catalog RBAC for a blueprint's entities.
type BlueprintPermissions struct {
	Entities *EntityPermissions `json:"entities,omitempty"`
}

// EntityPermissions lists who may read a blueprint's entities.
type EntityPermissions struct {
	Read *ReadGrant `json:"read,omitempty"`
}

// ReadGrant grants read access by role, user, team, ownership or a policy.
type ReadGrant struct {
	Roles       []string `json:"roles,omitempty"`
	Users       []string `json:"users,omitempty"`
	Teams       []string `json:"teams,omitempty"`
	OwnedByTeam bool     `json:"ownedByTeam,omitempty"`
	Policy      Query    `json:"policy,omitempty"`
}

// Entity is one catalog entity.
type Entity struct {
	Identifier string                   `json:"identifier"`
	Title      string                   `json:"title,omitempty"`
	Icon       string                   `json:"icon,omitempty"`
	Blueprint  string                   `json:"blueprint"`
	Team       []string                 `json:"team"`
	Properties map[string]any           `json:"properties"`
	Relations  map[string]RelationValue `json:"relations"`
	// Meta holds the created/updated facts taken from Git history.
	Meta Meta `json:"-"`

	Doc *Document `json:"-"`
}

// Key returns the entity's (blueprint, identifier) key.
func (e *Entity) Key() EntityKey { return EntityKey{e.Blueprint, e.Identifier} }

// EntityKey identifies an entity: identifiers are unique per blueprint.
// It marshals as {"blueprint", "identifier"}, the keys of entity
// references in every JSON berth prints.
type EntityKey struct {
	Blueprint  string `json:"blueprint"`
	Identifier string `json:"identifier"`
}

// Meta holds an entity's $createdAt, $updatedAt, $createdBy and $updatedBy.
type Meta struct {
	CreatedAt time.Time
	UpdatedAt time.Time
	CreatedBy string
	UpdatedBy string
}

// RelationValue is an entity's value for one relation: a single target (or
// none) for a single relation, a list for a many relation.
type RelationValue struct {
	Targets []string
	Many    bool
}

// MarshalJSON writes an id, null, or a list, as Port does.
func (r RelationValue) MarshalJSON() ([]byte, error) {
	if r.Many {
		if r.Targets == nil {
			return []byte("[]"), nil
		}
		return json.Marshal(r.Targets)
	}
	if len(r.Targets) == 0 {
		return []byte("null"), nil
	}
	return json.Marshal(r.Targets[0])
}

// UnmarshalJSON reads an id, null, or a list of ids.
func (r *RelationValue) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	rv, ok := relationValue(v)
	if !ok {
		return &json.UnmarshalTypeError{Value: string(b), Type: nil}
	}
	*r = rv
	return nil
}

func relationValue(v any) (RelationValue, bool) {
	switch v := v.(type) {
	case nil:
		return RelationValue{}, true
	case string:
		return RelationValue{Targets: []string{v}}, true
	case []any:
		r := RelationValue{Many: true, Targets: make([]string, 0, len(v))}
		for _, t := range v {
			s, ok := t.(string)
			if !ok {
				return RelationValue{}, false
			}
			r.Targets = append(r.Targets, s)
		}
		return r, true
	}
	return RelationValue{}, false
}

// Scorecard grades entities of a blueprint against leveled rules.
type Scorecard struct {
	Identifier  string          `json:"identifier"`
	Title       string          `json:"title,omitempty"`
	Description string          `json:"description,omitempty"`
	Blueprint   string          `json:"blueprint,omitempty"`
	Levels      []Level         `json:"levels,omitempty"`
	Filter      Query           `json:"filter,omitempty"`
	Rules       []ScorecardRule `json:"rules"`
	Exemptions  []Exemption     `json:"exemptions,omitempty"`

	Doc *Document `json:"-"`
}

// Level is a scorecard level; levels are ordered lowest first.
type Level struct {
	Title string `json:"title"`
	Color string `json:"color,omitempty"`
}

// DefaultLevels are Port's levels when a scorecard names none.
var DefaultLevels = []Level{
	{Title: "Basic", Color: "paleBlue"},
	{Title: "Bronze", Color: "bronze"},
	{Title: "Silver", Color: "silver"},
	{Title: "Gold", Color: "gold"},
}

// ScorecardRule is one rule of a scorecard, at one level.
type ScorecardRule struct {
	Identifier  string `json:"identifier"`
	Title       string `json:"title,omitempty"`
	Description string `json:"description,omitempty"`
	Level       string `json:"level"`
	Query       Query  `json:"query"`
	// EnforceFrom is a date before which the rule reports but does not
	// lower levels.
	EnforceFrom string `json:"enforceFrom,omitempty"`
}

// Exemption lets one entity pass one rule until it expires.
type Exemption struct {
	Entity  string `json:"entity"`
	Rule    string `json:"rule"`
	Reason  string `json:"reason"`
	Expires string `json:"expires,omitempty"`
}

// Action is a self-service action.
type Action struct {
	Identifier       string         `json:"identifier"`
	Title            string         `json:"title,omitempty"`
	Icon             string         `json:"icon,omitempty"`
	Description      string         `json:"description,omitempty"`
	Trigger          ActionTrigger  `json:"trigger"`
	InvocationMethod map[string]any `json:"invocationMethod"`
	RequiredApproval any            `json:"requiredApproval,omitempty"`
	Publish          *bool          `json:"publish,omitempty"`

	Doc *Document `json:"-"`
}

// ActionTrigger says how an action is started and what it asks for.
type ActionTrigger struct {
	Type                string         `json:"type"`
	Operation           string         `json:"operation,omitempty"`
	BlueprintIdentifier string         `json:"blueprintIdentifier,omitempty"`
	UserInputs          *UserInputs    `json:"userInputs,omitempty"`
	Condition           map[string]any `json:"condition,omitempty"`
}

// UserInputs are an action's input properties.
type UserInputs struct {
	Properties map[string]Property `json:"properties"`
	Required   any                 `json:"required,omitempty"`
	Order      []string            `json:"order,omitempty"`
}

// Page is a portal page: a dashboard, a catalog page, the home page or an
// entity page, with read permissions.
type Page struct {
	Identifier  string           `json:"identifier"`
	Type        string           `json:"type"`
	Title       string           `json:"title,omitempty"`
	Icon        string           `json:"icon,omitempty"`
	Description string           `json:"description,omitempty"`
	Parent      string           `json:"parent,omitempty"`
	After       string           `json:"after,omitempty"`
	Blueprint   string           `json:"blueprint,omitempty"`
	Locked      bool             `json:"locked,omitempty"`
	Filters     []map[string]any `json:"filters,omitempty"`
	Widgets     []map[string]any `json:"widgets,omitempty"`
	Permissions *PagePermissions `json:"permissions,omitempty"`

	Doc *Document `json:"-"`
}

// PagePermissions are who may read (and update) a page.
type PagePermissions struct {
	Read   *PermissionSet `json:"read,omitempty"`
	Update *PermissionSet `json:"update,omitempty"`
}

// PermissionSet lists roles, users (e-mails) and teams.
type PermissionSet struct {
	Roles []string `json:"roles"`
	Users []string `json:"users"`
	Teams []string `json:"teams"`
}

// PermissionsDoc is a blueprint's permissions written under roles/ apart
// from the blueprint file: Port's /v1/blueprints/{id}/permissions body with
// the blueprint named, {blueprint, entities: {read: ...}}.
type PermissionsDoc struct {
	Blueprint string             `json:"blueprint"`
	Entities  *EntityPermissions `json:"entities"`

	Doc *Document `json:"-"`
}

// Role is an RBAC role with permissions, as the seed writes them.
type Role struct {
	Identifier  string           `json:"identifier"`
	Title       string           `json:"title,omitempty"`
	Description string           `json:"description,omitempty"`
	Permissions []RolePermission `json:"permissions,omitempty"`

	Doc *Document `json:"-"`
}

// RolePermission grants an action on a resource, optionally under a
// condition that may use {{ user.team }}.
type RolePermission struct {
	Action    string         `json:"action"`
	Resource  string         `json:"resource"`
	Condition map[string]any `json:"condition,omitempty"`
}

// Config is berth.yaml: the catalog's own settings.
type Config struct {
	// Limits bound each file's cost when loading.
	Limits Limits `json:"limits,omitempty"`
	// MassDeleteThreshold is the share of entities (0..1) one commit may
	// delete before the reconciler holds it; 0 means the default of 0.5.
	MassDeleteThreshold float64 `json:"massDeleteThreshold,omitempty"`
	// Gates are pull-request quality gates.
	Gates []Gate `json:"gates,omitempty"`

	Doc *Document `json:"-"`
}

// Gate is a pull-request quality gate.
type Gate struct {
	Scorecard    string   `json:"scorecard,omitempty"`
	Filter       Query    `json:"filter,omitempty"`
	MinLevel     string   `json:"minLevel,omitempty"`
	NoRegression []string `json:"noRegression,omitempty"`
	Mode         string   `json:"mode,omitempty"` // block | warn
}
