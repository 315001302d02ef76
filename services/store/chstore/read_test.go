package chstore

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/c981/c981/services/shared/event"
)

// TestReadEvents stores events (some twice, some of another site, some
// outside the range) and reads them back page by page: every stored field
// of every event in the range comes back once, in time order.
func TestReadEvents(t *testing.T) {
	conn := migrated(t)
	ctx := context.Background()
	evs := benchEvents(40)
	for i := range evs {
		e := &evs[i]
		e.Time = e.Time.Add(time.Duration(i%4) * time.Hour) // not in id order
		e.Techniques = []string{"T0855"}
		e.SignatureID, e.BytesOut, e.BytesIn, e.Session = "sig-1", 1200, 640, "s-1"
		e.Src.AssetName, e.Src.Criticality, e.Dst.AssetName = "HMI 1", "high", "PLC"
		e.Flow.NewPair, e.Flow.PurdueDelta, e.Flow.SafetyInvolved = i%2 == 0, -1, i%5 == 0
		if i%3 == 0 {
			e.Maint.Active, e.Maint.WindowID, e.Maint.WorkOrder = true, "mw-1", "WO-7"
			e.Maint.AllowedOps, e.Maint.AllowedSources, e.Maint.AllowedUsers = []string{"write", "firmware_update"}, []string{"demo-plant/ews-01"}, []string{"engineer"}
		}
		if i == 39 {
			e.Site = "other-plant"
		}
	}
	var rows [][]any
	for i := range evs {
		row, err := EventRow(&evs[i])
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, row)
	}
	for _, part := range [][][]any{rows, rows[5:15]} { // the second batch is a re-insert
		if err := Insert(ctx, conn, TableEvents, EventColumns, part); err != nil {
			t.Fatal(err)
		}
	}
	from, to := evs[2].Time, evs[0].Time.Add(4*time.Hour)
	want := map[string]bool{}
	for _, e := range evs {
		if e.Site == "demo-plant" && !e.Time.Before(from) && e.Time.Before(to) {
			want[e.ID] = true
		}
	}
	byID := map[string]int{}
	for i, e := range evs {
		byID[e.ID] = i
	}
	var pages int
	var prev time.Time
	n, err := ReadEvents(ctx, conn, EventRange{Site: "demo-plant", From: from, To: to, PageSize: 7}, func(page []event.Event) error {
		pages++
		for _, got := range page {
			if !want[got.ID] {
				t.Errorf("unexpected or repeated event %s at %s", got.ID, got.Time)
				continue
			}
			delete(want, got.ID)
			if got.Time.Before(prev) {
				t.Errorf("event %s at %s after %s: not in time order", got.ID, got.Time, prev)
			}
			prev = got.Time
			orig := evs[byID[got.ID]]
			orig.Time, orig.ReceivedAt = orig.Time.UTC().Truncate(time.Millisecond), orig.ReceivedAt.UTC().Truncate(time.Millisecond)
			if !reflect.DeepEqual(got, orig) {
				t.Errorf("event %s read back as\n%+v\nwant\n%+v", got.ID, got, orig)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(want) != 0 {
		t.Errorf("%d events not read", len(want))
	}
	if n == 0 || pages != (n+6)/7 {
		t.Errorf("read %d events in %d pages of 7", n, pages)
	}
	stop := errors.New("stop")
	if _, err := ReadEvents(ctx, conn, EventRange{From: from, To: to, PageSize: 3}, func([]event.Event) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("callback error: got %v", err)
	}
	if _, err := ReadEvents(ctx, conn, EventRange{From: to, To: from}, nil); err == nil {
		t.Error("reversed range accepted")
	}
}
