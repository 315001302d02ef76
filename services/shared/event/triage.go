package event

import (
	"fmt"
	"slices"
	"time"
)

// Statuses lists the incident statuses (Status* in event.go) in workflow
// order.
var Statuses = []string{StatusNew, StatusAcknowledged, StatusInvestigating, StatusContained, StatusResolved, StatusClosed}

// StatusRank is the position of status in the workflow (new = 0), or -1
// for an unknown status.
func StatusRank(status string) int { return slices.Index(Statuses, status) }

// CheckTransition reports why an incident may not move from one triage
// status to another, or nil. The workflow moves forward one or more steps
// (an analyst may acknowledge and contain at once); it may step back to
// investigating from contained, resolved or closed (the incident reopened);
// staying in place is not a transition.
func CheckTransition(from, to string) error {
	f, t := StatusRank(from), StatusRank(to)
	switch {
	case t < 0:
		return fmt.Errorf("unknown status %q (want one of %v)", to, Statuses)
	case f < 0:
		return fmt.Errorf("unknown current status %q", from)
	case f == t:
		return fmt.Errorf("incident is already %s", from)
	case t > f:
		return nil
	case to == StatusInvestigating && f >= StatusRank(StatusContained):
		return nil
	default:
		return fmt.Errorf("cannot move from %s back to %s (reopen to investigating)", from, to)
	}
}

// Triage is the people-owned state of an incident: its workflow status,
// assignee, notes and ISMS classification. The correlator owns the
// detection (Incident); the console owns Triage. Version increases by one
// with every accepted change and is the optimistic-concurrency token of
// the API (a write naming a stale version is refused with 409).
type Triage struct {
	// IncidentID and Site name the incident.
	IncidentID string `json:"incident_id"`
	Site       string `json:"site"`
	// Version is the number of accepted changes (1 after the first).
	Version uint64 `json:"version"`
	// Status is one of Statuses.
	Status string `json:"status"`
	// Assignee is the user the incident is assigned to, empty if none.
	Assignee string `json:"assignee,omitempty"`
	// ISMS is the ISMS owner's classification for incident reporting.
	ISMS ISMSRecord `json:"isms"`
	// Notes are the analysts' notes, oldest first.
	Notes []Note `json:"notes,omitempty"`
	// History is every accepted change, oldest first: who, when, what.
	History []TriageChange `json:"history"`
	// UpdatedAt and UpdatedBy are the time and user of the latest change.
	UpdatedAt time.Time `json:"updated_at"`
	UpdatedBy string    `json:"updated_by"`
}

// Note is one free-text note on an incident.
type Note struct {
	At     time.Time `json:"at"`
	Author string    `json:"author"`
	Role   string    `json:"role"`
	Text   string    `json:"text"`
}

// TriageChange is one accepted change of a Triage: the audit record of a
// console write.
type TriageChange struct {
	// Version is the Triage version this change produced.
	Version uint64    `json:"version"`
	At      time.Time `json:"at"`
	// Actor is the authenticated user, Role the role they acted in.
	Actor string `json:"actor"`
	Role  string `json:"role"`
	// Field is what changed: status, assignee, note or an isms.* field.
	Field string `json:"field"`
	// From and To are the old and new values (a note's text in To).
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
}

// ISMSRecord is what the ISMS owner records about an incident for ISO/IEC
// 27001 A.5.24-5.28 reporting and NIS2 Article 23 notifications.
type ISMSRecord struct {
	// Classification is "event" or "incident" (ISO/IEC 27035), empty until
	// assessed.
	Classification string `json:"classification,omitempty"`
	// Category is the incident category (e.g. malware, unauthorized_change,
	// availability, safety).
	Category string `json:"category,omitempty"`
	// Significant marks a NIS2 significant incident: the NIS2 clocks run
	// from BecameAwareAt.
	Significant bool `json:"significant"`
	// BecameAwareAt is when the entity became aware of the significant
	// incident (NIS2 Art. 23: the 24 h / 72 h clocks start here).
	BecameAwareAt *time.Time `json:"became_aware_at,omitempty"`
	// EarlyWarningAt, NotificationAt and FinalReportAt are when each NIS2
	// submission was made to the CSIRT/authority; nil until made.
	EarlyWarningAt *time.Time `json:"early_warning_at,omitempty"`
	NotificationAt *time.Time `json:"notification_at,omitempty"`
	FinalReportAt  *time.Time `json:"final_report_at,omitempty"`
	// Impact rates the effects: none, low, medium, high per dimension.
	Impact Impact `json:"impact"`
	// LessonsLearned is the post-incident review's text (A.5.27).
	LessonsLearned string `json:"lessons_learned,omitempty"`
	// Evidence lists references to collected evidence (A.5.28).
	Evidence []string `json:"evidence,omitempty"`
}

// Impact rates an incident's effects, each none, low, medium or high
// (empty when not assessed).
type Impact struct {
	Confidentiality string `json:"confidentiality,omitempty"`
	Integrity       string `json:"integrity,omitempty"`
	Availability    string `json:"availability,omitempty"`
	Safety          string `json:"safety,omitempty"`
	Operations      string `json:"operations,omitempty"`
}

// NewTriage is the state of an incident nobody has touched yet: version 0,
// status new.
func NewTriage(incidentID, site string) Triage {
	return Triage{IncidentID: incidentID, Site: site, Status: StatusNew}
}
