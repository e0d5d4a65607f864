package index

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"math"
	"strings"
)

// batch collects rows for one table and writes them with multi-row
// statements. Binding a row per statement costs a round trip through
// database/sql and cgo for each row; writing chunkRows rows per statement
// halves the time of a cold apply of 100k entities.
//
// The full chunks run as statements of the driver, prepared on the
// transaction's connection (sql.Conn.Raw) and bound from one reused slice:
// database/sql copies every argument of every statement into a new slice
// and checks it, which for the ten million values of a 100k-entity load
// was 0.4 GB of garbage and half a second on the writer's goroutine. The
// values are of the types the driver takes as they are (string, int64,
// float64, nil).
type batch struct {
	name  string
	width int // values per row
	// queries build the statements for a number of rows; each runs on the
	// same arguments.
	queries []func(rows int) string
	// chunk holds queries prepared for chunkRows rows, as driver
	// statements; nv is the arguments of one of them.
	chunk []driver.StmtExecContext
	nv    []driver.NamedValue
	args  []any
}

// errNoDriverPrepare means the SQL driver cannot prepare statements with a
// context, which go-sqlite3 does.
var errNoDriverPrepare = errors.New("driver cannot prepare statements")

// chunkRows is the number of rows one prepared statement writes; flushRows
// is how many rows a batch holds before the applier flushes every batch.
const (
	chunkRows = 50
	flushRows = 4000
)

// newBatch prepares a batch and puts it last in flush order.
func (a *applier) newBatch(name string, width int, queries ...func(rows int) string) (*batch, error) {
	b := &batch{name: name, width: width, queries: queries, args: make([]any, 0, width*chunkRows),
		nv: make([]driver.NamedValue, width*chunkRows)}
	for i := range b.nv {
		b.nv[i].Ordinal = i + 1
	}
	err := a.conn.Raw(func(dc any) error {
		p, ok := dc.(driver.ConnPrepareContext)
		if !ok {
			return errNoDriverPrepare
		}
		for _, q := range queries {
			st, err := p.PrepareContext(a.ctx, q(chunkRows))
			if err != nil {
				return fmt.Errorf("prepare: %w", err)
			}
			a.driverStmts = append(a.driverStmts, st)
			ex, ok := st.(driver.StmtExecContext)
			if !ok {
				return errNoDriverPrepare
			}
			b.chunk = append(b.chunk, ex)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	a.batches = append(a.batches, b)
	return b, nil
}

// The row builders append one value each; start and end bracket a row and
// exist so that rows read as rows.
func (b *batch) start()       {}
func (b *batch) end()         {}
func (b *batch) str(s string) { b.args = append(b.args, s) }
func (b *batch) int(n int64)  { b.args = append(b.args, n) }

// strOrNull writes "" as NULL.
func (b *batch) strOrNull(s string) { b.args = append(b.args, strOrNull(s)) }

// any writes a string, a float64 or nil, as value rows hold.
func (b *batch) any(v any) {
	if f, ok := v.(float64); ok {
		v = finite(f)
	}
	b.args = append(b.args, v)
}

// rows adds whole rows, setting the first value of each, which the caller
// left out, to first.
func (b *batch) rows(vals []any, first any) {
	n := len(b.args)
	b.args = append(b.args, vals...)
	for i := n; i < len(b.args); i += b.width {
		b.args[i] = first
	}
}

// finite is f, or nil (NULL) when it is NaN or infinite, which SQLite does
// not store as numbers.
func finite(f float64) any {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil
	}
	return f
}

func (b *batch) full() bool { return len(b.args) >= flushRows*b.width }

// flush writes the rows collected, the full chunks through conn's driver
// connection, which holds tx.
func (b *batch) flush(ctx context.Context, conn *sql.Conn, tx *sql.Tx) error {
	chunk := chunkRows * b.width
	args := b.args
	if len(args) >= chunk {
		err := conn.Raw(func(any) error {
			for ; len(args) >= chunk; args = args[chunk:] {
				for i, v := range args[:chunk] {
					b.nv[i].Value = v
				}
				for _, st := range b.chunk {
					if _, err := st.ExecContext(ctx, b.nv); err != nil {
						return fmt.Errorf("write %s: %w", b.name, err)
					}
				}
			}
			return nil
		})
		clear(b.nv)
		for i := range b.nv {
			b.nv[i].Ordinal = i + 1
		}
		if err != nil {
			return err
		}
	}
	if len(args) > 0 {
		for _, q := range b.queries {
			if _, err := tx.ExecContext(ctx, q(len(args)/b.width), args...); err != nil {
				return fmt.Errorf("write %s: %w", b.name, err)
			}
		}
	}
	clear(b.args) // drop references to documents already written
	b.args = b.args[:0]
	return nil
}

// insertRows returns a builder of "INSERT ... VALUES (?,..),(?,..) suffix"
// for head, a statement up to VALUES, and rows of width values.
func insertRows(head string, width int, suffix string) func(rows int) string {
	row := "(" + strings.TrimSuffix(strings.Repeat("?,", width), ",") + ")"
	return func(rows int) string {
		return head + " VALUES " + strings.TrimSuffix(strings.Repeat(row+",", rows), ",") + suffix
	}
}

// inList returns a builder of "head (?,?,...)".
func inList(head string) func(rows int) string {
	return func(rows int) string {
		return head + " (" + strings.TrimSuffix(strings.Repeat("?,", rows), ",") + ")"
	}
}
