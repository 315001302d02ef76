package report

import (
	"cmp"
	"slices"
	"time"

	"github.com/c981/c981/services/shared/event"
)

// Item is one incident with its triage, an input of Summarize and of the
// NIS2 overview.
type Item struct {
	Incident event.Incident
	// Triage is the incident's triage (Version 0 when never triaged).
	Triage event.Triage
}

// Period is a half-open time range [From, To).
type Period struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// Contains reports whether t lies in the period.
func (p Period) Contains(t time.Time) bool { return !t.Before(p.From) && t.Before(p.To) }

// Unclassified is the category key of incidents without an ISMS category.
const Unclassified = "unclassified"

// Summary is a site's period summary.
type Summary struct {
	Site        string    `json:"site"`
	Period      Period    `json:"period"`
	GeneratedAt time.Time `json:"generated_at"`
	// Opened counts the incidents opened in the period (by the event time
	// of the alert that opened them); ByCategory and BySeverity split them
	// (category "unclassified" when the ISMS owner set none).
	Opened     int            `json:"opened"`
	ByCategory map[string]int `json:"by_category"`
	BySeverity map[string]int `json:"by_severity"`
	// Significant counts the opened incidents marked NIS2 significant.
	Significant int `json:"significant"`
	// Closed counts the incidents whose triage status reached closed in the
	// period, whenever they were opened.
	Closed int `json:"closed"`
	// TimeToAcknowledge and TimeToResolve are measured over the incidents
	// opened in the period, from opening to the first acknowledged and
	// resolved status of their triage history.
	TimeToAcknowledge Durations `json:"time_to_acknowledge"`
	TimeToResolve     Durations `json:"time_to_resolve"`
	// NIS2 lists the submissions of significant incidents due in the
	// period (by due time), with their state at GeneratedAt.
	NIS2 NIS2Period `json:"nis2"`
}

// Durations are statistics of a set of durations, in seconds.
type Durations struct {
	// Count is the number of incidents measured.
	Count int `json:"count"`
	// MeanSeconds and MedianSeconds are absent when Count is 0.
	MeanSeconds   *float64 `json:"mean_seconds,omitempty"`
	MedianSeconds *float64 `json:"median_seconds,omitempty"`
}

// NIS2Period counts the NIS2 submissions due in a period.
type NIS2Period struct {
	// Due is the number of submissions due in the period, Overdue the
	// missing ones past their deadline, DoneOnTime and DoneLate the made ones.
	Due        int `json:"due"`
	Overdue    int `json:"overdue"`
	Pending    int `json:"pending"`
	DoneOnTime int `json:"done_on_time"`
	DoneLate   int `json:"done_late"`
	// Submissions are the submissions due in the period, by due time.
	Submissions []Submission `json:"submissions"`
}

// Submission is one incident's NIS2 clock.
type Submission struct {
	IncidentID string `json:"incident_id"`
	Title      string `json:"title"`
	Site       string `json:"site"`
	Clock
}

// Summarize computes the summary of site over period at now from items:
// the site's incidents opened in the period and its significant incidents
// (duplicates by incident id count once, the highest triage version wins;
// other sites' items are ignored). loc is the site's time zone for the
// NIS2 month (nil means UTC).
func Summarize(site string, period Period, items []Item, now time.Time, loc *time.Location) Summary {
	s := Summary{
		Site: site, Period: Period{From: period.From.UTC(), To: period.To.UTC()}, GeneratedAt: now.UTC(),
		ByCategory: map[string]int{}, BySeverity: map[string]int{},
		NIS2: NIS2Period{Submissions: []Submission{}},
	}
	var ack, res []time.Duration
	for _, it := range latest(site, items) {
		inc, tr := it.Incident, it.Triage
		m := StatusMilestones(tr.History)
		if m.Closed != nil && period.Contains(*m.Closed) {
			s.Closed++
		}
		if period.Contains(inc.OpenedAt) {
			s.Opened++
			s.ByCategory[cmp.Or(tr.ISMS.Category, Unclassified)]++
			s.BySeverity[cmp.Or(inc.Severity, "unknown")]++
			if tr.ISMS.Significant {
				s.Significant++
			}
			if m.Acknowledged != nil {
				ack = append(ack, max(0, m.Acknowledged.Sub(inc.OpenedAt)))
			}
			if m.Resolved != nil {
				res = append(res, max(0, m.Resolved.Sub(inc.OpenedAt)))
			}
		}
		for _, c := range NIS2Clocks(tr.ISMS, now, loc) {
			if c.DueAt == nil || !period.Contains(*c.DueAt) {
				continue
			}
			s.NIS2.Due++
			switch c.State {
			case StateOverdue:
				s.NIS2.Overdue++
			case StatePending:
				s.NIS2.Pending++
			case StateDone:
				s.NIS2.DoneOnTime++
			case StateDoneLate:
				s.NIS2.DoneLate++
			}
			s.NIS2.Submissions = append(s.NIS2.Submissions, Submission{IncidentID: inc.ID, Title: inc.Title, Site: inc.Site, Clock: c})
		}
	}
	SortSubmissions(s.NIS2.Submissions)
	s.TimeToAcknowledge, s.TimeToResolve = stats(ack), stats(res)
	return s
}

// SortSubmissions orders submissions by due time (waiting ones last), then
// incident id and submission order.
func SortSubmissions(subs []Submission) {
	order := map[string]int{SubmissionEarlyWarning: 0, SubmissionNotification: 1, SubmissionFinalReport: 2}
	slices.SortStableFunc(subs, func(a, b Submission) int {
		switch {
		case a.DueAt == nil && b.DueAt != nil:
			return 1
		case a.DueAt != nil && b.DueAt == nil:
			return -1
		case a.DueAt != nil:
			if c := a.DueAt.Compare(*b.DueAt); c != 0 {
				return c
			}
		}
		return cmp.Or(cmp.Compare(a.IncidentID, b.IncidentID), cmp.Compare(order[a.Submission], order[b.Submission]))
	})
}

// latest keeps one item per incident id (the highest triage version, then
// incident version) of site ("" for every site), in id order. It returns
// pointers into items: an Item is large, and sorting copies would dominate.
func latest(site string, items []Item) []*Item {
	byID := make(map[string]*Item, len(items))
	for i := range items {
		it := &items[i]
		if site != "" && it.Incident.Site != site {
			continue
		}
		prev, ok := byID[it.Incident.ID]
		if !ok || it.Triage.Version > prev.Triage.Version ||
			it.Triage.Version == prev.Triage.Version && it.Incident.Version > prev.Incident.Version {
			byID[it.Incident.ID] = it
		}
	}
	out := make([]*Item, 0, len(byID))
	for _, it := range byID {
		out = append(out, it)
	}
	slices.SortFunc(out, func(a, b *Item) int { return cmp.Compare(a.Incident.ID, b.Incident.ID) })
	return out
}

func stats(ds []time.Duration) Durations {
	d := Durations{Count: len(ds)}
	if len(ds) == 0 {
		return d
	}
	slices.Sort(ds)
	var sum float64
	for _, x := range ds {
		sum += x.Seconds()
	}
	d.MeanSeconds = ptr(sum / float64(len(ds)))
	if n := len(ds); n%2 == 1 {
		d.MedianSeconds = ptr(ds[n/2].Seconds())
	} else {
		d.MedianSeconds = ptr((ds[n/2-1].Seconds() + ds[n/2].Seconds()) / 2)
	}
	return d
}

// Overview is the NIS2 overview of significant incidents: each incident's
// clocks at GeneratedAt, the incidents with an overdue submission first.
type Overview struct {
	GeneratedAt time.Time `json:"generated_at"`
	// Incidents are the significant incidents; Overdue counts those with a
	// missing submission past its deadline.
	Incidents []OverviewIncident `json:"incidents"`
	Overdue   int                `json:"overdue"`
}

// OverviewIncident is one significant incident's NIS2 state.
type OverviewIncident struct {
	IncidentID    string     `json:"incident_id"`
	Title         string     `json:"title"`
	Site          string     `json:"site"`
	Status        string     `json:"status"`
	Severity      string     `json:"severity"`
	BecameAwareAt *time.Time `json:"became_aware_at,omitempty"`
	Clocks        []Clock    `json:"clocks"`
	Overdue       bool       `json:"overdue"`
	// NextDueAt is the earliest deadline of a submission not made yet,
	// absent when none is known.
	NextDueAt *time.Time `json:"next_due_at,omitempty"`
}

// NIS2Overview evaluates the clocks of the significant items at now; loc
// returns a site's time zone (nil: UTC everywhere). Items that are not
// significant are left out; incidents are ordered overdue first, then by
// next deadline, then id.
func NIS2Overview(items []Item, now time.Time, loc func(site string) *time.Location) Overview {
	o := Overview{GeneratedAt: now.UTC(), Incidents: []OverviewIncident{}}
	for _, it := range latest("", items) {
		if !it.Triage.ISMS.Significant {
			continue
		}
		var l *time.Location
		if loc != nil {
			l = loc(it.Incident.Site)
		}
		status := it.Triage.Status
		if it.Triage.Version == 0 || status == "" {
			status = it.Incident.Status
		}
		oi := OverviewIncident{
			IncidentID: it.Incident.ID, Title: it.Incident.Title, Site: it.Incident.Site, Status: status,
			Severity: it.Incident.Severity, Clocks: NIS2Clocks(it.Triage.ISMS, now, l),
		}
		if at := it.Triage.ISMS.BecameAwareAt; at != nil {
			oi.BecameAwareAt = ptr(at.UTC())
		}
		for _, c := range oi.Clocks {
			oi.Overdue = oi.Overdue || c.Overdue()
			if c.SubmittedAt == nil && c.DueAt != nil && (oi.NextDueAt == nil || c.DueAt.Before(*oi.NextDueAt)) {
				oi.NextDueAt = ptr(*c.DueAt)
			}
		}
		o.Incidents = append(o.Incidents, oi)
	}
	slices.SortStableFunc(o.Incidents, func(a, b OverviewIncident) int {
		switch {
		case a.Overdue != b.Overdue:
			if a.Overdue {
				return -1
			}
			return 1
		case a.NextDueAt == nil && b.NextDueAt != nil:
			return 1
		case a.NextDueAt != nil && b.NextDueAt == nil:
			return -1
		case a.NextDueAt != nil:
			if c := a.NextDueAt.Compare(*b.NextDueAt); c != 0 {
				return c
			}
		}
		return cmp.Compare(a.IncidentID, b.IncidentID)
	})
	for _, oi := range o.Incidents {
		if oi.Overdue {
			o.Overdue++
		}
	}
	return o
}
