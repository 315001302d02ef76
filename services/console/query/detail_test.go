package query_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/c981/c981/services/console/internal/fixture"
	"github.com/c981/c981/services/console/query"
	"github.com/c981/c981/services/shared/event"
)

// TestDetailReadsAsReport checks that the detail view, the plans view and
// the incident report read an incident and its plan steps alike: the
// detail carries the risk and the source endpoint, and the steps their
// automatic flag, quorum and timeout, as the correlator and the respond
// stage store them.
func TestDetailReadsAsReport(t *testing.T) {
	conn := fixture.Open(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := fixture.Load(ctx, conn, fixture.Demo()); err != nil {
		t.Fatal(err)
	}
	at := fixture.Base.Add(90 * time.Minute)
	id, plan := event.NewID("incident", "detail-source"), event.NewID("plan", "detail-source")
	src := event.Endpoint{IP: "10.20.2.21", Known: true, AssetID: "demo-plant/ews-01", Role: "ews", Zone: "demo-plant/supervisory", ZoneKind: "supervisory", Purdue: 2}
	dst := event.Endpoint{IP: "10.20.9.5", Known: true, AssetID: "demo-plant/sis-01", Role: "sis", Zone: "demo-plant/safety", ZoneKind: "safety", Purdue: 1, SLT: 3, Criticality: "critical", Safety: true}
	b, err := conn.PrepareBatch(ctx, `INSERT INTO incidents (id, version, site, key, title, severity, status,
		opened_at, opened_at_ms, first_seen, first_seen_ms, last_seen, last_seen_ms, updated_at, alert_count, alert_ids, rule_ids,
		techniques, assets, zones, target_ip, target_asset, target_role, target_zone, target_zone_kind,
		target_purdue, target_sl_t, target_criticality, target_safety, maint_active, risk,
		source_ip, source_asset, source_role, source_zone, source_zone_kind, source_purdue)`)
	if err != nil {
		t.Fatal(err)
	}
	for v, risk := range []uint8{40, 87} { // the latest version wins
		if err := b.Append(id, uint32(v+1), fixture.Site, "safety|demo-plant/sis-01", "Write to the SIS", event.SevCritical, event.StatusNew,
			at, uint16(250), at, uint16(250), at, uint16(250), at, uint32(1), []string{}, []string{"ews-direct-to-sis"},
			[]string{"T0843"}, []string{src.AssetID, dst.AssetID}, []string{src.Zone, dst.Zone},
			dst.IP, dst.AssetID, dst.Role, dst.Zone, dst.ZoneKind, float32(dst.Purdue), uint8(dst.SLT), dst.Criticality, uint8(1), uint8(0), risk,
			src.IP, src.AssetID, src.Role, src.Zone, src.ZoneKind, float32(src.Purdue)); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
	a, err := conn.PrepareBatch(ctx, `INSERT INTO actions (plan_id, incident_id, incident_version, site,
		playbook_id, playbook_title, created_at, created_ms, step_index, step_id, kind, action, class,
		audience, text, decision, reason, approvers, automatic, quorum, timeout_s)`)
	if err != nil {
		t.Fatal(err)
	}
	steps := []event.Step{
		{Index: 0, ID: "notify", Kind: "notify", Class: event.ClassPassive, Audience: "operator", Text: "Tell the control room",
			Decision: event.DecisionAllowed, Reason: "passive step", Automatic: true},
		{Index: 1, ID: "block", Kind: "action", Action: "block_flow", Class: event.ClassBoundary, Audience: "network", Text: "Block the flow",
			Decision: event.DecisionNeedsApproval, Reason: "boundary action", Approvers: []string{"safety_engineer", "shift_lead"}, Quorum: 2, TimeoutSeconds: 900},
	}
	for _, s := range steps {
		if err := a.Append(plan, id, uint32(2), fixture.Site, "safety-system-tamper", "Tampering", at, uint16(500), uint16(s.Index), s.ID, s.Kind, s.Action, s.Class,
			s.Audience, s.Text, s.Decision, s.Reason, append([]string{}, s.Approvers...), b2u(s.Automatic), uint8(s.Quorum), uint32(s.TimeoutSeconds)); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Send(); err != nil {
		t.Fatal(err)
	}
	db, err := query.New(conn, query.Options{})
	if err != nil {
		t.Fatal(err)
	}

	d, err := db.GetIncident(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if d.Incident.Version != 2 || d.Incident.Risk != 87 {
		t.Errorf("detail: version %d risk %d; want 2, 87", d.Incident.Version, d.Incident.Risk)
	}
	if !reflect.DeepEqual(d.Incident.Source, src) || !reflect.DeepEqual(d.Incident.Target, dst) {
		t.Errorf("detail: source %+v target %+v\nwant %+v and %+v", d.Incident.Source, d.Incident.Target, src, dst)
	}
	if len(d.Plans) != 1 || !reflect.DeepEqual(d.Plans[0].Steps, steps) {
		t.Errorf("detail: plans %+v\nwant one with steps %+v", d.Plans, steps)
	}
	r, err := db.GetReportData(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(r.Incident, d.Incident) || !reflect.DeepEqual(r.Plans, d.Plans) {
		t.Errorf("report reads differ from the detail:\nreport %+v %+v\ndetail %+v %+v", r.Incident, r.Plans, d.Incident, d.Plans)
	}
	p, err := db.GetPlans(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p.Plans, d.Plans) {
		t.Errorf("plans view %+v\ndetail %+v", p.Plans, d.Plans)
	}

	t.Run("no source endpoint", func(t *testing.T) {
		// The demo incidents have none: Purdue -1 (unknown), not 0.
		d, err := db.GetIncident(ctx, fixture.IncidentSIS)
		if err != nil {
			t.Fatal(err)
		}
		if want := (event.Endpoint{Purdue: -1}); !reflect.DeepEqual(d.Incident.Source, want) || d.Incident.Risk != 95 {
			t.Errorf("source %+v risk %d; want %+v, 95", d.Incident.Source, d.Incident.Risk, want)
		}
	})
}

func b2u(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}
