package event_test

import (
	"strings"
	"testing"

	"github.com/c981/c981/services/shared/event"
)

func TestCheckTransition(t *testing.T) {
	tests := []struct {
		from, to string
		wantErr  string // substring; "" means allowed
	}{
		{event.StatusNew, event.StatusAcknowledged, ""},
		{event.StatusNew, event.StatusContained, ""}, // several steps forward at once
		{event.StatusAcknowledged, event.StatusInvestigating, ""},
		{event.StatusInvestigating, event.StatusContained, ""},
		{event.StatusContained, event.StatusResolved, ""},
		{event.StatusResolved, event.StatusClosed, ""},
		{event.StatusNew, event.StatusClosed, ""},
		{event.StatusContained, event.StatusInvestigating, ""}, // reopen
		{event.StatusResolved, event.StatusInvestigating, ""},
		{event.StatusClosed, event.StatusInvestigating, ""},
		{event.StatusNew, event.StatusNew, "already new"},
		{event.StatusClosed, event.StatusClosed, "already closed"},
		{event.StatusAcknowledged, event.StatusNew, "cannot move from acknowledged back to new"},
		{event.StatusInvestigating, event.StatusAcknowledged, "back to acknowledged"},
		{event.StatusClosed, event.StatusResolved, "back to resolved"},
		{event.StatusClosed, event.StatusAcknowledged, "reopen to investigating"},
		{event.StatusNew, "done", `unknown status "done"`},
		{event.StatusNew, "", `unknown status ""`},
		{"bogus", event.StatusAcknowledged, `unknown current status "bogus"`},
	}
	for _, tc := range tests {
		t.Run(tc.from+"->"+tc.to, func(t *testing.T) {
			err := event.CheckTransition(tc.from, tc.to)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("CheckTransition(%q, %q) = %v, want allowed", tc.from, tc.to, err)
			case tc.wantErr != "" && err == nil:
				t.Errorf("CheckTransition(%q, %q) allowed, want error containing %q", tc.from, tc.to, tc.wantErr)
			case tc.wantErr != "" && !strings.Contains(err.Error(), tc.wantErr):
				t.Errorf("CheckTransition(%q, %q) = %v, want error containing %q", tc.from, tc.to, err, tc.wantErr)
			}
		})
	}
}

func TestStatusRankAndNewTriage(t *testing.T) {
	for i, s := range event.Statuses {
		if got := event.StatusRank(s); got != i {
			t.Errorf("StatusRank(%q) = %d, want %d", s, got, i)
		}
	}
	if got := event.StatusRank("open"); got != -1 {
		t.Errorf("StatusRank(open) = %d, want -1", got)
	}
	tr := event.NewTriage("id-1", "plant")
	if tr.Version != 0 || tr.Status != event.StatusNew || tr.IncidentID != "id-1" || tr.Site != "plant" {
		t.Errorf("NewTriage = %+v, want version 0 status new", tr)
	}
}
