package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/c981/c981/services/respond/audit"
	"github.com/c981/c981/services/store/chstore"
)

// TestVerifyStored checks how rows read from ClickHouse are collapsed and
// verified, without a server.
func TestVerifyStored(t *testing.T) {
	var chain []audit.Record
	var prev *audit.Record
	for i := range 4 {
		r, err := audit.Seal(audit.Record{ID: string(rune('a' + i)), Site: "s", Time: time.Date(2026, 1, 1, 0, 0, i, 5, time.UTC),
			Actor: audit.ActorRespond, Kind: audit.KindAction, What: "w", Result: "done", InputsHash: strings.Repeat("1", 64)}, prev)
		if err != nil {
			t.Fatal(err)
		}
		chain = append(chain, r)
		prev = &chain[len(chain)-1]
	}
	rows := func(rs ...audit.Record) []chstore.AuditRecord {
		out := make([]chstore.AuditRecord, len(rs))
		for i, r := range rs {
			out[i] = chstore.AuditRecord(r)
		}
		return out
	}
	modified := chain[1]
	modified.Result = "skipped"
	rehashed, err := audit.Seal(modified, &chain[0])
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		rows      []chstore.AuditRecord
		wantIndex int // -1: intact
		wantSeq   uint64
		reason    string
	}{
		{"intact", rows(chain...), -1, 0, ""},
		{"empty", nil, -1, 0, ""},
		{"unmerged redelivery", rows(chain[0], chain[1], chain[1], chain[2], chain[2], chain[3]), -1, 0, ""},
		{"modified copy after the original", rows(chain[0], chain[1], modified, chain[2], chain[3]), 2, 2, "stored twice with different content"},
		{"modified copy before the original", rows(chain[0], modified, chain[1], chain[2], chain[3]), 1, 2, "was modified"},
		{"re-sealed copy", rows(chain[0], chain[1], rehashed, chain[2], chain[3]), 2, 2, "stored twice"},
		{"re-sealed replacement", rows(chain[0], rehashed, chain[2], chain[3]), 2, 3, "prev_hash"},
		{"deleted record", rows(chain[0], chain[2], chain[3]), 1, 3, "sequence 3 where 2 was expected"},
		{"earlier break wins over a later conflict", rows(chain[0], modified, chain[2], chain[2], chain[3], chain[3]), 1, 2, "was modified"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, brk, err := verifyStored(tt.rows)
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantIndex < 0 {
				if brk != nil {
					t.Fatalf("broken: %v", brk)
				}
				if len(recs) != len(chain) && len(tt.rows) != 0 {
					t.Fatalf("%d records; want %d", len(recs), len(chain))
				}
				return
			}
			if brk == nil || brk.Index != tt.wantIndex || brk.Seq != tt.wantSeq || !strings.Contains(brk.Reason, tt.reason) {
				t.Fatalf("break = %+v; want index %d seq %d reason containing %q", brk, tt.wantIndex, tt.wantSeq, tt.reason)
			}
			if brk.Index >= len(recs) || recs[brk.Index].Seq != brk.Seq {
				t.Fatalf("break index %d does not point at seq %d in %d records", brk.Index, brk.Seq, len(recs))
			}
		})
	}
}
