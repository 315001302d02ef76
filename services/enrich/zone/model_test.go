package zone

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/c981/c981/services/shared/event"
	"github.com/c981/c981/services/shared/site"
)

// tuesday is inside the demo plant's weekly control-zone window (Tuesdays
// 06:00-10:00 Europe/Berlin): 2026-11-24 06:30 CET.
var tuesday = time.Date(2026, 11, 24, 5, 30, 0, 0, time.UTC)

// demoWithSecondEWS is the demo plant plus a second engineering workstation
// that no maintenance window lists as an allowed source.
func demoWithSecondEWS(t testing.TB) *Index {
	t.Helper()
	m := loadDemo(t)
	m.Assets = append(m.Assets, site.Asset{ID: "demo-plant/ews-02", Name: "Engineering workstation 02", Role: "ews", IPs: []string{"10.20.2.22"}, MACs: []string{"00:1d:9c:00:02:22"}, Hostname: "ews-02"})
	ix, err := New(m)
	if err != nil {
		t.Fatal(err)
	}
	return ix
}

func TestResolve(t *testing.T) {
	ix := demoIndex(t)
	tests := []struct {
		name          string
		ip, mac, host string
		wantAsset     string
		wantZone      string
		wantIP        string
	}{
		{"ip", "10.20.1.11", "", "", "demo-plant/plc-101", "demo-plant/control", "10.20.1.11"},
		{"ip wins over mac", "10.20.1.11", "00:80:f4:09:00:05", "", "demo-plant/plc-101", "demo-plant/control", "10.20.1.11"},
		{"mac of uninventoried ip", "10.20.9.9", "00:80:F4:09:00:05", "", "demo-plant/sis-01", "demo-plant/safety", "10.20.9.9"},
		{"mac dash form", "", "00-80-f4-09-00-06", "", "demo-plant/sis-02", "demo-plant/safety", ""},
		{"unknown mac, zone by ip", "10.20.1.99", "02:00:00:00:00:01", "", "", "demo-plant/control", "10.20.1.99"},
		{"bad mac ignored", "10.20.1.99", "zz", "", "", "demo-plant/control", "10.20.1.99"},
		{"hostname without ip", "", "", "plc-101", "demo-plant/plc-101", "demo-plant/control", ""},
		{"hostname alias, any case", "", "", "PLC-101.Reactor.Demo-Plant.example", "demo-plant/plc-101", "demo-plant/control", ""},
		{"hostname ignored when ip given", "8.8.8.8", "", "plc-101", "", "unknown", "8.8.8.8"},
		{"unknown hostname", "", "", "laptop-7", "", "unknown", ""},
		{"nothing", "", "", "", "", "unknown", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ep := ix.Resolve(tt.ip, tt.mac, tt.host)
			if ep.AssetID != tt.wantAsset || ep.Zone != tt.wantZone || ep.IP != tt.wantIP || ep.Known != (tt.wantAsset != "") {
				t.Errorf("Resolve(%q, %q, %q) = %+v; want asset %q zone %q ip %q", tt.ip, tt.mac, tt.host, ep, tt.wantAsset, tt.wantZone, tt.wantIP)
			}
		})
	}
	if a, ok := ix.AssetByMAC("00:1D:9C:C0:01:01"); !ok || a.ID != "demo-plant/plc-101" {
		t.Errorf("AssetByMAC = %v, %v", a, ok)
	}
	if a, ok := ix.AssetByHostname("SIS-02"); !ok || a.ID != "demo-plant/sis-02" {
		t.Errorf("AssetByHostname = %v, %v", a, ok)
	}
}

// TestViolationReasons covers every reason a cross-zone flow is refused,
// including each way a maintenance window can fail to cover an operation.
func TestViolationReasons(t *testing.T) {
	ix := demoWithSecondEWS(t)
	tests := []struct {
		name          string
		src, dst      string
		proto         string
		port          int
		app, op, user string
		at            time.Time
		want          string // "" = allowed
	}{
		{"no conduit", "10.10.5.21", "10.20.9.5", "tcp", 502, "modbus", "read", "", demoNow, "no conduit between demo-plant/enterprise and demo-plant/safety"},
		{"port not allowed", "10.20.2.11", "10.20.1.11", "tcp", 503, "modbus", "read", "", demoNow, "conduit demo-plant/c-supervisory-control does not allow tcp/503"},
		{"protocol not allowed", "10.20.2.11", "10.20.1.11", "tcp", 502, "dnp3", "read", "", demoNow, "conduit demo-plant/c-supervisory-control does not allow protocol dnp3 on tcp/502"},
		{"operation not allowed", "10.20.1.12", "10.20.9.6", "tcp", 502, "modbus", "force", "", demoNow, "conduit demo-plant/c-control-safety does not allow operation force"},
		{"wrong direction (unidirectional)", "10.20.9.6", "10.20.1.12", "tcp", 502, "modbus", "read", "", demoNow, "conduit demo-plant/c-control-safety is unidirectional from demo-plant/control to demo-plant/safety"},
		{"wrong direction", "10.20.3.10", "10.20.2.31", "tcp", 5450, "", "", "", demoNow, "conduit demo-plant/c-supervisory-operations allows no flow from demo-plant/operations to demo-plant/supervisory"},
		{"window required, none open (Thursday)", "10.20.2.21", "10.20.1.11", "tcp", 44818, "enip", "program_download", "eng.schmidt", demoNow, "operation program_download requires an open maintenance window"},
		{"window required, before weekly start", "10.20.2.21", "10.20.1.11", "tcp", 44818, "enip", "program_download", "eng.schmidt", time.Date(2026, 11, 24, 4, 59, 59, 0, time.UTC), "operation program_download requires an open maintenance window"},
		{"weekly window, start inclusive", "10.20.2.21", "10.20.1.11", "tcp", 44818, "enip", "program_download", "eng.schmidt", time.Date(2026, 11, 24, 5, 0, 0, 0, time.UTC), ""},
		{"weekly window, end exclusive", "10.20.2.21", "10.20.1.11", "tcp", 44818, "enip", "program_download", "eng.schmidt", time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC), "operation program_download requires an open maintenance window"},
		{"weekly window, summer time", "10.20.2.21", "10.20.1.11", "tcp", 44818, "enip", "program_download", "ENG.NOVAK", time.Date(2026, 7, 7, 4, 0, 0, 0, time.UTC), ""},
		{"weekly window, summer 09:00 UTC is 11:00 local", "10.20.2.21", "10.20.1.11", "tcp", 44818, "enip", "program_download", "eng.novak", time.Date(2026, 7, 7, 8, 0, 0, 0, time.UTC), "operation program_download requires an open maintenance window"},
		{"weekly window, DST change week (Tuesday after fall back)", "10.20.2.21", "10.20.1.11", "tcp", 44818, "enip", "program_download", "eng.novak", time.Date(2026, 10, 27, 5, 0, 0, 0, time.UTC), ""},
		{"window open, operation not allowed by it", "10.20.2.21", "10.20.1.11", "tcp", 44818, "enip", "mode_change", "eng.schmidt", tuesday, "operation mode_change is not allowed by open maintenance window mw-weekly-control-engineering"},
		{"window open, source not allowed", "10.20.2.22", "10.20.1.11", "tcp", 44818, "enip", "program_download", "eng.schmidt", tuesday, "operation program_download from demo-plant/ews-02 (ews) is not allowed by open maintenance window mw-weekly-control-engineering (allowed sources: demo-plant/ews-01)"},
		{"window open, user not allowed", "10.20.2.21", "10.20.1.11", "tcp", 44818, "enip", "program_download", "op.meyer", tuesday, "operation program_download by user op.meyer is not allowed by open maintenance window mw-weekly-control-engineering (allowed users: eng.schmidt, eng.novak)"},
		{"window open, user unknown", "10.20.2.21", "10.20.1.11", "tcp", 44818, "enip", "program_download", "", tuesday, "operation program_download by user (no user) is not allowed by open maintenance window mw-weekly-control-engineering (allowed users: eng.schmidt, eng.novak)"},
		{"one-off window lists sources but no users", "10.20.2.21", "10.20.1.13", "tcp", 44818, "enip", "program_download", "", inWindow, ""},
		{"one-off window, other source", "10.20.2.22", "10.20.1.13", "tcp", 44818, "enip", "program_download", "", inWindow, "operation program_download from demo-plant/ews-02 (ews) is not allowed by open maintenance window mw-2026-11-20-plc-103 (allowed sources: demo-plant/ews-01)"},
		{"operation without window requirement on Tuesday", "10.20.2.22", "10.20.1.11", "tcp", 44818, "enip", "read", "", tuesday, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := ix.Check(ix.Endpoint(tt.src), ix.Endpoint(tt.dst), Conn{Proto: tt.proto, Port: tt.port, AppProto: tt.app, Operation: tt.op, Time: tt.at, User: tt.user})
			if f.Violation != tt.want || f.Allowed != (tt.want == "") || !f.CrossZone {
				t.Errorf("Check = %+v\nwant violation %q", f, tt.want)
			}
		})
	}
}

func TestEnrichDerived(t *testing.T) {
	ix := demoIndex(t)
	tests := []struct {
		name  string
		ev    event.Event
		check func(t *testing.T, ev *event.Event)
	}{
		{"purdue delta down, work order", event.Event{Time: tuesday, SrcIP: "10.20.2.21", DstIP: "10.20.1.11", Proto: "tcp", DstPort: 44818, AppProto: "enip", Operation: "program_download", User: "eng.schmidt"}, func(t *testing.T, ev *event.Event) {
			if !ev.Flow.Allowed || ev.Flow.PurdueDelta != 1 || ev.Flow.SafetyInvolved {
				t.Errorf("flow %+v", ev.Flow)
			}
			m := ev.Maint
			if !m.Active || m.WindowID != "mw-weekly-control-engineering" || m.WorkOrder != "MOC-2026-0042" || strings.Join(m.AllowedSources, ",") != "demo-plant/ews-01" || strings.Join(m.AllowedUsers, ",") != "eng.schmidt,eng.novak" {
				t.Errorf("maint %+v", m)
			}
		}},
		{"purdue delta up, safety involved", event.Event{Time: demoNow, SrcIP: "10.20.9.5", DstIP: "172.16.35.10"}, func(t *testing.T, ev *event.Event) {
			if ev.Flow.PurdueDelta != -2.5 || !ev.Flow.SafetyInvolved {
				t.Errorf("flow %+v", ev.Flow)
			}
		}},
		{"unknown endpoint: no purdue delta", event.Event{Time: demoNow, SrcIP: "8.8.8.8", DstIP: "10.20.1.11"}, func(t *testing.T, ev *event.Event) {
			if ev.Flow.PurdueDelta != 0 || ev.Src.Zone != UnknownZone {
				t.Errorf("flow %+v src %+v", ev.Flow, ev.Src)
			}
		}},
		{"host-only log of a controller in its window", event.Event{Time: tuesday, Host: "PLC-101", Operation: "program_download", User: "eng.novak"}, func(t *testing.T, ev *event.Event) {
			if ev.Src.AssetID != "demo-plant/plc-101" || ev.Dst.Zone != UnknownZone || !ev.Maint.Active || ev.Maint.WindowID != "mw-weekly-control-engineering" {
				t.Errorf("src %+v maint %+v", ev.Src, ev.Maint)
			}
		}},
		{"macs only", event.Event{Time: demoNow, SrcMAC: "00:1d:9c:c0:01:01", DstMAC: "00:80:f4:09:00:05"}, func(t *testing.T, ev *event.Event) {
			if ev.Src.AssetID != "demo-plant/plc-101" || ev.Dst.AssetID != "demo-plant/sis-01" || ev.Flow.Conduit != "" || !ev.Flow.SafetyInvolved || ev.Flow.PurdueDelta != 0 {
				t.Errorf("src %+v dst %+v flow %+v", ev.Src, ev.Dst, ev.Flow)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := tt.ev
			ev.Site = "demo-plant"
			ix.Enrich(&ev)
			tt.check(t, &ev)
		})
	}
}

func TestWindowTimezone(t *testing.T) {
	// The same recurrence in two sites' time zones opens at different instants.
	for _, tz := range []struct {
		zone string
		open time.Time // 06:00 local on Tuesday 2026-11-24
	}{
		{"Europe/Berlin", time.Date(2026, 11, 24, 5, 0, 0, 0, time.UTC)},
		{"America/New_York", time.Date(2026, 11, 24, 11, 0, 0, 0, time.UTC)},
		{"Asia/Kolkata", time.Date(2026, 11, 24, 0, 30, 0, 0, time.UTC)},
	} {
		t.Run(tz.zone, func(t *testing.T) {
			m, err := site.Parse("tz.yaml", fmt.Appendf(nil, `version: 1
site: {id: s, timezone: %s}
zones:
  - {id: s/ctl, kind: control, purdue_level: 1, security_level: {target: 2}, cidrs: [10.0.0.0/24]}
assets:
  - {id: s/plc, role: plc, ips: [10.0.0.1]}
maintenance_windows:
  - id: weekly
    scope: {zones: [s/ctl]}
    recurrence: {weekdays: [tue], start: "06:00", duration: 2h}
`, tz.zone))
			if err != nil {
				t.Fatal(err)
			}
			ix, err := New(m)
			if err != nil {
				t.Fatal(err)
			}
			dst := ix.Endpoint("10.0.0.1")
			if ix.Maintenance(dst, tz.open.Add(-time.Second), "").Active {
				t.Error("open before 06:00 local")
			}
			if !ix.Maintenance(dst, tz.open, "").Active {
				t.Error("closed at 06:00 local")
			}
			if ix.Maintenance(dst, tz.open.Add(2*time.Hour), "").Active {
				t.Error("open at 08:00 local (end is exclusive)")
			}
			if got := ix.OpenWindows(dst, tz.open); strings.Join(got, ",") != "weekly" {
				t.Errorf("OpenWindows = %v", got)
			}
		})
	}
}

func TestReadAPI(t *testing.T) {
	ix := demoIndex(t)
	if len(ix.Zones()) != 6 || len(ix.Conduits()) != 6 || len(ix.Assets()) != 20 || len(ix.Windows()) != 2 || ix.Model().Site.ID != "demo-plant" || ix.Location().String() != "Europe/Berlin" {
		t.Errorf("read API: %d zones %d conduits %d assets %d windows", len(ix.Zones()), len(ix.Conduits()), len(ix.Assets()), len(ix.Windows()))
	}
	if z, ok := ix.Zone("demo-plant/safety"); !ok || !z.Safety || z.Area != "demo-plant/reactor-unit" {
		t.Errorf("Zone = %+v, %v", z, ok)
	}
	rc, ok := ix.Response("demo-plant/sis-01")
	if !ok || !strings.Contains(strings.Join(rc.ForbiddenActions, ","), "isolate_host") || strings.Join(rc.Approvers, ",") != "process_safety_engineer,shift_supervisor" {
		t.Errorf("Response = %+v, %v", rc, ok)
	}
	if a, ok := ix.Asset("demo-plant/plc-101"); !ok || a.Response.Approvers[0] != "shift_supervisor" {
		t.Errorf("Asset = %+v, %v", a, ok)
	}
	if _, ok := ix.Asset("demo-plant/nope"); ok {
		t.Error("Asset of an unknown id")
	}
	w, sched, ok := ix.Window("mw-weekly-control-engineering")
	if !ok || w.WorkOrder != "MOC-2026-0042" || !sched.Recurring() {
		t.Errorf("Window = %+v, %v", w, ok)
	}
	if start, _, ok := sched.Next(demoNow); !ok || !start.Equal(time.Date(2026, 12, 1, 5, 0, 0, 0, time.UTC)) {
		t.Errorf("next weekly window after the demo = %v, %v", start, ok)
	}
	s, err := NewSet(loadDemo(t))
	if err != nil {
		t.Fatal(err)
	}
	if ms := s.Models(); len(ms) != 1 || ms[0].Site.ID != "demo-plant" {
		t.Errorf("Models = %v", ms)
	}
	if a, ok := s.Asset("demo-plant", "demo-plant/sis-02"); !ok || !a.Safety {
		t.Errorf("Set.Asset = %+v, %v", a, ok)
	}
}

func TestPairs(t *testing.T) {
	ix := demoIndex(t)
	p := NewPairs(4) // per site: two generations of 2 pairs
	mark := func(site, src, dst string) bool {
		ev := event.Event{Site: site, SrcIP: src, DstIP: dst, Flow: event.Flow{NewPair: true}}
		ix.Enrich(&ev)
		p.Mark(&ev)
		return ev.Flow.NewPair
	}
	steps := []struct {
		site, src, dst string
		want           bool
	}{
		{"demo-plant", "10.20.2.11", "10.20.1.11", true},
		{"demo-plant", "10.20.2.11", "10.20.1.11", false}, // seen
		{"demo-plant", "10.20.1.11", "10.20.2.11", false}, // reply direction
		{"other", "10.20.2.11", "10.20.1.11", true},       // other site
		{"demo-plant", "10.20.2.12", "10.20.1.11", true},
		{"demo-plant", "10.20.2.11", "10.20.1.11", false},
		{"demo-plant", "10.20.2.99", "10.20.1.99", true}, // generation rolls: the first 2 pairs move to old
		{"demo-plant", "10.20.2.98", "10.20.1.99", true},
		{"demo-plant", "10.20.2.97", "10.20.1.99", true},  // second roll: the first 2 pairs are evicted
		{"other", "10.20.2.11", "10.20.1.11", false},      // a busy site does not evict another's pairs
		{"demo-plant", "10.20.2.12", "10.20.1.11", true},  // forgotten after capacity/2 newer pairs
		{"demo-plant", "10.20.2.99", "10.20.1.99", false}, // found in the old generation, promoted
	}
	for i, s := range steps {
		if got := mark(s.site, s.src, s.dst); got != s.want {
			t.Errorf("step %d %s %s->%s: new_pair = %v, want %v", i, s.site, s.src, s.dst, got, s.want)
		}
		if p.Len() > 4*2 {
			t.Fatalf("step %d: %d pairs held, bound is 4 per site", i, p.Len())
		}
	}
	if got := p.Evicted(); got < 1 {
		t.Errorf("Evicted = %d after the generations rolled", got)
	}
	before, held := p.Evicted(), p.Len()
	p.Retain([]string{"demo-plant"})
	if got := p.Evicted() - before; got != 1 || p.Len() != held-1 {
		t.Errorf("Retain evicted %d pairs, %d held (was %d); want the other site's 1", got, p.Len(), held)
	}
	if !mark("other", "10.20.2.11", "10.20.1.11") {
		t.Error("a pair of a dropped site is not new")
	}
	ev := event.Event{Site: "demo-plant", SrcIP: "10.20.2.11", Flow: event.Flow{NewPair: true}}
	p.Mark(&ev)
	if ev.Flow.NewPair {
		t.Error("event without a destination marked as a new pair")
	}
	if fresh := NewPairs(0); !fresh.Observe("demo-plant", "demo-plant/hmi-01", "demo-plant/plc-101") {
		t.Error("a restarted memory does not report a known pair as new")
	}
}

func TestRoleBits(t *testing.T) {
	if len(site.Roles) > 64 {
		t.Fatalf("%d roles do not fit the 64-bit role sets of compiled flows", len(site.Roles))
	}
	seen := uint64(0)
	for _, r := range site.Roles {
		b := roleBit(r)
		if b == 0 || seen&b != 0 {
			t.Errorf("role %s has bit %#x (seen %#x)", r, b, seen)
		}
		seen |= b
	}
	if roleBit("toaster") != 0 || roleBits([]string{"plc", "hmi"}) != roleBit("plc")|roleBit("hmi") {
		t.Error("roleBit of an unknown role or roleBits")
	}
}
