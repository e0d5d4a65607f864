package api

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/berth-dev/berth/pkg/access"
	"github.com/berth-dev/berth/pkg/catalog"
	"github.com/berth-dev/berth/pkg/index"
	"github.com/berth-dev/berth/pkg/query"
)

// callerTTL bounds how long a compiled caller lives: a read policy may use
// relative dates (between lastWeek), which move with the clock.
const callerTTL = time.Minute

// maxCallers bounds the caller cache; past it the cache starts afresh.
const maxCallers = 4096

// caller is who a catalog read is for, as of one revision: the subject,
// and its read policy compiled once into the SQL every read ANDs in.
type caller struct {
	// unrestricted callers read every entity: an anonymous server's
	// callers, Admins, and users whose roles grant every blueprint.
	unrestricted bool
	// admin callers also see the system pages (status, audit log).
	admin   bool
	subject access.Subject
	// qc binds the {context: ...} values of the caller's searches, widget
	// datasets and page filters: the caller's _user entity and teams, and
	// those of its _team entities it may read (a search must not read a
	// property of a team entity hidden from the caller).
	qc query.Context
	// vis selects the readable entities (CompileOptions.Visible); nil when
	// unrestricted or when nothing is readable.
	vis *query.Query
	// where and args are the readable entities as a WHERE fragment over
	// entities e: "" when unrestricted, "0" when nothing is readable.
	where string
	args  []any
	made  time.Time
}

// callerCache holds the callers of the newest revision read.
type callerCache struct {
	revID int64
	m     map[string]*caller
}

// callerFor returns the caller of id as of revision meta, compiled once per
// revision and user (and again after callerTTL). A token whose user is not
// an active _user entity of the revision is refused with forbidden: such a
// caller may read nothing, and saying so helps whoever configured it.
func (s *Server) callerFor(ctx context.Context, tx *sql.Tx, meta *revMeta, id Identity) (*caller, error) {
	if id.Anonymous {
		return &caller{unrestricted: true, admin: true}, nil
	}
	now := s.cfg.Now()
	c, newer := s.cachedCaller(meta.revID, id.User, now)
	if c != nil {
		return c, nil
	}
	// One compile per user and revision, not one per request waiting
	// (other users compile in parallel). A request on an older revision
	// than the cache's compiles alone: its caller is not kept.
	if !newer {
		defer s.callerBuilds.lock(id.User)()
		if c, _ := s.cachedCaller(meta.revID, id.User, now); c != nil {
			return c, nil
		}
	}
	c, err := s.compileCaller(ctx, tx, meta, id.User, now)
	if err != nil {
		return nil, err
	}
	s.callersMu.Lock()
	if s.callers.revID != meta.revID || len(s.callers.m) >= maxCallers {
		if s.callers.revID <= meta.revID {
			s.callers = callerCache{revID: meta.revID, m: map[string]*caller{}}
		}
	}
	if s.callers.revID == meta.revID {
		s.callers.m[id.User] = c
	}
	s.callersMu.Unlock()
	return c, nil
}

// cachedCaller is user's cached caller of revision revID, unless older
// than callerTTL; newer reports that the cache holds a newer revision's.
func (s *Server) cachedCaller(revID int64, user string, now time.Time) (c *caller, newer bool) {
	s.callersMu.Lock()
	defer s.callersMu.Unlock()
	if s.callers.revID == revID {
		if c := s.callers.m[user]; c != nil && now.Sub(c.made) < callerTTL {
			return c, false
		}
	}
	return nil, s.callers.revID > revID
}

func (s *Server) compileCaller(ctx context.Context, tx *sql.Tx, meta *revMeta, user string, now time.Time) (*caller, error) {
	u, err := catalogEntity(ctx, tx, catalog.UserBlueprint, user)
	if err != nil {
		return nil, err
	}
	sub := access.SubjectOf(u)
	if sub.Disabled {
		what := "is not a _user entity of the catalog"
		if u != nil {
			what = "is disabled (its status is Disabled)"
		}
		return nil, errorf(kindForbidden, "this client acts as %s, who %s; ask an Admin to change the catalog "+
			"or the client's user", user, what)
	}
	c := &caller{subject: sub, made: now, admin: meta.rules.Admin(sub)}
	// The read policy binds against the caller's whole context: its rules
	// are the catalog's, not the caller's.
	policyQC := query.Context{User: u, UserTeams: sub.Teams}
	for _, t := range sub.Teams {
		te, err := catalogEntity(ctx, tx, catalog.TeamBlueprint, t)
		if err != nil {
			return nil, err
		}
		if te != nil {
			policyQC.Teams = append(policyQC.Teams, te)
		}
	}
	pol, err := meta.rules.Policy(sub, policyQC)
	if err != nil {
		return nil, err
	}
	switch {
	case pol.All:
		c.unrestricted = true
	case pol.None():
		c.where = "0"
	default:
		c.vis = pol.Query
		c.where, c.args, err = query.Compile(pol.Query, query.CompileOptions{Now: now, Blueprints: meta.blueprints})
		if err != nil {
			return nil, fmt.Errorf("compile read policy of %s: %w", user, err)
		}
	}
	c.qc = query.Context{User: u, UserTeams: sub.Teams}
	for _, te := range policyQC.Teams {
		where, args := c.and("e.blueprint = ? AND e.identifier = ?", []any{catalog.TeamBlueprint, te.Identifier})
		n, err := index.CountTx(ctx, tx, where, args)
		if err != nil {
			return nil, err
		}
		if n > 0 {
			c.qc.Teams = append(c.qc.Teams, te)
		}
	}
	return c, nil
}

// catalogEntity decodes an indexed entity's document; nil when absent.
func catalogEntity(ctx context.Context, tx *sql.Tx, bp, id string) (*catalog.Entity, error) {
	e, err := index.EntityTx(ctx, tx, bp, id)
	if errors.Is(err, index.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var ce catalog.Entity
	if err := json.Unmarshal(e.Doc, &ce); err != nil {
		return nil, fmt.Errorf("decode entity %s/%s: %w", bp, id, err)
	}
	return &ce, nil
}

// and returns where (a fragment over entities e with its args) restricted
// to the entities the caller may read. The caller's fragment comes first:
// its arguments lead.
func (c *caller) and(where string, args []any) (string, []any) {
	if c.unrestricted {
		return where, args
	}
	if where == "" {
		return c.where, slices.Clone(c.args)
	}
	return "(" + c.where + ") AND (" + where + ")", append(slices.Clone(c.args), args...)
}

// visibleIDs returns which of ids the caller may read.
func (rd *reader) visibleIDs(ids []int64) (map[int64]bool, error) {
	if rd.who.unrestricted {
		out := make(map[int64]bool, len(ids))
		for _, id := range ids {
			out[id] = true
		}
		return out, nil
	}
	return index.FilterIDsTx(rd.ctx, rd.tx, ids, rd.who.where, rd.who.args)
}

// requireAdmin refuses a caller who is not an Admin, for the system pages
// (the reconciler's status, the audit log).
func (rd *reader) requireAdmin(what string) error {
	if rd.who.admin {
		return nil
	}
	return errorf(kindForbidden, "%s is for Admins only", what)
}
