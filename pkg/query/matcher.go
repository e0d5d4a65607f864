package query

import (
	"reflect"
	"sync"
	"time"

	"github.com/berth-dev/berth/pkg/catalog"
)

// Matcher returns a function that reports whether entity e matches the
// catalog query q, evaluated in memory over cat. Each distinct query (by
// identity of its map) is parsed once. It is what computed aggregation
// properties use for their query filters, and is safe for concurrent use.
func Matcher(cat *catalog.Catalog) func(q catalog.Query, e *catalog.Entity) (bool, error) {
	return MatcherAt(cat, time.Time{})
}

// MatcherAt is Matcher with date presets measured from now (zero means
// the time of each evaluation).
func MatcherAt(cat *catalog.Catalog, now time.Time) func(q catalog.Query, e *catalog.Entity) (bool, error) {
	var mu sync.Mutex
	parsed := map[uintptr]*Query{}
	env := &Env{Catalog: cat, Now: now}
	return func(q catalog.Query, e *catalog.Entity) (bool, error) {
		key := reflect.ValueOf(q).Pointer()
		mu.Lock()
		p, ok := parsed[key]
		mu.Unlock()
		if !ok {
			var err error
			if p, err = Parse(q); err != nil {
				return false, err
			}
			mu.Lock()
			parsed[key] = p
			mu.Unlock()
		}
		return p.Eval(env, e)
	}
}
