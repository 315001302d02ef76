package correlate

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/c981/c981/services/correlate/rule"
	"github.com/c981/c981/services/shared/event"
)

// TestAssignLargeIncident follows an incident past KeptAlertIDs alerts: it
// keeps the ids of its first and last KeptAlertIDs/2 alerts and counts
// them all; a redelivered position (the key's journal) and the same events
// under a new position whose alert ids the incident keeps change nothing.
func TestAssignLargeIncident(t *testing.T) {
	set, err := rule.LoadDir(packDir)
	if err != nil {
		t.Fatal(err)
	}
	// Every write raises OT-006 and OT-007: two alerts per event.
	writes := func(from, to int) []event.Event {
		var evs []event.Event
		for i := from; i < to; i++ {
			evs = append(evs, flow("w"+strconv.Itoa(i), time.Duration(i)*time.Second, hist, plc101, "write", false))
		}
		return evs
	}
	// late are new events timed among the incident's first ones.
	late := func(from, to int) []event.Event {
		var evs []event.Event
		for i := from; i < to; i++ {
			evs = append(evs, flow("late"+strconv.Itoa(i), time.Duration(i)*time.Second+time.Millisecond, hist, plc101, "write", false))
		}
		return evs
	}
	// burst are n new events of one time, after all the others.
	burst := func(n int) []event.Event {
		var evs []event.Event
		for i := range n {
			evs = append(evs, flow("burst"+strconv.Itoa(i), time.Hour/2, hist, plc101, "write", false))
		}
		return evs
	}
	// Each step: the position, the batch, and whether its alerts are new
	// (a new version). The model is the list of alert ids applied, in
	// the order they joined.
	steps := []struct {
		name string
		seq  uint64
		evs  []event.Event
		adds bool
	}{
		{name: "first batch", seq: 1, evs: writes(0, 60), adds: true},
		{name: "redelivered position", seq: 1, evs: writes(0, 60)},
		{name: "next batch", seq: 2, evs: writes(60, 90), adds: true},
		{name: "redelivered after a new engine", seq: 2, evs: writes(60, 90)},
		{name: "last events again under a new position", seq: 3, evs: writes(80, 90)},
		{name: "first events again under a new position", seq: 4, evs: writes(0, 10)},
		{name: "new events", seq: 5, evs: writes(90, 95), adds: true},
		{name: "the same new events twice in one batch", seq: 6, evs: append(writes(95, 100), writes(95, 100)...), adds: true},
		{name: "new events older than the incident's last alert", seq: 7, evs: late(0, 5), adds: true},
		{name: "late events again under a new position", seq: 8, evs: late(3, 5)},
		{name: "a burst of one time twice in one batch", seq: 9, evs: append(burst(12), burst(12)...), adds: true},
	}
	store := NewMemoryStore()
	ctx := context.Background()
	eng := NewEngine(set, store, EngineOptions{})
	var applied []string
	var version uint64
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if st.name == "redelivered after a new engine" {
				eng = NewEngine(set, store, EngineOptions{})
			}
			alerts, incs, err := eng.ProcessAt(ctx, st.seq, st.evs)
			if err != nil {
				t.Fatal(err)
			}
			if len(incs) != 1 || len(alerts) < 2*len(st.evs) {
				t.Fatalf("%d alerts, %d incidents; want at least %d alerts in one incident", len(alerts), len(incs), 2*len(st.evs))
			}
			if st.adds {
				for _, a := range alerts {
					if !slices.Contains(applied, a.ID) {
						applied = append(applied, a.ID)
					}
				}
				version++
			}
			want := applied
			if len(want) > KeptAlertIDs {
				want = append(slices.Clone(applied[:KeptAlertIDs/2]), applied[len(applied)-KeptAlertIDs/2:]...)
			}
			inc := incs[0]
			if inc.AlertCount != len(applied) || inc.Version != version {
				t.Errorf("incident has %d alerts at version %d, want %d at version %d", inc.AlertCount, inc.Version, len(applied), version)
			}
			if len(applied) <= KeptAlertIDs {
				t.Fatalf("%d alerts: the bound of kept ids is not exercised", len(applied))
			}
			if !slices.Equal(inc.AlertIDs, want) {
				t.Errorf("kept alert ids:\n got  %v\n want %v", inc.AlertIDs, want)
			}
			for _, a := range alerts {
				if a.IncidentID != inc.ID {
					t.Errorf("alert %s assigned to %q, want %s", a.ID, a.IncidentID, inc.ID)
				}
			}
		})
	}
}

// TestTrimAlertIDs checks the bounded alert id list and the upgrade of an
// incident stored with every alert id.
func TestTrimAlertIDs(t *testing.T) {
	ids := func(from, to int) []string {
		var out []string
		for i := from; i < to; i++ {
			out = append(out, strconv.Itoa(i))
		}
		return out
	}
	tests := []struct {
		name      string
		adds      int
		wantIDs   []string
		wantCount int
	}{
		{"one", 1, ids(0, 1), 1},
		{"at the bound", KeptAlertIDs, ids(0, KeptAlertIDs), KeptAlertIDs},
		{"one past the bound", KeptAlertIDs + 1, append(ids(0, 50), ids(51, 101)...), KeptAlertIDs + 1},
		{"100,000", 100_000, append(ids(0, 50), ids(99_950, 100_000)...), 100_000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var kept []string
			for i := range tt.adds {
				kept = append(kept, strconv.Itoa(i))
				if i%37 == 0 { // the engine trims once per batch
					kept = trimAlertIDs(kept)
				}
			}
			kept = trimAlertIDs(kept)
			if !slices.Equal(kept, tt.wantIDs) {
				t.Errorf("kept %v, want %v", kept, tt.wantIDs)
			}
			legacy := event.Incident{AlertIDs: ids(0, tt.adds)}
			upgradeIncident(&legacy)
			if legacy.AlertCount != tt.wantCount || !slices.Equal(legacy.AlertIDs, tt.wantIDs) {
				t.Errorf("upgraded: %d alerts, ids %v; want %d, %v", legacy.AlertCount, legacy.AlertIDs, tt.wantCount, tt.wantIDs)
			}
		})
	}
}

// TestIncidentStaysBounded grows one incident to 6,000 alerts through
// positioned batches and checks what must not grow with it: the kept alert
// ids, the published version's size, the store value's size (journal
// included) and the allocations of adding a batch of alerts.
func TestIncidentStaysBounded(t *testing.T) {
	set, err := rule.LoadDir(packDir)
	if err != nil {
		t.Fatal(err)
	}
	store := NewMemoryStore()
	eng := NewEngine(set, NewCachedStore(store, 0, nil), EngineOptions{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ctx := context.Background()
	n, seq := 0, uint64(0)
	batch := func(k int) []event.Event {
		evs := make([]event.Event, 0, k)
		for range k {
			evs = append(evs, flow("b"+strconv.Itoa(n), time.Duration(n)*time.Millisecond, hist, plc101, "write", false))
			n++
		}
		return evs
	}
	var inc event.Incident
	add := func(k int) {
		seq++
		_, incs, err := eng.ProcessAt(ctx, seq, batch(k))
		if err != nil || len(incs) != 1 {
			t.Fatalf("batch %d: %d incidents, %v", seq, len(incs), err)
		}
		inc = incs[0]
	}
	measure := func() (allocs float64, version, value int) {
		evs := make([][]event.Event, 0, 8)
		for range 8 {
			evs = append(evs, batch(25))
		}
		i := 0
		allocs = testing.AllocsPerRun(len(evs)-1, func() {
			seq++
			if _, _, err := eng.ProcessAt(ctx, seq, evs[i]); err != nil {
				t.Fatal(err)
			}
			i++
		})
		cur, _, err := store.Current(ctx, "demo-plant", plc101.AssetID)
		if err != nil {
			t.Fatal(err)
		}
		data, err := encodeEntry(&cur)
		if err != nil {
			t.Fatal(err)
		}
		return allocs, cur.Incident.Msgsize(), len(data)
	}
	add(100) // 200 alerts, past KeptAlertIDs
	smallAllocs, smallVersion, smallValue := measure()
	for inc.AlertCount < 6000 {
		add(500)
	}
	bigAllocs, bigVersion, bigValue := measure()
	if len(inc.AlertIDs) != KeptAlertIDs {
		t.Errorf("%d alert ids kept at %d alerts, want %d", len(inc.AlertIDs), inc.AlertCount, KeptAlertIDs)
	}
	// The version and the value differ only by the digits of counters and
	// the journal's positions: a few bytes, never per alert.
	if bigVersion > smallVersion+16 || bigValue > smallValue+256 {
		t.Errorf("at %d alerts: version %d bytes, store value %d bytes; at about 200: %d and %d", inc.AlertCount, bigVersion, bigValue, smallVersion, smallValue)
	}
	if bigValue > 16<<10 {
		t.Errorf("store value of %d bytes", bigValue)
	}
	if bigAllocs > smallAllocs*1.1+5 {
		t.Errorf("a batch allocates %.0f times at %d alerts, %.0f at about 200", bigAllocs, inc.AlertCount, smallAllocs)
	}
}
