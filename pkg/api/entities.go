package api

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"slices"

	"github.com/berth-dev/berth/pkg/index"
	"github.com/berth-dev/berth/pkg/query"
)

func (s *Server) blueprints(w http.ResponseWriter, r *http.Request) {
	s.read(w, r, nil, func(rd *reader) (any, error) {
		objs, err := index.ObjectsTx(rd.ctx, rd.tx, index.KindBlueprint, "")
		if err != nil {
			return nil, err
		}
		out, err := objects(objs)
		return map[string]any{"ok": true, "blueprints": out}, err
	})
}

func (s *Server) blueprint(w http.ResponseWriter, r *http.Request) {
	s.read(w, r, nil, func(rd *reader) (any, error) {
		o, err := rd.object(index.KindBlueprint, "", r.PathValue("bp"))
		if err != nil {
			return nil, err
		}
		out, err := object(o)
		return map[string]any{"ok": true, "blueprint": out}, err
	})
}

// object reads one object, answering not_found for a missing one.
func (rd *reader) object(kind index.ObjectKind, blueprint, id string) (index.Object, error) {
	o, err := index.ObjectTx(rd.ctx, rd.tx, kind, blueprint, id)
	if errors.Is(err, index.ErrNotFound) {
		what := map[index.ObjectKind]string{index.KindBlueprint: "blueprint", index.KindScorecard: "scorecard",
			index.KindAction: "action", index.KindPage: "page"}[kind]
		if kind == index.KindScorecard {
			return o, errorf(kindNotFound, "scorecard %q of blueprint %q not found", id, blueprint)
		}
		return o, errorf(kindNotFound, "%s %q not found", what, id)
	}
	return o, err
}

// listEntities is Port's GET /v1/blueprints/{bp}/entities: every entity
// of the blueprint, up to Config.MaxResults.
func (s *Server) listEntities(w http.ResponseWriter, r *http.Request) {
	bp := r.PathValue("bp")
	sh, err := shapeFromQuery(r.URL.Query())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.read(w, r, nil, func(rd *reader) (any, error) {
		if _, err := rd.blueprint(bp); err != nil {
			return nil, err
		}
		max := s.cfg.MaxResults
		where, args := rd.who.and("e.blueprint = ?", []any{bp})
		ents, err := index.SearchTx(rd.ctx, rd.tx, where, args, "e.identifier", max+1)
		if err != nil {
			return nil, err
		}
		if len(ents) > max {
			return nil, errorf(kindTooLarge, "blueprint %q has more than %d entities; page through them with "+
				"POST /v1/blueprints/%s/entities/search (limit, from)", bp, max, bp)
		}
		out, err := rd.entities(ents, sh, nil)
		return map[string]any{"ok": true, "entities": out}, err
	})
}

func (s *Server) countEntities(w http.ResponseWriter, r *http.Request) {
	bp := r.PathValue("bp")
	s.read(w, r, nil, func(rd *reader) (any, error) {
		if _, err := rd.blueprint(bp); err != nil {
			return nil, err
		}
		where, args := rd.who.and("e.blueprint = ?", []any{bp})
		n, err := index.CountTx(rd.ctx, rd.tx, where, args)
		return map[string]any{"ok": true, "count": n}, err
	})
}

func (s *Server) entity(w http.ResponseWriter, r *http.Request) {
	bp, id := r.PathValue("bp"), r.PathValue("id")
	sh, err := shapeFromQuery(r.URL.Query())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.read(w, r, nil, func(rd *reader) (any, error) {
		e, err := rd.findEntity(bp, id)
		if err != nil {
			return nil, err
		}
		out, err := rd.entities([]index.Entity{e}, sh, nil)
		if err != nil {
			return nil, err
		}
		return map[string]any{"ok": true, "entity": out[0]}, nil
	})
}

// findEntity reads one entity, answering not_found for a missing one, one
// the caller may not read (the very same answer: it does not exist for the
// caller), or an unknown blueprint.
func (rd *reader) findEntity(bp, id string) (index.Entity, error) {
	if _, err := rd.blueprint(bp); err != nil {
		return index.Entity{}, err
	}
	e, err := index.EntityTx(rd.ctx, rd.tx, bp, id)
	if err == nil && !rd.who.unrestricted {
		var vis map[int64]bool
		if vis, err = rd.visibleIDs([]int64{e.ID}); err == nil && !vis[e.ID] {
			err = index.ErrNotFound
		}
	}
	if errors.Is(err, index.ErrNotFound) {
		return index.Entity{}, errorf(kindNotFound, "entity %q of blueprint %q not found", id, bp)
	}
	return e, err
}

// compile parses, binds and compiles a search query for the caller,
// restricted to the entities the caller may read: both the entities it
// matches and those its rules reach (relatedTo, matchAny, relation titles).
func (rd *reader) compile(raw []byte) (string, []any, error) {
	return rd.compileRaw(raw, false)
}

// compileRaw is compile; correlated compiles for a page of entities
// walked in index order (query.CompileOptions.Correlated).
func (rd *reader) compileRaw(raw []byte, correlated bool) (string, []any, error) {
	q, err := query.ParseJSON(raw, query.WithLimits(rd.s.cfg.QueryLimits))
	if err != nil {
		return "", nil, errorf(kindInvalidQuery, "%v", err)
	}
	return rd.compileQuery(q, correlated)
}

// compileQuery binds and compiles a parsed query as compileRaw does.
func (rd *reader) compileQuery(q *query.Query, correlated bool) (string, []any, error) {
	var err error
	if q.Unbound() {
		if q, err = q.Bind(rd.who.qc); err != nil {
			return "", nil, errorf(kindInvalidQuery, "%v", err)
		}
	}
	where, args, err := query.Compile(q, query.CompileOptions{Now: rd.s.cfg.Now(), Blueprints: rd.meta.blueprints,
		Visible: rd.who.vis, Correlated: correlated})
	if err != nil {
		return "", nil, errorf(kindInvalidQuery, "%v", err)
	}
	where, args = rd.who.and(where, args)
	return where, args, nil
}

// searchAll is Port's POST /v1/entities/search: the body is a query over
// every blueprint; the answer lists the entities (up to
// Config.MaxResults) and the blueprints they belong to.
func (s *Server) searchAll(w http.ResponseWriter, r *http.Request) {
	sh, err := shapeFromQuery(r.URL.Query())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	body, err := readBody(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.read(w, r, body, func(rd *reader) (any, error) {
		where, args, err := rd.compile(body)
		if err != nil {
			return nil, err
		}
		max := s.cfg.MaxResults
		ents, err := index.SearchTx(rd.ctx, rd.tx, where, args, "e.blueprint, e.identifier", max+1)
		if err != nil {
			return nil, err
		}
		if len(ents) > max {
			return nil, errorf(kindTooLarge, "more than %d entities match; narrow the query, or page through one "+
				"blueprint with POST /v1/blueprints/{blueprint}/entities/search", max)
		}
		bps := []string{}
		for _, e := range ents {
			if len(bps) == 0 || bps[len(bps)-1] != e.Blueprint {
				bps = append(bps, e.Blueprint)
			}
		}
		out, err := rd.entities(ents, sh, nil)
		return map[string]any{"ok": true, "entities": out, "matchingBlueprints": bps}, err
	})
}

// searchBody is the body of a blueprint search.
type searchBody struct {
	Query   json.RawMessage `json:"query"`
	Include []string        `json:"include"`
	Exclude []string        `json:"exclude"`
	Limit   *int            `json:"limit"`
	From    string          `json:"from"`
}

// searchBlueprint is Port's POST /v1/blueprints/{bp}/entities/search:
// {query, include, exclude, limit, from}. Pages come in identifier order;
// next, when present, is the cursor to pass as from for the next page.
//
// A cursor is valid for the revision it was made at only: the index holds
// one revision, so a page read after a reconcile could skip or repeat
// entities. Such a cursor is answered 409 cursor_stale, and the client
// starts again without from.
func (s *Server) searchBlueprint(w http.ResponseWriter, r *http.Request) {
	bp := r.PathValue("bp")
	sh, err := shapeFromQuery(r.URL.Query())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	raw, err := readBody(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var body searchBody
	if len(bytes.TrimSpace(raw)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&body); err != nil {
			s.fail(w, r, errorf(kindInvalidRequest, "want a JSON body {query, include, exclude, limit, from}: %v", err))
			return
		}
	}
	limit := DefaultSearchLimit
	if body.Limit != nil {
		limit = *body.Limit
		if limit < 1 || limit > MaxSearchLimit {
			s.fail(w, r, errorf(kindInvalidRequest, "limit: want 1 to %d, got %d", MaxSearchLimit, limit))
			return
		}
	}
	sh.include = append(sh.include, body.Include...)
	sh.exclude = append(sh.exclude, body.Exclude...)
	caller, _ := IdentityFrom(r.Context())
	qhash := queryHash(bp, caller.User, body.Query)
	s.read(w, r, raw, func(rd *reader) (any, error) {
		if _, err := rd.blueprint(bp); err != nil {
			return nil, err
		}
		after := ""
		if body.From != "" {
			var err error
			if after, err = rd.cursorAfter(body.From, qhash); err != nil {
				return nil, err
			}
		}
		where, args := "e.blueprint = ? AND e.identifier > ?", []any{bp, after}
		qw, qargs := rd.who.and("", nil)
		if len(bytes.TrimSpace(body.Query)) > 0 && !bytes.Equal(bytes.TrimSpace(body.Query), []byte("null")) {
			var err error
			// A page walks the blueprint's entities in identifier order
			// and stops at limit: probe each rule per entity.
			if qw, qargs, err = rd.compileRaw(body.Query, true); err != nil {
				return nil, err
			}
		}
		if qw != "" {
			// The compiled fragment's placeholders come first: it may number
			// them, and unnumbered ones after it continue the count.
			where = "(" + qw + ") AND " + where
			args = append(slices.Clone(qargs), args...)
		}
		ents, err := index.SearchTx(rd.ctx, rd.tx, where, args, "e.identifier", limit+1)
		if err != nil {
			return nil, err
		}
		resp := map[string]any{"ok": true}
		if len(ents) > limit {
			ents = ents[:limit]
			resp["next"] = cursor{Revision: rd.revID, Commit: rd.commit, After: ents[limit-1].Identifier, Query: qhash}.encode()
		}
		out, err := rd.entities(ents, sh, nil)
		resp["entities"] = out
		return resp, err
	})
}

// cursor is the opaque from/next of a blueprint search.
type cursor struct {
	Revision int64  `json:"r"`
	Commit   string `json:"c"`
	After    string `json:"a"`
	Query    string `json:"q"`
}

func (c cursor) encode() string { return encodeOpaque(c) }

func decodeCursor(s string) (cursor, error) {
	var c cursor
	return c, decodeOpaque(s, &c)
}

// encodeOpaque encodes a cursor struct (strings and integers, which always
// encode) as an opaque URL-safe token.
func encodeOpaque(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeOpaque decodes a token of encodeOpaque into v, refusing any field v
// does not have.
func decodeOpaque(s string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// cursorAfter checks a from cursor of a paged read against the read's
// query hash and revision, and returns where the page starts.
func (rd *reader) cursorAfter(from, qhash string) (string, error) {
	c, err := decodeCursor(from)
	if err != nil || c.Query != qhash {
		return "", errorf(kindInvalidCursor, "from: not a cursor of this search; pass the next value of "+
			"the previous page unchanged, with the same query")
	}
	if c.Revision != rd.revID {
		return "", errorf(kindCursorStale, "the catalog changed while paging (revision %s, now %s); "+
			"start again without from", short(c.Commit), short(rd.commit))
	}
	return c.After, nil
}

// queryHash identifies a search and its caller, so a cursor is not reused
// with another search or by another caller (who may read other entities).
func queryHash(bp, user string, q json.RawMessage) string {
	var buf bytes.Buffer
	if err := json.Compact(&buf, q); err != nil {
		buf.Reset()
		buf.Write(q)
	}
	h := sha256.Sum256(append([]byte(bp+"\x00"+user+"\x00"), buf.Bytes()...))
	return base64.RawURLEncoding.EncodeToString(h[:9])
}

func short(commit string) string {
	if len(commit) > 12 {
		return commit[:12]
	}
	return commit
}
