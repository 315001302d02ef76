package correlate

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/c981/c981/services/shared/event"
)

// TestAbsenceExpectedOutlivesBatch checks that an absence key keeps its
// own copy of the last expected event of a batch (without the raw text):
// the caller reuses its event buffer for the next batch (the service
// decodes every message into the same slice), and the alert raised when
// the key goes silent later still describes the heartbeat it saw.
func TestAbsenceExpectedOutlivesBatch(t *testing.T) {
	set := loadRules(t, `rules:
  - id: W-ABS
    title: Silent
    severity: medium
    kind: absence
    condition: dst.role == "plc"
    group_by: [dst.asset_id]
    interval: 15m
`)
	eng := NewEngine(set, NewMemoryStore(), EngineOptions{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ctx := context.Background()
	buf := []event.Event{flow("hb1", 0, ews, plc101, "read", true), flow("hb2", time.Minute, ews, plc101, "read", true)}
	buf[1].Raw = "raw heartbeat text"
	buf[1].Host = "plc-poller"
	if as, _, err := eng.ProcessAt(ctx, 1, buf); err != nil || len(as) != 0 {
		t.Fatalf("heartbeats: %d alerts, %v", len(as), err)
	}
	// The next message is decoded into the same buffer: an unrelated
	// event (another destination) 20 minutes later passes the deadline.
	other := hist
	other.Role = "historian"
	clear(buf) // as the service's decoder does
	buf[0] = flow("x1", 20*time.Minute, ews, other, "read", true)
	buf[0].Host = "someone-else"
	buf = buf[:1]
	alerts, _, err := eng.ProcessAt(ctx, 2, buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(alerts) != 1 {
		t.Fatalf("%d alerts, want the absence alert of plc-101", len(alerts))
	}
	a := alerts[0]
	if a.Dst.AssetID != plc101.AssetID || len(a.EventIDs) != 1 || a.EventIDs[0] != "hb2" {
		t.Errorf("absence alert describes %s (events %v), want plc-101 after hb2", a.Dst.AssetID, a.EventIDs)
	}
	st := eng.win.rules["W-ABS"]
	for _, ks := range st.keys {
		if ks.Expected == nil || ks.Expected.ID != "hb2" || ks.Expected.Host != "plc-poller" || ks.Expected.Raw != "" || ks.borrowed() {
			t.Errorf("key state expected event = %+v (borrowed %v), want its own copy of hb2 without raw text", ks.Expected, ks.borrowed())
		}
	}
}
