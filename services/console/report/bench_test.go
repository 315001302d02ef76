package report_test

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/c981/c981/services/console/report"
	"github.com/c981/c981/services/shared/event"
)

// BenchmarkBuild builds and renders (JSON is encoding/json's; Markdown
// ours) the report of the fully documented SIS incident.
func BenchmarkBuild(b *testing.B) {
	in := loadInput(b, filepath.Join("testdata", "build", "sis-significant.json"))
	b.ReportAllocs()
	n := 0
	start := time.Now()
	for b.Loop() {
		r := report.Build(in)
		if len(r.Markdown()) == 0 {
			b.Fatal("empty markdown")
		}
		n++
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "reports/s")
}

// BenchmarkSummarize summarizes a month of 10 000 triaged incidents, a
// tenth of them significant.
func BenchmarkSummarize(b *testing.B) {
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	items := make([]report.Item, 10000)
	for i := range items {
		opened := base.Add(time.Duration(i) * 4 * time.Minute)
		aware := opened.Add(time.Hour)
		items[i] = report.Item{
			Incident: event.Incident{ID: fmt.Sprint(i), Site: "s", Severity: event.SevHigh, OpenedAt: opened},
			Triage: event.Triage{Version: 3, ISMS: event.ISMSRecord{Category: "malware", Significant: i%10 == 0, BecameAwareAt: &aware},
				History: []event.TriageChange{
					{At: opened.Add(5 * time.Minute), Field: "status", From: "new", To: "acknowledged"},
					{At: opened.Add(30 * time.Minute), Field: "note", To: "x"},
					{At: opened.Add(3 * time.Hour), Field: "status", From: "acknowledged", To: "resolved"},
				}},
		}
	}
	period := report.Period{From: base, To: base.AddDate(0, 1, 0)}
	b.ReportAllocs()
	n := 0
	start := time.Now()
	for b.Loop() {
		if s := report.Summarize("s", period, items, base.AddDate(0, 1, 0), time.UTC); s.Opened == 0 {
			b.Fatal("nothing opened")
		}
		n += len(items)
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "rows/s")
}
