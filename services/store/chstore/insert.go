package chstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/ClickHouse/clickhouse-go/v2"
	chcol "github.com/ClickHouse/clickhouse-go/v2/lib/column"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// AppendError is returned by Insert when the driver rejects one row on the
// client side (a value that does not convert to its column's type). The
// whole batch is abandoned; Index says which row to drop before retrying.
type AppendError struct {
	// Index is the position of the rejected row in the rows passed to Insert.
	Index int
	// Err is the driver's error.
	Err error
}

// Error implements error.
func (e *AppendError) Error() string { return fmt.Sprintf("row %d: %v", e.Index, e.Err) }

// Unwrap returns the driver's error.
func (e *AppendError) Unwrap() error { return e.Err }

// Insert writes rows into table with an explicit column list in one INSERT
// and returns once the server has accepted them (or rejected them). An
// *AppendError names a row that cannot be appended: one the driver could
// not convert, or an EventRef row whose event is invalid.
//
// The rows travel as native-protocol data blocks of at most InsertBlockRows
// rows: the client fills the same column memory again for every block
// instead of growing every column to the whole batch (fresh memory, which
// the garbage collector then reclaims, was most of the client's CPU per
// row). The server (18.16 included) squashes the blocks of one INSERT back
// into one part (min_insert_block_size_rows) and a server-side rejection
// rejects the whole INSERT, as with one block. A failure on the client side
// after the first block was sent (a row the driver rejects, a broken
// connection, ctx ending) closes the connection, and the server may then
// keep the blocks it received: the caller's retry stores those rows again,
// and the duplicates collapse under FINAL, as they do after a timed-out
// insert.
//
// Rows of the events table that are all EventRef rows are filled column by
// column straight from their events (InsertEvents); EventRef rows among
// other rows are expanded to their EventRow rows. Other rows are appended
// value by value to the batch's columns (driver.Batch.Columns), string
// columns block by block as one []string, and a []string for an
// Array(String) column through pointers to its elements, which spares the
// driver boxing every element. The columns are byte-for-byte those of
// Batch.Append (TestBlockAppender, TestInsertEventsColumns).
func Insert(ctx context.Context, conn driver.Conn, table string, columns []string, rows [][]any) error {
	if evs, stored, ok := eventRefs(table, columns, rows); ok {
		return insertEvents(ctx, conn, evs, stored, 0)
	}
	rows, err := expandRefs(rows)
	if err != nil {
		return fmt.Errorf("insert into %s: %w", table, err)
	}
	return insertBlocks(ctx, conn, table, columns, rows, InsertBlockRows)
}

// InsertBlockRows is the most rows Insert sends in one data block.
const InsertBlockRows = 1024

// insertBlocks is Insert with blocks of blockRows rows (0: one block).
func insertBlocks(ctx context.Context, conn driver.Conn, table string, columns []string, rows [][]any, blockRows int) error {
	if len(rows) == 0 {
		return nil
	}
	b, err := conn.PrepareBatch(ctx, InsertQuery(table, columns))
	if err != nil {
		return fmt.Errorf("prepare insert into %s: %w", table, err)
	}
	defer func() { _ = b.Close() }()
	return sendRows(ctx, b, table, rows, blockRows)
}

// sendRows appends rows to the prepared batch b in blocks of blockRows rows
// (0: one block) and sends it.
func sendRows(ctx context.Context, b driver.Batch, table string, rows [][]any, blockRows int) error {
	app := newBlockAppender(b.Columns())
	return sendBlocks(ctx, b, table, len(rows), blockRows, func(start, end int) error {
		if i, err := app.append(rows[start:end]); err != nil {
			return &AppendError{Index: i, Err: err}
		}
		return nil
	})
}

// sendBlocks sends n rows through the prepared batch b in blocks of
// blockRows rows (0: one block), fill appending rows [start, end) to b's
// columns before each block goes out. An error of fill abandons the insert
// (an *AppendError's Index, relative to the block, is made relative to the
// n rows).
func sendBlocks(ctx context.Context, b driver.Batch, table string, n, blockRows int, fill func(start, end int) error) error {
	if blockRows <= 0 {
		blockRows = n
	}
	for start := 0; start < n; start += blockRows {
		if start > 0 {
			if err := flush(ctx, b); err != nil {
				return fmt.Errorf("insert %d rows into %s: send block: %w", n, table, err)
			}
		}
		if err := fill(start, min(start+blockRows, n)); err != nil {
			// Some columns may hold more values than others: the batch
			// cannot be sent. Abort closes the connection; the server may
			// keep the blocks sent before (see Insert).
			_ = b.Abort()
			var ae *AppendError
			if errors.As(err, &ae) {
				ae.Index += start
			}
			return fmt.Errorf("insert into %s: %w", table, err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("insert %d rows into %s: %w", n, table, err)
	}
	return nil
}

// flush sends the block b holds, unless ctx has ended: unlike Send, the
// driver's Flush does not stop on ctx (it is not interrupted while the
// server does not read), so the insert is abandoned between blocks.
func flush(ctx context.Context, b driver.Batch) error {
	if err := ctx.Err(); err != nil {
		_ = b.Abort()
		return err
	}
	return b.Flush()
}

// blockAppender appends blocks of rows to the columns of a batch, column by
// column.
type blockAppender struct {
	cols []chcol.Interface
	kind []colKind
	// strs is the scratch column of a String column's values.
	strs []string
	// ptrs holds pointers to the elements of a []string value for an
	// Array column: the driver boxes every string element it is given
	// into an interface, which allocates, but not a pointer.
	ptrs []*string
}

// colKind says how blockAppender appends a column.
type colKind uint8

const (
	kindOther  colKind = iota // value by value (AppendRow)
	kindString                // String: gathered into one []string (Append)
	kindArray                 // Array: value by value, a []string through pointers
)

func newBlockAppender(cols []chcol.Interface) *blockAppender {
	a := &blockAppender{cols: cols, kind: make([]colKind, len(cols))}
	for i, c := range cols {
		switch c.(type) {
		case *chcol.String:
			a.kind[i] = kindString
		case *chcol.Array:
			a.kind[i] = kindArray
		}
	}
	return a
}

// append appends rows to every column. On failure it returns the index in
// rows of a row that a column could not take (as Batch.Append, it fails on
// a row of the wrong length or a value a column cannot convert) and leaves
// the columns unequal.
func (a *blockAppender) append(rows [][]any) (int, error) {
	for i, r := range rows {
		if len(r) != len(a.cols) {
			return i, fmt.Errorf("row has %d values for %d columns", len(r), len(a.cols))
		}
	}
	for c, col := range a.cols {
		if a.kind[c] == kindString && a.gather(rows, c) {
			if _, err := col.Append(a.strs); err != nil {
				return 0, fmt.Errorf("column %s: %w", col.Name(), err)
			}
			continue
		}
		for i, r := range rows {
			v := r[c]
			if ss, ok := v.([]string); ok && a.kind[c] == kindArray && len(ss) > 0 {
				a.ptrs = a.ptrs[:0]
				for j := range ss {
					a.ptrs = append(a.ptrs, &ss[j])
				}
				v = a.ptrs
			}
			if err := col.AppendRow(v); err != nil {
				return i, fmt.Errorf("column %s: %w", col.Name(), err)
			}
		}
	}
	return 0, nil
}

// gather collects column c of rows into a.strs when every value is a string
// or a *string (nil: empty, as the driver stores it); it reports false for
// any other kind of value, which the driver then converts value by value.
func (a *blockAppender) gather(rows [][]any, c int) bool {
	a.strs = a.strs[:0]
	for _, r := range rows {
		switch v := r[c].(type) {
		case *string:
			if v == nil {
				a.strs = append(a.strs, "")
			} else {
				a.strs = append(a.strs, *v)
			}
		case string:
			a.strs = append(a.strs, v)
		default:
			return false
		}
	}
	return true
}

// badDataCodes are ClickHouse exception codes that mean the inserted data
// itself is wrong: retrying the same rows can never succeed.
var badDataCodes = map[int32]string{
	6:   "CANNOT_PARSE_TEXT",
	27:  "CANNOT_PARSE_INPUT_ASSERTION_FAILED",
	38:  "CANNOT_PARSE_DATE",
	41:  "CANNOT_PARSE_DATETIME",
	53:  "TYPE_MISMATCH",
	69:  "ARGUMENT_OUT_OF_BOUND",
	70:  "CANNOT_CONVERT_TYPE",
	72:  "CANNOT_PARSE_NUMBER",
	117: "INCORRECT_DATA",
	131: "TOO_LARGE_STRING_SIZE",
	190: "SIZES_OF_ARRAYS_DOESNT_MATCH",
	321: "VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE",
	349: "CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN",
	376: "CANNOT_PARSE_UUID",
}

// IsBadData reports whether err means the rows themselves were rejected
// (a client-side conversion error or a server exception about the data), as
// opposed to a transient or operational failure (network, server down,
// too many parts, missing table) after which the same rows must be retried.
func IsBadData(err error) bool {
	if err == nil {
		return false
	}
	var ae *AppendError
	if errors.As(err, &ae) {
		return true
	}
	var ex *clickhouse.Exception
	if errors.As(err, &ex) {
		_, bad := badDataCodes[ex.Code]
		return bad
	}
	return false
}
