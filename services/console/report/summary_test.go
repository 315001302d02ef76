package report_test

import (
	"bytes"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/c981/c981/services/console/report"
	"github.com/c981/c981/services/shared/event"
)

type summaryInput struct {
	Site     string        `json:"site"`
	From     time.Time     `json:"from"`
	To       time.Time     `json:"to"`
	Now      time.Time     `json:"now"`
	Timezone string        `json:"timezone"`
	Items    []report.Item `json:"items"`
}

func loadSummaryInput(t *testing.T) summaryInput {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "summary", "demo-plant.json"))
	if err != nil {
		t.Fatal(err)
	}
	var in summaryInput
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		t.Fatal(err)
	}
	return in
}

func TestSummarize(t *testing.T) {
	in := loadSummaryInput(t)
	s := report.Summarize(in.Site, report.Period{From: in.From, To: in.To}, in.Items, in.Now, mustLoc(t, in.Timezone))

	js, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, filepath.Join("summary", "demo-plant.summary.json"), append(js, '\n'))

	// i1, i2 and i3 were opened in November; i4 in October, i5 at the
	// (exclusive) end, o1 at another site.
	if s.Opened != 3 || s.Significant != 1 {
		t.Errorf("opened %d significant %d, want 3 and 1", s.Opened, s.Significant)
	}
	if want := map[string]int{"unauthorized_change": 1, "new_asset": 1, report.Unclassified: 1}; !maps.Equal(s.ByCategory, want) {
		t.Errorf("by category %v, want %v", s.ByCategory, want)
	}
	// i1 counts with its latest version's severity (critical), once.
	if want := map[string]int{"critical": 1, "high": 1, "low": 1}; !maps.Equal(s.BySeverity, want) {
		t.Errorf("by severity %v, want %v", s.BySeverity, want)
	}
	// i1 closed on 28 November, i4 (opened in October) on 2 November.
	if s.Closed != 2 {
		t.Errorf("closed %d, want 2", s.Closed)
	}
	// Acknowledged: i1 after 10 min, i2 after 30 min.
	checkDurations(t, "time to acknowledge", s.TimeToAcknowledge, 2, 20*60, 20*60)
	// Resolved: i1 first at 12:00 but reopened, resolved again 24 h after
	// opening; i2 and i3 are not resolved.
	checkDurations(t, "time to resolve", s.TimeToResolve, 1, 24*3600, 24*3600)

	// Due in November: i1's early warning (27 Nov, done), notification (29
	// Nov, late), i4's early warning (30 Oct: outside) and notification
	// (1 Nov 00:00, missing: overdue). i1's final report is due in December.
	if s.NIS2.Due != 3 || s.NIS2.Overdue != 1 || s.NIS2.DoneOnTime != 1 || s.NIS2.DoneLate != 1 || s.NIS2.Pending != 0 {
		t.Errorf("nis2 %+v, want 3 due: 1 overdue, 1 on time, 1 late", s.NIS2)
	}
	if len(s.NIS2.Submissions) != 3 || s.NIS2.Submissions[0].IncidentID != "i4" || s.NIS2.Submissions[0].Submission != report.SubmissionNotification {
		t.Errorf("submissions %+v, want i4's notification first", s.NIS2.Submissions)
	}
}

func checkDurations(t *testing.T, name string, d report.Durations, n int, mean, median float64) {
	t.Helper()
	if d.Count != n || d.MeanSeconds == nil || d.MedianSeconds == nil || *d.MeanSeconds != mean || *d.MedianSeconds != median {
		t.Errorf("%s %+v, want %d samples mean %g median %g", name, d, n, mean, median)
	}
}

func TestSummarizeStatistics(t *testing.T) {
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	item := func(id string, ackAfter time.Duration) report.Item {
		return report.Item{
			Incident: event.Incident{ID: id, Site: "s", Severity: event.SevLow, OpenedAt: base},
			Triage: event.Triage{Version: 1, History: []event.TriageChange{
				{Version: 1, At: base.Add(ackAfter), Field: "status", From: event.StatusNew, To: event.StatusAcknowledged},
			}},
		}
	}
	period := report.Period{From: base, To: base.Add(24 * time.Hour)}
	for _, tc := range []struct {
		name         string
		acks         []time.Duration
		mean, median float64
	}{
		{"one", []time.Duration{time.Minute}, 60, 60},
		{"odd count", []time.Duration{time.Minute, 10 * time.Minute, 2 * time.Minute}, 260, 120},
		{"even count", []time.Duration{time.Minute, 3 * time.Minute, 10 * time.Minute, 2 * time.Minute}, 240, 150},
		{"skewed", []time.Duration{time.Second, time.Second, time.Hour + time.Second}, 1201, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var items []report.Item
			for i, d := range tc.acks {
				items = append(items, item(string(rune('a'+i)), d))
			}
			s := report.Summarize("s", period, items, base, nil)
			checkDurations(t, "time to acknowledge", s.TimeToAcknowledge, len(tc.acks), tc.mean, tc.median)
			if s.TimeToResolve.Count != 0 || s.TimeToResolve.MeanSeconds != nil {
				t.Errorf("time to resolve %+v without resolutions", s.TimeToResolve)
			}
		})
	}
	t.Run("empty", func(t *testing.T) {
		s := report.Summarize("s", period, nil, base, nil)
		if s.Opened != 0 || s.TimeToAcknowledge.MeanSeconds != nil || s.ByCategory == nil || s.NIS2.Submissions == nil {
			t.Errorf("empty summary %+v", s)
		}
	})
}

func TestStatusMilestones(t *testing.T) {
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	ch := func(min int, from, to string) event.TriageChange {
		return event.TriageChange{At: base.Add(time.Duration(min) * time.Minute), Field: "status", From: from, To: to}
	}
	at := func(min int) *time.Time {
		if min < 0 {
			return nil
		}
		v := base.Add(time.Duration(min) * time.Minute)
		return &v
	}
	for _, tc := range []struct {
		name                   string
		history                []event.TriageChange
		ack, cont, res, closed int // minutes, -1 for never
	}{
		{"empty", nil, -1, -1, -1, -1},
		{"step by step", []event.TriageChange{ch(1, "new", "acknowledged"), ch(2, "acknowledged", "investigating"), ch(3, "investigating", "contained"), ch(4, "contained", "resolved"), ch(5, "resolved", "closed")}, 1, 3, 4, 5},
		{"jump to resolved reaches every step", []event.TriageChange{ch(7, "new", "resolved")}, 7, 7, 7, -1},
		{"reopened and contained again", []event.TriageChange{ch(1, "new", "contained"), ch(2, "contained", "investigating"), ch(9, "investigating", "contained")}, 1, 9, -1, -1},
		{"reopened after closing", []event.TriageChange{ch(1, "new", "closed"), ch(2, "closed", "investigating")}, 1, -1, -1, -1},
		{"other fields ignored", []event.TriageChange{{At: base, Field: "assignee", To: "closed"}, ch(3, "new", "acknowledged")}, 3, -1, -1, -1},
		{"unknown status ignored", []event.TriageChange{ch(1, "new", "bogus"), ch(2, "new", "acknowledged")}, 2, -1, -1, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := report.StatusMilestones(tc.history)
			for _, c := range []struct {
				name string
				got  *time.Time
				want *time.Time
			}{{"acknowledged", m.Acknowledged, at(tc.ack)}, {"contained", m.Contained, at(tc.cont)}, {"resolved", m.Resolved, at(tc.res)}, {"closed", m.Closed, at(tc.closed)}} {
				if (c.got == nil) != (c.want == nil) || c.got != nil && !c.got.Equal(*c.want) {
					t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
				}
			}
		})
	}
}

func TestNIS2Overview(t *testing.T) {
	in := loadSummaryInput(t)
	berlin := mustLoc(t, in.Timezone)
	o := report.NIS2Overview(in.Items, in.Now, func(site string) *time.Location {
		if site == "demo-plant" {
			return berlin
		}
		return nil
	})
	js, err := json.MarshalIndent(o, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, filepath.Join("summary", "demo-plant.nis2.json"), append(js, '\n'))
	// i4 (notification overdue) first, then i1 (final report pending);
	// i1's first version, not significant, does not hide its latest.
	if len(o.Incidents) != 2 || o.Incidents[0].IncidentID != "i4" || !o.Incidents[0].Overdue || o.Incidents[1].IncidentID != "i1" || o.Incidents[1].Overdue || o.Overdue != 1 {
		t.Fatalf("overview %+v", o)
	}
	if o.Incidents[1].NextDueAt == nil || !o.Incidents[1].NextDueAt.Equal(time.Date(2026, 12, 29, 12, 0, 0, 0, time.UTC)) {
		t.Errorf("i1 next due %v, want the final report on 29 December", o.Incidents[1].NextDueAt)
	}
	if o.Incidents[1].Status != event.StatusClosed {
		t.Errorf("i1 status %s, want the triage status", o.Incidents[1].Status)
	}
}
