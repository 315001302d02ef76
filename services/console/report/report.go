package report

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/c981/c981/services/shared/event"
	"github.com/c981/c981/services/shared/site"
)

// SchemaVersion is the version of the report's JSON form; it changes only
// when a field is renamed, removed or changes meaning.
const SchemaVersion = 1

// Audit record kinds (the respond stage's audit chain, ClickHouse table
// audit) that reports read.
const (
	AuditDecision = "decision"
	AuditAction   = "action"
	AuditApproval = "approval"
)

// AuditRecord is one record of the respond stage's hash-chained audit log
// about the incident (a constraint decision, an executed action or an
// approval).
type AuditRecord struct {
	// Seq is the record's position in the site's chain, Hash its chain hash.
	Seq  uint64 `json:"seq"`
	Hash string `json:"hash"`
	// Time is when it happened.
	Time time.Time `json:"time"`
	// Actor and ActorRole are who acted and in which role.
	Actor     string `json:"actor"`
	ActorRole string `json:"actor_role,omitempty"`
	// Kind is decision, action or approval.
	Kind string `json:"kind"`
	// What, Why and Result describe the record: for an approval Result is
	// the verdict (approve, reject), for an action the executor status
	// (done, dry_run, failed, ...), for a decision the constraint decision.
	What   string `json:"what"`
	Why    string `json:"why"`
	Result string `json:"result"`
	// IncidentVersion, PlanID and StepID bind it to a plan step.
	IncidentVersion uint64 `json:"incident_version"`
	PlanID          string `json:"plan_id"`
	StepID          string `json:"step_id"`
}

// Input is everything one incident's report is built from.
type Input struct {
	// Incident is the incident's latest version.
	Incident event.Incident
	// Triage is its triage state (event.NewTriage when never triaged).
	Triage event.Triage
	// Alerts are its alerts (any order).
	Alerts []event.Alert
	// AlertCount is the number of alerts the incident has accumulated (may
	// exceed len(Alerts) when the caller capped them); 0 means len(Alerts).
	AlertCount int
	// EventIDs are the contributing event ids named by the alerts.
	EventIDs []string
	// Plans are its response plans with each step's decision.
	Plans []event.Plan
	// Audit are the audit records of the incident (any order).
	Audit []AuditRecord
	// Site is the site model, nil when it is not loaded: the scope then
	// carries only what the incident records.
	Site *site.Model
	// Now is the time the report is generated at (the NIS2 clocks are
	// evaluated then).
	Now time.Time
}

// Report is the ISMS report of one incident. Its JSON field names are
// stable (docs/ISMS-REPORTING.md); times are UTC RFC 3339 and absent when
// unknown.
type Report struct {
	SchemaVersion  int            `json:"report_schema_version"`
	GeneratedAt    time.Time      `json:"generated_at"`
	Incident       Header         `json:"incident"`
	Classification Classification `json:"classification"`
	Detection      Detection      `json:"detection"`
	Timeline       Timeline       `json:"timeline"`
	Scope          Scope          `json:"scope"`
	Impact         event.Impact   `json:"impact"`
	Response       Response       `json:"response"`
	// Evidence lists the references to evidence: the ISMS owner's
	// references first, then the stored alerts, events and audit records.
	Evidence []Evidence `json:"evidence"`
	// LessonsLearned is the post-incident review (A.5.27), "" until written.
	LessonsLearned string `json:"lessons_learned"`
	// NIS2 holds the Art. 23 clocks of a significant incident.
	NIS2 NIS2 `json:"nis2"`
	// Decisions is the triage history: every accepted change with who, when
	// and what (the record of A.5.25 decisions), oldest first.
	Decisions []event.TriageChange `json:"decisions"`
	// Notes are the analysts' notes, oldest first.
	Notes []event.Note `json:"notes"`
	// Controls maps the report's fields to the controls they evidence.
	Controls []Control `json:"controls"`
}

// Header identifies the incident.
type Header struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	Site  string `json:"site"`
	// Status is the triage status (the correlator's when never triaged).
	Status string `json:"status"`
	// Phase is the ISO/IEC 27035-1 phase the status corresponds to:
	// detect_and_report, assess_and_decide, respond or learn_lessons.
	Phase string `json:"phase"`
	// Version is the incident's detection version, TriageVersion its
	// triage version.
	Version       uint64 `json:"version"`
	TriageVersion uint64 `json:"triage_version"`
	Assignee      string `json:"assignee"`
	// Risk is the correlator's 0-100 risk score.
	Risk int `json:"risk"`
}

// Classification is the A.5.25 assessment.
type Classification struct {
	// Type is event or incident (ISO/IEC 27035), "" until assessed.
	Type     string `json:"type"`
	Category string `json:"category"`
	Severity string `json:"severity"`
	// AttackICS are the MITRE ATT&CK (for ICS) technique ids.
	AttackICS []string `json:"attack_ics"`
	// Significant marks a NIS2 significant incident.
	Significant bool `json:"significant"`
}

// Detection says how the incident was detected and reported (A.6.8).
type Detection struct {
	// Reporter is the correlation engine: incidents are reported to the
	// SOC queue by the pipeline.
	Reporter string `json:"reporter"`
	// RuleIDs are the correlation rules that fired.
	RuleIDs []string `json:"rule_ids"`
	// Alerts is the number of alerts, Events the contributing events.
	Alerts int `json:"alerts"`
	Events int `json:"events"`
	// Sources are the sensors and listeners of the alerts (alert field
	// "source"), sorted.
	Sources []string `json:"sources"`
	// AlertList are the alerts read for the report, oldest first; it has
	// fewer than Alerts entries when the console capped them.
	AlertList []AlertRef `json:"alert_list"`
}

// AlertRef is one contributing alert.
type AlertRef struct {
	ID         string    `json:"id"`
	Time       time.Time `json:"time"`
	RuleID     string    `json:"rule_id"`
	Severity   string    `json:"severity"`
	Techniques []string  `json:"techniques"`
	Summary    string    `json:"summary"`
}

// Timeline holds the incident's milestones (UTC; absent when not reached).
type Timeline struct {
	// FirstObservedAt is the event time of the earliest alert.
	FirstObservedAt *time.Time `json:"first_observed_at,omitempty"`
	// DetectedAt is when the correlator raised the first alert.
	DetectedAt *time.Time `json:"detected_at,omitempty"`
	// ReportedAt is when the incident was reported to the SOC queue (A.6.8);
	// the pipeline reports at detection.
	ReportedAt *time.Time `json:"reported_at,omitempty"`
	// BecameAwareAt starts the NIS2 clocks.
	BecameAwareAt *time.Time `json:"became_aware_at,omitempty"`
	// ClassifiedAt is the first ISMS classification (A.5.25).
	ClassifiedAt *time.Time `json:"classified_at,omitempty"`
	// AcknowledgedAt, ContainedAt, RecoveredAt (status resolved) and
	// ClosedAt come from the triage status history: the first time the
	// status reached each, counted again after a reopening.
	AcknowledgedAt *time.Time `json:"acknowledged_at,omitempty"`
	ContainedAt    *time.Time `json:"contained_at,omitempty"`
	RecoveredAt    *time.Time `json:"recovered_at,omitempty"`
	ClosedAt       *time.Time `json:"closed_at,omitempty"`
}

// Scope is what the incident affected.
type Scope struct {
	Site     string `json:"site"`
	SiteName string `json:"site_name"`
	// LegalEntity is the entity subject to NIS2: the site model's name (the
	// model has no separate legal-entity field).
	LegalEntity string `json:"legal_entity"`
	// NIS2EntityClass (essential, important, out_of_scope) and NIS2Sector
	// come from the site model.
	NIS2EntityClass string `json:"nis2_entity_class"`
	NIS2Sector      string `json:"nis2_sector"`
	// Timezone is the site's time zone (the NIS2 month is counted there).
	Timezone string  `json:"timezone"`
	Assets   []Asset `json:"assets"`
	Zones    []Zone  `json:"zones"`
}

// Asset is one affected asset.
type Asset struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Role string `json:"role"`
	Zone string `json:"zone"`
	// Purdue is the Purdue level, absent when unknown.
	Purdue      *float64 `json:"purdue_level,omitempty"`
	Criticality string   `json:"criticality"`
	Safety      bool     `json:"safety"`
	// SLT is the zone's target security level, 0 when unknown.
	SLT int `json:"sl_t"`
	// Known is false for an address the inventory does not list.
	Known bool `json:"known"`
}

// Zone is one affected zone.
type Zone struct {
	ID     string   `json:"id"`
	Name   string   `json:"name"`
	Kind   string   `json:"kind"`
	Purdue *float64 `json:"purdue_level,omitempty"`
	Safety bool     `json:"safety"`
	// SLT and SLA are the zone's target and achieved security levels.
	SLT int `json:"sl_t"`
	SLA int `json:"sl_a"`
}

// Response is the A.5.26 response record.
type Response struct {
	// Actions are the steps of the response plans, plan by plan.
	Actions []Action `json:"actions"`
}

// Action states (Action.State).
const (
	// ActionForbidden: the constraint engine forbade the step; nothing was
	// done to the process.
	ActionForbidden = "forbidden"
	// ActionAwaitingApproval: needs approval, quorum not reached.
	ActionAwaitingApproval = "awaiting_approval"
	// ActionApproved: the quorum of distinct people approved; not executed
	// (yet).
	ActionApproved = "approved"
	// ActionRejected: someone rejected the step.
	ActionRejected = "rejected"
	// ActionManual: a step for people (guidance, manual notification);
	// the system does not execute it.
	ActionManual = "manual"
	// ActionPending: allowed and automatic, no execution recorded yet.
	ActionPending = "pending"
)

// Action is one response step with its decision, state and approvers.
type Action struct {
	PlanID          string    `json:"plan_id"`
	IncidentVersion uint64    `json:"incident_version"`
	Playbook        string    `json:"playbook"`
	PlaybookTitle   string    `json:"playbook_title"`
	ProposedAt      time.Time `json:"proposed_at"`
	StepID          string    `json:"step_id"`
	Kind            string    `json:"kind"`
	Action          string    `json:"action,omitempty"`
	Class           string    `json:"class"`
	Audience        string    `json:"audience,omitempty"`
	Text            string    `json:"text"`
	// Decision is the constraint engine's (allowed, needs_approval,
	// forbidden) and Reason its explanation.
	Decision string `json:"decision"`
	Reason   string `json:"reason"`
	// RequiredApprovers are the roles whose approval the step needs,
	// Quorum how many distinct people.
	RequiredApprovers []string `json:"required_approvers"`
	Quorum            int      `json:"quorum,omitempty"`
	// State is forbidden, awaiting_approval, approved, rejected, manual,
	// pending, or the executor's status of the latest execution (done,
	// dry_run, failed, ...).
	State string `json:"state"`
	// ExecutedAt is the time of the latest execution record.
	ExecutedAt *time.Time `json:"executed_at,omitempty"`
	// Approvals are the verdicts given, oldest first.
	Approvals []Approval `json:"approvals"`
}

// Approval is one person's verdict on a step.
type Approval struct {
	At      time.Time `json:"at"`
	By      string    `json:"by"`
	Role    string    `json:"role"`
	Verdict string    `json:"verdict"`
}

// Evidence kinds.
const (
	EvidenceReference = "reference" // recorded by the ISMS owner
	EvidenceAlert     = "alert"     // a stored alert (ClickHouse alerts.id)
	EvidenceEvent     = "event"     // a stored event (ClickHouse events.id)
	EvidenceAudit     = "audit"     // an audit chain record (site, seq, hash)
)

// Evidence is one reference to collected evidence (A.5.28).
type Evidence struct {
	Kind string `json:"kind"`
	Ref  string `json:"ref"`
	// Hash is the audit record's chain hash (integrity), "" otherwise.
	Hash string `json:"hash,omitempty"`
}

// NIS2 is the Art. 23 reporting state.
type NIS2 struct {
	// Significant marks a significant incident; the clocks run only then.
	Significant bool `json:"significant"`
	// Clocks are early_warning, notification and final_report; empty when
	// not significant.
	Clocks []Clock `json:"clocks"`
	// Overdue is true when a submission is missing past its deadline.
	Overdue bool `json:"overdue"`
}

// Phases of ISO/IEC 27035-1 (Header.Phase).
const (
	PhaseDetectAndReport = "detect_and_report"
	PhaseAssessAndDecide = "assess_and_decide"
	PhaseRespond         = "respond"
	PhaseLearnLessons    = "learn_lessons"
)

// Phase returns the ISO/IEC 27035-1 phase of a triage status: new is
// detect and report, acknowledged and investigating assess and decide,
// contained and resolved respond, closed learn lessons.
func Phase(status string) string {
	switch status {
	case event.StatusNew:
		return PhaseDetectAndReport
	case event.StatusAcknowledged, event.StatusInvestigating:
		return PhaseAssessAndDecide
	case event.StatusContained, event.StatusResolved:
		return PhaseRespond
	case event.StatusClosed:
		return PhaseLearnLessons
	}
	return ""
}

// Reporter is Detection.Reporter.
const Reporter = "c981 correlation engine"

// Build assembles the report of in.Incident. Lists are never nil (JSON
// shows []), and are sorted so that the same input gives the same report.
func Build(in Input) Report {
	inc, tr := in.Incident, in.Triage
	status := tr.Status
	if tr.Version == 0 || status == "" {
		status = inc.Status
	}
	r := Report{
		SchemaVersion: SchemaVersion,
		GeneratedAt:   in.Now.UTC(),
		Incident: Header{
			ID: inc.ID, Title: inc.Title, Site: inc.Site, Status: status, Phase: Phase(status),
			Version: inc.Version, TriageVersion: tr.Version, Assignee: tr.Assignee, Risk: inc.Risk,
		},
		Classification: Classification{
			Type: tr.ISMS.Classification, Category: tr.ISMS.Category, Severity: inc.Severity,
			AttackICS: sortedSet(inc.Techniques, alertTechniques(in.Alerts)), Significant: tr.ISMS.Significant,
		},
		Impact:         tr.ISMS.Impact,
		LessonsLearned: tr.ISMS.LessonsLearned,
		Decisions:      orEmpty(tr.History),
		Notes:          orEmpty(tr.Notes),
	}
	alerts := in.AlertCount
	if alerts == 0 {
		alerts = len(in.Alerts)
	}
	r.Detection = Detection{Reporter: Reporter, RuleIDs: sortedSet(inc.RuleIDs, nil), Alerts: alerts, Events: len(in.EventIDs),
		Sources: alertSources(in.Alerts), AlertList: alertRefs(in.Alerts)}
	r.Timeline = timeline(inc, tr, in.Alerts)
	r.Scope = scope(inc, in.Alerts, in.Site)
	audit := uniqueAudit(in.Audit)
	r.Response = Response{Actions: actions(in.Plans, audit)}
	r.Evidence = evidence(tr.ISMS.Evidence, in.Alerts, in.EventIDs, audit)
	var loc *time.Location
	if in.Site != nil {
		loc = in.Site.Location()
	}
	r.NIS2 = NIS2{Significant: tr.ISMS.Significant, Clocks: orEmpty(NIS2Clocks(tr.ISMS, in.Now, loc))}
	r.NIS2.Overdue = slices.ContainsFunc(r.NIS2.Clocks, Clock.Overdue)
	r.Controls = controls(&r)
	return r
}

// Milestones are the triage status milestones derived from a history.
type Milestones struct {
	Acknowledged, Contained, Resolved, Closed *time.Time
}

// StatusMilestones walks a triage history (oldest first) and returns when
// the status first reached acknowledged, contained, resolved and closed. A
// move past several steps at once reaches each of them; a reopening (back
// to investigating) clears contained, resolved and closed, which then
// count from their next time.
func StatusMilestones(history []event.TriageChange) Milestones {
	var ms [6]*time.Time // by status rank
	for _, c := range history {
		if c.Field != "status" {
			continue
		}
		to := event.StatusRank(c.To)
		if to < 0 {
			continue
		}
		if from := event.StatusRank(c.From); from >= 0 && to < from {
			for i := to + 1; i < len(ms); i++ {
				ms[i] = nil
			}
			continue
		}
		at := c.At.UTC()
		for i := 1; i <= to; i++ {
			if ms[i] == nil {
				ms[i] = ptr(at)
			}
		}
	}
	return Milestones{
		Acknowledged: ms[event.StatusRank(event.StatusAcknowledged)],
		Contained:    ms[event.StatusRank(event.StatusContained)],
		Resolved:     ms[event.StatusRank(event.StatusResolved)],
		Closed:       ms[event.StatusRank(event.StatusClosed)],
	}
}

func timeline(inc event.Incident, tr event.Triage, alerts []event.Alert) Timeline {
	var t Timeline
	if !inc.FirstSeen.IsZero() {
		t.FirstObservedAt = ptr(inc.FirstSeen.UTC())
	}
	var detected time.Time
	for _, a := range alerts {
		if !a.CreatedAt.IsZero() && (detected.IsZero() || a.CreatedAt.Before(detected)) {
			detected = a.CreatedAt
		}
		if t.FirstObservedAt == nil || (!a.Time.IsZero() && a.Time.Before(*t.FirstObservedAt)) {
			t.FirstObservedAt = ptr(a.Time.UTC())
		}
	}
	if detected.IsZero() {
		detected = inc.OpenedAt
	}
	if !detected.IsZero() {
		t.DetectedAt = ptr(detected.UTC())
		t.ReportedAt = ptr(detected.UTC())
	}
	if tr.ISMS.BecameAwareAt != nil {
		t.BecameAwareAt = ptr(tr.ISMS.BecameAwareAt.UTC())
	}
	for _, c := range tr.History {
		if c.Field == "isms.classification" && c.To != "" {
			t.ClassifiedAt = ptr(c.At.UTC())
			break
		}
	}
	m := StatusMilestones(tr.History)
	t.AcknowledgedAt, t.ContainedAt, t.RecoveredAt, t.ClosedAt = m.Acknowledged, m.Contained, m.Resolved, m.Closed
	return t
}

func alertTechniques(alerts []event.Alert) []string {
	var out []string
	for _, a := range alerts {
		out = append(out, a.Techniques...)
	}
	return out
}

func alertRefs(alerts []event.Alert) []AlertRef {
	out := make([]AlertRef, 0, len(alerts))
	for _, a := range alerts {
		out = append(out, AlertRef{ID: a.ID, Time: a.Time.UTC(), RuleID: a.RuleID, Severity: a.Severity, Techniques: orEmpty(a.Techniques), Summary: a.Summary})
	}
	slices.SortStableFunc(out, func(a, b AlertRef) int { return cmp.Or(a.Time.Compare(b.Time), strings.Compare(a.ID, b.ID)) })
	return slices.CompactFunc(out, func(a, b AlertRef) bool { return a.ID == b.ID })
}

func alertSources(alerts []event.Alert) []string {
	var out []string
	for _, a := range alerts {
		if s := a.Fields["source"]; s != "" {
			out = append(out, s)
		}
	}
	return sortedSet(out, nil)
}

// sortedSet returns the distinct non-empty strings of a and b, sorted.
func sortedSet(a, b []string) []string {
	out := make([]string, 0, len(a)+len(b))
	for _, s := range slices.Concat(a, b) {
		if s != "" {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func scope(inc event.Incident, alerts []event.Alert, m *site.Model) Scope {
	s := Scope{Site: inc.Site, Assets: []Asset{}, Zones: []Zone{}, Timezone: "UTC"}
	if m != nil {
		s.SiteName, s.LegalEntity = m.Site.Name, m.Site.Name
		s.NIS2EntityClass, s.NIS2Sector = m.Site.NIS2.EntityClass, m.Site.NIS2.Sector
		if m.Site.Timezone != "" {
			s.Timezone = m.Site.Timezone
		}
	}
	// Affected assets: the incident's list, plus the target and source
	// endpoints (an unknown address has no asset id and is listed by IP).
	endpoints := map[string]event.Endpoint{}
	for _, e := range []event.Endpoint{inc.Target, inc.Source} {
		if k := endpointKey(e); k != "" {
			endpoints[k] = e
		}
	}
	for _, a := range alerts {
		for _, e := range []event.Endpoint{a.Src, a.Dst} {
			if k := endpointKey(e); k != "" {
				if _, ok := endpoints[k]; !ok {
					endpoints[k] = e
				}
			}
		}
	}
	ids := sortedSet(inc.Assets, nil)
	for k := range endpoints {
		ids = append(ids, k)
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	zones := map[string]bool{}
	for _, z := range inc.Zones {
		if z != "" && z != "unknown" {
			zones[z] = true
		}
	}
	for _, id := range ids {
		a := asset(id, endpoints[id], m)
		s.Assets = append(s.Assets, a)
		if a.Zone != "" && a.Zone != "unknown" {
			zones[a.Zone] = true
		}
	}
	for id := range zones {
		s.Zones = append(s.Zones, zone(id, m))
	}
	slices.SortFunc(s.Zones, func(a, b Zone) int { return strings.Compare(a.ID, b.ID) })
	return s
}

// endpointKey is the asset id of e, or its IP for an unknown address.
func endpointKey(e event.Endpoint) string {
	if e.AssetID != "" {
		return e.AssetID
	}
	return e.IP
}

func asset(id string, e event.Endpoint, m *site.Model) Asset {
	a := Asset{
		ID: id, Role: e.Role, Zone: e.Zone, Criticality: e.Criticality, Safety: e.Safety, SLT: e.SLT,
		// An id that is not the endpoint's bare address is an asset id.
		Known: e.AssetID != "" || id != e.IP,
	}
	if e.Purdue >= 0 && e.Zone != "" {
		a.Purdue = ptr(e.Purdue)
	}
	if m == nil {
		return a
	}
	i := slices.IndexFunc(m.Assets, func(x site.Asset) bool { return x.ID == id })
	if i < 0 {
		return a
	}
	ma := &m.Assets[i]
	a.Known, a.Name, a.Role, a.Zone = true, ma.Name, ma.Role, m.AssetZone(ma)
	a.Criticality, a.Safety, a.Purdue, a.SLT = ma.Criticality, ma.Safety, nil, 0
	if ma.PurdueLevel != nil {
		a.Purdue = ptr(*ma.PurdueLevel)
	}
	if j := slices.IndexFunc(m.Zones, func(x site.Zone) bool { return x.ID == a.Zone }); j >= 0 {
		z := &m.Zones[j]
		a.Criticality = cmp.Or(a.Criticality, z.Criticality)
		a.Safety = a.Safety || z.Safety
		if a.Purdue == nil && z.PurdueLevel != nil {
			a.Purdue = ptr(*z.PurdueLevel)
		}
		a.SLT = z.SecurityLevel.Target
	}
	return a
}

func zone(id string, m *site.Model) Zone {
	z := Zone{ID: id}
	if m == nil {
		return z
	}
	i := slices.IndexFunc(m.Zones, func(x site.Zone) bool { return x.ID == id })
	if i < 0 {
		return z
	}
	mz := &m.Zones[i]
	z.Name, z.Kind, z.Safety = mz.Name, mz.Kind, mz.Safety
	z.SLT, z.SLA = mz.SecurityLevel.Target, mz.SecurityLevel.Achieved
	if mz.PurdueLevel != nil {
		z.Purdue = ptr(*mz.PurdueLevel)
	}
	return z
}

type stepKey struct{ plan, step string }

// uniqueAudit returns the records in chain order (seq), a record stored
// twice (redelivered after a crash between insert and acknowledgement)
// once.
func uniqueAudit(audit []AuditRecord) []AuditRecord {
	recs := slices.Clone(audit)
	slices.SortStableFunc(recs, func(a, b AuditRecord) int {
		return cmp.Or(cmp.Compare(a.Seq, b.Seq), strings.Compare(a.Hash, b.Hash))
	})
	return slices.CompactFunc(recs, func(a, b AuditRecord) bool { return a.Seq == b.Seq && a.Hash == b.Hash })
}

func actions(plans []event.Plan, audit []AuditRecord) []Action {
	records := slices.Clone(audit)
	slices.SortStableFunc(records, func(a, b AuditRecord) int {
		return cmp.Or(a.Time.Compare(b.Time), cmp.Compare(a.Seq, b.Seq))
	})
	approvals := map[stepKey][]Approval{}
	executed := map[stepKey]AuditRecord{}
	for _, rec := range records {
		k := stepKey{rec.PlanID, rec.StepID}
		switch rec.Kind {
		case AuditApproval:
			approvals[k] = append(approvals[k], Approval{At: rec.Time.UTC(), By: rec.Actor, Role: rec.ActorRole, Verdict: rec.Result})
		case AuditAction:
			executed[k] = rec
		}
	}
	ps := slices.Clone(plans)
	slices.SortStableFunc(ps, func(a, b event.Plan) int {
		return cmp.Or(cmp.Compare(a.IncidentVersion, b.IncidentVersion), a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ID, b.ID))
	})
	out := []Action{}
	for _, p := range ps {
		steps := slices.Clone(p.Steps)
		slices.SortStableFunc(steps, func(a, b event.Step) int { return cmp.Compare(a.Index, b.Index) })
		for _, st := range steps {
			k := stepKey{p.ID, st.ID}
			a := Action{
				PlanID: p.ID, IncidentVersion: p.IncidentVersion, Playbook: p.PlaybookID, PlaybookTitle: p.PlaybookTitle,
				ProposedAt: p.CreatedAt.UTC(), StepID: st.ID, Kind: st.Kind, Action: st.Action, Class: st.Class,
				Audience: st.Audience, Text: st.Text, Decision: st.Decision, Reason: st.Reason,
				RequiredApprovers: orEmpty(st.Approvers), Quorum: st.Quorum, Approvals: orEmpty(approvals[k]),
			}
			a.State = actionState(st, a.Approvals)
			if rec, ok := executed[k]; ok {
				a.State, a.ExecutedAt = rec.Result, ptr(rec.Time.UTC())
			}
			out = append(out, a)
		}
	}
	return out
}

func actionState(st event.Step, approvals []Approval) string {
	switch st.Decision {
	case event.DecisionForbidden:
		return ActionForbidden
	case event.DecisionNeedsApproval:
		approvers := map[string]bool{}
		for _, a := range approvals {
			if a.Verdict == event.VerdictReject {
				return ActionRejected
			}
			if a.Verdict == event.VerdictApprove {
				approvers[a.By] = true
			}
		}
		if len(approvers) >= max(st.Quorum, 1) {
			return ActionApproved
		}
		return ActionAwaitingApproval
	}
	if st.Automatic {
		return ActionPending
	}
	return ActionManual
}

func evidence(refs []string, alerts []event.Alert, eventIDs []string, audit []AuditRecord) []Evidence {
	out := []Evidence{}
	for _, r := range refs {
		out = append(out, Evidence{Kind: EvidenceReference, Ref: r})
	}
	var as []string
	for _, a := range alerts {
		as = append(as, a.ID)
	}
	for _, id := range sortedSet(as, nil) {
		out = append(out, Evidence{Kind: EvidenceAlert, Ref: id})
	}
	for _, id := range sortedSet(eventIDs, nil) {
		out = append(out, Evidence{Kind: EvidenceEvent, Ref: id})
	}
	for _, rec := range audit {
		out = append(out, Evidence{Kind: EvidenceAudit, Ref: auditRef(rec), Hash: rec.Hash})
	}
	return out
}

func auditRef(rec AuditRecord) string {
	return "audit seq " + strconv.FormatUint(rec.Seq, 10) + ": " + rec.Kind + " " + rec.What
}
