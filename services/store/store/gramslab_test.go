package store

import (
	"reflect"
	"testing"
	"time"

	"github.com/c981/c981/services/store/chstore"
)

// TestGramSlabRows checks that the rows textIndex builds from a gramSlab
// hold chstore.GramRow's values, across slab allocations, and do not
// share their values with one another.
func TestGramSlabRows(t *testing.T) {
	tests := []struct {
		name string
		site string
		hour int64 // Unix seconds, a whole hour
		keys []uint32
		n    uint64
	}{
		{"one row", "plant-a", 1_795_000_000 - 1_795_000_000%3600, []uint32{0x61626364}, 1},
		{"head keys", "plant-b", 0, []uint32{chstore.GramHead | 0x61000000, chstore.GramHead | 0x7a7a7a7a}, 300},
		{"more rows than a slab", "", 3600 * 500_000, make([]uint32, 2*gramSlabRows+3), 1 << 40},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var slab gramSlab
			site, hour := gramGroupValues(tt.site, tt.hour)
			rows := make([][]any, len(tt.keys))
			for i, k := range tt.keys {
				rows[i] = slab.row(k, site, hour, tt.n+uint64(i))
			}
			for i, k := range tt.keys {
				want := chstore.GramRow(k, tt.site, time.Unix(tt.hour, 0), tt.n+uint64(i))
				if !reflect.DeepEqual(rows[i], want) {
					t.Fatalf("row %d = %#v; want GramRow's %#v", i, rows[i], want)
				}
				if len(rows[i]) != len(chstore.GramColumns) || cap(rows[i]) != len(rows[i]) {
					t.Fatalf("row %d has len %d cap %d; want %d", i, len(rows[i]), cap(rows[i]), len(chstore.GramColumns))
				}
			}
			if len(rows) > 1 {
				rows[0] = append(rows[0], "x")
				rows[0][3] = uint64(0)
				if !reflect.DeepEqual(rows[1], chstore.GramRow(tt.keys[1], tt.site, time.Unix(tt.hour, 0), tt.n+1)) {
					t.Fatal("rows share values")
				}
			}
		})
	}
}
