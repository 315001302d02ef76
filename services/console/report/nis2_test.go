package report_test

import (
	"testing"
	"time"

	"github.com/c981/c981/services/console/report"
	"github.com/c981/c981/services/shared/event"
)

func mustLoc(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func ts(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestAddMonth(t *testing.T) {
	for _, tc := range []struct {
		name, loc, in, want string
	}{
		{"mid month", "UTC", "2026-03-15T10:00:00Z", "2026-04-15T10:00:00Z"},
		{"jan 31 to feb 28", "UTC", "2026-01-31T12:00:00Z", "2026-02-28T12:00:00Z"},
		{"jan 31 to feb 29 in a leap year", "UTC", "2028-01-31T12:00:00Z", "2028-02-29T12:00:00Z"},
		{"jan 29 in a common year", "UTC", "2026-01-29T00:00:00Z", "2026-02-28T00:00:00Z"},
		{"jan 28 stays 28", "UTC", "2026-01-28T23:59:59Z", "2026-02-28T23:59:59Z"},
		{"mar 31 to apr 30", "UTC", "2026-03-31T08:00:00Z", "2026-04-30T08:00:00Z"},
		{"aug 31 to sep 30", "UTC", "2026-08-31T08:00:00Z", "2026-09-30T08:00:00Z"},
		{"dec 31 to jan 31 of the next year", "UTC", "2026-12-31T22:00:00Z", "2027-01-31T22:00:00Z"},
		{"feb 28 to mar 28", "UTC", "2026-02-28T10:00:00Z", "2026-03-28T10:00:00Z"},
		{"nanoseconds kept", "UTC", "2026-05-10T10:00:00.123456789Z", "2026-06-10T10:00:00.123456789Z"},
		// In Berlin 2026-02-28T23:30Z is already 1 March: one month later is
		// 1 April 00:30 CEST, not 28 March as in UTC.
		{"local date differs from utc", "Europe/Berlin", "2026-02-28T23:30:00Z", "2026-03-31T22:30:00Z"},
		// 31 January 23:30 UTC is 1 February 00:30 in Berlin: 1 March 00:30.
		{"utc month end is a local month start", "Europe/Berlin", "2026-01-31T23:30:00Z", "2026-02-28T23:30:00Z"},
		// In New York 2026-01-31T03:00Z is still 30 January 22:00: 28 Feb (clamped from 30).
		{"west of utc, month end clamped", "America/New_York", "2026-01-31T03:00:00Z", "2026-03-01T03:00:00Z"},
		{"west of utc, jan 31 local", "America/New_York", "2026-02-01T04:00:00Z", "2026-03-01T04:00:00Z"},
		// DST starts in Berlin on 29 March 2026: the wall clock (10:00) is
		// kept, so one hour less elapses.
		{"across the spring dst change", "Europe/Berlin", "2026-03-10T09:00:00Z", "2026-04-10T08:00:00Z"},
		{"across the autumn dst change", "Europe/Berlin", "2026-10-10T08:00:00Z", "2026-11-10T09:00:00Z"},
		// 29 March 2026 02:30 does not exist in Berlin; time.Date moves it.
		{"into the dst gap", "Europe/Berlin", "2026-02-28T01:30:00Z", "2026-03-28T01:30:00Z"},
		{"tokyo month end", "Asia/Tokyo", "2026-04-30T15:30:00Z", "2026-05-31T15:30:00Z"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := report.AddMonth(ts(t, tc.in), mustLoc(t, tc.loc)).UTC()
			if want := ts(t, tc.want); !got.Equal(want) {
				t.Errorf("AddMonth(%s in %s) = %s, want %s", tc.in, tc.loc, got.Format(time.RFC3339Nano), tc.want)
			}
		})
	}
	t.Run("nil location is utc", func(t *testing.T) {
		if got := report.AddMonth(ts(t, "2026-01-31T12:00:00Z"), nil); !got.Equal(ts(t, "2026-02-28T12:00:00Z")) {
			t.Errorf("got %s", got)
		}
	})
}

func TestNIS2Clocks(t *testing.T) {
	p := func(s string) *time.Time {
		if s == "" {
			return nil
		}
		v := ts(t, s)
		return &v
	}
	const aware = "2026-11-26T10:00:00Z"
	type want struct {
		state, due string
		late       int64
	}
	for _, tc := range []struct {
		name                  string
		aware, ew, notif, fin string
		now                   string
		loc                   string
		want                  [3]want
	}{
		{name: "just aware", aware: aware, now: "2026-11-26T10:00:00Z", want: [3]want{
			{report.StatePending, "2026-11-27T10:00:00Z", 0}, {report.StatePending, "2026-11-29T10:00:00Z", 0}, {report.StateWaiting, "", 0}}},
		{name: "exactly at the early-warning deadline", aware: aware, now: "2026-11-27T10:00:00Z", want: [3]want{
			{report.StatePending, "2026-11-27T10:00:00Z", 0}, {report.StatePending, "2026-11-29T10:00:00Z", 0}, {report.StateWaiting, "", 0}}},
		{name: "one second past the early warning", aware: aware, now: "2026-11-27T10:00:01Z", want: [3]want{
			{report.StateOverdue, "2026-11-27T10:00:00Z", 1}, {report.StatePending, "2026-11-29T10:00:00Z", 0}, {report.StateWaiting, "", 0}}},
		{name: "early warning at the deadline is on time", aware: aware, ew: "2026-11-27T10:00:00Z", now: "2026-11-28T00:00:00Z", want: [3]want{
			{report.StateDone, "2026-11-27T10:00:00Z", 0}, {report.StatePending, "2026-11-29T10:00:00Z", 0}, {report.StateWaiting, "", 0}}},
		{name: "early warning late, notification overdue", aware: aware, ew: "2026-11-27T12:00:00Z", now: "2026-11-29T11:00:00Z", want: [3]want{
			{report.StateDoneLate, "2026-11-27T10:00:00Z", 7200}, {report.StateOverdue, "2026-11-29T10:00:00Z", 3600}, {report.StateWaiting, "", 0}}},
		{name: "notification starts the final report clock", aware: aware, ew: "2026-11-26T20:00:00Z", notif: "2026-11-28T09:00:00Z", now: "2026-12-01T00:00:00Z", want: [3]want{
			{report.StateDone, "2026-11-27T10:00:00Z", 0}, {report.StateDone, "2026-11-29T10:00:00Z", 0}, {report.StatePending, "2026-12-28T09:00:00Z", 0}}},
		{name: "final report overdue", aware: aware, ew: "2026-11-26T20:00:00Z", notif: "2026-11-28T09:00:00Z", now: "2026-12-28T09:00:01Z", want: [3]want{
			{report.StateDone, "2026-11-27T10:00:00Z", 0}, {report.StateDone, "2026-11-29T10:00:00Z", 0}, {report.StateOverdue, "2026-12-28T09:00:00Z", 1}}},
		{name: "all done on time", aware: aware, ew: "2026-11-26T20:00:00Z", notif: "2026-11-28T09:00:00Z", fin: "2026-12-20T09:00:00Z", now: "2027-03-01T00:00:00Z", want: [3]want{
			{report.StateDone, "2026-11-27T10:00:00Z", 0}, {report.StateDone, "2026-11-29T10:00:00Z", 0}, {report.StateDone, "2026-12-28T09:00:00Z", 0}}},
		{name: "final report a day late", aware: aware, ew: "2026-11-26T20:00:00Z", notif: "2026-11-28T09:00:00Z", fin: "2026-12-29T09:00:00Z", now: "2027-03-01T00:00:00Z", want: [3]want{
			{report.StateDone, "2026-11-27T10:00:00Z", 0}, {report.StateDone, "2026-11-29T10:00:00Z", 0}, {report.StateDoneLate, "2026-12-28T09:00:00Z", 86400}}},
		{name: "notification on 31 january: final report due end of february", aware: "2026-01-29T12:00:00Z", ew: "2026-01-30T08:00:00Z", notif: "2026-01-31T12:00:00Z", now: "2026-02-28T11:00:00Z", want: [3]want{
			{report.StateDone, "2026-01-30T12:00:00Z", 0}, {report.StateDone, "2026-02-01T12:00:00Z", 0}, {report.StatePending, "2026-02-28T12:00:00Z", 0}}},
		{name: "leap year february", aware: "2028-01-29T12:00:00Z", ew: "2028-01-30T08:00:00Z", notif: "2028-01-31T12:00:00Z", now: "2028-03-01T00:00:00Z", want: [3]want{
			{report.StateDone, "2028-01-30T12:00:00Z", 0}, {report.StateDone, "2028-02-01T12:00:00Z", 0}, {report.StateOverdue, "2028-02-29T12:00:00Z", 12 * 3600}}},
		{name: "month counted in the site time zone", loc: "Europe/Berlin", aware: "2026-02-27T00:00:00Z", ew: "2026-02-27T10:00:00Z", notif: "2026-02-28T23:30:00Z", now: "2026-03-29T00:00:00Z", want: [3]want{
			{report.StateDone, "2026-02-28T00:00:00Z", 0}, {report.StateDone, "2026-03-02T00:00:00Z", 0}, {report.StatePending, "2026-03-31T22:30:00Z", 0}}},
		{name: "same input in utc is overdue", loc: "UTC", aware: "2026-02-27T00:00:00Z", ew: "2026-02-27T10:00:00Z", notif: "2026-02-28T23:30:00Z", now: "2026-03-29T00:00:00Z", want: [3]want{
			{report.StateDone, "2026-02-28T00:00:00Z", 0}, {report.StateDone, "2026-03-02T00:00:00Z", 0}, {report.StateOverdue, "2026-03-28T23:30:00Z", 1800}}},
		// 24 h and 72 h are elapsed time: the DST change does not move them.
		{name: "hours across a dst change", loc: "Europe/Berlin", aware: "2026-03-28T12:00:00Z", now: "2026-03-28T12:00:00Z", want: [3]want{
			{report.StatePending, "2026-03-29T12:00:00Z", 0}, {report.StatePending, "2026-03-31T12:00:00Z", 0}, {report.StateWaiting, "", 0}}},
		{name: "time zone offsets in the input", aware: "2026-11-26T11:00:00+01:00", ew: "2026-11-27T11:30:00+02:00", now: "2026-11-27T12:00:00Z", want: [3]want{
			{report.StateDone, "2026-11-27T10:00:00Z", 0}, {report.StatePending, "2026-11-29T10:00:00Z", 0}, {report.StateWaiting, "", 0}}},
		{name: "not aware yet", now: "2026-11-27T12:00:00Z", want: [3]want{
			{report.StateWaiting, "", 0}, {report.StateWaiting, "", 0}, {report.StateWaiting, "", 0}}},
		{name: "submissions recorded without awareness", ew: "2026-11-27T12:00:00Z", now: "2026-11-27T12:00:00Z", want: [3]want{
			{report.StateDone, "", 0}, {report.StateWaiting, "", 0}, {report.StateWaiting, "", 0}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := event.ISMSRecord{Significant: true, BecameAwareAt: p(tc.aware), EarlyWarningAt: p(tc.ew), NotificationAt: p(tc.notif), FinalReportAt: p(tc.fin)}
			var loc *time.Location
			if tc.loc != "" {
				loc = mustLoc(t, tc.loc)
			}
			clocks := report.NIS2Clocks(r, ts(t, tc.now), loc)
			if len(clocks) != 3 {
				t.Fatalf("%d clocks", len(clocks))
			}
			names := []string{report.SubmissionEarlyWarning, report.SubmissionNotification, report.SubmissionFinalReport}
			for i, w := range tc.want {
				c := clocks[i]
				if c.Submission != names[i] {
					t.Errorf("clock %d is %s, want %s", i, c.Submission, names[i])
				}
				due := ""
				if c.DueAt != nil {
					due = c.DueAt.Format(time.RFC3339)
				}
				if c.State != w.state || due != w.due || c.LateSeconds != w.late {
					t.Errorf("%s: %s due %q late %d, want %s due %q late %d", c.Submission, c.State, due, c.LateSeconds, w.state, w.due, w.late)
				}
				if c.Overdue() != (w.state == report.StateOverdue) {
					t.Errorf("%s: Overdue() = %v", c.Submission, c.Overdue())
				}
			}
		})
	}
	t.Run("not significant", func(t *testing.T) {
		r := event.ISMSRecord{BecameAwareAt: p(aware)}
		if c := report.NIS2Clocks(r, ts(t, aware), nil); c != nil {
			t.Errorf("clocks %+v for an incident that is not significant", c)
		}
	})
}
