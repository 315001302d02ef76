package chstore

import (
	"slices"
	"testing"

	"github.com/c981/c981/services/shared/event"
)

// TestIncidentRowAlertCount checks the alert_count column: the incident's
// AlertCount (its AlertIDs are only the first and last ids), or the number
// of AlertIDs of a version written before AlertCount existed.
func TestIncidentRowAlertCount(t *testing.T) {
	col := slices.Index(IncidentColumns, "alert_count")
	if col < 0 {
		t.Fatal("no alert_count column")
	}
	ids := []string{"9e8d7c6b-5a49-8382-9170-6f5e4d3c2b1a", "aa8d7c6b-5a49-8382-9170-6f5e4d3c2b1b"}
	tests := []struct {
		name  string
		count int
		want  uint32
	}{
		{"counted", 100_000, 100_000},
		{"written before alert_count", 0, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := event.Incident{ID: "7c1d2e3f-4a5b-8c6d-8e7f-8a9b0c1d2e3f", Version: 1, Site: "s", Key: "k", Severity: "high", Status: "new",
				AlertIDs: ids, AlertCount: tt.count, RuleIDs: []string{"OT-001"}}
			row, err := IncidentRow(&in)
			if err != nil {
				t.Fatal(err)
			}
			if got := row[col]; got != tt.want {
				t.Errorf("alert_count = %v, want %d", got, tt.want)
			}
		})
	}
}
