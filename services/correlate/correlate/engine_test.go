package correlate

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/c981/c981/services/correlate/rule"
	"github.com/c981/c981/services/shared/bustest"
	"github.com/c981/c981/services/shared/event"
)

const packDir = "../../../rules"

var (
	t0  = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	ews = event.Endpoint{IP: "10.20.2.21", Known: true, AssetID: "demo-plant/ews-01", Role: "ews",
		Zone: "demo-plant/supervisory", ZoneKind: "supervisory", Purdue: 2, SLT: 2}
	hmi = event.Endpoint{IP: "10.20.2.11", Known: true, AssetID: "demo-plant/hmi-01", Role: "hmi",
		Zone: "demo-plant/supervisory", ZoneKind: "supervisory", Purdue: 2, SLT: 2}
	hist = event.Endpoint{IP: "10.20.3.10", Known: true, AssetID: "demo-plant/hist-01", Role: "historian",
		Zone: "demo-plant/operations", ZoneKind: "operations", Purdue: 3, SLT: 2}
	plc101 = event.Endpoint{IP: "10.20.1.11", Known: true, AssetID: "demo-plant/plc-101", Role: "plc",
		Zone: "demo-plant/control", ZoneKind: "control", Purdue: 1, SLT: 3, Criticality: "critical"}
	sis01 = event.Endpoint{IP: "10.20.9.5", Known: true, AssetID: "demo-plant/sis-01", Role: "sis",
		Zone: "demo-plant/safety", ZoneKind: "safety", Purdue: 1, SLT: 3, Criticality: "critical", Safety: true}
	rogue = event.Endpoint{IP: "10.20.1.99", Role: "unknown", Zone: "demo-plant/control", ZoneKind: "control", Purdue: 1, SLT: 3}
)

// flow builds an enriched flow event of the demo plant.
func flow(id string, at time.Duration, src, dst event.Endpoint, op string, allowed bool) event.Event {
	return event.Event{
		ID: id, Time: t0.Add(at), ReceivedAt: t0.Add(at), Site: "demo-plant", Source: "syslog-udp", Format: "rfc3164",
		Transport: "udp", Host: "fw-cell-01", App: "fw", Kind: event.KindFlow, Action: "allow",
		SrcIP: src.IP, DstIP: dst.IP, DstPort: 502, Proto: "tcp", AppProto: "modbus", Operation: op,
		Src: src, Dst: dst, Flow: event.Flow{CrossZone: src.Zone != dst.Zone, Allowed: allowed},
	}
}

type fixedClock struct{ t time.Time }

func (c *fixedClock) now() time.Time { return c.t }

func newTestEngine(t testing.TB, store IncidentStore) (*Engine, *fixedClock) {
	t.Helper()
	set, err := rule.LoadDir(packDir)
	if err != nil {
		t.Fatal(err)
	}
	clk := &fixedClock{t: t0.Add(24 * time.Hour)}
	return NewEngine(set, store, EngineOptions{Now: clk.now, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}), clk
}

// incidentView is the part of an incident the tests compare.
type incidentView struct {
	ID, Key, Severity, Title string
	Version                  uint64
	Alerts                   int
	RuleIDs, Techniques      []string
	Assets, Zones            []string
	Target                   string
	Opened, First, Last      time.Duration
	MaintActive              bool
}

func view(in event.Incident) incidentView {
	return incidentView{ID: in.ID, Key: in.Key, Severity: in.Severity, Title: in.Title, Version: in.Version,
		Alerts: in.AlertCount, RuleIDs: in.RuleIDs, Techniques: in.Techniques, Assets: in.Assets, Zones: in.Zones,
		Target: in.Target.AssetID + in.Target.IP, Opened: in.OpenedAt.Sub(t0), First: in.FirstSeen.Sub(t0), Last: in.LastSeen.Sub(t0),
		MaintActive: in.MaintActive}
}

func TestEngineIncidents(t *testing.T) {
	// hist-01 writes plc-101 (OT-006 + OT-007, key demo-plant/plc-101).
	histWrite := func(id string, at time.Duration) event.Event { return flow(id, at, hist, plc101, "write", false) }
	plcKey := "demo-plant/plc-101"
	incID := func(key, firstEvent, firstRule string) string {
		return event.NewID("incident", "demo-plant", key, event.NewID("alert", firstRule, firstEvent))
	}
	tests := []struct {
		name    string
		batches [][]event.Event
		// wantAlerts per batch; wantIncidents per batch (views).
		wantAlerts    []int
		wantIncidents [][]incidentView
	}{
		{
			name:       "two rules on one event make one incident",
			batches:    [][]event.Event{{histWrite("e1", 0)}},
			wantAlerts: []int{2},
			wantIncidents: [][]incidentView{{{
				ID: incID(plcKey, "e1", "OT-006"), Key: plcKey, Severity: "high",
				Title:   "Cross-zone flow not allowed by any conduit",
				Version: 1, Alerts: 2, RuleIDs: []string{"OT-006", "OT-007"}, Techniques: []string{"T0836", "T0855", "T0886"},
				Assets: []string{"demo-plant/hist-01", "demo-plant/plc-101"}, Zones: []string{"demo-plant/control", "demo-plant/operations"},
				Target: "demo-plant/plc-10110.20.1.11",
			}}},
		},
		{
			name:       "later batch within window updates the incident once",
			batches:    [][]event.Event{{histWrite("e1", 0)}, {histWrite("e2", 50*time.Minute), histWrite("e3", 55*time.Minute)}},
			wantAlerts: []int{2, 4},
			wantIncidents: [][]incidentView{
				{{ID: incID(plcKey, "e1", "OT-006"), Key: plcKey, Severity: "high", Title: "Cross-zone flow not allowed by any conduit",
					Version: 1, Alerts: 2, RuleIDs: []string{"OT-006", "OT-007"}, Techniques: []string{"T0836", "T0855", "T0886"},
					Assets: []string{"demo-plant/hist-01", "demo-plant/plc-101"}, Zones: []string{"demo-plant/control", "demo-plant/operations"},
					Target: "demo-plant/plc-10110.20.1.11"}},
				{{ID: incID(plcKey, "e1", "OT-006"), Key: plcKey, Severity: "high", Title: "Cross-zone flow not allowed by any conduit",
					Version: 2, Alerts: 6, RuleIDs: []string{"OT-006", "OT-007"}, Techniques: []string{"T0836", "T0855", "T0886"},
					Assets: []string{"demo-plant/hist-01", "demo-plant/plc-101"}, Zones: []string{"demo-plant/control", "demo-plant/operations"},
					Target: "demo-plant/plc-10110.20.1.11", Last: 55 * time.Minute}},
			},
		},
		{
			name: "alert after the window opens a new incident",
			batches: [][]event.Event{{histWrite("e1", 0)},
				// e2 is 61 min after e1: new incident. Unsorted batch order must not matter.
				{histWrite("e3", 70*time.Minute), histWrite("e2", 61*time.Minute)}},
			wantAlerts: []int{2, 4},
			wantIncidents: [][]incidentView{
				{{ID: incID(plcKey, "e1", "OT-006"), Key: plcKey, Severity: "high", Title: "Cross-zone flow not allowed by any conduit",
					Version: 1, Alerts: 2, RuleIDs: []string{"OT-006", "OT-007"}, Techniques: []string{"T0836", "T0855", "T0886"},
					Assets: []string{"demo-plant/hist-01", "demo-plant/plc-101"}, Zones: []string{"demo-plant/control", "demo-plant/operations"},
					Target: "demo-plant/plc-10110.20.1.11"}},
				{{ID: incID(plcKey, "e2", "OT-006"), Key: plcKey, Severity: "high", Title: "Cross-zone flow not allowed by any conduit",
					Version: 1, Alerts: 4, RuleIDs: []string{"OT-006", "OT-007"}, Techniques: []string{"T0836", "T0855", "T0886"},
					Assets: []string{"demo-plant/hist-01", "demo-plant/plc-101"}, Zones: []string{"demo-plant/control", "demo-plant/operations"},
					Target: "demo-plant/plc-10110.20.1.11", Opened: 61 * time.Minute, First: 61 * time.Minute, Last: 70 * time.Minute}},
			},
		},
		{
			name: "out-of-order earlier alert moves first seen but not opened at",
			// e0 happened 20 minutes before e1 but arrives in a later batch.
			batches:    [][]event.Event{{histWrite("e1", 30*time.Minute)}, {histWrite("e0", 10*time.Minute)}},
			wantAlerts: []int{2, 2},
			wantIncidents: [][]incidentView{
				{{ID: incID(plcKey, "e1", "OT-006"), Key: plcKey, Severity: "high", Title: "Cross-zone flow not allowed by any conduit",
					Version: 1, Alerts: 2, RuleIDs: []string{"OT-006", "OT-007"}, Techniques: []string{"T0836", "T0855", "T0886"},
					Assets: []string{"demo-plant/hist-01", "demo-plant/plc-101"}, Zones: []string{"demo-plant/control", "demo-plant/operations"},
					Target: "demo-plant/plc-10110.20.1.11", Opened: 30 * time.Minute, First: 30 * time.Minute, Last: 30 * time.Minute}},
				{{ID: incID(plcKey, "e1", "OT-006"), Key: plcKey, Severity: "high", Title: "Cross-zone flow not allowed by any conduit",
					Version: 2, Alerts: 4, RuleIDs: []string{"OT-006", "OT-007"}, Techniques: []string{"T0836", "T0855", "T0886"},
					Assets: []string{"demo-plant/hist-01", "demo-plant/plc-101"}, Zones: []string{"demo-plant/control", "demo-plant/operations"},
					Target: "demo-plant/plc-10110.20.1.11", Opened: 30 * time.Minute, First: 10 * time.Minute, Last: 30 * time.Minute}},
			},
		},
		{
			name: "critical alert raises severity and title; safety target wins",
			batches: [][]event.Event{
				{flow("e1", 0, plc101, sis01, "read", true)},             // nothing
				{flow("e2", time.Minute, plc101, sis01, "write", false)}, // OT-003, OT-006, OT-007
			},
			wantAlerts: []int{0, 3},
			wantIncidents: [][]incidentView{nil, {{
				ID: incID("demo-plant/sis-01", "e2", "OT-003"), Key: "demo-plant/sis-01", Severity: "critical",
				Title:   "Write, engineering or non-conduit access to a safety instrumented system",
				Version: 1, Alerts: 3, RuleIDs: []string{"OT-003", "OT-006", "OT-007"},
				Techniques: []string{"T0836", "T0843", "T0855", "T0880", "T0886"},
				Assets:     []string{"demo-plant/plc-101", "demo-plant/sis-01"}, Zones: []string{"demo-plant/control", "demo-plant/safety"},
				Target: "demo-plant/sis-0110.20.9.5", Opened: time.Minute, First: time.Minute, Last: time.Minute,
			}}},
		},
		{
			name: "maintenance window at the target is recorded",
			batches: [][]event.Event{{func() event.Event {
				ev := flow("e1", 0, ews, plc101, "program_download", true)
				ev.Maint = event.Maint{Active: true, WindowID: "mw-1", AllowedOps: []string{"mode_change"}}
				return ev
			}()}},
			wantAlerts: []int{1},
			wantIncidents: [][]incidentView{{{
				ID: incID(plcKey, "e1", "OT-001"), Key: plcKey, Severity: "high",
				Title:   "Controller program download outside a maintenance window or from a non-EWS host",
				Version: 1, Alerts: 1, RuleIDs: []string{"OT-001"}, Techniques: []string{"T0843"},
				Assets: []string{"demo-plant/ews-01", "demo-plant/plc-101"}, Zones: []string{"demo-plant/control", "demo-plant/supervisory"},
				Target: "demo-plant/plc-10110.20.1.11", MaintActive: true,
			}}},
		},
		{
			name: "custom key groups an unknown device; maintenance flag follows the target",
			batches: [][]event.Event{{
				func() event.Event {
					ev := flow("e1", 0, rogue, plc101, "read", true)
					ev.Maint = event.Maint{Active: true, WindowID: "mw-1"}
					return ev
				}(),
				flow("e2", 2*time.Minute, rogue, sis01, "read", false), // OT-005 (key 10.20.1.99), OT-003 + OT-006 (key sis-01)
			}},
			wantAlerts: []int{4},
			wantIncidents: [][]incidentView{{
				{ID: incID("10.20.1.99", "e1", "OT-005"), Key: "10.20.1.99", Severity: "high",
					Title:   "Unknown device communicating in the control network (Purdue level 2 or below)",
					Version: 1, Alerts: 2, RuleIDs: []string{"OT-005"}, Techniques: []string{"T0848", "T0864"},
					Assets: []string{"demo-plant/plc-101", "demo-plant/sis-01"}, Zones: []string{"demo-plant/control", "demo-plant/safety"},
					Target: "demo-plant/sis-0110.20.9.5", Last: 2 * time.Minute},
				{ID: incID("demo-plant/sis-01", "e2", "OT-003"), Key: "demo-plant/sis-01", Severity: "critical",
					Title:   "Write, engineering or non-conduit access to a safety instrumented system",
					Version: 1, Alerts: 2, RuleIDs: []string{"OT-003", "OT-006"}, Techniques: []string{"T0843", "T0855", "T0880", "T0886"},
					Assets: []string{"demo-plant/sis-01"}, Zones: []string{"demo-plant/control", "demo-plant/safety"},
					Target: "demo-plant/sis-0110.20.9.5", Opened: 2 * time.Minute, First: 2 * time.Minute, Last: 2 * time.Minute},
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eng, _ := newTestEngine(t, NewMemoryStore())
			for i, batch := range tt.batches {
				alerts, incs, err := eng.Process(context.Background(), batch)
				if err != nil {
					t.Fatalf("batch %d: %v", i, err)
				}
				if len(alerts) != tt.wantAlerts[i] {
					t.Errorf("batch %d: %d alerts, want %d", i, len(alerts), tt.wantAlerts[i])
				}
				ids := map[string]bool{}
				for _, inc := range incs {
					ids[inc.ID] = true
				}
				for _, a := range alerts {
					if !ids[a.IncidentID] {
						t.Errorf("batch %d: alert %s (%s) names incident %q not returned", i, a.ID, a.RuleID, a.IncidentID)
					}
				}
				var got []incidentView
				for _, inc := range incs {
					got = append(got, view(inc))
				}
				if !reflect.DeepEqual(got, tt.wantIncidents[i]) {
					t.Errorf("batch %d incidents:\n got  %+v\n want %+v", i, got, tt.wantIncidents[i])
				}
			}
		})
	}
}

func TestEngineAlertFields(t *testing.T) {
	eng, clk := newTestEngine(t, NewMemoryStore())
	alerts, _, err := eng.Process(context.Background(), []event.Event{flow("e1", 0, hist, plc101, "write", false)})
	if err != nil {
		t.Fatal(err)
	}
	a := alerts[0]
	want := event.Alert{
		ID: event.NewID("alert", "OT-006", "e1"), Time: t0, CreatedAt: clk.t, Site: "demo-plant", RuleID: "OT-006",
		RuleTitle: "Cross-zone flow not allowed by any conduit", Severity: "high", Techniques: []string{"T0886"},
		IncidentKey: "demo-plant/plc-101", IncidentID: event.NewID("incident", "demo-plant", "demo-plant/plc-101", event.NewID("alert", "OT-006", "e1")),
		EventIDs: []string{"e1"},
		Summary:  "Cross-zone flow not allowed by any conduit: demo-plant/hist-01 (10.20.3.10) -> demo-plant/plc-101 (10.20.1.11)",
		Src:      hist, Dst: plc101,
		Fields: map[string]string{"src_ip": "10.20.3.10", "dst_ip": "10.20.1.11", "proto": "tcp", "dst_port": "502",
			"app_proto": "modbus", "action": "allow", "src.zone": "demo-plant/operations", "dst.zone": "demo-plant/control"},
	}
	if !reflect.DeepEqual(a, want) {
		t.Errorf("alert:\n got  %+v\n want %+v", a, want)
	}
}

func TestEngineRedelivery(t *testing.T) {
	store := NewMemoryStore()
	eng, clk := newTestEngine(t, store)
	ctx := context.Background()
	b1 := []event.Event{flow("e1", 0, hist, plc101, "write", false)}
	b2 := []event.Event{flow("e2", 2*time.Hour, hist, plc101, "write", false)} // closes the first incident
	a1, i1, err := eng.ProcessAt(ctx, 1, b1)
	if err != nil {
		t.Fatal(err)
	}
	clk.t = clk.t.Add(time.Hour)
	if _, _, err := eng.ProcessAt(ctx, 2, b2); err != nil {
		t.Fatal(err)
	}
	before := store.Incidents()

	// A redelivered position finds its alerts' incidents in the key's
	// journal, the closed one too; the same events under a new position
	// are found among the alert ids the current incident keeps.
	tests := []struct {
		name  string
		seq   uint64
		batch []event.Event
	}{
		{"current incident", 2, b2},
		{"closed incident", 1, b1},
		{"same events under a new position", 3, b2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk.t = clk.t.Add(time.Hour)
			alerts, incs, err := eng.ProcessAt(ctx, tt.seq, tt.batch)
			if err != nil {
				t.Fatal(err)
			}
			if len(alerts) != 2 || len(incs) != 1 {
				t.Fatalf("got %d alerts, %d incidents; want 2 and 1", len(alerts), len(incs))
			}
			if incs[0].Version != 1 {
				t.Errorf("redelivery produced version %d, want the stored version 1", incs[0].Version)
			}
			for _, a := range alerts {
				if a.IncidentID != incs[0].ID {
					t.Errorf("alert %s assigned to %s, want %s", a.ID, a.IncidentID, incs[0].ID)
				}
			}
			if !sameIncidents(before, store.Incidents()) {
				t.Errorf("redelivery changed the store")
			}
		})
	}
	if a1[0].IncidentID != i1[0].ID {
		t.Fatalf("first alert not in first incident")
	}
}

func sameIncidents(a, b []event.Incident) bool {
	idx := map[string]event.Incident{}
	for _, in := range a {
		idx[in.ID] = in
	}
	if len(a) != len(b) {
		return false
	}
	for _, in := range b {
		if !reflect.DeepEqual(idx[in.ID], in) {
			return false
		}
	}
	return true
}

// conflictStore makes the first Put of each key fail with ErrConflict after
// another writer changed the incident.
type conflictStore struct {
	*MemoryStore
	conflicts int
}

func (s *conflictStore) Put(ctx context.Context, cur Entry, rev uint64, closed []Entry) (uint64, error) {
	if s.conflicts > 0 {
		s.conflicts--
		return 0, fmt.Errorf("simulated: %w", ErrConflict)
	}
	return s.MemoryStore.Put(ctx, cur, rev, closed)
}

func TestEngineStoreConflicts(t *testing.T) {
	for _, tt := range []struct {
		name      string
		conflicts int
		wantErr   bool
	}{
		{"retried", 2, false},
		{"gives up", 100, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			store := &conflictStore{MemoryStore: NewMemoryStore(), conflicts: tt.conflicts}
			eng, _ := newTestEngine(t, store)
			_, incs, err := eng.Process(context.Background(), []event.Event{flow("e1", 0, hist, plc101, "write", false)})
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if !tt.wantErr && (len(incs) != 1 || incs[0].Version != 1) {
				t.Fatalf("incidents = %+v", incs)
			}
			if got := testutil.ToFloat64(eng.metrics.StoreConflicts); tt.wantErr == false && got != float64(tt.conflicts) {
				t.Errorf("conflicts metric = %v, want %d", got, tt.conflicts)
			}
		})
	}
}

func TestEngineInvalidEvents(t *testing.T) {
	eng, _ := newTestEngine(t, NewMemoryStore())
	good := flow("e1", 0, hist, plc101, "write", false)
	noID, noSite, noTime := good, good, good
	noID.ID, noSite.Site, noTime.Time = "", "", time.Time{}
	alerts, _, err := eng.Process(context.Background(), []event.Event{noID, good, noSite, noTime})
	if err != nil {
		t.Fatal(err)
	}
	if len(alerts) != 2 {
		t.Errorf("alerts = %d, want 2 (from the valid event)", len(alerts))
	}
	if got := testutil.ToFloat64(eng.metrics.InvalidEvents); got != 3 {
		t.Errorf("invalid events = %v, want 3", got)
	}
	if got := testutil.ToFloat64(eng.metrics.Events); got != 1 {
		t.Errorf("evaluated events = %v, want 1", got)
	}
	if got := testutil.ToFloat64(eng.metrics.RuleMatches.WithLabelValues("OT-007")); got != 1 {
		t.Errorf("OT-007 matches = %v, want 1", got)
	}
}

func TestBetterTarget(t *testing.T) {
	unknownNoZone := event.Endpoint{IP: "192.168.1.50", Role: "unknown", Zone: "unknown", Purdue: -1}
	tests := []struct {
		name string
		a, b event.Endpoint
		want bool
	}{
		{"safety beats controller", sis01, plc101, true},
		{"controller does not beat safety", plc101, sis01, false},
		{"lower purdue wins", plc101, ews, true},
		{"higher purdue loses", hist, ews, false},
		{"known beats unknown in a lower zone", hist, rogue, true},
		{"unknown never beats known", rogue, hist, false},
		{"equal keeps current", plc101, plc101, false},
		{"unknowns tie", unknownNoZone, rogue, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := better(tt.a, tt.b); got != tt.want {
				t.Errorf("better(%s, %s) = %v, want %v", tt.a.IP, tt.b.IP, got, tt.want)
			}
		})
	}
}

func TestEngineMaxAlerts(t *testing.T) {
	set, err := rule.LoadDir(packDir)
	if err != nil {
		t.Fatal(err)
	}
	store := NewMemoryStore()
	eng := NewEngine(set, store, EngineOptions{MaxAlerts: 3})
	ctx := context.Background()
	// Each event raises OT-006 and OT-007 at the same time: 6 alerts, at
	// most 3 per incident -> 2 incidents chained by Prev.
	batch := []event.Event{flow("e1", 0, hist, plc101, "write", false), flow("e2", 0, hist, plc101, "write", false), flow("e3", 0, hist, plc101, "write", false)}
	first, incs, err := eng.ProcessAt(ctx, 1, batch)
	if err != nil {
		t.Fatal(err)
	}
	if len(incs) != 2 || incs[0].AlertCount != 3 || incs[1].AlertCount != 3 || len(incs[0].AlertIDs) != 3 {
		t.Fatalf("incidents = %d (%+v), want 2 with 3 alerts each", len(incs), incs)
	}
	cur, _, err := store.Current(ctx, "demo-plant", "demo-plant/plc-101")
	if err != nil || cur.Incident.ID != incs[1].ID || cur.Prev != incs[0].ID || !cur.ClosedLastSeen.Equal(t0) {
		t.Fatalf("current entry = %+v, %v; want %s after %s", cur, err, incs[1].ID, incs[0].ID)
	}
	before := store.Incidents()
	// Redelivering the batch (a new engine: evaluated again) finds the
	// closed incident and the continuation in the key's journal.
	eng = NewEngine(set, store, EngineOptions{MaxAlerts: 3})
	alerts, again, err := eng.ProcessAt(ctx, 1, batch)
	if err != nil {
		t.Fatal(err)
	}
	if len(again) != 2 || again[0].ID != incs[0].ID || again[0].Version != 1 || again[1].ID != incs[1].ID || again[1].Version != 1 {
		t.Fatalf("redelivery: incidents %+v", again)
	}
	for i := range alerts {
		if alerts[i].ID != first[i].ID || alerts[i].IncidentID != first[i].IncidentID {
			t.Errorf("redelivered alert %d: %s in %s, first delivery %s in %s", i, alerts[i].ID, alerts[i].IncidentID, first[i].ID, first[i].IncidentID)
		}
	}
	if !sameIncidents(before, store.Incidents()) {
		t.Errorf("redelivery changed the store")
	}
}

// TestEngineOpenedAt follows OpenedAt through the JetStream KV store: it is
// the first alert's time on every version, whatever alerts arrive later, and
// a continuation incident has its own.
func TestEngineOpenedAt(t *testing.T) {
	set, err := rule.LoadDir(packDir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	store, err := NewKVStore(ctx, bustest.Start(t).JS, KVConfig{})
	if err != nil {
		t.Fatal(err)
	}
	// Every event raises OT-006 and OT-007: two alerts per event, at most
	// four per incident.
	eng := NewEngine(set, store, EngineOptions{MaxAlerts: 4, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	histWrite := func(id string, at time.Duration) event.Event { return flow(id, at, hist, plc101, "write", false) }
	first := event.NewID("incident", "demo-plant", "demo-plant/plc-101", event.NewID("alert", "OT-006", "e1"))
	cont := event.NewID("incident", "demo-plant", "demo-plant/plc-101", event.NewID("alert", "OT-006", "e2"))
	steps := []struct {
		name                string
		ev                  event.Event
		wantID              string
		wantVersion         uint64
		opened, first, last time.Duration
	}{
		{"first alert opens", histWrite("e1", 30*time.Minute), first, 1, 30 * time.Minute, 30 * time.Minute, 30 * time.Minute},
		{"earlier alert arrives late", histWrite("e0", 10*time.Minute), first, 2, 30 * time.Minute, 10 * time.Minute, 30 * time.Minute},
		{"full incident continues in a new one", histWrite("e2", 40*time.Minute), cont, 1, 40 * time.Minute, 40 * time.Minute, 40 * time.Minute},
		{"earlier alert joins the continuation", histWrite("e3", 35*time.Minute), cont, 2, 40 * time.Minute, 35 * time.Minute, 40 * time.Minute},
	}
	for _, st := range steps {
		_, incs, err := eng.Process(ctx, []event.Event{st.ev})
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if len(incs) != 1 {
			t.Fatalf("%s: %d incidents, want 1", st.name, len(incs))
		}
		in := incs[0]
		if in.ID != st.wantID || in.Version != st.wantVersion ||
			!in.OpenedAt.Equal(t0.Add(st.opened)) || !in.FirstSeen.Equal(t0.Add(st.first)) || !in.LastSeen.Equal(t0.Add(st.last)) {
			t.Errorf("%s: incident %s version %d opened %s first %s last %s; want %s version %d opened %s first %s last %s",
				st.name, in.ID, in.Version, in.OpenedAt.Sub(t0), in.FirstSeen.Sub(t0), in.LastSeen.Sub(t0),
				st.wantID, st.wantVersion, st.opened, st.first, st.last)
		}
	}
	closed, err := store.Previous(ctx, first)
	if err != nil || !closed.Incident.OpenedAt.Equal(t0.Add(30*time.Minute)) {
		t.Errorf("closed incident = opened %s, %v; want opened 30m0s", closed.Incident.OpenedAt.Sub(t0), err)
	}
}
