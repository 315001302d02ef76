package store

import "testing"

// TestGrowRows checks the capacity growRows leaves for a batch's rows:
// room for the new rows, doubled while below the batch's bound, never
// more than needed past it, and untouched when there is room.
func TestGrowRows(t *testing.T) {
	tests := []struct {
		name                   string
		len, cap, n, batchRows int
		wantCap                int
		keepsBacking           bool
	}{
		{name: "first message", n: 1000, batchRows: 50_000, wantCap: 1000},
		{name: "doubles", len: 1000, cap: 1000, n: 1000, batchRows: 50_000, wantCap: 2000},
		{name: "doubling capped by the bound", len: 32_000, cap: 32_000, n: 1000, batchRows: 50_000, wantCap: 50_000},
		{name: "past the bound only what is needed", len: 50_000, cap: 50_000, n: 1000, batchRows: 50_000, wantCap: 51_000},
		{name: "a message larger than doubling", len: 10, cap: 10, n: 1000, batchRows: 50_000, wantCap: 1010},
		{name: "room left", len: 1000, cap: 4000, n: 1000, batchRows: 50_000, wantCap: 4000, keepsBacking: true},
		{name: "no rows", len: 5, cap: 5, n: 0, batchRows: 50_000, wantCap: 5, keepsBacking: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &batch{rows: make([]row, tt.len, tt.cap)}
			if tt.len > 0 {
				b.rows[0].idx = 7
			}
			before := b.rows
			growRows(b, tt.n, tt.batchRows)
			if len(b.rows) != tt.len {
				t.Fatalf("len %d; want %d", len(b.rows), tt.len)
			}
			if tt.len > 0 && b.rows[0].idx != 7 {
				t.Fatal("rows not kept")
			}
			got := cap(b.rows)
			if got < tt.len+tt.n {
				t.Fatalf("cap %d; want at least %d", got, tt.len+tt.n)
			}
			if got != tt.wantCap {
				t.Errorf("cap %d; want %d", got, tt.wantCap)
			}
			if tt.keepsBacking && cap(before) > 0 && &b.rows[:1][0] != &before[:1][0] {
				t.Error("rows reallocated with room left")
			}
		})
	}
}
