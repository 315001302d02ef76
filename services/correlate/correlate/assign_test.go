package correlate

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/c981/c981/services/correlate/rule"
	"github.com/c981/c981/services/shared/event"
)

// TestAssignLargeIncidentIdempotent checks the alert id lookups of large
// incidents (a set past 32 ids): a redelivered batch whose alerts already
// belong to an incident of dozens of alerts changes nothing, and a batch
// mixing applied and new alerts adds only the new ones, once.
func TestAssignLargeIncidentIdempotent(t *testing.T) {
	set, err := rule.LoadDir(packDir)
	if err != nil {
		t.Fatal(err)
	}
	writes := func(from, to int) []event.Event {
		var evs []event.Event
		for i := from; i < to; i++ {
			evs = append(evs, flow("w"+strconv.Itoa(i), time.Duration(i)*time.Second, hist, plc101, "write", false))
		}
		return evs
	}
	// Each step: the batch, and whether it adds alerts (a new version).
	steps := []struct {
		name string
		evs  []event.Event
		adds bool
	}{
		{name: "first batch", evs: writes(0, 60), adds: true},
		{name: "redelivered batch", evs: writes(0, 60)},
		{name: "applied and new alerts", evs: writes(30, 90), adds: true},
		{name: "the same again", evs: writes(30, 90)},
	}
	eng := NewEngine(set, NewMemoryStore(), EngineOptions{})
	ctx := context.Background()
	var size int
	var version uint64
	for _, st := range steps {
		alerts, incs, err := eng.Process(ctx, st.evs)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(st.name, func(t *testing.T) {
			if len(incs) != 1 || len(alerts) < len(st.evs) {
				t.Fatalf("%d alerts, %d incidents; want at least one alert per event, in one incident", len(alerts), len(incs))
			}
			inc := incs[0]
			grew := len(inc.AlertIDs) > size && inc.Version == version+1
			same := len(inc.AlertIDs) == size && inc.Version == version
			if st.adds && !grew || !st.adds && !same {
				t.Errorf("incident has %d alerts at version %d after %d at version %d (adds: %v)", len(inc.AlertIDs), inc.Version, size, version, st.adds)
			}
			if st.adds && len(inc.AlertIDs) < 32 {
				t.Fatalf("incident of %d alerts: the set lookup is not exercised", len(inc.AlertIDs))
			}
			size, version = len(inc.AlertIDs), inc.Version
			seen := map[string]bool{}
			for _, id := range inc.AlertIDs {
				if seen[id] {
					t.Errorf("alert %s twice in the incident", id)
				}
				seen[id] = true
			}
			for _, a := range alerts {
				if a.IncidentID != inc.ID {
					t.Errorf("alert %s assigned to %q, want %s", a.ID, a.IncidentID, inc.ID)
				}
			}
		})
	}
}
