package site

import (
	"testing"
	"time"
)

func mustLoc(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestScheduleOneOff(t *testing.T) {
	w := MaintenanceWindow{ID: "w", Start: "2026-11-20T06:00:00+01:00", End: "2026-11-20T14:00:00+01:00"}
	s, err := w.Schedule(nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 11, 20, 5, 0, 0, 0, time.UTC)
	end := time.Date(2026, 11, 20, 13, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		at   time.Time
		open bool
	}{
		{"before", start.Add(-time.Nanosecond), false},
		{"start inclusive", start, true},
		{"inside", start.Add(time.Hour), true},
		{"last instant", end.Add(-time.Nanosecond), true},
		{"end exclusive", end, false},
		{"start in another zone", start.In(mustLoc(t, "America/New_York")), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gs, ge, open := s.Open(tt.at)
			if open != tt.open {
				t.Fatalf("Open(%v) = %v, want %v", tt.at, open, tt.open)
			}
			if open && (!gs.Equal(start) || !ge.Equal(end)) {
				t.Errorf("bounds = %v..%v, want %v..%v", gs, ge, start, end)
			}
		})
	}
	if _, _, ok := s.Next(end); ok {
		t.Error("Next after the end of a one-off window found an occurrence")
	}
	if gs, _, ok := s.Next(start.Add(-time.Hour)); !ok || !gs.Equal(start) {
		t.Errorf("Next before the window = %v, %v", gs, ok)
	}
}

func TestScheduleRecurring(t *testing.T) {
	berlin := mustLoc(t, "Europe/Berlin")
	utc := func(y int, mo time.Month, d, h, mi int) time.Time { return time.Date(y, mo, d, h, mi, 0, 0, time.UTC) }
	tests := []struct {
		name string
		rec  Recurrence
		at   time.Time
		open bool
		// start of the open occurrence, in UTC
		start time.Time
	}{
		// Tuesdays 06:00-10:00 Berlin; 2026-11-24 is a Tuesday (CET, UTC+1).
		{"before start", Recurrence{Weekdays: []string{"tue"}, Start: "06:00", Duration: "4h"}, utc(2026, 11, 24, 4, 59), false, time.Time{}},
		{"start inclusive", Recurrence{Weekdays: []string{"tue"}, Start: "06:00", Duration: "4h"}, utc(2026, 11, 24, 5, 0), true, utc(2026, 11, 24, 5, 0)},
		{"last minute", Recurrence{Weekdays: []string{"Tuesday"}, Start: "06:00", Duration: "4h"}, utc(2026, 11, 24, 8, 59), true, utc(2026, 11, 24, 5, 0)},
		{"end exclusive", Recurrence{Weekdays: []string{"tue"}, Start: "06:00", Duration: "4h"}, utc(2026, 11, 24, 9, 0), false, time.Time{}},
		{"other weekday", Recurrence{Weekdays: []string{"tue"}, Start: "06:00", Duration: "4h"}, utc(2026, 11, 26, 5, 30), false, time.Time{}},
		{"summer offset", Recurrence{Weekdays: []string{"tue"}, Start: "06:00", Duration: "4h"}, utc(2026, 7, 7, 4, 0), true, utc(2026, 7, 7, 4, 0)},
		{"summer 05:00 UTC is 07:00 local", Recurrence{Weekdays: []string{"tue"}, Start: "06:00", Duration: "1h"}, utc(2026, 7, 7, 5, 0), false, time.Time{}},
		// Local weekday, not UTC weekday: Monday 23:30 UTC is Tuesday 00:30 in Berlin.
		{"local weekday", Recurrence{Weekdays: []string{"tue"}, Start: "00:00", Duration: "1h"}, utc(2026, 11, 23, 23, 30), true, utc(2026, 11, 23, 23, 0)},
		// Over midnight: Saturday 22:00 + 8h is open Sunday 05:59 local.
		{"over midnight", Recurrence{Weekdays: []string{"sat"}, Start: "22:00", Duration: "8h"}, utc(2026, 11, 29, 4, 59), true, utc(2026, 11, 28, 21, 0)},
		// Spring forward 2026-03-29 (Sunday) 02:00 CET -> 03:00 CEST: a
		// 01:00 window of 3h lasts 3 real hours, ending 05:00 local.
		{"dst spring inside", Recurrence{Weekdays: []string{"sun"}, Start: "01:00", Duration: "3h"}, utc(2026, 3, 29, 2, 59), true, utc(2026, 3, 29, 0, 0)},
		{"dst spring end exclusive", Recurrence{Weekdays: []string{"sun"}, Start: "01:00", Duration: "3h"}, utc(2026, 3, 29, 3, 0), false, time.Time{}},
		{"dst spring 06:00 follows wall clock", Recurrence{Weekdays: []string{"sun"}, Start: "06:00", Duration: "1h"}, utc(2026, 3, 29, 4, 0), true, utc(2026, 3, 29, 4, 0)},
		{"dst spring gap start", Recurrence{Weekdays: []string{"sun"}, Start: "02:30", Duration: "1h"}, utc(2026, 3, 29, 1, 30), true, utc(2026, 3, 29, 1, 30)},
		{"dst spring gap before", Recurrence{Weekdays: []string{"sun"}, Start: "02:30", Duration: "1h"}, utc(2026, 3, 29, 1, 29), false, time.Time{}},
		// Fall back 2026-10-25 (Sunday) 03:00 CEST -> 02:00 CET.
		{"dst fall 06:00 follows wall clock", Recurrence{Weekdays: []string{"sun"}, Start: "06:00", Duration: "1h"}, utc(2026, 10, 25, 5, 0), true, utc(2026, 10, 25, 5, 0)},
		{"dst fall before start", Recurrence{Weekdays: []string{"sun"}, Start: "06:00", Duration: "1h"}, utc(2026, 10, 25, 4, 59), false, time.Time{}},
		{"dst fall 4h real", Recurrence{Weekdays: []string{"sun"}, Start: "00:00", Duration: "4h"}, utc(2026, 10, 25, 1, 59), true, utc(2026, 10, 24, 22, 0)},
		{"dst fall 4h real end", Recurrence{Weekdays: []string{"sun"}, Start: "00:00", Duration: "4h"}, utc(2026, 10, 25, 2, 0), false, time.Time{}},
		{"from bound", Recurrence{Weekdays: []string{"tue"}, Start: "06:00", Duration: "4h", From: "2026-12-01"}, utc(2026, 11, 24, 6, 0), false, time.Time{}},
		{"from day", Recurrence{Weekdays: []string{"tue"}, Start: "06:00", Duration: "4h", From: "2026-11-24"}, utc(2026, 11, 24, 6, 0), true, utc(2026, 11, 24, 5, 0)},
		{"until day", Recurrence{Weekdays: []string{"tue"}, Start: "06:00", Duration: "4h", Until: "2026-11-24"}, utc(2026, 11, 24, 6, 0), true, utc(2026, 11, 24, 5, 0)},
		{"until bound", Recurrence{Weekdays: []string{"tue"}, Start: "06:00", Duration: "4h", Until: "2026-11-23"}, utc(2026, 11, 24, 6, 0), false, time.Time{}},
		{"week long", Recurrence{Weekdays: []string{"mon"}, Start: "00:00", Duration: "168h"}, utc(2026, 11, 29, 22, 0), true, utc(2026, 11, 22, 23, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := tt.rec
			w := MaintenanceWindow{ID: "w", Recurrence: &rec}
			s, err := w.Schedule(berlin)
			if err != nil {
				t.Fatal(err)
			}
			start, end, open := s.Open(tt.at)
			if open != tt.open {
				t.Fatalf("Open(%v) = %v, want %v", tt.at, open, tt.open)
			}
			if !open {
				return
			}
			if !start.Equal(tt.start) {
				t.Errorf("start = %v, want %v", start.UTC(), tt.start)
			}
			d, _ := time.ParseDuration(tt.rec.Duration)
			if end.Sub(start) != d {
				t.Errorf("occurrence lasts %v, want %v", end.Sub(start), d)
			}
		})
	}
}

func TestScheduleNext(t *testing.T) {
	berlin := mustLoc(t, "Europe/Berlin")
	w := MaintenanceWindow{ID: "w", Recurrence: &Recurrence{Weekdays: []string{"tue"}, Start: "06:00", Duration: "4h", From: "2027-02-01", Until: "2027-02-28"}}
	s, err := w.Schedule(berlin)
	if err != nil {
		t.Fatal(err)
	}
	// The demo scenario's Thursday: the next occurrence is the first Tuesday in February 2027.
	start, end, ok := s.Next(time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC))
	if want := time.Date(2027, 2, 2, 5, 0, 0, 0, time.UTC); !ok || !start.Equal(want) || end.Sub(start) != 4*time.Hour {
		t.Errorf("Next = %v..%v %v, want %v", start, end, ok, want)
	}
	if _, _, ok := s.Next(time.Date(2027, 2, 23, 9, 0, 0, 0, time.UTC)); ok {
		t.Error("Next after the last occurrence found one")
	}
	if got, _, ok := s.Next(time.Date(2027, 2, 23, 8, 0, 0, 0, time.UTC)); !ok || !got.Equal(time.Date(2027, 2, 23, 5, 0, 0, 0, time.UTC)) {
		t.Errorf("Next inside the last occurrence = %v %v", got, ok)
	}
	var zero Schedule
	if _, _, ok := zero.Open(time.Now()); ok {
		t.Error("zero Schedule is open")
	}
}

func BenchmarkScheduleOpen(b *testing.B) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		b.Fatal(err)
	}
	w := MaintenanceWindow{ID: "w", Recurrence: &Recurrence{Weekdays: []string{"tue", "thu"}, Start: "06:00", Duration: "4h"}}
	s, err := w.Schedule(berlin)
	if err != nil {
		b.Fatal(err)
	}
	at := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		s.Open(at.Add(time.Duration(n) * time.Minute))
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "lookups/s")
}
