package gen

import (
	"errors"
	"fmt"
	"io/fs"
	"iter"
	"os"
	"path/filepath"
	"strings"
)

// MinEntities is the smallest catalog generated: enough for one entity of
// every blueprint.
const MinEntities = 10

// ErrNotEmpty is returned by Write when the output directory already holds
// files: a smaller catalog written over a larger one would leave stale
// entities behind.
var ErrNotEmpty = errors.New("output directory is not empty")

// Options configure a generated catalog.
type Options struct {
	// Entities is the number of entities to generate, _team entities
	// included. Values below MinEntities are raised to MinEntities.
	Entities int
	// Seed selects the catalog: the same seed and count give the same files.
	Seed int64
}

func (o Options) entities() int { return max(o.Entities, MinEntities) }

// Blueprint identifiers of a generated catalog, in generation order.
const (
	Domain       = "domain"
	TeamEntity   = "_team"
	Team         = "team"
	Service      = "service"
	Microservice = "microservice"
	Deployment   = "deployment"
)

// counts is how many entities of each blueprint a catalog of n holds.
type counts struct {
	domains, teams, services, microservices, deployments int
}

func countsFor(n int) counts {
	c := counts{
		domains:       max(1, n*5/1000),
		teams:         max(1, n*2/100), // as many team entities as _team entities
		services:      max(1, n*35/100),
		microservices: max(1, n*25/100),
	}
	c.deployments = n - c.domains - 2*c.teams - c.services - c.microservices
	return c
}

// Counts returns the number of entities of each blueprint that opts
// generates; they add up to opts.Entities (or MinEntities).
func Counts(opts Options) map[string]int {
	c := countsFor(opts.entities())
	return map[string]int{
		Domain:       c.domains,
		TeamEntity:   c.teams,
		Team:         c.teams,
		Service:      c.services,
		Microservice: c.microservices,
		Deployment:   c.deployments,
	}
}

// Files yields the catalog's files as (slash-separated path relative to the
// catalog root, content) pairs: blueprints and scorecards first, then the
// entities, each relation's targets before the entities that point at them.
// The content slice is the caller's to keep.
func Files(opts Options) iter.Seq2[string, []byte] {
	return func(yield func(string, []byte) bool) {
		for _, f := range staticFiles {
			if !yield(f.path, []byte(f.content)) {
				return
			}
		}
		g := newGenerator(opts)
		g.entities(yield)
	}
}

// Write writes the catalog described by opts into dir, creating it. dir
// must not exist or be empty (ErrNotEmpty otherwise).
func Write(dir string, opts Options) error {
	entries, err := os.ReadDir(dir)
	switch {
	case err == nil && len(entries) > 0:
		return fmt.Errorf("write catalog to %s: %w", dir, ErrNotEmpty)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("write catalog: %w", err)
	}
	made := map[string]bool{}
	for p, data := range Files(opts) {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if d := filepath.Dir(full); !made[d] {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return fmt.Errorf("write catalog: %w", err)
			}
			made[d] = true
		}
		if err := os.WriteFile(full, data, 0o644); err != nil {
			return fmt.Errorf("write catalog: %w", err)
		}
	}
	return nil
}

// EntityPath returns the path Files uses for an entity.
func EntityPath(blueprint, identifier string) string {
	return "entities/" + blueprint + "/" + identifier + ".yaml"
}

// needsQuote reports whether s must be quoted to stay a YAML string. It is
// conservative: the generator's own values are plain words, identifiers,
// URLs and e-mail addresses.
func needsQuote(s string) bool {
	if s == "" {
		return true
	}
	switch strings.ToLower(s) {
	case "true", "false", "null", "yes", "no", "on", "off", "y", "n", "~":
		return true
	}
	c := s[0]
	if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
		return true // digits (numbers, dates), #, -, [, {, quotes...
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '-' || c == '_' || c == '.' || c == '/' || c == '@' || c == '+' || c == '%' || c == '?' || c == '=' || c == '&':
		case c == ' ':
			if i == len(s)-1 {
				return true
			}
		case c == ':':
			if i == len(s)-1 || s[i+1] == ' ' {
				return true
			}
		default:
			return true
		}
	}
	return false
}
