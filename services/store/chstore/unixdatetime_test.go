package chstore

import (
	"math"
	"testing"
	"time"
)

// TestUnixDateTime checks that the block builder's unixDateTime gives the
// Unix seconds and milliseconds of DateTime (what the driver stores for
// EventRow's time.Time), at the bounds of the DateTime range and beyond,
// for the zero time, other locations and times with a monotonic reading.
func TestUnixDateTime(t *testing.T) {
	berlin := time.FixedZone("CET", 3600)
	tests := []struct {
		name string
		t    time.Time
	}{
		{"zero time", time.Time{}},
		{"before 1970", time.Date(1969, 12, 31, 23, 59, 59, 999_000_000, time.UTC)},
		{"epoch", time.Unix(0, 0)},
		{"epoch minus 1ns", time.Unix(0, -1)},
		{"millisecond edge", time.Date(2026, 11, 26, 10, 0, 0, 999_999_999, time.UTC)},
		{"half a millisecond", time.Date(2026, 11, 26, 10, 0, 0, 500_000, time.UTC)},
		{"other location", time.Date(2026, 11, 26, 11, 0, 0, 123_456_789, berlin)},
		{"monotonic", time.Now()},
		{"last DateTime", time.Unix(math.MaxUint32, 999_000_000)},
		{"past DateTime", time.Unix(math.MaxUint32+1, 0)},
		{"far future", time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, wantMS := DateTime(tt.t)
			sec, ms := unixDateTime(tt.t)
			if sec != want.Unix() || ms != wantMS {
				t.Errorf("unixDateTime = %d, %d; want %d, %d (DateTime %v)", sec, ms, want.Unix(), wantMS, want)
			}
			if seconds(tt.t) != sec || millis(tt.t) != ms {
				t.Errorf("seconds, millis = %d, %d; want %d, %d", seconds(tt.t), millis(tt.t), sec, ms)
			}
		})
	}
}
