package index

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/berth-dev/berth/pkg/catalog"
	"github.com/berth-dev/berth/pkg/query"
)

// applier carries one Apply's transaction, prepared statements and
// bookkeeping.
type applier struct {
	// ctx runs the statements: it is never cancelled, because go-sqlite3
	// runs each statement of a cancellable context on a goroutine of its
	// own, which a bulk load's tens of thousands of statements paid for.
	// done is the apply's own context, checked between batches (and the
	// transaction ends with it).
	ctx, done context.Context
	// tx is the apply's transaction, on conn.
	conn *sql.Conn
	tx   *sql.Tx
	snap *Snapshot

	revID  int64
	commit string
	at     any
	res    ApplyResult

	// log records the revision's entity changes in the audit log.
	log *changeLog

	// targets maps blueprint → relation → target blueprint.
	targets map[string]map[string]string
	// ids holds the entities upserted in this revision.
	ids map[catalog.EntityKey]int64
	// fresh marks entities inserted in this revision: they have no rows to
	// clear and no results to compare.
	fresh map[int64]bool
	// scoresOf holds the snapshot's scores by entity, for writing those of
	// the entities inserted in this revision with them; scored marks the
	// entities whose scores are written.
	scoresOf map[catalog.EntityKey]*EntityScores
	scored   map[catalog.EntityKey]bool
	boxes    boxes
	// bufs recycles the buffers of upserts written (see rowBufs), encoders
	// the document encoders of the pipeline's workers.
	bufs, encoders sync.Pool
	// existing holds every indexed entity for a Full snapshot.
	existing map[catalog.EntityKey]existingEntity
	// empty is set when the index held no entities: no lookups needed.
	empty      bool
	hasHistory bool
	// dropped holds the CREATE statements of the secondary indexes a bulk
	// load dropped, to build again once the rows are in.
	dropped []string
	// saved holds the writer connection's settings a bulk load replaced
	// (see bulkSettings), as SQLite reported them, to be restored.
	saved []setting

	// nextID is the id the next new entity gets.
	nextID int64

	stmts []*sql.Stmt
	// driverStmts are the batches' statements, prepared on conn's driver
	// connection.
	driverStmts []driver.Stmt
	ss          *scoreStmts
	batches     []*batch // in flush order: parents before children

	lookup, delEntity, nullRefs, touch                *sql.Stmt
	bClear, bEntities, bValues, bTeams, bRels, bAudit *batch
}

// existingEntity is what Apply compares an upsert with: the indexed row's
// id, hashes and position.
type existingEntity struct {
	id   int64
	hash string
	// src is the hash of the entity's own content; "" for rows written
	// before the index had it.
	src  string
	file string
	line int64
}

// existingColumns are the columns existingEntity is read from.
const existingColumns = "id, coalesce(blob_hash, ''), coalesce(src_hash, ''), file, line"

func (e *existingEntity) scan(sc interface{ Scan(...any) error }, key ...any) error {
	return sc.Scan(append(key, &e.id, &e.hash, &e.src, &e.file, &e.line)...)
}

func newApplier(ctx context.Context, conn *sql.Conn, tx *sql.Tx, snap *Snapshot) (*applier, error) {
	a := &applier{
		ctx: context.WithoutCancel(ctx), done: ctx, conn: conn, tx: tx, snap: snap,
		targets: make(map[string]map[string]string, len(snap.Blueprints)),
		ids:     make(map[catalog.EntityKey]int64, len(snap.Upserts)),
		fresh:   make(map[int64]bool),
	}
	if len(snap.Scores) > 0 {
		a.scoresOf = make(map[catalog.EntityKey]*EntityScores, len(snap.Scores))
		a.scored = make(map[catalog.EntityKey]bool, len(snap.Scores))
		a.boxes = boxes{}
		a.boxes.add(snap.Scores)
		twice := map[catalog.EntityKey]bool{}
		for i := range snap.Scores {
			k := snap.Scores[i].Key
			if _, dup := a.scoresOf[k]; dup {
				twice[k] = true // left to scores, which writes each in turn
			}
			a.scoresOf[k] = &snap.Scores[i]
		}
		for k := range twice {
			delete(a.scoresOf, k)
		}
	}
	for _, b := range snap.Blueprints {
		m := make(map[string]string, len(b.Relations))
		for k, r := range b.Relations {
			m[k] = r.Target
		}
		a.targets[b.Identifier] = m
	}
	var err error
	for _, p := range []struct {
		dst **sql.Stmt
		sql string
	}{
		{&a.lookup, "SELECT " + existingColumns + " FROM entities WHERE blueprint = ? AND identifier = ?"},
		{&a.delEntity, "DELETE FROM entities WHERE id = ?"},
		{&a.nullRefs, "UPDATE relations SET target_id = NULL WHERE target_id = ?"},
		{&a.touch, "UPDATE entities SET file = ?, line = ?, src_hash = ? WHERE id = ?"},
	} {
		if *p.dst, err = a.prepare(p.sql); err != nil {
			return nil, errors.Join(err, a.close())
		}
	}
	for _, b := range []struct {
		dst     **batch
		name    string
		width   int
		queries []func(int) string
	}{
		{&a.bClear, "cleared entities", 1, []func(int) string{
			inList("DELETE FROM entity_values WHERE entity_id IN"),
			inList("DELETE FROM entity_teams WHERE entity_id IN"),
			inList("DELETE FROM relations WHERE source_id IN"),
		}},
		{&a.bEntities, "entities", 14, []func(int) string{insertRows(`INSERT INTO entities (id, blueprint, identifier,
			title, icon, created_at, updated_at, created_by, updated_by, file, line, blob_hash, src_hash, doc)`, 14, `
			ON CONFLICT (id) DO UPDATE SET title = excluded.title, icon = excluded.icon,
			created_at = excluded.created_at, updated_at = excluded.updated_at, created_by = excluded.created_by,
			updated_by = excluded.updated_by, file = excluded.file, line = excluded.line,
			blob_hash = excluded.blob_hash, src_hash = excluded.src_hash, doc = excluded.doc`)}},
		{&a.bValues, "entity values", 6, []func(int) string{
			insertRows("INSERT INTO entity_values (entity_id, key, idx, typ, str, num)", 6, "")}},
		{&a.bTeams, "entity teams", 2, []func(int) string{
			insertRows("INSERT OR IGNORE INTO entity_teams (entity_id, team)", 2, "")}},
		// Relations start unresolved; resolve fills target_id once every
		// entity of the revision is in.
		{&a.bRels, "relations", 4, []func(int) string{insertRows(`INSERT OR IGNORE INTO relations (source_id,
			relation, target_blueprint, target_identifier)`, 4, "")}},
		{&a.bAudit, "audit log", changeWidth, []func(int) string{insertRows(insertChanges, changeWidth, "")}},
	} {
		if *b.dst, err = a.newBatch(b.name, b.width, b.queries...); err != nil {
			return nil, errors.Join(err, a.close())
		}
	}
	if err := tx.QueryRowContext(ctx, "SELECT NOT EXISTS (SELECT 1 FROM entities)").Scan(&a.empty); err != nil {
		return nil, errors.Join(err, a.close())
	}
	if err := tx.QueryRowContext(ctx, "SELECT coalesce(max(id), 0) + 1 FROM entities").Scan(&a.nextID); err != nil {
		return nil, errors.Join(err, a.close())
	}
	if err := tx.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM scorecard_history)").Scan(&a.hasHistory); err != nil {
		return nil, errors.Join(err, a.close())
	}
	return a, nil
}

func (a *applier) prepare(q string) (*sql.Stmt, error) {
	st, err := a.tx.PrepareContext(a.ctx, q)
	if err != nil {
		return nil, fmt.Errorf("prepare: %w", err)
	}
	a.stmts = append(a.stmts, st)
	return st, nil
}

// flush writes every batch, parents first, unless the apply's context
// ended.
func (a *applier) flush() error {
	if err := a.done.Err(); err != nil {
		return err
	}
	for _, b := range a.batches {
		if err := b.flush(a.ctx, a.conn, a.tx); err != nil {
			return err
		}
	}
	return nil
}

// flushIfFull flushes when any batch has grown past its size.
func (a *applier) flushIfFull() error {
	for _, b := range a.batches {
		if b.full() {
			return a.flush()
		}
	}
	return nil
}

func (a *applier) close() error {
	errs := []error{a.restoreSettings()}
	for _, st := range a.stmts {
		errs = append(errs, st.Close())
	}
	a.stmts = nil
	if len(a.driverStmts) > 0 {
		err := a.conn.Raw(func(any) error {
			var errs []error
			for _, st := range a.driverStmts {
				errs = append(errs, st.Close())
			}
			return errors.Join(errs...)
		})
		if !errors.Is(err, sql.ErrConnDone) {
			// A connection done is one database/sql discarded with a
			// transaction its context ended, statements and all.
			errs = append(errs, err)
		}
		a.driverStmts = nil
	}
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
	err := e.scan(a.lookup.QueryRowContext(a.ctx, k.Blueprint, k.Identifier))
	if errors.Is(err, sql.ErrNoRows) {
		return e, false, nil
	}
	return e, err == nil, err
}

// entities applies deletes, then upserts, then (for a Full snapshot) deletes
// whatever the snapshot left out.
func (a *applier) entities() error {
	if a.empty && len(a.snap.Upserts) >= bulkLoad {
		if err := a.dropIndexes(); err != nil {
			return err
		}
	}
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
		if err := a.deleteEntity(e, k); err != nil {
			return err
		}
		delete(a.existing, k)
	}
	if len(a.scoresOf) > 0 {
		if _, err := a.scoreStatements(); err != nil {
			return err
		}
	}
	if err := pipeline(a.done, a.snap.Upserts, a.encode, a.write); err != nil {
		return err
	}
	if err := a.flush(); err != nil {
		return err
	}
	if a.snap.Full {
		for k, e := range a.existing {
			if _, kept := a.ids[k]; kept {
				continue
			}
			if err := a.deleteEntity(e, k); err != nil {
				return err
			}
		}
	}
	a.log.imports(a.bAudit)
	return a.flush()
}

func (a *applier) loadExisting() error {
	rows, err := a.tx.QueryContext(a.ctx, "SELECT blueprint, identifier, "+existingColumns+" FROM entities")
	if err != nil {
		return err
	}
	a.existing = make(map[catalog.EntityKey]existingEntity)
	for rows.Next() {
		var e existingEntity
		var k catalog.EntityKey
		if err := e.scan(rows, &k.Blueprint, &k.Identifier); err != nil {
			return errors.Join(err, rows.Close())
		}
		a.existing[k] = e
	}
	return errors.Join(rows.Err(), rows.Close())
}

// prepared is an upsert encoded for writing: everything that needs no
// database, so that it can run beside the writer. Its rows are the values
// of the entity's rows in each table, in the order of the batch's columns,
// built (and boxed into interfaces) on the pipeline's workers rather than on
// the writer's goroutine; the first value of every row is the entity's id,
// which only the writer knows, and is left nil.
type prepared struct {
	e    *catalog.Entity
	hash string
	src  string // hash of the entity's own content
	file string
	line int

	entity, values, teams, relations []any
	// scores are the entity's scorecard results, when the snapshot has
	// them; written here for an entity inserted in this revision.
	scores *scoreRows
	// bufs holds the slices above, to be reused once they are written.
	bufs *rowBufs
}

// encode prepares an upsert. It reads only a.targets, a.scoresOf and
// a.boxes, which nothing writes once the pipeline starts: pipeline runs it
// on other goroutines.
func (a *applier) encode(u Upsert) (prepared, error) {
	e := u.Entity
	if e == nil {
		return prepared{}, errors.New("upsert without an entity")
	}
	bufs, _ := a.bufs.Get().(*rowBufs)
	if bufs == nil {
		bufs = &rowBufs{}
	}
	enc, _ := a.encoders.Get().(*docEncoder)
	if enc == nil {
		enc = newDocEncoder()
	}
	doc, hash, src, err := enc.encode(e, u.Computed)
	a.encoders.Put(enc)
	if err != nil {
		return prepared{}, err
	}
	p := prepared{e: e, hash: hash, src: src, bufs: bufs}
	if e.Doc != nil {
		pos := e.Doc.Pos()
		p.file, p.line = pos.File, pos.Line
	}
	m := e.Meta
	p.entity = append(bufs.entity[:0], nil, e.Blueprint, e.Identifier, strOrNull(e.Title), strOrNull(e.Icon),
		formatTime(m.CreatedAt), formatTime(m.UpdatedAt), strOrNull(m.CreatedBy), strOrNull(m.UpdatedBy),
		p.file, int64(p.line), hash, src, doc)

	// The value rows of the stored properties and the computed ones; a
	// computed value replaces a stored one of the same name.
	p.values = bufs.values[:0]
	ivs := bufs.ivs[:0]
	property := func(key string, v any) {
		var k any = key // boxed once for all of the key's rows
		ivs = appendIndexValues(ivs[:0], v)
		for _, iv := range ivs {
			p.values = append(p.values, nil, k, boxIdx(iv.Idx), boxedTypes[iv.Typ], valueStr(v, iv), valueNum(iv))
		}
	}
	for key, v := range e.Properties {
		if _, replaced := u.Computed[key]; !replaced {
			property(key, v)
		}
	}
	for key, v := range u.Computed {
		property(key, v)
	}
	bufs.ivs = ivs[:0]
	p.teams = bufs.teams[:0]
	for _, t := range e.Team {
		p.teams = append(p.teams, nil, t)
	}
	targets := a.targets[e.Blueprint]
	p.relations = bufs.relations[:0]
	for rel, rv := range e.Relations {
		var r, tbp any = rel, targets[rel]
		for _, t := range rv.Targets {
			p.relations = append(p.relations, nil, r, tbp, t)
		}
	}
	if es := a.scoresOf[e.Key()]; es != nil {
		p.scores = a.scoreRowsOf(es, bufs)
	}
	return p, nil
}

// rowBufs are the slices an upsert's rows are built in. Once the writer
// has copied the rows into its batches it gives them back (see recycle),
// and the next upsert reuses them: a 100k-entity load built ~300 MB of
// rows that were garbage as soon as they were copied.
type rowBufs struct {
	entity, values, teams, relations, results, rules []any
	ivs                                              []query.IndexValue
}

// recycle gives p's buffers back for reuse, without the values they held.
func (a *applier) recycle(p *prepared) {
	b := p.bufs
	if b == nil {
		return
	}
	b.entity, b.values, b.teams, b.relations = clearAll(p.entity), clearAll(p.values), clearAll(p.teams), clearAll(p.relations)
	if p.scores != nil {
		b.results, b.rules = clearAll(p.scores.results), clearAll(p.scores.rules)
	}
	*p = prepared{}
	a.bufs.Put(b)
}

// clearAll zeroes s's values, so that they can be collected, and returns it
// empty.
func clearAll(s []any) []any {
	clear(s)
	return s[:0]
}

// write adds a prepared upsert to the batches, unless the index already
// holds it unchanged.
func (a *applier) write(p prepared) error {
	defer a.recycle(&p)
	e := p.e
	k := e.Key()
	if _, dup := a.ids[k]; dup {
		return fmt.Errorf("entity %s/%s upserted twice", k.Blueprint, k.Identifier)
	}
	old, found, err := a.find(k)
	if err != nil {
		return err
	}
	if found && old.hash == p.hash {
		a.ids[k] = old.id
		a.res.Unchanged++
		// Moved within or between files, or written before src_hash: the
		// document is the same, the row is brought up to date in place.
		if old.file != p.file || old.line != int64(p.line) || old.src != p.src {
			if _, err := a.touch.ExecContext(a.ctx, p.file, p.line, p.src, old.id); err != nil {
				return fmt.Errorf("update entity %s/%s: %w", k.Blueprint, k.Identifier, err)
			}
		}
		return nil
	}
	id := old.id
	if found {
		a.bClear.start()
		a.bClear.int(id)
		a.bClear.end()
		a.res.Updated++
		// A row from before src_hash counts as changed when its document
		// did: the one time its content cannot be compared.
		if old.src != p.src {
			a.log.change(a.bAudit, ActionUpdated, k, p.file)
		}
	} else {
		id = a.nextID
		a.nextID++
		a.fresh[id] = true
		a.res.Inserted++
		a.log.create(a.bAudit, k, p.file)
	}
	a.ids[k] = id

	var idv any = id // boxed once for all of the entity's rows
	a.bEntities.rows(p.entity, idv)
	a.bValues.rows(p.values, idv)
	a.bTeams.rows(p.teams, idv)
	a.bRels.rows(p.relations, idv)
	if p.scores != nil && a.fresh[id] {
		// A new entity has no results to clear or compare: its results
		// go in with it, off the single-threaded scores step.
		if err := a.writeScores(k, idv, p.scores, nil); err != nil {
			return err
		}
		a.scored[k] = true
	}
	return a.flushIfFull()
}

// Boxing a value into an interface allocates, except for small
// non-negative integers; a 100k-entity load writes 1.2M value rows, so the
// rows' common values are boxed once here.
var (
	boxedTypes = map[string]any{"s": "s", "n": "n", "b": "b", "j": "j"}
	boxedIdx   = any(int64(-1))
	boxedZero  = any(0.0)
	boxedOne   = any(1.0)
)

// boxIdx returns the idx column of a value row.
func boxIdx(i int) any {
	if i == -1 {
		return boxedIdx // a scalar
	}
	return int64(i)
}

// valueStr returns the str column of row iv of property value v: a string
// item's own interface value, already boxed, when it is one.
func valueStr(v any, iv query.IndexValue) any {
	switch iv.Typ {
	case "s":
		if iv.Idx >= 0 {
			if arr, ok := v.([]any); ok && iv.Idx < len(arr) {
				v = arr[iv.Idx]
			}
		}
		if s, ok := v.(string); ok && s == iv.Str {
			return v
		}
		return iv.Str
	case "j":
		return iv.Str
	}
	return nil
}

// valueNum returns the num column of row iv.
func valueNum(iv query.IndexValue) any {
	switch {
	case !iv.HasNum:
		return nil
	case iv.Num == 0:
		return boxedZero
	case iv.Num == 1:
		return boxedOne
	}
	return finite(iv.Num)
}

// strOrNull is s, or nil (NULL) for "".
func strOrNull(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// deleteEntity removes an entity; rows of other entities' relations that
// pointed at it lose their target id until resolve finds a new one.
func (a *applier) deleteEntity(e existingEntity, k catalog.EntityKey) error {
	id := e.id
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
	a.log.change(a.bAudit, ActionDeleted, k, e.file)
	return a.flushIfFull()
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
			o.blueprint = s.Scorecards[i].ScorecardBlueprint() // the seed form scopes with a $blueprint filter rule
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

// bulkLoad is the number of entities from which an apply to an empty index
// drops the secondary indexes and builds them after the rows are in: one
// sorted build costs far less than keeping them up to date row by row.
const bulkLoad = 2000

// bulkTables are the tables whose secondary indexes a bulk load rebuilds:
// those emptied with the entities. Scorecard history outlives entities and
// keeps its indexes, which the history lookups need.
const bulkTables = "'entities', 'entity_values', 'entity_teams', 'relations', 'scorecard_results', " +
	"'scorecard_rule_results'"

// bulkCacheKiB is the writer's page cache during a bulk load. Building the
// indexes sorts millions of rows, and SQLite's sorter works in runs of the
// page cache's size: runs of a few MiB sort within the CPU's caches, and
// sorting the 100k-entity load's indexes took 40% less CPU than with the
// 64 MiB the writer keeps for incremental writes. It is also that much less
// memory at the load's peak.
const bulkCacheKiB = 8192

// sorterThreads is how many threads SQLite's sorter may use during a bulk
// load. The index builds come after every row is written; in a cold 100k
// load on two cores the deferred validation had ended by then and the
// other core was idle. A second thread sorts runs while the first reads
// rows: the largest build (1.2M value rows) took 0.60-0.73 s against
// 0.74-0.81 s.
const sorterThreads = 2

// setting is a connection setting: a PRAGMA's name and value.
type setting struct{ name, value string }

// statement returns the PRAGMA statement that applies s.
func (s setting) statement() string { return "PRAGMA " + s.name + " = " + s.value }

// bulkSettings are the writer connection's settings during a bulk load.
var bulkSettings = []setting{
	{"cache_size", strconv.Itoa(-bulkCacheKiB)},
	{"threads", strconv.Itoa(sorterThreads)},
}

// dropIndexes drops the secondary indexes of the entity tables, inside the
// transaction: readers and a crash still see them. It applies bulkSettings
// until restoreIndexes.
func (a *applier) dropIndexes() error {
	for _, set := range bulkSettings {
		var old string
		if err := a.tx.QueryRowContext(a.ctx, "PRAGMA "+set.name).Scan(&old); err != nil {
			return fmt.Errorf("read %s: %w", set.name, err)
		}
		if _, err := a.tx.ExecContext(a.ctx, set.statement()); err != nil {
			return fmt.Errorf("set %s: %w", set.name, err)
		}
		a.saved = append(a.saved, setting{set.name, old})
	}
	rows, err := a.tx.QueryContext(a.ctx, `SELECT name, sql FROM sqlite_master
		WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN (`+bulkTables+`) ORDER BY name`)
	if err != nil {
		return fmt.Errorf("list indexes: %w", err)
	}
	var names []string
	for rows.Next() {
		var name, create string
		if err := rows.Scan(&name, &create); err != nil {
			return errors.Join(err, rows.Close())
		}
		names = append(names, name)
		a.dropped = append(a.dropped, create)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return fmt.Errorf("list indexes: %w", err)
	}
	for _, n := range names {
		// Names come from sqlite_master, quoted as identifiers.
		if _, err := a.tx.ExecContext(a.ctx, `DROP INDEX "`+strings.ReplaceAll(n, `"`, `""`)+`"`); err != nil {
			return fmt.Errorf("drop index %s: %w", n, err)
		}
	}
	return nil
}

// restoreIndexes builds the indexes dropIndexes dropped.
func (a *applier) restoreIndexes() error {
	for _, create := range a.dropped {
		if _, err := a.tx.ExecContext(a.ctx, create); err != nil {
			return fmt.Errorf("build index: %w", err)
		}
	}
	a.dropped = nil
	return a.restoreSettings()
}

// restoreSettings sets the connection settings dropIndexes replaced back.
// They belong to the connection, not to the transaction: they are restored
// whether the revision is committed or not.
func (a *applier) restoreSettings() error {
	var errs []error
	var failed []setting // kept for close to try again
	for _, set := range a.saved {
		// The values were read from SQLite as integers. a.ctx is never
		// cancelled: they are restored even when the apply ends because
		// its context did.
		_, err := a.tx.ExecContext(a.ctx, set.statement())
		if errors.Is(err, sql.ErrTxDone) {
			// The transaction ended with its context: on the connection.
			err = connPragma(a.conn, set.statement())
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("restore %s: %w", set.name, err))
			failed = append(failed, set)
		}
	}
	a.saved = failed
	return errors.Join(errs...)
}
