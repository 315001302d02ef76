package correlate

import (
	"slices"
	"time"

	"github.com/c981/c981/services/shared/event"
)

// newIncident opens an incident for its first alert a (raised for ev). The
// alert's time is the incident's OpenedAt for good: later versions move
// FirstSeen and LastSeen, never OpenedAt.
func newIncident(a *event.Alert, ev *event.Event, title string, now time.Time) event.Incident {
	inc := event.Incident{
		ID:        event.NewID("incident", a.Site, a.IncidentKey, a.ID),
		Version:   1,
		Site:      a.Site,
		Key:       a.IncidentKey,
		Title:     title,
		Severity:  a.Severity,
		Status:    event.StatusNew,
		OpenedAt:  a.Time,
		FirstSeen: a.Time,
		LastSeen:  a.Time,
		UpdatedAt: now,
		AlertIDs:  []string{a.ID},
		Target:    ev.Dst,
	}
	if better(ev.Src, inc.Target) {
		inc.Target = ev.Src
	}
	inc.MaintActive = maintFor(inc.Target, ev)
	addAlert(&inc, a, ev)
	return inc
}

// mergeAlert adds alert a (raised for ev) to an existing incident. An alert
// older than the incident's first one moves FirstSeen but not OpenedAt.
func mergeAlert(inc *event.Incident, a *event.Alert, ev *event.Event, title string) {
	inc.AlertIDs = append(inc.AlertIDs, a.ID)
	if event.SeverityRank(a.Severity) > event.SeverityRank(inc.Severity) {
		inc.Severity = a.Severity
		inc.Title = title
	}
	if a.Time.Before(inc.FirstSeen) {
		inc.FirstSeen = a.Time
	}
	if a.Time.After(inc.LastSeen) {
		inc.LastSeen = a.Time
	}
	changed := false
	for _, ep := range []event.Endpoint{ev.Dst, ev.Src} {
		if better(ep, inc.Target) {
			inc.Target = ep
			changed = true
		}
	}
	if changed || sameEndpoint(inc.Target, ev.Dst) {
		inc.MaintActive = maintFor(inc.Target, ev)
	}
	addAlert(inc, a, ev)
}

// addAlert merges the alert's rule, techniques, assets and zones into the
// incident's sorted sets.
func addAlert(inc *event.Incident, a *event.Alert, ev *event.Event) {
	inc.RuleIDs = addSorted(inc.RuleIDs, a.RuleID)
	for _, t := range a.Techniques {
		inc.Techniques = addSorted(inc.Techniques, t)
	}
	for _, ep := range []event.Endpoint{ev.Src, ev.Dst} {
		if ep.AssetID != "" {
			inc.Assets = addSorted(inc.Assets, ep.AssetID)
		}
		if ep.Zone != "" && ep.Zone != "unknown" {
			inc.Zones = addSorted(inc.Zones, ep.Zone)
		}
	}
}

// maintFor is the maintenance state of target as told by ev: the event's
// maintenance context describes its destination only, so any other target
// is reported as not in a window.
func maintFor(target event.Endpoint, ev *event.Event) bool {
	return sameEndpoint(target, ev.Dst) && ev.Maint.Active
}

func sameEndpoint(a, b event.Endpoint) bool {
	return a.IP == b.IP && a.AssetID == b.AssetID && (a.IP != "" || a.AssetID != "")
}

// better reports whether endpoint a is more critical than b as an incident
// target: a safety endpoint first, then the lowest Purdue level among known
// endpoints. Ties keep b.
func better(a, b event.Endpoint) bool {
	if a.Safety != b.Safety {
		return a.Safety
	}
	ak, bk := a.Known && a.Purdue >= 0, b.Known && b.Purdue >= 0
	if ak != bk {
		return ak
	}
	return ak && a.Purdue < b.Purdue
}

// addSorted inserts s into the sorted set list.
func addSorted(list []string, s string) []string {
	i, found := slices.BinarySearch(list, s)
	if found {
		return list
	}
	return slices.Insert(list, i, s)
}
