package report

// Control states (Control.Status).
const (
	// ControlEvidenced: every field the control needs is filled.
	ControlEvidenced = "evidenced"
	// ControlPartial: some of its fields are filled.
	ControlPartial = "partial"
	// ControlMissing: none are.
	ControlMissing = "missing"
	// ControlNotApplicable: the control does not apply (the NIS2 stages of
	// an incident that is not significant).
	ControlNotApplicable = "not_applicable"
)

// Control is one control reference the report serves, with the report
// fields that evidence it and whether they are filled.
type Control struct {
	// Framework is "ISO/IEC 27001:2022", "ISO/IEC 27035-1:2023" or
	// "NIS2 (EU) 2022/2555".
	Framework string `json:"framework"`
	// ID is the control, clause or article (A.5.25, 5.4, Art. 23(4)(a)).
	ID    string `json:"id"`
	Title string `json:"title"`
	// Fields are the JSON paths of the report fields that evidence it.
	Fields []string `json:"fields"`
	// Status is evidenced, partial, missing or not_applicable.
	Status string `json:"status"`
	// Missing lists the Fields that are still empty.
	Missing []string `json:"missing"`
}

// Frameworks of ControlMap.
const (
	ISO27001 = "ISO/IEC 27001:2022"
	ISO27035 = "ISO/IEC 27035-1:2023"
	NIS2Dir  = "NIS2 (EU) 2022/2555"
)

// ControlMap is the mapping of report fields to the controls they
// evidence (docs/ISMS-REPORTING.md explains it). The NIS2 entries apply
// only to significant incidents.
var ControlMap = []Control{
	{Framework: ISO27001, ID: "A.5.24", Title: "Information security incident management planning and preparation",
		Fields: []string{"incident.assignee", "response.actions"}},
	{Framework: ISO27001, ID: "A.5.25", Title: "Assessment and decision on information security events",
		Fields: []string{"classification.type", "classification.category", "classification.severity", "timeline.classified_at", "decisions"}},
	{Framework: ISO27001, ID: "A.5.26", Title: "Response to information security incidents",
		Fields: []string{"response.actions", "timeline.contained_at", "timeline.recovered_at", "impact"}},
	{Framework: ISO27001, ID: "A.5.27", Title: "Learning from information security incidents",
		Fields: []string{"lessons_learned"}},
	{Framework: ISO27001, ID: "A.5.28", Title: "Collection of evidence",
		Fields: []string{"evidence.reference", "evidence.event", "evidence.audit"}},
	{Framework: ISO27001, ID: "A.6.8", Title: "Information security event reporting",
		Fields: []string{"detection.rule_ids", "timeline.detected_at", "timeline.reported_at"}},
	{Framework: ISO27035, ID: "5.3", Title: "Detect and report",
		Fields: []string{"timeline.first_observed_at", "timeline.detected_at", "timeline.reported_at", "detection.rule_ids"}},
	{Framework: ISO27035, ID: "5.4", Title: "Assess and decide",
		Fields: []string{"classification.type", "classification.category", "timeline.acknowledged_at", "timeline.classified_at"}},
	{Framework: ISO27035, ID: "5.5", Title: "Respond",
		Fields: []string{"response.actions", "timeline.contained_at", "timeline.recovered_at"}},
	{Framework: ISO27035, ID: "5.6", Title: "Learn lessons",
		Fields: []string{"lessons_learned", "timeline.closed_at"}},
	{Framework: NIS2Dir, ID: "Art. 23(3)", Title: "Significant incident",
		Fields: []string{"classification.significant", "impact", "timeline.became_aware_at"}},
	{Framework: NIS2Dir, ID: "Art. 23(4)(a)", Title: "Early warning within 24 hours",
		Fields: []string{"timeline.became_aware_at", "nis2.early_warning.submitted_at"}},
	{Framework: NIS2Dir, ID: "Art. 23(4)(b)", Title: "Incident notification within 72 hours",
		Fields: []string{"nis2.notification.submitted_at", "classification.severity", "impact"}},
	{Framework: NIS2Dir, ID: "Art. 23(4)(d)", Title: "Final report within one month of the notification",
		Fields: []string{"nis2.final_report.submitted_at", "impact", "lessons_learned"}},
}

// filled reports which ControlMap fields of r hold a value.
func filled(r *Report) map[string]bool {
	submitted := func(name string) bool {
		for _, c := range r.NIS2.Clocks {
			if c.Submission == name {
				return c.SubmittedAt != nil
			}
		}
		return false
	}
	hasEvidence := func(kind string) bool {
		for _, e := range r.Evidence {
			if e.Kind == kind {
				return true
			}
		}
		return false
	}
	im := r.Impact
	return map[string]bool{
		"incident.assignee":               r.Incident.Assignee != "",
		"response.actions":                len(r.Response.Actions) > 0,
		"classification.type":             r.Classification.Type != "",
		"classification.category":         r.Classification.Category != "",
		"classification.severity":         r.Classification.Severity != "",
		"classification.significant":      r.Classification.Significant,
		"decisions":                       len(r.Decisions) > 0,
		"impact":                          im.Confidentiality != "" || im.Integrity != "" || im.Availability != "" || im.Safety != "" || im.Operations != "",
		"lessons_learned":                 r.LessonsLearned != "",
		"evidence.reference":              hasEvidence(EvidenceReference),
		"evidence.event":                  hasEvidence(EvidenceEvent),
		"evidence.audit":                  hasEvidence(EvidenceAudit),
		"detection.rule_ids":              len(r.Detection.RuleIDs) > 0,
		"timeline.first_observed_at":      r.Timeline.FirstObservedAt != nil,
		"timeline.detected_at":            r.Timeline.DetectedAt != nil,
		"timeline.reported_at":            r.Timeline.ReportedAt != nil,
		"timeline.became_aware_at":        r.Timeline.BecameAwareAt != nil,
		"timeline.classified_at":          r.Timeline.ClassifiedAt != nil,
		"timeline.acknowledged_at":        r.Timeline.AcknowledgedAt != nil,
		"timeline.contained_at":           r.Timeline.ContainedAt != nil,
		"timeline.recovered_at":           r.Timeline.RecoveredAt != nil,
		"timeline.closed_at":              r.Timeline.ClosedAt != nil,
		"nis2.early_warning.submitted_at": submitted(SubmissionEarlyWarning),
		"nis2.notification.submitted_at":  submitted(SubmissionNotification),
		"nis2.final_report.submitted_at":  submitted(SubmissionFinalReport),
	}
}

// controls evaluates ControlMap against r.
func controls(r *Report) []Control {
	have := filled(r)
	out := make([]Control, 0, len(ControlMap))
	for _, c := range ControlMap {
		c.Fields = append([]string(nil), c.Fields...)
		c.Missing = []string{}
		if c.Framework == NIS2Dir && !r.Classification.Significant {
			c.Status = ControlNotApplicable
			out = append(out, c)
			continue
		}
		for _, f := range c.Fields {
			if !have[f] {
				c.Missing = append(c.Missing, f)
			}
		}
		switch len(c.Missing) {
		case 0:
			c.Status = ControlEvidenced
		case len(c.Fields):
			c.Status = ControlMissing
		default:
			c.Status = ControlPartial
		}
		out = append(out, c)
	}
	return out
}
