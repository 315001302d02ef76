package chstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	chproto "github.com/ClickHouse/ch-go/proto"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// columnar transposes rows into one typed slice per column. It reports
// false when a row has the wrong number of values or a column mixes kinds
// or holds a kind it does not know.
func columnar(rows [][]any, ncols int) ([]any, bool) {
	for _, r := range rows {
		if len(r) != ncols {
			return nil, false
		}
	}
	cols := make([]any, ncols)
	for i := range cols {
		var ok bool
		switch rows[0][i].(type) {
		case string, *string:
			cols[i], ok = stringColumn(rows, i)
		case time.Time:
			cols[i], ok = column[time.Time](rows, i)
		case uint8:
			cols[i], ok = column[uint8](rows, i)
		case uint16:
			cols[i], ok = column[uint16](rows, i)
		case uint32:
			cols[i], ok = column[uint32](rows, i)
		case uint64:
			cols[i], ok = column[uint64](rows, i)
		case int8:
			cols[i], ok = column[int8](rows, i)
		case int64:
			cols[i], ok = column[int64](rows, i)
		case float32:
			cols[i], ok = column[float32](rows, i)
		case float64:
			cols[i], ok = column[float64](rows, i)
		case []string:
			cols[i], ok = column[[]string](rows, i)
		}
		if !ok {
			return nil, false
		}
	}
	return cols, true
}

// stringColumn collects a column of strings, given as string or as
// *string (the mappers point into the record to spare a copy).
func stringColumn(rows [][]any, i int) ([]string, bool) {
	out := make([]string, len(rows))
	for r, row := range rows {
		switch v := row[i].(type) {
		case string:
			out[r] = v
		case *string:
			if v == nil {
				return nil, false
			}
			out[r] = *v
		default:
			return nil, false
		}
	}
	return out, true
}

func column[T any](rows [][]any, i int) ([]T, bool) {
	out := make([]T, len(rows))
	for r, row := range rows {
		v, ok := row[i].(T)
		if !ok {
			return nil, false
		}
		out[r] = v
	}
	return out, true
}

// TestColumnar checks the transposition BenchmarkBatchAppend compares
// with row appends.
func TestColumnar(t *testing.T) {
	ts := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	ts2 := "b"
	tests := []struct {
		name string
		rows [][]any
		want []any // nil: not columnar
	}{
		{"typed columns",
			[][]any{{"a", ts, uint16(1), int8(-1), float32(1.5), []string{"x"}, uint8(1), uint32(7), uint64(9)},
				{"b", ts.Add(time.Second), uint16(2), int8(2), float32(2.5), []string(nil), uint8(0), uint32(8), uint64(10)}},
			[]any{[]string{"a", "b"}, []time.Time{ts, ts.Add(time.Second)}, []uint16{1, 2}, []int8{-1, 2},
				[]float32{1.5, 2.5}, [][]string{{"x"}, nil}, []uint8{1, 0}, []uint32{7, 8}, []uint64{9, 10}}},
		{"strings by value and by pointer", [][]any{{"a"}, {&ts2}}, []any{[]string{"a", "b"}}},
		{"nil string pointer", [][]any{{"a"}, {(*string)(nil)}}, nil},
		{"mixed kinds in a column", [][]any{{"a", uint16(1)}, {"b", 2}}, nil},
		{"unknown kind", [][]any{{struct{}{}, uint16(1)}}, nil},
		{"short row", [][]any{{"a", uint16(1)}, {"b"}}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := columnar(tc.rows, len(tc.rows[0]))
			if ok != (tc.want != nil) {
				t.Fatalf("columnar ok = %v; want %v", ok, tc.want != nil)
			}
			if ok && !reflect.DeepEqual(got, tc.want) {
				t.Errorf("columnar = %#v\nwant %#v", got, tc.want)
			}
		})
	}
}

// appenderRows is a mix of event rows for the block appender tests: the
// testdata events, generated ones, and variants with every other kind of
// value the driver takes for their columns (strings by value, nil
// pointers, nil and empty arrays).
func appenderRows(t testing.TB) [][]any {
	t.Helper()
	rows := mappedRows(t, loadRecords(t))[TableEvents]
	evs := benchEvents(2500)
	for i := range evs {
		row, err := EventRow(&evs[i])
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, row)
	}
	byPointer := `{"by":"pointer"}`
	site, fields, techniques := indexOf(EventColumns, "site"), indexOf(EventColumns, FieldsJSONColumn), indexOf(EventColumns, "techniques")
	for i, r := range rows {
		switch i % 4 {
		case 1:
			r[site] = "by-value"
			r[fields] = &byPointer
		case 2:
			r[site] = (*string)(nil)
			r[fields], r[techniques] = (*string)(nil), []string(nil)
		case 3:
			r[techniques] = []string{"T0855", "T0831"}
		}
	}
	return rows
}

// encodeColumns is the native encoding of every column of b.
func encodeColumns(b driver.Batch) [][]byte {
	var out [][]byte
	for _, c := range b.Columns() {
		var buf chproto.Buffer
		c.Encode(&buf)
		out = append(out, buf.Buf)
	}
	return out
}

// TestBlockAppender checks that the columns Insert fills block by block
// encode to the same bytes as the driver's Batch.Append of the same rows,
// whatever the block size.
func TestBlockAppender(t *testing.T) {
	conn := migrated(t)
	ctx := context.Background()
	rows := appenderRows(t)
	query := InsertQuery(TableEvents, EventColumns)
	want, err := conn.PrepareBatch(ctx, query)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if err := want.Append(r...); err != nil {
			t.Fatal(err)
		}
	}
	wantCols := encodeColumns(want)
	_ = want.Abort()
	for _, size := range []int{1, 7, InsertBlockRows, len(rows)} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			got, err := conn.PrepareBatch(ctx, query)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = got.Abort() }()
			app := newBlockAppender(got.Columns())
			for start := 0; start < len(rows); start += size {
				if i, err := app.append(rows[start:min(start+size, len(rows))]); err != nil {
					t.Fatalf("row %d: %v", start+i, err)
				}
			}
			if got.Rows() != len(rows) {
				t.Fatalf("batch has %d rows; want %d", got.Rows(), len(rows))
			}
			for i, c := range encodeColumns(got) {
				if !bytes.Equal(c, wantCols[i]) {
					t.Errorf("column %s: %d bytes differ from Batch.Append's %d", EventColumns[i], len(c), len(wantCols[i]))
				}
			}
		})
	}
}

// TestInsertBlocks inserts more rows than fit one block: they are stored
// as one part. A row the server rejects in a later block rejects the whole
// insert (nothing is stored); a row the driver rejects is named, and at
// most the blocks sent before its own are stored.
func TestInsertBlocks(t *testing.T) {
	ctx := context.Background()
	n := 2*InsertBlockRows + 7
	mk := func() [][]any {
		evs := benchEvents(n)
		rows := make([][]any, n)
		for i := range evs {
			row, err := EventRow(&evs[i])
			if err != nil {
				t.Fatal(err)
			}
			rows[i] = row
		}
		return rows
	}
	// With the Nested columns an older store wrote: a row whose arrays
	// differ in length is one the server rejects.
	cols, mk := withNested(mk)
	bad := InsertBlockRows + 3
	tests := []struct {
		name      string
		mutate    func(row []any) []any
		wantIndex int    // AppendError index, -1 for a server-side rejection
		maxStored uint64 // rows that may have been stored
	}{
		{"driver rejects a row of the second block", func(r []any) []any { r[0] = "not-a-uuid"; return r }, bad, InsertBlockRows},
		{"row of the wrong length", func(r []any) []any { return r[:3] }, bad, InsertBlockRows},
		{"server rejects a row of the second block", func(r []any) []any {
			r[indexOf(cols, "fields.value")] = []string{"only one", "two"}
			return r
		}, -1, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			conn := migrated(t)
			rows := mk()
			rows[bad] = tc.mutate(rows[bad])
			err := Insert(ctx, conn, TableEvents, cols, rows)
			if err == nil || !IsBadData(err) {
				t.Fatalf("err = %v; want bad data", err)
			}
			var ae *AppendError
			if isAppend := errors.As(err, &ae); isAppend != (tc.wantIndex >= 0) || isAppend && ae.Index != tc.wantIndex {
				t.Fatalf("err = %v; want AppendError index %d", err, tc.wantIndex)
			}
			if got := countRows(t, conn, "SELECT count() FROM events"); got > tc.maxStored {
				t.Errorf("%d rows stored by the rejected insert; want at most %d", got, tc.maxStored)
			}
		})
	}
	t.Run("stored as one part", func(t *testing.T) {
		conn := migrated(t)
		if err := Insert(ctx, conn, TableEvents, cols, mk()); err != nil {
			t.Fatal(err)
		}
		if got := countRows(t, conn, "SELECT count() FROM events"); got != uint64(n) {
			t.Errorf("%d rows stored; want %d", got, n)
		}
		parts := countRows(t, conn, "SELECT count() FROM system.parts WHERE database = currentDatabase() AND table = 'events' AND active")
		if parts != 1 {
			t.Errorf("%d parts; want the blocks of one insert squashed into 1", parts)
		}
	})
}

// TestFlushStopsOnContext checks that a block is not sent once ctx has
// ended (the driver's Flush would not stop on it).
func TestFlushStopsOnContext(t *testing.T) {
	conn := migrated(t)
	ctx, cancel := context.WithCancel(context.Background())
	b, err := conn.PrepareBatch(ctx, InsertQuery(TableEvents, EventColumns))
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := flush(ctx, b); !errors.Is(err, context.Canceled) {
		t.Fatalf("flush = %v; want %v", err, context.Canceled)
	}
	if !b.IsSent() {
		t.Error("the batch was not abandoned")
	}
}

// withNested returns the events columns with the Nested fields.key and
// fields.value columns a store of an earlier release wrote after them, and
// a mk whose rows (those of mk) hold one field in the arrays: the tests of
// a row the server rejects use them (arrays of different lengths), since
// every value of the current columns is checked by the driver first.
func withNested(mk func() [][]any) ([]string, func() [][]any) {
	cols := append(slices.Clone(EventColumns), "fields.key", "fields.value")
	return cols, func() [][]any {
		rows := mk()
		for i, r := range rows {
			rows[i] = append(r, []string{"k"}, []string{"v"})
		}
		return rows
	}
}
