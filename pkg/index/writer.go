package index

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/berth-dev/berth/pkg/catalog"
)

// applier carries one Apply's transaction, prepared statements and
// bookkeeping.
type applier struct {
	ctx  context.Context
	tx   *sql.Tx
	snap *Snapshot

	revID  int64
	commit string
	at     any
	res    ApplyResult

	// targets maps blueprint → relation → target blueprint.
	targets map[string]map[string]string
	// ids holds the entities upserted in this revision.
	ids map[catalog.EntityKey]int64
	// fresh marks entities inserted in this revision: they have no rows to
	// clear and no results to compare.
	fresh map[int64]bool
	// existing holds every indexed entity for a Full snapshot.
	existing map[catalog.EntityKey]existingEntity
	// empty is set when the index held no entities: no lookups needed.
	empty      bool
	hasHistory bool

	vals  []value
	stmts []*sql.Stmt
	ss    *scoreStmts

	lookup, insEntity, updEntity                      *sql.Stmt
	delValues, delTeams, delRels, delEntity, nullRefs *sql.Stmt
	insValue, insTeam, insRel                         *sql.Stmt
}

type existingEntity struct {
	id   int64
	hash string
}

func newApplier(ctx context.Context, tx *sql.Tx, snap *Snapshot) (*applier, error) {
	a := &applier{
		ctx: ctx, tx: tx, snap: snap,
		targets: make(map[string]map[string]string, len(snap.Blueprints)),
		ids:     make(map[catalog.EntityKey]int64, len(snap.Upserts)),
		fresh:   make(map[int64]bool),
	}
	for _, b := range snap.Blueprints {
		m := make(map[string]string, len(b.Relations))
		for k, r := range b.Relations {
			m[k] = r.Target
		}
		a.targets[b.Identifier] = m
	}
	prep := []struct {
		dst **sql.Stmt
		sql string
	}{
		{&a.lookup, "SELECT id, coalesce(blob_hash, '') FROM entities WHERE blueprint = ? AND identifier = ?"},
		{&a.insEntity, `INSERT INTO entities (blueprint, identifier, title, icon, created_at, updated_at,
			created_by, updated_by, file, line, blob_hash, doc) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)`},
		{&a.updEntity, `UPDATE entities SET title = ?, icon = ?, created_at = ?, updated_at = ?, created_by = ?,
			updated_by = ?, file = ?, line = ?, blob_hash = ?, doc = ? WHERE id = ?`},
		{&a.delValues, "DELETE FROM entity_values WHERE entity_id = ?"},
		{&a.delTeams, "DELETE FROM entity_teams WHERE entity_id = ?"},
		{&a.delRels, "DELETE FROM relations WHERE source_id = ?"},
		{&a.delEntity, "DELETE FROM entities WHERE id = ?"},
		{&a.nullRefs, "UPDATE relations SET target_id = NULL WHERE target_id = ?"},
		{&a.insValue, "INSERT INTO entity_values (entity_id, key, idx, typ, str, num) VALUES (?,?,?,?,?,?)"},
		{&a.insTeam, "INSERT OR IGNORE INTO entity_teams (entity_id, team) VALUES (?,?)"},
		{&a.insRel, `INSERT OR IGNORE INTO relations (source_id, relation, target_blueprint, target_identifier,
			target_id) VALUES (?,?,?,?, (SELECT id FROM entities WHERE blueprint = ? AND identifier = ?))`},
	}
	for _, p := range prep {
		st, err := tx.PrepareContext(ctx, p.sql)
		if err != nil {
			return nil, errors.Join(fmt.Errorf("prepare: %w", err), a.close())
		}
		*p.dst = st
		a.stmts = append(a.stmts, st)
	}
	if err := tx.QueryRowContext(ctx, "SELECT NOT EXISTS (SELECT 1 FROM entities)").Scan(&a.empty); err != nil {
		return nil, errors.Join(err, a.close())
	}
	if err := tx.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM scorecard_history)").Scan(&a.hasHistory); err != nil {
		return nil, errors.Join(err, a.close())
	}
	return a, nil
}

func (a *applier) close() error {
	var errs []error
	for _, st := range a.stmts {
		errs = append(errs, st.Close())
	}
	a.stmts = nil
	return errors.Join(errs...)
}

// find returns the indexed id and blob hash of k.
func (a *applier) find(k catalog.EntityKey) (existingEntity, bool, error) {
	if id, ok := a.ids[k]; ok {
		return existingEntity{id: id}, true, nil
	}
	switch {
	case a.existing != nil:
		e, ok := a.existing[k]
		return e, ok, nil
	case a.empty:
		return existingEntity{}, false, nil
	}
	var e existingEntity
	err := a.lookup.QueryRowContext(a.ctx, k.Blueprint, k.Identifier).Scan(&e.id, &e.hash)
	if errors.Is(err, sql.ErrNoRows) {
		return e, false, nil
	}
	return e, err == nil, err
}

// entities applies deletes, then upserts, then (for a Full snapshot) deletes
// whatever the snapshot left out.
func (a *applier) entities() error {
	if a.snap.Full && !a.empty {
		if err := a.loadExisting(); err != nil {
			return err
		}
	}
	for _, k := range a.snap.Deletes {
		e, ok, err := a.find(k)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		if err := a.deleteEntity(e.id, k); err != nil {
			return err
		}
		delete(a.existing, k)
	}
	for _, u := range a.snap.Upserts {
		if err := a.upsert(u); err != nil {
			return err
		}
	}
	if a.snap.Full {
		for k, e := range a.existing {
			if _, kept := a.ids[k]; kept {
				continue
			}
			if err := a.deleteEntity(e.id, k); err != nil {
				return err
			}
		}
	}
	return nil
}

func (a *applier) loadExisting() error {
	rows, err := a.tx.QueryContext(a.ctx, "SELECT id, blueprint, identifier, coalesce(blob_hash, '') FROM entities")
	if err != nil {
		return err
	}
	a.existing = make(map[catalog.EntityKey]existingEntity)
	for rows.Next() {
		var e existingEntity
		var k catalog.EntityKey
		if err := rows.Scan(&e.id, &k.Blueprint, &k.Identifier, &e.hash); err != nil {
			return errors.Join(err, rows.Close())
		}
		a.existing[k] = e
	}
	return errors.Join(rows.Err(), rows.Close())
}

func (a *applier) upsert(u Upsert) error {
	e := u.Entity
	if e == nil {
		return errors.New("upsert without an entity")
	}
	k := e.Key()
	props := properties(e, u.Computed)
	doc, hash, err := encodeEntity(e, props)
	if err != nil {
		return err
	}
	old, found, err := a.find(k)
	if err != nil {
		return err
	}
	if found && old.hash == hash {
		a.ids[k] = old.id
		a.res.Unchanged++
		return nil
	}
	var file string
	var line int
	if e.Doc != nil {
		p := e.Doc.Pos()
		file, line = p.File, p.Line
	}
	m := e.Meta
	id := old.id
	if found {
		if _, err := a.updEntity.ExecContext(a.ctx, nullString(e.Title), nullString(e.Icon),
			formatTime(m.CreatedAt), formatTime(m.UpdatedAt), nullString(m.CreatedBy), nullString(m.UpdatedBy),
			file, line, hash, doc, id); err != nil {
			return fmt.Errorf("update entity %s/%s: %w", k.Blueprint, k.Identifier, err)
		}
		if !a.fresh[id] {
			for _, st := range []*sql.Stmt{a.delValues, a.delTeams, a.delRels} {
				if _, err := st.ExecContext(a.ctx, id); err != nil {
					return fmt.Errorf("clear entity %s/%s: %w", k.Blueprint, k.Identifier, err)
				}
			}
		}
		a.res.Updated++
	} else {
		r, err := a.insEntity.ExecContext(a.ctx, k.Blueprint, k.Identifier, nullString(e.Title), nullString(e.Icon),
			formatTime(m.CreatedAt), formatTime(m.UpdatedAt), nullString(m.CreatedBy), nullString(m.UpdatedBy),
			file, line, hash, doc)
		if err != nil {
			return fmt.Errorf("insert entity %s/%s: %w", k.Blueprint, k.Identifier, err)
		}
		if id, err = r.LastInsertId(); err != nil {
			return err
		}
		a.fresh[id] = true
		a.res.Inserted++
	}
	a.ids[k] = id
	return a.children(id, e, props)
}

// children writes an entity's teams, typed values and relations.
func (a *applier) children(id int64, e *catalog.Entity, props map[string]any) error {
	for _, t := range e.Team {
		if _, err := a.insTeam.ExecContext(a.ctx, id, t); err != nil {
			return fmt.Errorf("insert team of %s/%s: %w", e.Blueprint, e.Identifier, err)
		}
	}
	vals := a.vals[:0]
	var err error
	for key, v := range props {
		if vals, err = flatten(vals, key, v); err != nil {
			return fmt.Errorf("entity %s/%s: %w", e.Blueprint, e.Identifier, err)
		}
	}
	a.vals = vals
	for _, v := range vals {
		if _, err := a.insValue.ExecContext(a.ctx, id, v.key, v.idx, v.typ, v.str, v.num); err != nil {
			return fmt.Errorf("insert value %s of %s/%s: %w", v.key, e.Blueprint, e.Identifier, err)
		}
	}
	targets := a.targets[e.Blueprint]
	for rel, rv := range e.Relations {
		tbp := targets[rel]
		for _, t := range rv.Targets {
			if _, err := a.insRel.ExecContext(a.ctx, id, rel, tbp, t, tbp, t); err != nil {
				return fmt.Errorf("insert relation %s of %s/%s: %w", rel, e.Blueprint, e.Identifier, err)
			}
		}
	}
	return nil
}

// deleteEntity removes an entity; rows of other entities' relations that
// pointed at it lose their target id until resolve finds a new one.
func (a *applier) deleteEntity(id int64, k catalog.EntityKey) error {
	if err := a.leaveScorecards(id, k); err != nil {
		return err
	}
	if _, err := a.nullRefs.ExecContext(a.ctx, id); err != nil {
		return fmt.Errorf("delete entity %s/%s: %w", k.Blueprint, k.Identifier, err)
	}
	if _, err := a.delEntity.ExecContext(a.ctx, id); err != nil {
		return fmt.Errorf("delete entity %s/%s: %w", k.Blueprint, k.Identifier, err)
	}
	delete(a.ids, k)
	a.res.Deleted++
	return nil
}

// resolve points relation rows at their targets' ids: targets upserted
// after their source in this revision, and entities re-created under a new
// id.
func (a *applier) resolve() error {
	if _, err := a.tx.ExecContext(a.ctx, `UPDATE relations SET target_id = (SELECT t.id FROM entities t
		WHERE t.blueprint = relations.target_blueprint AND t.identifier = relations.target_identifier)
		WHERE target_id IS NULL`); err != nil {
		return fmt.Errorf("resolve relations: %w", err)
	}
	err := a.tx.QueryRowContext(a.ctx, "SELECT count(*) FROM relations WHERE target_id IS NULL").Scan(&a.res.Dangling)
	if err != nil {
		return fmt.Errorf("count dangling relations: %w", err)
	}
	return nil
}

// objects replaces the small object sets.
func (a *applier) objects() error {
	type table struct {
		name string
		objs []object
	}
	var tables []table
	add := func(name string, n int, each func(i int) (object, error)) error {
		t := table{name: name, objs: make([]object, 0, n)}
		for i := range n {
			o, err := each(i)
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			t.objs = append(t.objs, o)
		}
		tables = append(tables, t)
		return nil
	}
	s := a.snap
	if err := errors.Join(
		add("blueprints", len(s.Blueprints), func(i int) (object, error) {
			return newObject(s.Blueprints[i].Identifier, s.Blueprints[i], s.Blueprints[i].Doc)
		}),
		add("scorecards", len(s.Scorecards), func(i int) (object, error) {
			o, err := newObject(s.Scorecards[i].Identifier, s.Scorecards[i], s.Scorecards[i].Doc)
			o.blueprint = s.Scorecards[i].Blueprint
			return o, err
		}),
		add("actions", len(s.Actions), func(i int) (object, error) {
			return newObject(s.Actions[i].Identifier, s.Actions[i], s.Actions[i].Doc)
		}),
		add("pages", len(s.Pages), func(i int) (object, error) {
			return newObject(s.Pages[i].Identifier, s.Pages[i], s.Pages[i].Doc)
		}),
		add("roles", len(s.Roles), func(i int) (object, error) {
			return newObject(s.Roles[i].Identifier, s.Roles[i], s.Roles[i].Doc)
		}),
	); err != nil {
		return err
	}
	if err := a.dropScorecards(); err != nil {
		return err
	}
	for _, t := range tables {
		// Table names come from the fixed list above, never from input.
		if _, err := a.tx.ExecContext(a.ctx, "DELETE FROM "+t.name); err != nil {
			return fmt.Errorf("clear %s: %w", t.name, err)
		}
		q := "INSERT OR REPLACE INTO " + t.name + " (identifier, doc, file, line) VALUES (?,?,?,?)"
		if t.name == "scorecards" {
			q = "INSERT OR REPLACE INTO scorecards (identifier, doc, file, line, blueprint) VALUES (?,?,?,?,?)"
		}
		for _, o := range t.objs {
			args := []any{o.identifier, string(o.doc), o.file, o.line}
			if t.name == "scorecards" {
				args = append(args, o.blueprint)
			}
			if _, err := a.tx.ExecContext(a.ctx, q, args...); err != nil {
				return fmt.Errorf("insert %s %s: %w", t.name, o.identifier, err)
			}
		}
	}
	return nil
}

// dropScorecards deletes the results of scorecards the snapshot no longer
// has.
func (a *applier) dropScorecards() error {
	keep := make(map[string]bool, len(a.snap.Scorecards))
	for _, s := range a.snap.Scorecards {
		keep[s.Identifier] = true
	}
	rows, err := a.tx.QueryContext(a.ctx, "SELECT DISTINCT identifier FROM scorecards")
	if err != nil {
		return err
	}
	var gone []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return errors.Join(err, rows.Close())
		}
		if !keep[id] {
			gone = append(gone, id)
		}
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return err
	}
	for _, id := range gone {
		for _, q := range []string{"DELETE FROM scorecard_results WHERE scorecard = ?",
			"DELETE FROM scorecard_rule_results WHERE scorecard = ?"} {
			if _, err := a.tx.ExecContext(a.ctx, q, id); err != nil {
				return fmt.Errorf("drop results of scorecard %s: %w", id, err)
			}
		}
	}
	return nil
}
