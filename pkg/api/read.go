package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/berth-dev/berth/pkg/access"
	"github.com/berth-dev/berth/pkg/catalog"
	"github.com/berth-dev/berth/pkg/index"
)

// etagVersion changes when the answers' shape changes, so that clients'
// cached ETags stop matching.
const etagVersion = "berth-api-1"

// reader is one catalog read: a read transaction on the index, the
// revision it sees and the caller.
type reader struct {
	ctx    context.Context
	tx     *sql.Tx
	revID  int64
	commit string
	meta   *revMeta
	id     Identity
	who    *caller
	s      *Server
	// arena, when set, holds the rendered entities of the answer until
	// it is written (see read).
	arena *bytes.Buffer
}

// newReader returns the reader of revision revID for the caller id.
func (s *Server) newReader(ctx context.Context, tx *sql.Tx, revID int64, commit string, id Identity) (*reader, error) {
	meta, err := s.metaFor(ctx, tx, revID)
	if err != nil {
		return nil, err
	}
	who, err := s.callerFor(ctx, tx, meta, id)
	if err != nil {
		return nil, err
	}
	return &reader{ctx: ctx, tx: tx, revID: revID, commit: commit, meta: meta, id: id, who: who, s: s}, nil
}

// readTx runs fn with a reader of the applied revision for the request's
// caller, for answers that do not go through read (their own status codes
// and bodies). It fails with errNotReady before the first revision.
func (s *Server) readTx(r *http.Request, fn func(*reader) error) error {
	id, _ := IdentityFrom(r.Context())
	return s.db.ReadTx(r.Context(), func(tx *sql.Tx) error {
		rd, err := s.appliedReader(r.Context(), tx, id)
		if err != nil {
			return err
		}
		return fn(rd)
	})
}

// appliedReader returns the reader of the revision tx sees applied, for
// the caller id; errNotReady before the first revision.
func (s *Server) appliedReader(ctx context.Context, tx *sql.Tx, id Identity) (*reader, error) {
	revID, commit, err := index.AppliedTx(ctx, tx)
	if errors.Is(err, index.ErrNotFound) {
		return nil, errNotReady
	}
	if err != nil {
		return nil, err
	}
	return s.newReader(ctx, tx, revID, commit, id)
}

// read answers a catalog read. Every statement of fn runs in one read
// transaction, so the answer is built from one revision, which the
// X-Berth-Revision header names. The ETag hashes that revision with the
// request (method, path, query, body, caller): a GET or HEAD whose
// If-None-Match holds it gets 304 before any work is done. body is the
// request body already read, nil for none.
func (s *Server) read(w http.ResponseWriter, r *http.Request, body []byte, fn func(*reader) (any, error)) {
	id, _ := IdentityFrom(r.Context())
	var out any
	var tag string
	notModified := false
	// Rendered entities live in the arena until the answer is written.
	arena := bufPool.Get().(*bytes.Buffer)
	defer putBuf(arena)
	// The caller first (readTx): one who may read nothing (a disabled or
	// unknown user) gets 403 whatever it sends, not a 304.
	err := s.readTx(r, func(rd *reader) error {
		rd.arena = arena
		tag = etag(rd.commit, r, body, id)
		h := w.Header()
		h.Set("X-Berth-Revision", rd.commit)
		// Answers depend on the caller: shared caches must not mix them,
		// and clients revalidate with the ETag.
		h.Set("Vary", "Authorization")
		h.Set("Cache-Control", "private, no-cache")
		if (r.Method == http.MethodGet || r.Method == http.MethodHead) && etagMatch(r.Header.Get("If-None-Match"), tag) {
			notModified = true
			return nil
		}
		var err error
		out, err = fn(rd)
		return err
	})
	switch {
	case err != nil:
		s.fail(w, r, err)
	case notModified:
		w.Header().Set("ETag", tag)
		w.WriteHeader(http.StatusNotModified)
	default:
		// Only answers worth caching carry the ETag.
		w.Header().Set("ETag", tag)
		writeJSON(w, http.StatusOK, out)
	}
}

func etag(commit string, r *http.Request, body []byte, id Identity) string {
	h := sha256.New()
	for _, s := range []string{etagVersion, commit, r.Method, r.URL.Path, r.URL.RawQuery, id.ClientID, id.User} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	h.Write(body)
	return `"` + base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:18]) + `"`
}

// etagMatch implements If-None-Match's weak comparison.
func etagMatch(header, tag string) bool {
	if header == "" {
		return false
	}
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == tag {
			return true
		}
	}
	return false
}

// readBody reads a request body bounded by the server's limit.
func readBody(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, bodyError(err)
	}
	return b, nil
}

// revMeta is what requests need of a revision's blueprints and
// scorecards, decoded once per revision.
type revMeta struct {
	revID      int64
	blueprints map[string]*catalog.Blueprint
	objFiles   map[string]index.Object // blueprint id → its row, for read_only
	computed   map[string]map[string]bool
	// scorecards by blueprint, then identifier.
	scorecards map[string]map[string]*scorecardMeta
	// rules are the revision's read rules (blueprint permissions, roles).
	rules *access.Rules
}

type scorecardMeta struct {
	sc        *catalog.Scorecard
	levels    []string
	rules     []string // rule identifiers, sorted
	ruleLevel map[string]string
}

// metaFor returns revID's metadata, read in tx unless cached.
// Reads that arrive together after a new revision wait for one of them to
// read it (metaBuild) instead of each reading it: 32 connections used to
// decode the same objects 32 times at once, every commit.
func (s *Server) metaFor(ctx context.Context, tx *sql.Tx, revID int64) (*revMeta, error) {
	m, newer := s.cachedMeta(revID)
	if m != nil {
		return m, nil
	}
	if !newer { // a read of an older revision builds its own, not kept
		s.metaBuild.Lock()
		defer s.metaBuild.Unlock()
		if m, _ := s.cachedMeta(revID); m != nil {
			return m, nil
		}
	}
	m = &revMeta{revID: revID, blueprints: map[string]*catalog.Blueprint{}, objFiles: map[string]index.Object{},
		computed: map[string]map[string]bool{}, scorecards: map[string]map[string]*scorecardMeta{}}
	bps, err := index.ObjectsTx(ctx, tx, index.KindBlueprint, "")
	if err != nil {
		return nil, err
	}
	for _, o := range bps {
		var bp catalog.Blueprint
		if err := json.Unmarshal(o.Doc, &bp); err != nil {
			return nil, fmt.Errorf("decode blueprint %s: %w", o.Identifier, err)
		}
		m.blueprints[o.Identifier] = &bp
		m.objFiles[o.Identifier] = index.Object{File: o.File, Line: o.Line}
		m.computed[o.Identifier] = computedKeys(&bp)
	}
	cards, err := index.ObjectsTx(ctx, tx, index.KindScorecard, "")
	if err != nil {
		return nil, err
	}
	for _, o := range cards {
		var sc catalog.Scorecard
		if err := json.Unmarshal(o.Doc, &sc); err != nil {
			return nil, fmt.Errorf("decode scorecard %s: %w", o.Identifier, err)
		}
		sm := &scorecardMeta{sc: &sc, levels: sc.LevelTitles(), ruleLevel: map[string]string{}}
		for _, r := range sc.Rules {
			sm.ruleLevel[r.Identifier] = r.Level
			sm.rules = append(sm.rules, r.Identifier)
		}
		slices.Sort(sm.rules)
		if m.scorecards[o.Blueprint] == nil {
			m.scorecards[o.Blueprint] = map[string]*scorecardMeta{}
		}
		m.scorecards[o.Blueprint][o.Identifier] = sm
	}
	roles, err := index.ObjectsTx(ctx, tx, index.KindRole, "")
	if err != nil {
		return nil, err
	}
	var rs []*catalog.Role
	for _, o := range roles {
		var role catalog.Role
		if err := json.Unmarshal(o.Doc, &role); err != nil {
			return nil, fmt.Errorf("decode role %s: %w", o.Identifier, err)
		}
		rs = append(rs, &role)
	}
	m.rules = access.NewRules(m.blueprints, rs)
	for _, err := range m.rules.Problems() {
		s.log.Warn("permission rule grants nothing", "revision", revID, "err", err)
	}
	s.metaMu.Lock()
	if s.meta == nil || s.meta.revID < revID {
		s.meta = m
	}
	s.metaMu.Unlock()
	return m, nil
}

// cachedMeta is the cached metadata if it is revID's, else nil; newer
// reports that the cache holds a newer revision's.
func (s *Server) cachedMeta(revID int64) (m *revMeta, newer bool) {
	s.metaMu.Lock()
	defer s.metaMu.Unlock()
	if s.meta != nil && s.meta.revID == revID {
		return s.meta, false
	}
	return nil, s.meta != nil && s.meta.revID > revID
}

// computedKeys are a blueprint's calculated properties: calculations (both
// forms), mirrors and aggregations.
func computedKeys(bp *catalog.Blueprint) map[string]bool {
	out := map[string]bool{}
	for k := range bp.CalculationProperties {
		out[k] = true
	}
	for k := range bp.MirrorProperties {
		out[k] = true
	}
	for k := range bp.AggregationProperties {
		out[k] = true
	}
	for k, p := range bp.Schema.Properties {
		if p.Calculation != nil {
			out[k] = true
		}
	}
	return out
}

// blueprint returns a blueprint of the revision, or not_found.
func (rd *reader) blueprint(id string) (*catalog.Blueprint, error) {
	bp, ok := rd.meta.blueprints[id]
	if !ok {
		return nil, errorf(kindNotFound, "blueprint %q not found", id)
	}
	return bp, nil
}
