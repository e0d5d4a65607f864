package catalog

// internLimit is how many strings an interner holds before it starts
// again: a catalog's repeated strings (keys, enum values, team names) come
// back within a few files, its unique ones (identifiers, descriptions)
// would only fill it.
const internLimit = 1 << 13

// interner makes the documents of the files one reader parses share the
// strings they repeat. A 100k-entity catalog holds millions of keys and
// values of a few thousand distinct kinds; yaml.v3 allocates each one anew,
// and a value put into an `any` is boxed once more. Sharing them keeps a
// loaded catalog about a fifth smaller, which is less for the collector to
// walk for as long as the catalog is held. Strings are immutable, so the
// sharing is invisible. An interner is not safe for concurrent use.
type interner struct {
	keys map[string]string
	vals map[string]any
}

func newInterner() *interner {
	return &interner{keys: make(map[string]string), vals: make(map[string]any)}
}

// key returns s or an equal string seen before.
func (in *interner) key(s string) string {
	if in == nil {
		return s
	}
	if k, ok := in.keys[s]; ok {
		return k
	}
	if len(in.keys) >= internLimit {
		clear(in.keys)
	}
	in.keys[s] = s
	return s
}

// maxInterned is the longest string value shared: longer ones are rarely
// repeated (descriptions, URLs).
const maxInterned = 40

// value returns s as an any, the one boxed before when s was seen.
func (in *interner) value(s string) any {
	if in == nil || len(s) > maxInterned {
		return s
	}
	if v, ok := in.vals[s]; ok {
		return v
	}
	if len(in.vals) >= internLimit {
		clear(in.vals)
	}
	var v any = s
	in.vals[s] = v
	return v
}
