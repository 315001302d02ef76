package correlate

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/c981/c981/services/shared/event"
)

// TestBatchBoundaries feeds the same events in batches of every size: the
// alerts (ids, times, contributing events) must not depend on where the
// batch boundaries fall, since they depend on how ingest and enrich happened
// to flush and so differ between two runs of the same input.
func TestBatchBoundaries(t *testing.T) {
	poll := func(id string, at time.Duration) event.Event { return flow(id, at, ews, plc101, "read", true) }
	other := func(id string, at time.Duration) event.Event { return flow(id, at, ews, hist, "", true) }
	write := func(id string, at time.Duration) event.Event { return flow(id, at, ews, plc101, "write", true) }
	tests := []struct {
		name string
		evs  []event.Event
		want int // alerts of the stateful rules
	}{
		// x1 moves the watermark past plc-101's deadline (15m) before the
		// on-time but delayed poll p2 arrives: plc-101 was silent when the
		// watermark passed, whether or not p2 is in the same batch.
		{"absence: watermark passes the deadline before a delayed heartbeat", []event.Event{
			poll("p1", 0), other("x1", 16*time.Minute+30*time.Second), poll("p2", 16*time.Minute), other("x2", 40*time.Minute),
		}, 2},
		{"absence: heartbeat before the watermark passes", []event.Event{
			poll("p1", 0), poll("p2", 14*time.Minute), other("x1", 16*time.Minute+30*time.Second), other("x2", 20*time.Minute),
		}, 0},
		{"threshold and sequence", []event.Event{
			write("w1", 0), write("w2", time.Second), flow("u1", 2*time.Second, ews, plc101, "program_upload", true),
			write("w3", 3*time.Second), other("s2", 4*time.Second), write("w4", 5*time.Second),
		}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ref []alertView
			for size := 1; size <= len(tt.evs); size++ {
				e := newStatefulEngine(t, EngineOptions{})
				var got []event.Alert
				for i := 0; i < len(tt.evs); i += size {
					as, _, err := e.ProcessAt(context.Background(), uint64(i+1), tt.evs[i:min(i+size, len(tt.evs))])
					if err != nil {
						t.Fatal(err)
					}
					got = append(got, as...)
				}
				var stateful []event.Alert
				for _, a := range got {
					if a.RuleID == "W-THR" || a.RuleID == "W-DIS" || a.RuleID == "W-SEQ" || a.RuleID == "W-ABS" {
						stateful = append(stateful, a)
					}
				}
				views := alertViews(stateful)
				if size == 1 {
					ref = views
					if len(ref) != tt.want {
						t.Fatalf("one event per batch: %d stateful alerts %+v, want %d", len(ref), ref, tt.want)
					}
					continue
				}
				if !slices.EqualFunc(views, ref, func(a, b alertView) bool {
					return a.Rule == b.Rule && a.At == b.At && a.Key == b.Key && slices.Equal(a.Events, b.Events)
				}) {
					t.Errorf("batches of %d: alerts\n%+v\nwant (one event per batch)\n%+v", size, views, ref)
				}
			}
		})
	}
}
