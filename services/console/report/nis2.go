package report

import (
	"time"

	"github.com/c981/c981/services/shared/event"
)

// NIS2 Article 23(4) deadlines.
const (
	// EarlyWarningWithin is the early-warning deadline after the entity
	// became aware of a significant incident (Art. 23(4)(a)).
	EarlyWarningWithin = 24 * time.Hour
	// NotificationWithin is the incident-notification deadline after the
	// entity became aware (Art. 23(4)(b)).
	NotificationWithin = 72 * time.Hour
)

// NIS2 submission names (Clock.Submission).
const (
	SubmissionEarlyWarning = "early_warning"
	SubmissionNotification = "notification"
	SubmissionFinalReport  = "final_report"
)

// Clock states at an instant.
const (
	// StatePending: not submitted, due later.
	StatePending = "pending"
	// StateOverdue: not submitted and past due.
	StateOverdue = "overdue"
	// StateDone: submitted by the due time.
	StateDone = "done"
	// StateDoneLate: submitted after the due time.
	StateDoneLate = "done_late"
	// StateWaiting: the due time is not known yet (the final report's clock
	// starts with the notification; every clock needs became_aware_at).
	StateWaiting = "waiting"
)

// Clock is one NIS2 submission of a significant incident.
type Clock struct {
	// Submission is early_warning, notification or final_report.
	Submission string `json:"submission"`
	// DueAt is the deadline (UTC); absent while the state is waiting.
	DueAt *time.Time `json:"due_at,omitempty"`
	// SubmittedAt is when the submission was made, absent until then.
	SubmittedAt *time.Time `json:"submitted_at,omitempty"`
	// State is pending, overdue, done, done_late or waiting at the time
	// the clocks were evaluated.
	State string `json:"state"`
	// LateSeconds is how far past the deadline an overdue submission is
	// now, or a done_late one was made; 0 otherwise.
	LateSeconds int64 `json:"late_seconds,omitempty"`
}

// Overdue reports whether the submission is missing past its deadline.
func (c Clock) Overdue() bool { return c.State == StateOverdue }

// NIS2Clocks returns the three NIS2 clocks of a significant incident
// evaluated at now: early warning due became_aware_at + 24 h, incident
// notification due became_aware_at + 72 h, final report due one calendar
// month after notification_at (AddMonth in loc, the site's time zone; nil
// means UTC). It returns nil when the incident is not marked significant.
func NIS2Clocks(r event.ISMSRecord, now time.Time, loc *time.Location) []Clock {
	if !r.Significant {
		return nil
	}
	var ewDue, notifDue, finalDue *time.Time
	if r.BecameAwareAt != nil {
		ewDue = ptr(r.BecameAwareAt.Add(EarlyWarningWithin).UTC())
		notifDue = ptr(r.BecameAwareAt.Add(NotificationWithin).UTC())
	}
	if r.NotificationAt != nil {
		finalDue = ptr(AddMonth(*r.NotificationAt, loc).UTC())
	}
	return []Clock{
		clock(SubmissionEarlyWarning, ewDue, r.EarlyWarningAt, now),
		clock(SubmissionNotification, notifDue, r.NotificationAt, now),
		clock(SubmissionFinalReport, finalDue, r.FinalReportAt, now),
	}
}

func clock(name string, due, submitted *time.Time, now time.Time) Clock {
	c := Clock{Submission: name, DueAt: due}
	if submitted != nil {
		c.SubmittedAt = ptr(submitted.UTC())
	}
	switch {
	case due == nil && submitted != nil:
		c.State = StateDone
	case due == nil:
		c.State = StateWaiting
	case submitted != nil && submitted.After(*due):
		c.State, c.LateSeconds = StateDoneLate, int64(submitted.Sub(*due)/time.Second)
	case submitted != nil:
		c.State = StateDone
	case now.After(*due):
		c.State, c.LateSeconds = StateOverdue, int64(now.Sub(*due)/time.Second)
	default:
		c.State = StatePending
	}
	return c
}

// AddMonth returns t plus one calendar month in loc (nil means UTC): the
// same wall-clock time on the same day of the next month, or on that
// month's last day when it has no such day (31 January + 1 month = 28 or
// 29 February), as periods in months are counted in EU law (Regulation
// 1182/71, Art. 3(2)(c)). The result keeps the wall-clock time across DST
// changes; a wall-clock time that does not exist on that day (skipped by a
// spring-forward change) is normalized by time.Date.
func AddMonth(t time.Time, loc *time.Location) time.Time {
	if loc == nil {
		loc = time.UTC
	}
	lt := t.In(loc)
	y, m, d := lt.Date()
	last := time.Date(y, m+2, 0, 12, 0, 0, 0, loc).Day() // day 0 of the month after next = last day of next month
	if d > last {
		d = last
	}
	return time.Date(y, m+1, d, lt.Hour(), lt.Minute(), lt.Second(), lt.Nanosecond(), loc)
}

func ptr[T any](v T) *T { return &v }
