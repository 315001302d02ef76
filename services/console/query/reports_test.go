package query_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/c981/c981/services/console/internal/fixture"
	"github.com/c981/c981/services/console/query"
	"github.com/c981/c981/services/console/report"
	"github.com/c981/c981/services/shared/event"
)

// Incidents of the demo fixture the report tests use.
var (
	repIncidentRDP   = event.NewID("incident", "rdp-brute")
	repIncidentRogue = event.NewID("incident", "rogue")
	repIncidentOther = event.NewID("incident", "other-site")
)

func repTime(t time.Time) *time.Time { return &t }

// reportTriage is the triage the report tests store: the SIS incident is
// significant with two versions (the older one not significant), the
// rogue device incident is significant and never reported, the RDP one
// was triaged without ISMS classification, the other site's incident is
// significant too.
func reportTriage() []event.Triage {
	b := fixture.Base
	sis1 := event.Triage{IncidentID: fixture.IncidentSIS, Site: fixture.Site, Version: 1, Status: event.StatusAcknowledged,
		History: []event.TriageChange{{Version: 1, At: b.Add(70 * time.Minute), Actor: "alice", Role: "analyst", Field: "status", From: "new", To: "acknowledged"}}}
	sis2 := sis1
	sis2.Version, sis2.Status, sis2.Assignee = 3, event.StatusContained, "alice"
	sis2.ISMS = event.ISMSRecord{Classification: "incident", Category: "unauthorized_change", Significant: true,
		BecameAwareAt: repTime(b.Add(80 * time.Minute)), EarlyWarningAt: repTime(b.Add(20 * time.Hour)),
		Impact: event.Impact{Integrity: "high", Safety: "medium"}, Evidence: []string{"pcap://sis-01/1"}}
	sis2.History = append(slices.Clone(sis1.History),
		event.TriageChange{Version: 2, At: b.Add(80 * time.Minute), Actor: "isabel", Role: "isms_owner", Field: "isms.classification", To: "incident"},
		event.TriageChange{Version: 3, At: b.Add(3 * time.Hour), Actor: "alice", Role: "analyst", Field: "status", From: "acknowledged", To: "contained"})
	rogue := event.Triage{IncidentID: repIncidentRogue, Site: fixture.Site, Version: 1, Status: event.StatusAcknowledged,
		ISMS:    event.ISMSRecord{Significant: true, BecameAwareAt: repTime(b.Add(2 * time.Hour))},
		History: []event.TriageChange{{Version: 1, At: b.Add(2 * time.Hour), Actor: "isabel", Role: "isms_owner", Field: "isms.significant", From: "false", To: "true"}}}
	rdp := event.Triage{IncidentID: repIncidentRDP, Site: fixture.Site, Version: 2, Status: event.StatusResolved,
		History: []event.TriageChange{
			{Version: 1, At: b.Add(-50 * time.Minute), Actor: "alice", Role: "analyst", Field: "status", From: "new", To: "acknowledged"},
			{Version: 2, At: b.Add(time.Hour), Actor: "alice", Role: "analyst", Field: "status", From: "acknowledged", To: "resolved"}}}
	other := event.Triage{IncidentID: repIncidentOther, Site: "other-plant", Version: 1, Status: event.StatusAcknowledged,
		ISMS: event.ISMSRecord{Significant: true, BecameAwareAt: repTime(b.Add(-100 * time.Hour))}}
	return []event.Triage{sis1, sis2, rogue, rdp, other}
}

// reportAudit are audit records of the SIS incident's first plan: an
// approval of its block step, stored twice (a redelivery).
func reportAudit() []report.AuditRecord {
	plan := event.NewID("plan", fixture.IncidentSIS, "1")
	r := report.AuditRecord{Seq: 7, Hash: "h7", Time: fixture.Base.Add(75 * time.Minute).Add(123456789), Actor: "sam", ActorRole: "safety_engineer",
		Kind: report.AuditApproval, What: "approve isolate-conduit", Why: "ok", Result: event.VerdictApprove,
		IncidentVersion: 1, PlanID: plan, StepID: "isolate-conduit"}
	return []report.AuditRecord{r, r}
}

// loadReportData stores triage rows and audit records the way the store
// writes them (explicit-column batch inserts).
func loadReportData(t *testing.T, conn driver.Conn, triage []event.Triage, audit []report.AuditRecord) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b, err := conn.PrepareBatch(ctx, `INSERT INTO incident_triage (site, incident_id, version, status, assignee, updated_at, significant, doc)`)
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range triage {
		doc, err := json.Marshal(tr)
		if err != nil {
			t.Fatal(err)
		}
		sig := uint8(0)
		if tr.ISMS.Significant {
			sig = 1
		}
		if err := b.Append(tr.Site, tr.IncidentID, tr.Version, tr.Status, tr.Assignee, tr.UpdatedAt, sig, string(doc)); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
	a, err := conn.PrepareBatch(ctx, `INSERT INTO audit (site, seq, id, time, time_ns, actor, actor_role, kind, what, why, result,
		incident_id, incident_version, plan_id, step_id, inputs_hash, prev_hash, hash)`)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range audit {
		if err := a.Append(fixture.Site, r.Seq, event.NewID("audit", r.Hash), r.Time, uint32(r.Time.Nanosecond()), r.Actor, r.ActorRole,
			r.Kind, r.What, r.Why, r.Result, fixture.IncidentSIS, r.IncidentVersion, r.PlanID, r.StepID, "", "", r.Hash); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Send(); err != nil {
		t.Fatal(err)
	}
}

func reportDB(t *testing.T) *query.DB {
	t.Helper()
	conn := fixture.Open(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := fixture.Load(ctx, conn, fixture.Demo()); err != nil {
		t.Fatal(err)
	}
	loadReportData(t, conn, reportTriage(), reportAudit())
	db, err := query.New(conn, query.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func TestGetReportData(t *testing.T) {
	db := reportDB(t)
	ctx := context.Background()
	d, err := db.GetReportData(ctx, fixture.IncidentSIS)
	if err != nil {
		t.Fatal(err)
	}
	if d.Incident.Version != 2 || d.Incident.Severity != event.SevCritical || d.Incident.Target.AssetID != "demo-plant/sis-01" {
		t.Errorf("incident %+v, want the latest version", d.Incident)
	}
	if d.Triage.Version != 3 || !d.Triage.ISMS.Significant || len(d.Triage.History) != 3 {
		t.Errorf("triage version %d significant %v, want the latest (3, significant)", d.Triage.Version, d.Triage.ISMS.Significant)
	}
	if len(d.Alerts) != 2 || d.AlertCount != 2 || len(d.EventIDs) != 4 {
		t.Errorf("%d alerts (count %d), %d event ids; want 2, 2, 4", len(d.Alerts), d.AlertCount, len(d.EventIDs))
	}
	if len(d.Plans) != 2 || len(d.Plans[0].Steps) != 3 || d.Plans[0].Steps[0].ID != "notify-operator" {
		t.Errorf("plans %+v, want two plans, steps in order", d.Plans)
	}
	if len(d.Audit) != 1 || d.Audit[0].Seq != 7 || !d.Audit[0].Time.Equal(reportAudit()[0].Time) {
		t.Errorf("audit %+v, want the one record (stored twice) with its nanoseconds", d.Audit)
	}
	in := d.ReportInput()
	in.Now = fixture.Base.Add(30 * time.Hour)
	r := report.Build(in)
	if r.Timeline.ClassifiedAt == nil || r.Timeline.ContainedAt == nil || len(r.NIS2.Clocks) != 3 || r.NIS2.Clocks[0].State != report.StateDone {
		t.Errorf("report timeline %+v nis2 %+v", r.Timeline, r.NIS2)
	}

	t.Run("never triaged", func(t *testing.T) {
		d, err := db.GetReportData(ctx, fixture.IncidentLate)
		if err != nil {
			t.Fatal(err)
		}
		if d.Triage.Version != 0 || d.Triage.Status != event.StatusNew || len(d.Audit) != 0 || len(d.Plans) != 0 {
			t.Errorf("triage %+v audit %d plans %d, want none", d.Triage, len(d.Audit), len(d.Plans))
		}
	})
	t.Run("not found", func(t *testing.T) {
		if _, err := db.GetReportData(ctx, event.NewID("no such incident")); !errors.Is(err, query.ErrNotFound) {
			t.Errorf("err %v, want ErrNotFound", err)
		}
	})
	t.Run("bad id", func(t *testing.T) {
		var invalid query.InvalidParams
		if _, err := db.GetReportData(ctx, "x') OR 1=1 --"); !errors.As(err, &invalid) {
			t.Errorf("err %v, want InvalidParams", err)
		}
	})
}

func itemIDs(items []report.Item) []string {
	var out []string
	for _, it := range items {
		out = append(out, it.Incident.ID)
	}
	slices.Sort(out)
	return out
}

func sortedIDs(ids ...string) []string {
	slices.Sort(ids)
	return ids
}

func TestSummaryItems(t *testing.T) {
	db := reportDB(t)
	ctx := context.Background()
	b := fixture.Base
	for _, tc := range []struct {
		name string
		f    query.ReportFilter
		want []string
	}{
		// Opened in the window: SIS (10:00:05), modbus (10:20); plus the
		// significant rogue incident opened later.
		{"window", query.ReportFilter{Site: fixture.Site, From: b.Add(time.Hour), To: b.Add(90 * time.Minute)},
			sortedIDs(fixture.IncidentSIS, event.NewID("incident", "hmi-modbus"), repIncidentRogue)},
		{"whole day", query.ReportFilter{Site: fixture.Site, From: b.Add(-9 * time.Hour), To: b.Add(15 * time.Hour)},
			sortedIDs(fixture.IncidentSIS, event.NewID("incident", "hmi-modbus"), repIncidentRogue, repIncidentRDP, fixture.IncidentLate)},
		{"nothing opened: the significant ones", query.ReportFilter{Site: fixture.Site, From: b.Add(-100 * time.Hour), To: b.Add(-99 * time.Hour)},
			sortedIDs(fixture.IncidentSIS, repIncidentRogue)},
		{"other site", query.ReportFilter{Site: "other-plant", From: b.Add(-100 * time.Hour), To: b.Add(-99 * time.Hour)}, sortedIDs(repIncidentOther)},
		{"scope excludes the site", query.ReportFilter{Site: "other-plant", Sites: []string{fixture.Site}, From: b, To: b.Add(time.Hour)}, nil},
		{"injection in site", query.ReportFilter{Site: "x' OR 1=1 --", From: b, To: b.Add(time.Hour)}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			items, err := db.SummaryItems(ctx, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			if got := itemIDs(items); !slices.Equal(got, tc.want) {
				t.Errorf("items %v, want %v", got, tc.want)
			}
			for _, it := range items {
				if it.Incident.ID == fixture.IncidentSIS && (it.Triage.Version != 3 || it.Incident.Version != 2 || it.Incident.Severity != event.SevCritical) {
					t.Errorf("SIS item: incident v%d %s triage v%d, want the latest of both", it.Incident.Version, it.Incident.Severity, it.Triage.Version)
				}
				if it.Incident.ID == fixture.IncidentLate && it.Triage.Version != 0 {
					t.Errorf("untriaged incident has triage %+v", it.Triage)
				}
			}
		})
	}
	t.Run("summary", func(t *testing.T) {
		f := query.ReportFilter{Site: fixture.Site, From: b.Add(-9 * time.Hour), To: b.Add(27 * time.Hour)}
		items, err := db.SummaryItems(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		s := report.Summarize(f.Site, report.Period{From: f.From, To: f.To}, items, b.Add(30*time.Hour), nil)
		// Acknowledged: SIS and RDP; resolved: RDP, two hours after its
		// 08:00 opening.
		if s.Opened != 5 || s.TimeToAcknowledge.Count != 2 || s.TimeToResolve.Count != 1 || *s.TimeToResolve.MeanSeconds != 7200 {
			t.Errorf("summary %+v", s)
		}
		// Due in the period: SIS's early warning (made on time) and the
		// rogue incident's (missing, overdue at now); the notifications
		// fall after it.
		if s.NIS2.Overdue != 1 || s.NIS2.DoneOnTime != 1 {
			t.Errorf("nis2 %+v", s.NIS2)
		}
	})
	for _, tc := range []struct {
		name  string
		f     query.ReportFilter
		param string
	}{
		{"no site", query.ReportFilter{From: b, To: b.Add(time.Hour)}, "site"},
		{"no from", query.ReportFilter{Site: fixture.Site, To: b}, "from"},
		{"to before from", query.ReportFilter{Site: fixture.Site, From: b, To: b}, "to"},
		{"too long", query.ReportFilter{Site: fixture.Site, From: b, To: b.Add(400 * 24 * time.Hour)}, "to"},
	} {
		t.Run("invalid/"+tc.name, func(t *testing.T) {
			var invalid query.InvalidParams
			_, err := db.SummaryItems(ctx, tc.f)
			if !errors.As(err, &invalid) || invalid[0].Param != tc.param {
				t.Errorf("err %v, want invalid %s", err, tc.param)
			}
		})
	}
}

func TestNIS2Items(t *testing.T) {
	db := reportDB(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		f    query.ReportFilter
		want []string
	}{
		{"all sites", query.ReportFilter{}, sortedIDs(fixture.IncidentSIS, repIncidentRogue, repIncidentOther)},
		{"one site", query.ReportFilter{Site: fixture.Site}, sortedIDs(fixture.IncidentSIS, repIncidentRogue)},
		{"scoped", query.ReportFilter{Sites: []string{"other-plant"}}, sortedIDs(repIncidentOther)},
		{"site outside the scope", query.ReportFilter{Site: fixture.Site, Sites: []string{"other-plant"}}, nil},
		{"empty scope", query.ReportFilter{Sites: []string{}}, nil},
		{"unknown site", query.ReportFilter{Site: "nowhere"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			items, err := db.NIS2Items(ctx, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			if got := itemIDs(items); !slices.Equal(got, tc.want) {
				t.Errorf("items %v, want %v", got, tc.want)
			}
			for _, it := range items {
				if !it.Triage.ISMS.Significant {
					t.Errorf("%s listed without being significant", it.Incident.ID)
				}
			}
		})
	}
}
