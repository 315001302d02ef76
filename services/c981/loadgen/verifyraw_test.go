package loadgen

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/shared/bustest"
	"github.com/c981/c981/services/shared/event"
)

// TestVerifyRaw publishes batches of loadgen records to a real C981_RAW
// and checks what VerifyRaw reports: complete, missing, duplicated, out of
// range, and other runs, which do not count against the run.
func TestVerifyRaw(t *testing.T) {
	sent := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		batches [][]uint64 // sequence numbers of run "r" per message; 0 is a record of run "other"
		want    RawReport
	}{
		{"complete", [][]uint64{{1, 2, 3}, {4, 5}}, RawReport{Events: 5}},
		{"complete with other runs", [][]uint64{{0, 1, 2}, {0}, {3, 4, 5, 0}}, RawReport{Events: 5, Other: 3}},
		{"missing", [][]uint64{{1, 2}, {5}}, RawReport{Events: 3, Missing: 2}},
		{"a batch published twice", [][]uint64{{1, 2, 3}, {4, 5}, {4, 5}}, RawReport{Events: 7, Duplicated: 2}},
		{"out of range", [][]uint64{{1, 2, 3, 4, 5, 6}}, RawReport{Events: 6, Outside: 1}},
		{"a poison message on the way", [][]uint64{{1, 2}, nil, {3, 4, 5}}, RawReport{Events: 5, Undecodable: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := bustest.Start(t)
			ctx := context.Background()
			for i, b := range tt.batches {
				if b == nil {
					if _, err := env.JS.Publish(ctx, bus.RawSubject("load-plant", "poison"), []byte("\xc1 not a batch")); err != nil {
						t.Fatal(err)
					}
					continue
				}
				var evs []event.Event
				for _, seq := range b {
					run := "r"
					if seq == 0 {
						run, seq = "other", uint64(100+i)
					}
					evs = append(evs, event.Event{ID: fmt.Sprintf("%s-%d-%d", run, i, seq), Raw: string(Line(nil, FormatMix, run, seq, sent))})
				}
				if err := bus.PublishRecords(ctx, env.JS, bus.RawSubject("load-plant", "tcp"), fmt.Sprintf("msg-%d", i), evs); err != nil {
					t.Fatal(err)
				}
			}
			rep, err := VerifyRaw(ctx, env.JS, "r", 1, 5, 2*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			want := tt.want
			want.Run, want.First, want.Last = "r", 1, 5
			got := rep
			got.FirstStored, got.LastStored = time.Time{}, time.Time{}
			if got != want {
				t.Errorf("report\n%+v\nwant\n%+v", got, want)
			}
			if rep.OK() != (want.Missing == 0 && want.Duplicated == 0 && want.Outside == 0) {
				t.Errorf("OK() = %v", rep.OK())
			}
			if rep.LastStored.Before(rep.FirstStored) || rep.FirstStored.IsZero() {
				t.Errorf("stored %v..%v", rep.FirstStored, rep.LastStored)
			}
		})
	}
}
