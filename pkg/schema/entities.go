package schema

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"

	"cuelang.org/go/cue"
	cueerrors "cuelang.org/go/cue/errors"

	"github.com/berth-dev/berth/pkg/catalog"
)

// EntityOptions configure ValidateEntities.
type EntityOptions struct {
	// Workers is how many goroutines validate (default GOMAXPROCS).
	Workers int
	// Only, when set, limits validation to the entities it accepts: the
	// reconciler validates only what a commit changed.
	Only func(*catalog.Entity) bool
	// Entities, when not nil, are the entities to validate instead of all
	// of the catalog's (Only still applies): a caller that knows the few
	// it wants need not have every entity visited.
	Entities []*catalog.Entity
}

// ValidateEntities checks each entity of a built catalog against #Entity
// and its blueprint (validation layer 2), then against the policies/*.cue
// constraints for its blueprint (layer 3). Entities of unknown blueprints
// are left to the cross-file checks. A blueprint whose definition does not
// compile (a pattern CUE cannot read) is reported once at the blueprint.
func (v *Validator) ValidateEntities(ctx context.Context, cat *catalog.Catalog, opts EntityOptions) catalog.Diagnostics {
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	var todo []*catalog.Entity
	all := cat.Entities
	if opts.Entities != nil {
		all = opts.Entities
	}
	for _, e := range all {
		if cat.Blueprints[e.Blueprint] == nil || (opts.Only != nil && !opts.Only(e)) {
			continue
		}
		todo = append(todo, e)
	}
	policies := cat.Policies()
	diags := v.checkPolicies(policies)
	if len(todo) == 0 {
		return diags
	}
	workers = min(workers, max(1, len(todo)/64))

	var (
		mu       sync.Mutex
		wg       sync.WaitGroup
		badBP    = map[string]bool{}
		firstErr error
	)
	chunk := (len(todo) + workers - 1) / workers
	for i := 0; i < len(todo); i += chunk {
		part := todo[i:min(i+chunk, len(todo))]
		wg.Add(1)
		go func() {
			defer wg.Done()
			w, err := v.get()
			if err != nil {
				mu.Lock()
				firstErr = err
				mu.Unlock()
				return
			}
			defer v.put(w)
			defer w.forgetValues()
			var local catalog.Diagnostics
			localBad := map[string]bool{}
			memos := make([]*memo, primeWindow)
			vals := make([]map[string]any, primeWindow)
			for j, e := range part {
				if j%256 == 0 && ctx.Err() != nil {
					break
				}
				if j%primeWindow == 0 {
					window := part[j:min(j+primeWindow, len(part))]
					clear(vals)
					for i, e := range window {
						memos[i] = w.blueprint(cat.Blueprints[e.Blueprint]).memo
						vals[i] = entityValue(e.Doc.Value)
					}
					w.prime(memos[:len(window)], vals[:len(window)])
				}
				b := cat.Blueprints[e.Blueprint]
				c := w.blueprint(b)
				if c.err != nil {
					localBad[b.Identifier] = true
					continue
				}
				val := vals[j%primeWindow]
				var ds catalog.Diagnostics
				if c.memo == nil || !w.known(c.memo, val) {
					ds = w.checkValue(c.def, e.Doc, val, catalog.CodeEntitySchema, explainer{b, e}.explain)
					if len(ds) == 0 && c.memo != nil {
						w.learn(c.memo, val)
					}
				}
				// Policies run whatever the schema found: every error in
				// one run, not the policy breach after the typo is fixed.
				ds = append(ds, w.policy(policies, e, ds)...)
				local = append(local, ds...)
			}
			mu.Lock()
			diags = append(diags, local...)
			for k := range localBad {
				badBP[k] = true
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	if firstErr != nil {
		diags = append(diags, catalog.Errorf(catalog.Position{}, catalog.CodeEntitySchema, "%v", firstErr))
	}
	for id := range badBP {
		b := cat.Blueprints[id]
		w, err := v.get()
		if err != nil {
			continue
		}
		c := w.blueprint(b)
		v.put(w)
		pos := catalog.Position{}
		if b.Doc != nil {
			pos = b.Doc.Pos("schema", "properties")
		}
		diags = append(diags, catalog.Errorf(pos, catalog.CodeSchema,
			"blueprint %q: its entity schema does not compile (check property patterns, which must be RE2 regular expressions): %s",
			id, firstLine(c.err)))
	}
	return diags
}

func firstLine(err error) string {
	if err == nil {
		return ""
	}
	errs := cueerrors.Errors(err)
	if len(errs) > 0 {
		f, a := errs[0].Msg()
		return fmt.Sprintf(f, a...)
	}
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}

// checkPolicies compiles each policy file once, reporting those that do not
// compile (at the policy file's line).
func (v *Validator) checkPolicies(files []*catalog.File) catalog.Diagnostics {
	w, err := v.get()
	if err != nil {
		return nil
	}
	defer v.put(w)
	var diags catalog.Diagnostics
	for _, f := range files {
		if _, err := w.compilePolicy(f); err != nil {
			for _, e := range cueerrors.Errors(err) {
				pos := catalog.Position{File: f.Path}
				if ps := e.Position(); ps.IsValid() {
					pos.Line, pos.Col = ps.Line(), ps.Column()
				}
				format, args := e.Msg()
				diags = append(diags, catalog.Errorf(pos, catalog.CodePolicyInvalid, "policy does not compile: %s", fmt.Sprintf(format, args...)))
			}
		}
	}
	return diags
}

func (w *worker) compilePolicy(f *catalog.File) (cue.Value, error) {
	key := f.Path + "\x00" + string(f.Source)
	if v, ok := w.pols[key]; ok {
		return v, v.Err()
	}
	v := w.ctx.CompileBytes(f.Source, cue.Filename(f.Path))
	w.pols[key] = v
	return v, v.Err()
}

// policy checks entity e against every policy file's constraint for its
// blueprint: the top-level field named after the blueprint identifier.
// schemaDiags are the schema's findings for e. When there are any, a
// policy that cannot decide (it reads a field the entity lacks, most often
// one the schema just reported missing) says nothing more, and a policy
// finding at the place of a schema finding is dropped: the value there is
// already wrong ("replicas: two" is not a number; that it is also fewer
// than the policy's minimum is noise). Other breaches still show.
func (w *worker) policy(files []*catalog.File, e *catalog.Entity, schemaDiags catalog.Diagnostics) catalog.Diagnostics {
	schemaFailed := len(schemaDiags) > 0
	var out catalog.Diagnostics
	for _, f := range files {
		pv, err := w.compilePolicy(f)
		if err != nil {
			continue // reported by checkPolicies
		}
		c := pv.LookupPath(cue.MakePath(cue.Str(e.Blueprint)))
		if !c.Exists() {
			continue
		}
		val := w.ctx.Encode(e.Doc.Value)
		err = c.Unify(val).Validate(cue.Concrete(true))
		if err == nil {
			continue
		}
		for _, is := range issues(err) {
			if schemaFailed && undecided(is.msg) {
				continue
			}
			if len(is.path) > 0 && is.path[0] == e.Blueprint {
				is.path = is.path[1:] // the policy's own blueprint field
			}
			msg := is.msg
			if where := pathString(is.path); where != "" && !strings.HasPrefix(msg, where) {
				msg = where + ": " + msg
			}
			pos := position(e.Doc, is)
			if slices.ContainsFunc(schemaDiags, func(d catalog.Diagnostic) bool { return d.Position == pos }) {
				continue
			}
			out = append(out, catalog.Errorf(pos, catalog.CodePolicy,
				"entity %q breaks policy %s: %s", e.Identifier, f.Path, msg))
		}
	}
	return out
}

// undecided reports whether a CUE message says a value was missing rather
// than wrong (an incomplete evaluation).
func undecided(msg string) bool {
	for _, m := range []string{"cannot reference optional field", "incomplete value", "non-concrete value", "undefined field"} {
		if strings.Contains(msg, m) {
			return true
		}
	}
	return false
}

// entityValue returns the entity document as CUE sees it: explicit nulls
// (Port's "no value") dropped, and a single team written as a list. The
// generated definitions then need no null alternatives, which keeps CUE out
// of disjunction cross-products on the hot path; paths stay the document's.
func entityValue(v map[string]any) map[string]any {
	out := make(map[string]any, len(v))
	for k, x := range v {
		switch k {
		case "properties", "relations":
			if m, ok := x.(map[string]any); ok {
				clean := make(map[string]any, len(m))
				for pk, px := range m {
					if px != nil {
						clean[pk] = px
					}
				}
				x = clean
			}
		case "team":
			if s, ok := x.(string); ok {
				x = []any{s}
			}
		}
		if x != nil {
			out[k] = x
		}
	}
	return out
}
