package chstore

import (
	"bytes"
	"strconv"
	"testing"
	"time"

	chproto "github.com/ClickHouse/ch-go/proto"
	chcol "github.com/ClickHouse/clickhouse-go/v2/lib/column"
)

// TestAppendStrings checks that eventBlock.appendStrings encodes an
// Array(String) column as the driver does for the same []string values
// (lengths with a boxed slice of their own, reused across values, and
// longer ones), and that once the column memory has grown it appends an
// array without allocating.
func TestAppendStrings(t *testing.T) {
	long := make([]string, ptrBoxLens+3)
	for i := range long {
		long[i] = "v" + strconv.Itoa(i)
	}
	tests := []struct {
		name   string
		values [][]string
	}{
		{"empty", [][]string{{}, nil}},
		{"one length reused", [][]string{{"a", "b"}, {"c", "d"}, {"", "e"}}},
		{"mixed lengths", [][]string{{"a"}, {}, {"b", "c", "d"}, {"e"}, {"f", "g", "h"}}},
		{"longest boxed", [][]string{long[:ptrBoxLens-1], long[1:ptrBoxLens]}},
		{"longer than boxed", [][]string{long, {"x"}, long}},
	}
	sc := &chcol.ServerContext{Revision: 54413, VersionMajor: 18, VersionMinor: 16, Timezone: time.UTC}
	newCol := func(t *testing.T) chcol.Interface {
		c, err := chcol.Type("Array(String)").Column("a", sc)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var blk eventBlock
			got, want := newCol(t), newCol(t)
			for _, v := range tt.values {
				if err := blk.appendStrings(got, v); err != nil {
					t.Fatal(err)
				}
				if v == nil {
					v = []string{}
				}
				if err := want.AppendRow(v); err != nil {
					t.Fatal(err)
				}
			}
			var gb, wb chproto.Buffer
			got.Encode(&gb)
			want.Encode(&wb)
			if !bytes.Equal(gb.Buf, wb.Buf) {
				t.Fatalf("encoded %x; want %x", gb.Buf, wb.Buf)
			}
			allocs := testing.AllocsPerRun(20, func() {
				got.Reset()
				for _, v := range tt.values {
					if len(v) < ptrBoxLens {
						_ = blk.appendStrings(got, v)
					}
				}
			})
			if allocs != 0 {
				t.Errorf("%v allocations per block of arrays; want 0", allocs)
			}
		})
	}
}
