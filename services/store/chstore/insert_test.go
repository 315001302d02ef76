package chstore

import (
	"reflect"
	"testing"
	"time"
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
