package site

import (
	"errors"
	"fmt"
	"strings"
	"time"
	_ "time/tzdata" // site time zones resolve in minimal containers without /usr/share/zoneinfo
)

// MaxRecurrenceDuration bounds the duration of one occurrence of a recurring
// maintenance window.
const MaxRecurrenceDuration = 7 * 24 * time.Hour

// Schedule is the compiled schedule of a maintenance window: a one-off
// interval or a weekly recurrence in the site's time zone. The zero Schedule
// is never open. A Schedule is immutable and safe for concurrent use; Open
// does not allocate.
type Schedule struct {
	recurring  bool
	start, end time.Time // one-off interval
	loc        *time.Location
	days       [7]bool // by time.Weekday
	hour, min  int
	dur        time.Duration
	from       int // yyyymmdd, 0 = unbounded
	until      int // yyyymmdd, 0 = unbounded
	back       int // days before the event's local date an open occurrence may have started
}

var weekdayNames = map[string]time.Weekday{
	"sunday": time.Sunday, "monday": time.Monday, "tuesday": time.Tuesday,
	"wednesday": time.Wednesday, "thursday": time.Thursday, "friday": time.Friday,
	"saturday": time.Saturday,
	"sun":      time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

// ParseWeekday parses an english day name or its three-letter abbreviation,
// case-insensitively.
func ParseWeekday(s string) (time.Weekday, bool) {
	d, ok := weekdayNames[strings.ToLower(s)]
	return d, ok
}

// Schedule compiles the window's schedule; recurring windows are evaluated
// in loc (the site's time zone, see Model.Location). It fails on the same
// problems Validate reports.
func (w *MaintenanceWindow) Schedule(loc *time.Location) (Schedule, error) {
	if w.Recurrence == nil {
		start, end, err := w.Interval()
		if err != nil {
			return Schedule{}, err
		}
		if !end.After(start) {
			return Schedule{}, fmt.Errorf("maintenance window %s: end %s is not after start %s", w.ID, w.End, w.Start)
		}
		return Schedule{start: start, end: end}, nil
	}
	if loc == nil {
		return Schedule{}, fmt.Errorf("maintenance window %s: recurring window needs the site's time zone", w.ID)
	}
	r := w.Recurrence
	s := Schedule{recurring: true, loc: loc}
	var errs []error
	if len(r.Weekdays) == 0 {
		errs = append(errs, errors.New("recurrence.weekdays is required"))
	}
	for _, d := range r.Weekdays {
		wd, ok := ParseWeekday(d)
		if !ok {
			errs = append(errs, fmt.Errorf("recurrence weekday %q is not a day name (monday..sunday or mon..sun)", d))
			continue
		}
		s.days[wd] = true
	}
	var err error
	if s.hour, s.min, err = parseClock(r.Start); err != nil {
		errs = append(errs, err)
	}
	if s.dur, err = time.ParseDuration(r.Duration); err != nil || s.dur <= 0 || s.dur > MaxRecurrenceDuration {
		errs = append(errs, fmt.Errorf("recurrence duration %q must be a Go duration above 0 and at most 168h", r.Duration))
	}
	if s.from, err = parseDate("from", r.From); err != nil {
		errs = append(errs, err)
	}
	if s.until, err = parseDate("until", r.Until); err != nil {
		errs = append(errs, err)
	}
	if s.from != 0 && s.until != 0 && s.until < s.from {
		errs = append(errs, fmt.Errorf("recurrence until %s is before from %s", r.Until, r.From))
	}
	if err := errors.Join(errs...); err != nil {
		return Schedule{}, fmt.Errorf("maintenance window %s: %w", w.ID, err)
	}
	// An occurrence that started up to dur ago may still be open; add a day
	// of slack for the local clock's DST shifts.
	s.back = int(s.dur/(24*time.Hour)) + 1
	return s, nil
}

func parseClock(s string) (h, m int, err error) {
	t, perr := time.Parse("15:04", s)
	if perr != nil || len(s) != 5 {
		return 0, 0, fmt.Errorf("recurrence start %q must be a local time HH:MM", s)
	}
	return t.Hour(), t.Minute(), nil
}

func parseDate(name, s string) (int, error) {
	if s == "" {
		return 0, nil
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return 0, fmt.Errorf("recurrence %s %q must be a date YYYY-MM-DD", name, s)
	}
	return t.Year()*10000 + int(t.Month())*100 + t.Day(), nil
}

// Recurring reports whether the schedule is a weekly recurrence.
func (s *Schedule) Recurring() bool { return s.recurring }

// Open reports whether the window is open at t (start inclusive, end
// exclusive) and returns the bounds of the open occurrence.
func (s *Schedule) Open(t time.Time) (start, end time.Time, ok bool) {
	if !s.recurring {
		if s.start.IsZero() || t.Before(s.start) || !t.Before(s.end) {
			return time.Time{}, time.Time{}, false
		}
		return s.start, s.end, true
	}
	y, mo, d := t.In(s.loc).Date()
	for back := 0; back <= s.back; back++ {
		// The calendar date (and its weekday) of the candidate opening day,
		// computed in UTC so DST never shifts it.
		day := time.Date(y, mo, d-back, 0, 0, 0, 0, time.UTC)
		if !s.days[day.Weekday()] {
			continue
		}
		dy, dm, dd := day.Date()
		if key := dy*10000 + int(dm)*100 + dd; (s.from != 0 && key < s.from) || (s.until != 0 && key > s.until) {
			continue
		}
		start = time.Date(dy, dm, dd, s.hour, s.min, 0, 0, s.loc)
		end = start.Add(s.dur)
		if !t.Before(start) && t.Before(end) {
			return start, end, true
		}
	}
	return time.Time{}, time.Time{}, false
}

// Next returns the first occurrence that ends after t (which may be open at
// t), or false when there is none (a one-off window that has ended, or a
// recurrence past its Until date).
func (s *Schedule) Next(t time.Time) (start, end time.Time, ok bool) {
	if !s.recurring {
		if s.start.IsZero() || !t.Before(s.end) {
			return time.Time{}, time.Time{}, false
		}
		return s.start, s.end, true
	}
	if start, end, ok := s.Open(t); ok {
		return start, end, true
	}
	y, mo, d := t.In(s.loc).Date()
	for ahead := 0; ahead <= 7; ahead++ {
		day := time.Date(y, mo, d+ahead, 0, 0, 0, 0, time.UTC)
		dy, dm, dd := day.Date()
		key := dy*10000 + int(dm)*100 + dd
		if s.until != 0 && key > s.until {
			return time.Time{}, time.Time{}, false
		}
		if !s.days[day.Weekday()] || (s.from != 0 && key < s.from) {
			continue
		}
		start = time.Date(dy, dm, dd, s.hour, s.min, 0, 0, s.loc)
		if start.After(t) {
			return start, start.Add(s.dur), true
		}
	}
	if s.from != 0 {
		// The recurrence may start more than a week after t.
		fy, fm, fd := s.from/10000, time.Month(s.from/100%100), s.from%100
		if first := time.Date(fy, fm, fd, 0, 0, 0, 0, s.loc); first.After(t) {
			return s.Next(first.Add(-time.Nanosecond))
		}
	}
	return time.Time{}, time.Time{}, false
}

// Location returns the site's time zone, UTC when the model names none or an
// unknown one (Validate reports that).
func (m *Model) Location() *time.Location {
	if m.Site.Timezone == "" {
		return time.UTC
	}
	loc, err := time.LoadLocation(m.Site.Timezone)
	if err != nil {
		return time.UTC
	}
	return loc
}
