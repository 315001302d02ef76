package correlate

import (
	"slices"
	"strings"
	"time"

	"github.com/c981/c981/services/shared/event"
)

// newIncident opens an incident for its first alert a (raised for ev). The
// alert's time is the incident's OpenedAt for good: later versions move
// FirstSeen and LastSeen, never OpenedAt. The incident outlives the batch
// (the incident cache keeps it): what it takes from ev, and the key, are
// its own copies (see own.go); a.Site is the engine's.
func newIncident(a *event.Alert, ev *event.Event, title string, now time.Time) event.Incident {
	inc := event.Incident{
		ID:         event.NewID("incident", a.Site, a.IncidentKey, a.ID),
		Version:    1,
		Site:       a.Site,
		Key:        strings.Clone(a.IncidentKey),
		Title:      title,
		Severity:   a.Severity,
		Status:     event.StatusNew,
		OpenedAt:   a.Time,
		FirstSeen:  a.Time,
		LastSeen:   a.Time,
		UpdatedAt:  now,
		AlertIDs:   []string{a.ID},
		AlertCount: 1,
		Target:     ev.Dst,
		Source:     ev.Src,
	}
	if better(ev.Src, inc.Target) {
		inc.Target, inc.Source = ev.Src, ev.Dst
	}
	inc.Target, inc.Source = ownEndpoint(inc.Target), ownEndpoint(inc.Source)
	inc.MaintActive = maintFor(inc.Target, ev)
	addAlert(&inc, a, ev)
	inc.Risk = Risk(inc.Severity, inc.Target)
	return inc
}

// mergeAlert adds alert a (raised for ev) to an existing incident. An alert
// older than the incident's first one moves FirstSeen but not OpenedAt.
func mergeAlert(inc *event.Incident, a *event.Alert, ev *event.Event, title string) {
	inc.AlertIDs = append(inc.AlertIDs, a.ID) // trimmed by trimAlertIDs
	inc.AlertCount++
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
	if better(ev.Dst, inc.Target) {
		inc.Target, inc.Source = ev.Dst, ev.Src
		changed = true
	}
	if better(ev.Src, inc.Target) {
		inc.Target, inc.Source = ev.Src, ev.Dst
		changed = true
	}
	if changed {
		inc.Target, inc.Source = ownEndpoint(inc.Target), ownEndpoint(inc.Source)
	}
	if changed || sameEndpoint(inc.Target, ev.Dst) {
		inc.MaintActive = maintFor(inc.Target, ev)
	}
	addAlert(inc, a, ev)
	inc.Risk = Risk(inc.Severity, inc.Target)
}

// KeptAlertIDs bounds Incident.AlertIDs: an incident keeps the ids of its
// first KeptAlertIDs/2 and its last KeptAlertIDs/2 alerts (and counts all
// of them in AlertCount), so that adding an alert and publishing a version
// cost the same for the 1st and the 100,000th alert. Every alert names its
// incident (Alert.IncidentID), so the alerts table has them all.
const KeptAlertIDs = 100

// trimAlertIDs bounds the alert ids of an incident (mergeAlert appends
// them; the engine trims once per batch) to its first KeptAlertIDs/2 and
// last KeptAlertIDs/2.
func trimAlertIDs(ids []string) []string {
	n := len(ids)
	if n <= KeptAlertIDs {
		return ids
	}
	head := KeptAlertIDs / 2
	copy(ids[head:], ids[n-(KeptAlertIDs-head):])
	clear(ids[KeptAlertIDs:]) // no references to dropped ids
	return ids[:KeptAlertIDs:KeptAlertIDs]
}

// upgradeIncident brings an incident written before AlertCount existed
// (AlertCount 0, every alert id in AlertIDs) to the bounded form.
func upgradeIncident(inc *event.Incident) {
	if inc.AlertCount != 0 {
		return
	}
	inc.AlertCount = len(inc.AlertIDs)
	inc.AlertIDs = trimAlertIDs(inc.AlertIDs)
}

// Risk scores an incident 0-100 from its highest rule severity and the zone
// context of its target: a base per severity (info 10, low 25, medium 45,
// high 65, critical 80), plus 15 when the target is a safety system, up to
// 10 for the target's criticality (critical 10, high 6, medium 3), up to 6
// for its zone's SL-T (2 per level above 1) and up to 6 for how close it is
// to the process (Purdue level below 1: 6, below 2: 5, below 3: 3, below
// 4: 1). Capped at 100.
func Risk(severity string, target event.Endpoint) int {
	r := [...]int{10, 25, 45, 65, 80}[max(event.SeverityRank(severity), 0)]
	if target.Safety {
		r += 15
	}
	switch target.Criticality {
	case "critical":
		r += 10
	case "high":
		r += 6
	case "medium":
		r += 3
	}
	if target.SLT > 1 {
		r += 2 * (min(target.SLT, 4) - 1)
	}
	if target.Known && target.Purdue >= 0 {
		switch {
		case target.Purdue < 1:
			r += 6
		case target.Purdue < 2:
			r += 5
		case target.Purdue < 3:
			r += 3
		case target.Purdue < 4:
			r += 1
		}
	}
	return min(r, 100)
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

// addSorted inserts s into the sorted set list; the set keeps its own copy
// (s may be an event's string, see own.go).
func addSorted(list []string, s string) []string {
	i, found := slices.BinarySearch(list, s)
	if found {
		return list
	}
	return slices.Insert(list, i, strings.Clone(s))
}
