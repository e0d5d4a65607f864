// Package schemas embeds berth's CUE definitions of the catalog file kinds
// (#Blueprint, #Entity, #Scorecard, #Action, #Page, #Role, #Config). They
// live at the repository root so they can be read, vendored or evaluated
// with the cue tool on their own; package schema compiles them.
package schemas

import "embed"

// FS holds the *.cue files of package schemas.
//
//go:embed *.cue
var FS embed.FS
