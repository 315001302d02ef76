package zone

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/c981/c981/services/shared/event"
	"github.com/c981/c981/services/shared/site"
)

const demoSite = "../../../deploy/demo/site.yaml"

func loadDemo(t testing.TB) *site.Model {
	t.Helper()
	m, err := site.Load(demoSite)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func demoIndex(t testing.TB) *Index {
	t.Helper()
	ix, err := New(loadDemo(t))
	if err != nil {
		t.Fatal(err)
	}
	return ix
}

func TestEndpoint(t *testing.T) {
	ix := demoIndex(t)
	tests := []struct {
		ip   string
		want event.Endpoint
	}{
		{"10.20.1.11", event.Endpoint{IP: "10.20.1.11", Known: true, AssetID: "demo-plant/plc-101", AssetName: "PLC-101", Role: "plc", Zone: "demo-plant/control", ZoneKind: "control", Purdue: 1, SLT: 3, Criticality: "critical"}},
		{"10.20.9.5", event.Endpoint{IP: "10.20.9.5", Known: true, AssetID: "demo-plant/sis-01", AssetName: "SIS controller 01", Role: "sis", Zone: "demo-plant/safety", ZoneKind: "safety", Purdue: 1, SLT: 3, Criticality: "critical", Safety: true}},
		{"10.20.2.11", event.Endpoint{IP: "10.20.2.11", Known: true, AssetID: "demo-plant/hmi-01", AssetName: "Operator HMI 01", Role: "hmi", Zone: "demo-plant/supervisory", ZoneKind: "supervisory", Purdue: 2, SLT: 2, Criticality: "critical"}},
		{"172.16.35.10", event.Endpoint{IP: "172.16.35.10", Known: true, AssetID: "demo-plant/jump-01", AssetName: "Remote access jump host", Role: "jump_host", Zone: "demo-plant/idmz", ZoneKind: "dmz", Purdue: 3.5, SLT: 2, Criticality: "high"}},
		{"10.10.5.21", event.Endpoint{IP: "10.10.5.21", Known: true, AssetID: "demo-plant/ws-office-01", AssetName: "Office workstation 01", Role: "workstation", Zone: "demo-plant/enterprise", ZoneKind: "enterprise", Purdue: 4, SLT: 1, Criticality: "low"}},
		{"::ffff:10.20.1.11", event.Endpoint{IP: "::ffff:10.20.1.11", Known: true, AssetID: "demo-plant/plc-101", AssetName: "PLC-101", Role: "plc", Zone: "demo-plant/control", ZoneKind: "control", Purdue: 1, SLT: 3, Criticality: "critical"}},
		// In a zone CIDR but not inventoried: the zone's context, never an asset.
		{"10.20.1.99", event.Endpoint{IP: "10.20.1.99", Role: "unknown", Zone: "demo-plant/control", ZoneKind: "control", Purdue: 1, SLT: 3, Criticality: "critical"}},
		{"10.20.9.15", event.Endpoint{IP: "10.20.9.15", Role: "unknown", Zone: "demo-plant/safety", ZoneKind: "safety", Purdue: 1, SLT: 3, Criticality: "critical", Safety: true}},
		// Outside every zone.
		{"10.20.9.16", Unknown("10.20.9.16")},
		{"8.8.8.8", Unknown("8.8.8.8")},
		{"2001:db8::1", Unknown("2001:db8::1")},
		{"not-an-ip", Unknown("not-an-ip")},
		{"", Unknown("")},
	}
	for _, tt := range tests {
		t.Run(tt.ip, func(t *testing.T) {
			got := ix.Endpoint(tt.ip)
			if !equalEndpoint(got, tt.want) {
				t.Errorf("Endpoint(%q)\n got %+v\nwant %+v", tt.ip, got, tt.want)
			}
		})
	}
	if u := Unknown("1.2.3.4"); u.Zone != "unknown" || u.Role != "unknown" || u.Purdue != -1 || u.Known {
		t.Errorf("Unknown = %+v", u)
	}
}

func equalEndpoint(a, b event.Endpoint) bool { return a == b }

func TestLookups(t *testing.T) {
	ix := demoIndex(t)
	if ix.Site() != "demo-plant" || ix.Version() != 1 {
		t.Errorf("Site, Version = %q, %d", ix.Site(), ix.Version())
	}
	tests := []struct {
		ip, asset, zone string
	}{
		{"10.20.3.20", "demo-plant/wsus-01", "demo-plant/operations"},
		{"172.16.35.1", "demo-plant/fw-idmz-01", "demo-plant/idmz"},
		{"10.20.3.21", "", "demo-plant/operations"},
		{"10.10.255.255", "", "demo-plant/enterprise"},
		{"10.11.0.1", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.ip, func(t *testing.T) {
			ip := netip.MustParseAddr(tt.ip)
			a, ok := ix.AssetByIP(ip)
			if ok != (tt.asset != "") || (ok && a.ID != tt.asset) {
				t.Errorf("AssetByIP = %v, %v; want %q", a, ok, tt.asset)
			}
			z, ok := ix.ZoneByIP(ip)
			if ok != (tt.zone != "") || (ok && z.ID != tt.zone) {
				t.Errorf("ZoneByIP = %v, %v; want %q", z, ok, tt.zone)
			}
		})
	}
	ep, ok := ix.AssetEndpoint("demo-plant/sis-02")
	if !ok || ep.Role != "sis" || !ep.Safety || ep.IP != "" {
		t.Errorf("AssetEndpoint(sis-02) = %+v, %v", ep, ok)
	}
	if _, ok := ix.AssetEndpoint("demo-plant/nope"); ok {
		t.Error("AssetEndpoint of an unknown id succeeded")
	}
}

var (
	demoNow   = time.Date(2026, 11, 26, 10, 0, 1, 0, time.UTC)
	inWindow  = time.Date(2026, 11, 20, 9, 30, 0, 0, time.UTC) // 10:30 Berlin
	winStart  = time.Date(2026, 11, 20, 5, 0, 0, 0, time.UTC)
	winEnd    = time.Date(2026, 11, 20, 13, 0, 0, 0, time.UTC)
	winClosed = []string{"program_download", "mode_change"}
)

func TestCheck(t *testing.T) {
	ix := demoIndex(t)
	type conn struct {
		src, dst, proto string
		port            int
		app, op         string
		at              time.Time
	}
	allowed := func(conduit, flow string) event.Flow {
		return event.Flow{CrossZone: true, Allowed: true, Conduit: conduit, FlowID: flow}
	}
	violation := func(reason string) event.Flow { return event.Flow{CrossZone: true, Violation: reason} }
	tests := []struct {
		name string
		c    conn
		want event.Flow
	}{
		// Every flow of every demo conduit.
		{"rdp office to jump host", conn{"10.10.5.21", "172.16.35.10", "tcp", 3389, "rdp", "", demoNow}, allowed("demo-plant/c-enterprise-idmz", "rdp-jump")},
		{"rdp jump host to ews", conn{"172.16.35.10", "10.20.2.21", "tcp", 3389, "rdp", "", demoNow}, allowed("demo-plant/c-idmz-supervisory", "rdp-ews")},
		{"historian replication", conn{"10.20.3.10", "172.16.35.20", "tcp", 5450, "", "", demoNow}, allowed("demo-plant/c-operations-idmz", "hist-repl")},
		{"scada to historian", conn{"10.20.2.31", "10.20.3.10", "tcp", 5450, "", "", demoNow}, allowed("demo-plant/c-supervisory-operations", "scada-hist")},
		{"hmi modbus write to plc", conn{"10.20.2.11", "10.20.1.11", "tcp", 502, "modbus", "write", demoNow}, allowed("demo-plant/c-supervisory-control", "hmi-poll")},
		{"scada modbus read from rtu", conn{"10.20.2.31", "10.20.1.31", "tcp", 502, "modbus", "read", demoNow}, allowed("demo-plant/c-supervisory-control", "hmi-poll")},
		{"hmi to dcs, firewall log without app", conn{"10.20.2.12", "10.20.1.21", "tcp", 502, "", "", demoNow}, allowed("demo-plant/c-supervisory-control", "hmi-poll")},
		{"upper-case transport", conn{"10.20.2.12", "10.20.1.21", "TCP", 502, "Modbus", "", demoNow}, allowed("demo-plant/c-supervisory-control", "hmi-poll")},
		{"ews enip read", conn{"10.20.2.21", "10.20.1.12", "tcp", 44818, "enip", "read", demoNow}, allowed("demo-plant/c-supervisory-control", "ews-engineering")},
		{"ews program upload from dcs", conn{"10.20.2.21", "10.20.1.21", "tcp", 44818, "enip", "program_upload", demoNow}, allowed("demo-plant/c-supervisory-control", "ews-engineering")},
		{"ews program download inside window", conn{"10.20.2.21", "10.20.1.13", "tcp", 44818, "enip", "program_download", inWindow}, allowed("demo-plant/c-supervisory-control", "ews-engineering")},
		{"ews mode change at window start", conn{"10.20.2.21", "10.20.1.13", "tcp", 44818, "enip", "mode_change", winStart}, allowed("demo-plant/c-supervisory-control", "ews-engineering")},
		{"plc reads sis", conn{"10.20.1.11", "10.20.9.5", "tcp", 502, "modbus", "read", demoNow}, allowed("demo-plant/c-control-safety", "plc-sis-read")},
		{"same zone", conn{"10.20.2.11", "10.20.2.31", "tcp", 135, "", "", demoNow}, event.Flow{Allowed: true}},
		{"same zone, uninventoried source", conn{"10.20.1.99", "10.20.1.11", "tcp", 502, "modbus", "write", demoNow}, event.Flow{Allowed: true}},

		// Violations.
		{"no conduit", conn{"10.10.5.21", "10.20.1.11", "tcp", 502, "modbus", "write", demoNow}, violation("no conduit between demo-plant/enterprise and demo-plant/control")},
		{"no conduit to sis", conn{"10.20.2.11", "10.20.9.5", "tcp", 502, "modbus", "read", demoNow}, violation("no conduit between demo-plant/supervisory and demo-plant/safety")},
		{"source asset not allowed", conn{"10.10.1.10", "172.16.35.10", "tcp", 3389, "rdp", "", demoNow}, violation("conduit demo-plant/c-enterprise-idmz does not allow source demo-plant/dc-corp-01 (domain_controller)")},
		{"destination asset not allowed", conn{"10.10.5.21", "172.16.35.20", "tcp", 3389, "rdp", "", demoNow}, violation("conduit demo-plant/c-enterprise-idmz does not allow destination demo-plant/hist-mirror-01 (historian)")},
		{"uninventoried source", conn{"10.20.2.99", "10.20.1.11", "tcp", 502, "modbus", "read", demoNow}, violation("conduit demo-plant/c-supervisory-control does not allow source 10.20.2.99 (not an inventoried asset)")},
		{"destination role not allowed", conn{"10.20.2.21", "10.20.1.31", "tcp", 44818, "enip", "read", demoNow}, violation("conduit demo-plant/c-supervisory-control does not allow destination demo-plant/rtu-01 (rtu)")},
		{"source role not allowed to sis", conn{"10.20.1.31", "10.20.9.5", "tcp", 502, "modbus", "read", demoNow}, violation("conduit demo-plant/c-control-safety does not allow source demo-plant/rtu-01 (rtu)")},
		{"wrong port", conn{"10.10.5.21", "172.16.35.10", "tcp", 22, "ssh", "", demoNow}, violation("conduit demo-plant/c-enterprise-idmz does not allow tcp/22")},
		{"wrong transport", conn{"10.10.5.21", "172.16.35.10", "udp", 3389, "", "", demoNow}, violation("conduit demo-plant/c-enterprise-idmz does not allow udp/3389")},
		{"no port", conn{"10.10.5.21", "172.16.35.10", "", 0, "", "", demoNow}, violation("conduit demo-plant/c-enterprise-idmz does not allow a connection without transport or port")},
		{"ews uses modbus port", conn{"10.20.2.21", "10.20.1.11", "tcp", 502, "modbus", "write", demoNow}, violation("conduit demo-plant/c-supervisory-control does not allow tcp/502")},
		{"wrong protocol", conn{"10.20.2.11", "10.20.1.11", "tcp", 502, "s7comm", "write", demoNow}, violation("conduit demo-plant/c-supervisory-control does not allow protocol s7comm on tcp/502")},
		{"hmi program download", conn{"10.20.2.11", "10.20.1.11", "tcp", 502, "modbus", "program_download", demoNow}, violation("conduit demo-plant/c-supervisory-control does not allow operation program_download")},
		{"plc writes sis", conn{"10.20.1.11", "10.20.9.5", "tcp", 502, "modbus", "write", demoNow}, violation("conduit demo-plant/c-control-safety does not allow operation write")},
		{"sis initiates to plc", conn{"10.20.9.5", "10.20.1.11", "tcp", 502, "modbus", "read", demoNow}, violation("conduit demo-plant/c-control-safety is unidirectional from demo-plant/control to demo-plant/safety")},
		{"reverse historian replication", conn{"172.16.35.20", "10.20.3.10", "tcp", 5450, "", "", demoNow}, violation("conduit demo-plant/c-operations-idmz allows no flow from demo-plant/idmz to demo-plant/operations")},
		{"program download without window", conn{"10.20.2.21", "10.20.1.12", "tcp", 44818, "enip", "program_download", demoNow}, violation("operation program_download requires an open maintenance window")},
		{"program download after window closed", conn{"10.20.2.21", "10.20.1.13", "tcp", 44818, "enip", "program_download", winEnd}, violation("operation program_download requires an open maintenance window")},
		{"window for another asset", conn{"10.20.2.21", "10.20.1.11", "tcp", 44818, "enip", "program_download", inWindow}, violation("operation program_download requires an open maintenance window")},
		{"firmware update not allowed by window", conn{"10.20.2.21", "10.20.1.13", "tcp", 44818, "enip", "firmware_update", inWindow}, violation("operation firmware_update is not allowed by open maintenance window mw-2026-11-20-plc-103")},
		{"unknown source address", conn{"192.168.1.5", "10.20.1.11", "tcp", 502, "modbus", "write", demoNow}, violation("source 192.168.1.5 is in no zone of site demo-plant")},
		{"unknown destination address", conn{"10.20.1.11", "8.8.8.8", "udp", 53, "dns", "", demoNow}, violation("destination 8.8.8.8 is in no zone of site demo-plant")},
		{"both unknown", conn{"1.1.1.1", "8.8.8.8", "udp", 53, "dns", "", demoNow}, event.Flow{Violation: "neither 1.1.1.1 nor 8.8.8.8 is in a zone of site demo-plant"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ix.Check(ix.Endpoint(tt.c.src), ix.Endpoint(tt.c.dst), Conn{Proto: tt.c.proto, Port: tt.c.port, AppProto: tt.c.app, Operation: tt.c.op, Time: tt.c.at})
			if got != tt.want {
				t.Errorf("Check\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestMaintenance(t *testing.T) {
	m := loadDemo(t)
	// A zone-wide window overlapping the demo's plc-103 window, allowing
	// firmware updates, to test scope by zone and the preference for a
	// window that allows the operation.
	m.MaintenanceWindows = append(m.MaintenanceWindows, site.MaintenanceWindow{
		ID:                "mw-zone-control",
		Scope:             site.Scope{Zones: []string{"demo-plant/control"}},
		Start:             "2026-11-20T08:00:00Z",
		End:               "2026-11-20T10:00:00Z",
		AllowedOperations: []string{"firmware_update"},
	})
	ix, err := New(m)
	if err != nil {
		t.Fatal(err)
	}
	assetWin := event.Maint{Active: true, WindowID: "mw-2026-11-20-plc-103", AllowedOps: winClosed}
	zoneWin := event.Maint{Active: true, WindowID: "mw-zone-control", AllowedOps: []string{"firmware_update"}}
	tests := []struct {
		name string
		dst  string
		at   time.Time
		op   string
		want event.Maint
	}{
		{"before start", "10.20.1.13", winStart.Add(-time.Nanosecond), "", event.Maint{}},
		{"at start", "10.20.1.13", winStart, "", assetWin},
		{"last instant", "10.20.1.13", winEnd.Add(-time.Nanosecond), "program_download", assetWin},
		{"at end (exclusive)", "10.20.1.13", winEnd, "", event.Maint{}},
		{"demo time: closed", "10.20.1.13", demoNow, "program_download", event.Maint{}},
		{"both open, no op: first in model order", "10.20.1.13", inWindow, "", assetWin},
		{"both open, op allowed by zone window", "10.20.1.13", inWindow, "firmware_update", zoneWin},
		{"both open, op allowed by asset window", "10.20.1.13", inWindow, "program_download", assetWin},
		{"both open, op allowed by neither", "10.20.1.13", inWindow, "write", assetWin},
		{"zone window covers other plc", "10.20.1.11", inWindow, "", zoneWin},
		{"zone window covers uninventoried address", "10.20.1.99", inWindow, "", zoneWin},
		{"other zone", "10.20.2.21", inWindow, "", event.Maint{}},
		{"unknown address", "8.8.8.8", inWindow, "", event.Maint{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ix.Maintenance(ix.Endpoint(tt.dst), tt.at, tt.op)
			if got.Active != tt.want.Active || got.WindowID != tt.want.WindowID || strings.Join(got.AllowedOps, ",") != strings.Join(tt.want.AllowedOps, ",") {
				t.Errorf("Maintenance = %+v, want %+v", got, tt.want)
			}
		})
	}
	// The zone window allows firmware_update on plc-103 through the conduit.
	f := ix.Check(ix.Endpoint("10.20.2.21"), ix.Endpoint("10.20.1.13"), Conn{Proto: "tcp", Port: 44818, AppProto: "enip", Operation: "firmware_update", Time: inWindow})
	if !f.Allowed || f.FlowID != "ews-engineering" {
		t.Errorf("firmware_update in zone window: %+v", f)
	}
}

func TestEnrich(t *testing.T) {
	ix := demoIndex(t)
	// The second demo line: a program download from the EWS to plc-102.
	ev := event.Event{
		ID: "e1", Time: time.Date(2026, 11, 26, 10, 0, 2, 123e6, time.UTC), Site: "demo-plant", Kind: event.KindFlow,
		SrcIP: "10.20.2.21", DstIP: "10.20.1.12", DstPort: 44818, AppProto: "enip", Operation: "program_download",
		Maint: event.Maint{Active: true, WindowID: "stale"},
	}
	ix.Enrich(&ev)
	wantSrc := event.Endpoint{IP: "10.20.2.21", Known: true, AssetID: "demo-plant/ews-01", AssetName: "Engineering workstation", Role: "ews", Zone: "demo-plant/supervisory", ZoneKind: "supervisory", Purdue: 2, SLT: 2, Criticality: "high"}
	wantDst := event.Endpoint{IP: "10.20.1.12", Known: true, AssetID: "demo-plant/plc-102", AssetName: "PLC-102", Role: "plc", Zone: "demo-plant/control", ZoneKind: "control", Purdue: 1, SLT: 3, Criticality: "critical"}
	wantFlow := event.Flow{CrossZone: true, Violation: "operation program_download requires an open maintenance window", PurdueDelta: 1}
	if ev.Src != wantSrc || ev.Dst != wantDst || ev.Flow != wantFlow || ev.Maint.Active || ev.Maint.WindowID != "" || ev.ModelVersion != 1 {
		t.Errorf("Enrich:\nsrc   %+v\ndst   %+v\nflow  %+v\nmaint %+v\nversion %d", ev.Src, ev.Dst, ev.Flow, ev.Maint, ev.ModelVersion)
	}

	// No event time: the receive time decides the maintenance window.
	ev = event.Event{ReceivedAt: inWindow, Site: "demo-plant", SrcIP: "10.20.2.21", DstIP: "10.20.1.13", Proto: "tcp", DstPort: 44818, Operation: "program_download", Flow: event.Flow{Violation: "stale"}}
	ix.Enrich(&ev)
	if !ev.Maint.Active || !ev.Flow.Allowed || ev.Flow.Violation != "" {
		t.Errorf("Enrich by receive time: maint %+v flow %+v", ev.Maint, ev.Flow)
	}

	// A log line without addresses: unknown endpoints, no flow verdict.
	ev = event.Event{Time: demoNow, Site: "demo-plant", Kind: event.KindLog, Message: "service restarted", Flow: event.Flow{Allowed: true}}
	ix.Enrich(&ev)
	if ev.Src != Unknown("") || ev.Dst != Unknown("") || ev.Flow != (event.Flow{}) || ev.ModelVersion != 1 {
		t.Errorf("Enrich log: src %+v dst %+v flow %+v", ev.Src, ev.Dst, ev.Flow)
	}

	// Only a source address: endpoints enriched, no flow verdict.
	ev = event.Event{Time: demoNow, Site: "demo-plant", SrcIP: "10.20.9.6"}
	ix.Enrich(&ev)
	if ev.Src.AssetID != "demo-plant/sis-02" || !ev.Src.Safety || ev.Dst != Unknown("") || ev.Flow != (event.Flow{SafetyInvolved: true}) {
		t.Errorf("Enrich source only: src %+v dst %+v flow %+v", ev.Src, ev.Dst, ev.Flow)
	}
}

func TestSet(t *testing.T) {
	demo := loadDemo(t)
	other, err := site.Parse("other.yaml", []byte(`version: 7
site: {id: other, timezone: UTC}
zones:
  - {id: other/lan, kind: control, purdue_level: 1, security_level: {target: 2}, cidrs: [10.20.1.0/24]}
assets:
  - {id: other/plc, role: plc, ips: [10.20.1.11]}
`))
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSet(demo, other)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(s.Sites(), ","); got != "demo-plant,other" {
		t.Errorf("Sites = %s", got)
	}
	tests := []struct {
		site      string
		wantOK    bool
		wantAsset string
		wantZone  string
		wantVer   int
		wantViol  string
	}{
		{"demo-plant", true, "demo-plant/plc-101", "demo-plant/control", 1, ""},
		{"other", true, "other/plc", "other/lan", 7, "source 10.20.2.11 is in no zone of site other"},
		{"elsewhere", false, "", "unknown", 0, `no site model for site "elsewhere"`},
		{"", false, "", "unknown", 0, `no site model for site ""`},
	}
	for _, tt := range tests {
		t.Run(tt.site, func(t *testing.T) {
			ev := event.Event{Time: demoNow, Site: tt.site, SrcIP: "10.20.2.11", DstIP: "10.20.1.11", Proto: "tcp", DstPort: 502, AppProto: "modbus", Operation: "read", ModelVersion: 99}
			ok := s.Enrich(&ev)
			if ok != tt.wantOK || ev.Dst.AssetID != tt.wantAsset || ev.Dst.Zone != tt.wantZone || ev.ModelVersion != tt.wantVer || ev.Flow.Violation != tt.wantViol {
				t.Errorf("Enrich = %v: dst %+v version %d flow %+v", ok, ev.Dst, ev.ModelVersion, ev.Flow)
			}
			if !tt.wantOK && (ev.Src != Unknown("10.20.2.11") || ev.Dst != Unknown("10.20.1.11") || ev.Flow.Allowed || ev.Flow.CrossZone) {
				t.Errorf("unknown site context: src %+v dst %+v flow %+v", ev.Src, ev.Dst, ev.Flow)
			}
		})
	}
	if _, err := NewSet(demo, demo); err == nil || !strings.Contains(err.Error(), `two site models for site "demo-plant"`) {
		t.Errorf("NewSet with a duplicate site: %v", err)
	}
	bad := *other
	bad.Assets = []site.Asset{{ID: "other/x", Role: "plc", IPs: []string{"10.99.0.1"}}}
	if _, err := NewSet(&bad); err == nil || !strings.Contains(err.Error(), "asset other/x ip 10.99.0.1 is in no zone's CIDRs") {
		t.Errorf("NewSet with an invalid model: %v", err)
	}
}
