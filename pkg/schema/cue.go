package schema

import "cuelang.org/go/cue"

// cueValue is the CUE value type; the alias keeps signatures short.
type cueValue = cue.Value

// concrete are the options every validation uses: data must be concrete,
// and definitions' required fields present.
var concrete = []cue.Option{cue.Concrete(true), cue.Final()}
