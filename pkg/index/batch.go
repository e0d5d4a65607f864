package index

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"strings"
)

// batch collects rows for one table and writes them with multi-row
// statements. Binding a row per statement costs a round trip through
// database/sql and cgo for each row; writing chunkRows rows per statement
// halves the time of a cold apply of 100k entities.
type batch struct {
	name  string
	width int // values per row
	// queries build the statements for a number of rows; each runs on the
	// same arguments.
	queries []func(rows int) string
	// chunk holds queries prepared for chunkRows rows.
	chunk []*sql.Stmt
	args  []any
}

// chunkRows is the number of rows one prepared statement writes; flushRows
// is how many rows a batch holds before the applier flushes every batch.
const (
	chunkRows = 50
	flushRows = 4000
)

// newBatch prepares a batch and puts it last in flush order.
func (a *applier) newBatch(name string, width int, queries ...func(rows int) string) (*batch, error) {
	b := &batch{name: name, width: width, queries: queries, args: make([]any, 0, width*chunkRows)}
	for _, q := range queries {
		st, err := a.prepare(q(chunkRows))
		if err != nil {
			return nil, err
		}
		b.chunk = append(b.chunk, st)
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

// flush writes the rows collected.
func (b *batch) flush(ctx context.Context, tx *sql.Tx) error {
	chunk := chunkRows * b.width
	args := b.args
	for ; len(args) >= chunk; args = args[chunk:] {
		for _, st := range b.chunk {
			if _, err := st.ExecContext(ctx, args[:chunk]...); err != nil {
				return fmt.Errorf("write %s: %w", b.name, err)
			}
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
