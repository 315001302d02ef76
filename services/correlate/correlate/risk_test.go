package correlate

import (
	"context"
	"testing"
	"time"

	"github.com/c981/c981/services/shared/event"
)

func TestRisk(t *testing.T) {
	office := event.Endpoint{IP: "10.10.5.21", Known: true, Role: "workstation", Purdue: 4, SLT: 1, Criticality: "low"}
	unknown := event.Endpoint{IP: "203.0.113.9", Role: "unknown", Purdue: -1}
	tests := []struct {
		name     string
		severity string
		target   event.Endpoint
		want     int
	}{
		{"info on an office workstation", event.SevInfo, office, 10},
		{"medium on an unknown host", event.SevMedium, unknown, 45},
		{"high on a jump host (DMZ, SL-T 2, high)", event.SevHigh, event.Endpoint{Known: true, Purdue: 3.5, SLT: 2, Criticality: "high"}, 65 + 6 + 2 + 1},
		{"high on a critical PLC (SL-T 3, level 1)", event.SevHigh, plc101, 65 + 10 + 4 + 5},
		{"critical on a safety system is capped", event.SevCritical, sis01, 100},
		{"unknown severity counts as info", "urgent", office, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Risk(tt.severity, tt.target); got != tt.want {
				t.Errorf("Risk(%s, %+v) = %d, want %d", tt.severity, tt.target, got, tt.want)
			}
		})
	}
}

// TestIncidentRiskAndSource: an incident's risk follows its most critical
// target and highest severity; Source is the other side of that alert.
func TestIncidentRiskAndSource(t *testing.T) {
	e, _ := newTestEngine(t, NewMemoryStore())
	_, incs, err := e.Process(context.Background(), []event.Event{flow("e1", 0, hist, plc101, "write", false)})
	if err != nil || len(incs) != 1 {
		t.Fatalf("incidents = %d, %v", len(incs), err)
	}
	if inc := incs[0]; inc.Target.AssetID != plc101.AssetID || inc.Source.AssetID != hist.AssetID || inc.Risk != Risk(event.SevHigh, plc101) {
		t.Errorf("incident target %s source %s risk %d; want plc-101, hist-01, %d", inc.Target.AssetID, inc.Source.AssetID, inc.Risk, Risk(event.SevHigh, plc101))
	}
	// A later SIS write from the PLC joins a different key; a write to the
	// PLC from the SIS's controller keeps the key and raises nothing new.
	_, incs, err = e.Process(context.Background(), []event.Event{flow("e2", time.Minute, plc101, sis01, "write", false)})
	if err != nil || len(incs) != 1 {
		t.Fatalf("incidents = %d, %v", len(incs), err)
	}
	if inc := incs[0]; inc.Target.AssetID != sis01.AssetID || inc.Source.AssetID != plc101.AssetID || inc.Risk != 100 {
		t.Errorf("SIS incident target %s source %s risk %d; want sis-01, plc-101, 100", inc.Target.AssetID, inc.Source.AssetID, inc.Risk)
	}
}
