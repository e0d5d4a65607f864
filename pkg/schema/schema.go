package schema

import (
	"bytes"
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"strings"
	"sync"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/cuecontext"

	"github.com/berth-dev/berth/pkg/catalog"
	"github.com/berth-dev/berth/schemas"
)

// kindDefs names the definition of each document kind.
var kindDefs = map[catalog.Kind]string{
	catalog.KindBlueprint: "#Blueprint",
	catalog.KindEntity:    "#Entity",
	catalog.KindScorecard: "#Scorecard",
	catalog.KindAction:    "#Action",
	catalog.KindPage:      "#Page",
	catalog.KindRole:      "#Role",
	catalog.KindConfig:    "#Config",
}

// Validator validates catalogs. It is safe for concurrent use.
type Validator struct {
	source string // the schemas as one CUE file

	mu   sync.Mutex
	pool []*worker // idle workers, each with its own cue.Context
}

// worker owns a CUE context and what was compiled in it.
type worker struct {
	ctx   *cue.Context
	root  cue.Value
	defs  map[catalog.Kind]cue.Value
	bps   map[string]compiledBlueprint // by generated source
	byPtr map[*catalog.Blueprint]compiledBlueprint
	pols  map[string]cue.Value // policy file source hash → value
	entry cue.Value            // #Entity
	// verdicts on field values, shared by the memos of every blueprint.
	verdicts *verdicts
}

var (
	importRE  = regexp.MustCompile(`(?m)^import\s+"([^"]+)"\s*$`)
	packageRE = regexp.MustCompile(`(?m)^package\s+\w+\s*$`)
)

// New compiles the embedded schemas. It fails only if they do not compile,
// which is a bug in berth.
func New() (*Validator, error) {
	entries, err := fs.ReadDir(schemas.FS, ".")
	if err != nil {
		return nil, fmt.Errorf("read embedded schemas: %w", err)
	}
	imports := map[string]bool{}
	var body bytes.Buffer
	for _, e := range entries {
		b, err := fs.ReadFile(schemas.FS, e.Name())
		if err != nil {
			return nil, fmt.Errorf("read embedded schema %s: %w", e.Name(), err)
		}
		src := packageRE.ReplaceAllString(string(b), "")
		for _, m := range importRE.FindAllStringSubmatch(src, -1) {
			imports[m[1]] = true
		}
		body.WriteString(importRE.ReplaceAllString(src, ""))
		body.WriteString("\n")
	}
	var src strings.Builder
	names := make([]string, 0, len(imports))
	for k := range imports {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, n := range names {
		fmt.Fprintf(&src, "import %q\n", n)
	}
	src.WriteString(body.String())
	v := &Validator{source: src.String()}
	w, err := v.newWorker()
	if err != nil {
		return nil, err
	}
	v.pool = append(v.pool, w)
	return v, nil
}

func (v *Validator) newWorker() (*worker, error) {
	ctx := cuecontext.New()
	root := ctx.CompileString(v.source, cue.Filename("schemas.cue"))
	if err := root.Err(); err != nil {
		return nil, fmt.Errorf("compile schemas: %w", err)
	}
	w := &worker{ctx: ctx, root: root, defs: map[catalog.Kind]cue.Value{},
		bps: map[string]compiledBlueprint{}, byPtr: map[*catalog.Blueprint]compiledBlueprint{}, pols: map[string]cue.Value{},
		verdicts: newVerdicts()}
	for k, name := range kindDefs {
		d := root.LookupPath(cue.ParsePath(name))
		if err := d.Err(); err != nil {
			return nil, fmt.Errorf("schema %s: %w", name, err)
		}
		w.defs[k] = d
	}
	w.entry = w.defs[catalog.KindEntity]
	return w, nil
}

// get takes an idle worker or makes one.
func (v *Validator) get() (*worker, error) {
	v.mu.Lock()
	if n := len(v.pool); n > 0 {
		w := v.pool[n-1]
		v.pool = v.pool[:n-1]
		v.mu.Unlock()
		return w, nil
	}
	v.mu.Unlock()
	return v.newWorker()
}

func (v *Validator) put(w *worker) {
	v.mu.Lock()
	v.pool = append(v.pool, w)
	v.mu.Unlock()
}
