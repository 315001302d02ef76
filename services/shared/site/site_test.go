package site

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"
)

const allOps = "read, write, write_multiple, select, operate, direct_operate, set_attribute, force, program_download, program_upload, online_edit, mode_change, firmware_update, firmware_update_mode, restart, cold_restart, warm_restart"

func TestLoadBad(t *testing.T) {
	tests := []struct {
		file string
		want []string // one line per problem
	}{
		{"unknown-field", []string{
			`testdata/bad/unknown-field.yaml:8:5: unknown field "cidr"`,
		}},
		{"empty", []string{
			`testdata/bad/empty.yaml: $.version: version must be a positive integer, got 0`,
			`testdata/bad/empty.yaml: $.site: site.id is required`,
			`testdata/bad/empty.yaml: $.site: site.timezone is required`,
		}},
		{"site", []string{
			`testdata/bad/site.yaml:1: version must be a positive integer, got 0`,
			`testdata/bad/site.yaml:3: site id "my site" must match ^[A-Za-z0-9][A-Za-z0-9_-]*$`,
			`testdata/bad/site.yaml:4: site timezone "Mars/Olympus" is not an IANA time zone`,
			`testdata/bad/site.yaml:5: nis2 entity_class "critical" must be one of essential, important, out_of_scope`,
		}},
		{"ids", []string{
			`testdata/bad/ids.yaml:5: zone id "a" must be "t/" followed by a name of letters, digits, '.', '_' or '-'`,
			`testdata/bad/ids.yaml:6: duplicate zone id "t/a" (first defined at index 0)`,
			`testdata/bad/ids.yaml:7: zone id is required`,
			`testdata/bad/ids.yaml:10: duplicate asset id "t/plc" (first defined at index 0)`,
			`testdata/bad/ids.yaml:11: asset t/plc2 ip 10.0.0.5 is already assigned to asset t/plc`,
			`testdata/bad/ids.yaml:12: asset t/x role "toaster" must be one of plc, rtu, dcs_controller, pac, sis, ied, hmi, ews, historian, scada_server, opc_server, jump_host, firewall, switch, router, data_diode, ot_sensor, domain_controller, server, workstation, iot, unknown`,
		}},
		{"cidrs", []string{
			`testdata/bad/cidrs.yaml:8: zone t/a cidr "10.0.0.0/33" is not a valid CIDR`,
			`testdata/bad/cidrs.yaml:8: zone t/a cidr 10.0.1.5/24 has host bits set (network is 10.0.1.0/24)`,
			`testdata/bad/cidrs.yaml:9: zone t/a vlan 0 is outside 1-4094`,
			`testdata/bad/cidrs.yaml:14: zone t/b cidr 10.0.2.0/24 overlaps 10.0.0.0/16 of zone t/a`,
		}},
		{"assets", []string{
			`testdata/bad/assets.yaml:7: asset t/plc ip 10.0.2.10 is outside its zone t/a (10.0.1.0/24)`,
			`testdata/bad/assets.yaml:8: asset t/hmi ip 192.168.1.1 is in no zone's CIDRs`,
			`testdata/bad/assets.yaml:9: asset t/ews names unknown zone "t/nowhere"`,
			`testdata/bad/assets.yaml:10: asset t/rtu needs ips or a zone`,
			`testdata/bad/assets.yaml:11: asset t/ied ip "10.0.1.300" is not a valid IP address`,
			`testdata/bad/assets.yaml:11: asset t/ied mac "zz:00" is not a MAC address like 00:1d:9c:c0:04:9d`,
			`testdata/bad/assets.yaml:12: asset t/hist criticality "severe" must be one of critical, high, medium, low`,
			`testdata/bad/assets.yaml:12: asset t/hist ip 10.0.1.7 is outside its zone t/b (10.0.2.0/24)`,
		}},
		{"levels", []string{
			`testdata/bad/levels.yaml:4: zone t/a purdue_level 6 is out of range (0 to 5 in steps of 0.5)`,
			`testdata/bad/levels.yaml:4: zone t/a security_level.target 0 is outside 1-4`,
			`testdata/bad/levels.yaml:5: zone t/b kind "cloud" must be one of enterprise, dmz, operations, supervisory, control, safety, field, remote_access, wireless, transient, vendor`,
			`testdata/bad/levels.yaml:5: zone t/b purdue_level 1.7 is out of range (0 to 5 in steps of 0.5)`,
			`testdata/bad/levels.yaml:5: zone t/b security_level.achieved 5 is outside 1-4`,
			`testdata/bad/levels.yaml:6: zone t/c purdue_level is required`,
			`testdata/bad/levels.yaml:8: asset t/plc purdue_level -1 is out of range (0 to 5 in steps of 0.5)`,
		}},
		{"conduits", []string{
			`testdata/bad/conduits.yaml:10: conduit t/c1 names unknown zone "t/missing"`,
			`testdata/bad/conduits.yaml:13: conduit t/c2 between must name exactly 2 zones, got 1`,
			`testdata/bad/conduits.yaml:13: conduit t/c2 has no flows`,
			`testdata/bad/conduits.yaml:18: conduit t/c3 security_level.target 5 is outside 1-4`,
			`testdata/bad/conduits.yaml:19: conduit t/c3 enforcement type "wall" must be one of firewall, data_diode, ids, gateway, vpn`,
			`testdata/bad/conduits.yaml:19: conduit t/c3 enforcement device "t/fw-9" is not a known asset`,
			`testdata/bad/conduits.yaml:23: conduit t/c3 flow f: src and dst are both in zone t/b`,
			`testdata/bad/conduits.yaml:22: conduit t/c3 flow f: src role "unknown" must be an asset role other than unknown`,
			`testdata/bad/conduits.yaml:22: conduit t/c3 flow f: src asset t/plc is in zone t/a, not t/b`,
			`testdata/bad/conduits.yaml:22: conduit t/c3 flow f: src names unknown asset "t/ghost"`,
			`testdata/bad/conduits.yaml:21: conduit t/c3 flow f: transport "sctp" must be one of tcp, udp, icmp`,
			`testdata/bad/conduits.yaml:25: conduit t/c3 flow f: port 0 is outside 1-65535`,
			`testdata/bad/conduits.yaml:26: conduit t/c3 flow f: protocol "Modbus/TCP" must be lower-case letters, digits, '_' or '-'`,
			`testdata/bad/conduits.yaml:27: duplicate flow id "f" in conduit t/c3 (first defined at index 0)`,
			`testdata/bad/conduits.yaml:31: conduit t/c3 flow f: icmp flows have no ports`,
			`testdata/bad/conduits.yaml:34: conduit t/c3 flow f: unknown operation "reboot" (known: ` + allOps + `)`,
			`testdata/bad/conduits.yaml:34: conduit t/c3 flow f: operation program_download requires a maintenance window but is not in operations.allow`,
			`testdata/bad/conduits.yaml:34: conduit t/c3 flow f: operation reboot requires a maintenance window but is not in operations.allow`,
			`testdata/bad/conduits.yaml:36: conduit t/c4 connects zone t/a to itself`,
		}},
		{"unidirectional", []string{
			`testdata/bad/unidirectional.yaml:12: conduit t/ctl-sis flow push: conduit is unidirectional from t/ctl to t/sis but the flow starts in t/sis`,
		}},
		{"windows", []string{
			`testdata/bad/windows.yaml:10: maintenance window mw-1 start "2026-01-10 06:00" is not an RFC 3339 time`,
			`testdata/bad/windows.yaml:15: maintenance window mw-2 end 2026-01-10T06:00:00Z is not after start 2026-01-10T14:00:00Z`,
			`testdata/bad/windows.yaml:13: maintenance window mw-2 names unknown zone "t/b"`,
			`testdata/bad/windows.yaml:13: maintenance window mw-2 names unknown asset "t/ghost"`,
			`testdata/bad/windows.yaml:16: maintenance window mw-2: unknown operation "reflash" (known: ` + allOps + `)`,
			`testdata/bad/windows.yaml:17: duplicate maintenance window id "mw-2" (first defined at index 1)`,
			`testdata/bad/windows.yaml:21: maintenance window mw-3 scope names no zones or assets`,
		}},
		{"inventory", []string{
			`testdata/bad/inventory.yaml:7: duplicate area id "t/unit-1" (first defined at index 0)`,
			`testdata/bad/inventory.yaml:9: zone t/a names unknown area "t/unit-9"`,
			`testdata/bad/inventory.yaml:12: asset t/plc2 mac 00:1d:9c:c0:04:9d is already assigned to asset t/plc`,
			`testdata/bad/inventory.yaml:12: asset t/plc2 hostname PLC-1 is already assigned to asset t/plc`,
			`testdata/bad/inventory.yaml:12: asset t/plc2 hostname "plc 2" must be letters, digits, '-', '_' and '.'`,
			`testdata/bad/inventory.yaml:17: asset t/sis forbidden action "Reboot" must be lower-case letters, digits and '_'`,
			`testdata/bad/inventory.yaml:18: asset t/sis approver must not be empty`,
		}},
		{"recurrence", []string{
			`testdata/bad/recurrence.yaml:12: maintenance window both has both start/end and a recurrence; use one`,
			`testdata/bad/recurrence.yaml:16: maintenance window bad recurrence weekday "someday" is not a day name (monday..sunday or mon..sun)`,
			`testdata/bad/recurrence.yaml:17: maintenance window bad recurrence start "6am" must be a local time HH:MM`,
			`testdata/bad/recurrence.yaml:18: maintenance window bad recurrence duration "200h" must be a Go duration above 0 and at most 168h`,
			`testdata/bad/recurrence.yaml:19: maintenance window bad recurrence from "2026-13-01" must be a date YYYY-MM-DD`,
			`testdata/bad/recurrence.yaml:21: maintenance window bad allowed source "t/ghost" is not a known asset`,
			`testdata/bad/recurrence.yaml:22: maintenance window bad allowed user must not be empty`,
			`testdata/bad/recurrence.yaml:25: maintenance window empty recurrence.weekdays is required`,
			`testdata/bad/recurrence.yaml:25: maintenance window empty recurrence start "25:00" must be a local time HH:MM`,
			`testdata/bad/recurrence.yaml:25: maintenance window empty recurrence duration "-1h" must be a Go duration above 0 and at most 168h`,
			`testdata/bad/recurrence.yaml:25: maintenance window empty recurrence until 2026-05-01 is before from 2026-06-01`,
		}},
		{"ids2", []string{
			`testdata/bad/ids2.yaml:10: conduit t/c1 enforcement device is required`,
			`testdata/bad/ids2.yaml:12: conduit t/c1 flow id is required`,
			`testdata/bad/ids2.yaml:13: conduit t/c1 flow bad id: id must consist of letters, digits, '.', '_' or '-'`,
			`testdata/bad/ids2.yaml:14: conduit t/c1 flow f3: src zone "t/c" is not one of the conduit's zones t/a, t/b`,
			`testdata/bad/ids2.yaml:16: maintenance window id is required`,
			`testdata/bad/ids2.yaml:17: maintenance window id "mw 2" must consist of letters, digits, '.', '_' or '-'`,
			`testdata/bad/ids2.yaml:18: maintenance window mw-3 end "tomorrow" is not an RFC 3339 time`,
			`testdata/bad/ids2.yaml:21: maintenance window mw-4 recurrence until "2026-02-30" must be a date YYYY-MM-DD`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			m, err := Load("testdata/bad/" + tt.file + ".yaml")
			if err == nil {
				t.Fatalf("Load succeeded with %d zones; want errors", len(m.Zones))
			}
			got := strings.Split(err.Error(), "\n")
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("errors:\n%s\nwant:\n%s", err, strings.Join(tt.want, "\n"))
			}
			var ve *ValidationError
			if errors.As(err, &ve) && len(ve.Issues) != len(tt.want) {
				t.Errorf("%d issues, want %d", len(ve.Issues), len(tt.want))
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load("testdata/does-not-exist.yaml")
	if err == nil || !strings.Contains(err.Error(), "read testdata/does-not-exist.yaml") {
		t.Fatalf("err = %v, want a read error naming the file", err)
	}
}

func TestLoadGood(t *testing.T) {
	m, err := Load("testdata/good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if m.Version != 3 || m.Site.ID != "t" || m.Site.NIS2.Sector != "water" {
		t.Errorf("header = %d %q %+v", m.Version, m.Site.ID, m.Site.NIS2)
	}
	zoneOf := []struct {
		ip   string
		zone string
		ok   bool
	}{
		{"10.0.2.5", "t/sup", true},
		{"10.0.1.255", "t/ctl", true},
		{"fd00:1::abcd", "t/ctl", true},
		{"::ffff:10.0.9.2", "t/sis", true},
		{"10.0.9.16", "", false},
		{"192.168.0.1", "", false},
	}
	for _, tt := range zoneOf {
		t.Run("ZoneOf/"+tt.ip, func(t *testing.T) {
			z, ok := m.ZoneOf(netip.MustParseAddr(tt.ip))
			if z != tt.zone || ok != tt.ok {
				t.Errorf("ZoneOf(%s) = %q, %v; want %q, %v", tt.ip, z, ok, tt.zone, tt.ok)
			}
		})
	}
	assetZone := map[string]string{"t/ews": "t/sup", "t/fw": "t/ctl", "t/plc": "t/ctl", "t/rtu": "t/ctl", "t/sis-1": "t/sis"}
	for i := range m.Assets {
		a := &m.Assets[i]
		if got := m.AssetZone(a); got != assetZone[a.ID] {
			t.Errorf("AssetZone(%s) = %q, want %q", a.ID, got, assetZone[a.ID])
		}
	}
	start, end, err := m.MaintenanceWindows[0].Interval()
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 1, 10, 5, 0, 0, 0, time.UTC); !start.Equal(want) {
		t.Errorf("start = %v, want %v", start, want)
	}
	if want := time.Date(2026, 1, 10, 14, 0, 0, 0, time.UTC); !end.Equal(want) {
		t.Errorf("end = %v, want %v", end, want)
	}
	if err := m.Validate(); err != nil {
		t.Errorf("Validate of a loaded model: %v", err)
	}
}

// TestValidateInMemory covers models built in code: errors carry YAML paths.
func TestValidateInMemory(t *testing.T) {
	m, err := Load("testdata/good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m.Zones[1].CIDRs = append(m.Zones[1].CIDRs, "10.0.2.128/25")
	m.Conduits[0].Flows[0].Dst.Assets = []string{"t/ews"}
	err = m.Validate()
	want := "$.zones[1].cidrs[2]: zone t/ctl cidr 10.0.2.128/25 overlaps 10.0.2.0/24 of zone t/sup\n" +
		"$.conduits[0].flows[0].dst.assets[0]: conduit t/sup-ctl flow eng: dst asset t/ews is in zone t/sup, not t/ctl"
	if err == nil || err.Error() != want {
		t.Errorf("Validate() = %v\nwant %s", err, want)
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name, data, wantErr string
	}{
		{"ok", "version: 1\nsite: {id: s, timezone: UTC}\n", ""},
		{"syntax", "version: [1\n", "mem.yaml:1:"},
		{"type", "version: one\n", "mem.yaml:1:10:"},
		{"invalid", "version: 1\nsite: {id: s}\n", `mem.yaml:2: site.timezone is required`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Parse("mem.yaml", []byte(tt.data))
			if tt.wantErr == "" {
				if err != nil || m.Site.ID != "s" {
					t.Fatalf("Parse = %+v, %v", m, err)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want prefix %q", err, tt.wantErr)
			}
		})
	}
}

// TestDemoPlant pins deploy/demo/site.yaml to the demo plant's fixed facts.
func TestDemoPlant(t *testing.T) {
	m, err := Load("../../../deploy/demo/site.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if m.Site.ID != "demo-plant" || m.Site.Timezone != "Europe/Berlin" {
		t.Errorf("site = %+v", m.Site)
	}
	zones := map[string]string{}
	for _, z := range m.Zones {
		zones[z.ID] = z.Kind + " " + strings.Join(z.CIDRs, ",")
	}
	wantZones := map[string]string{
		"demo-plant/enterprise":  "enterprise 10.10.0.0/16",
		"demo-plant/idmz":        "dmz 172.16.35.0/24",
		"demo-plant/operations":  "operations 10.20.3.0/24",
		"demo-plant/supervisory": "supervisory 10.20.2.0/24",
		"demo-plant/control":     "control 10.20.1.0/24",
		"demo-plant/safety":      "safety 10.20.9.0/28",
	}
	if len(zones) != len(wantZones) {
		t.Errorf("%d zones, want %d", len(zones), len(wantZones))
	}
	for id, want := range wantZones {
		if zones[id] != want {
			t.Errorf("zone %s = %q, want %q", id, zones[id], want)
		}
	}
	if len(m.Assets) != 20 {
		t.Errorf("%d assets, want 20", len(m.Assets))
	}
	if len(m.Conduits) != 6 {
		t.Errorf("%d conduits, want 6", len(m.Conduits))
	}
	// The demo scenario (2026-11-26 10:00-10:05 UTC) must fall outside every
	// window, or its incidents change.
	loc := m.Location()
	recurring := 0
	for i := range m.MaintenanceWindows {
		w := &m.MaintenanceWindows[i]
		s, err := w.Schedule(loc)
		if err != nil {
			t.Fatal(err)
		}
		if s.Recurring() {
			recurring++
		}
		for at := time.Date(2026, 11, 26, 9, 55, 0, 0, time.UTC); at.Before(time.Date(2026, 11, 26, 10, 10, 0, 0, time.UTC)); at = at.Add(time.Minute) {
			if _, _, open := s.Open(at); open {
				t.Errorf("demo maintenance window %s is open at %v: it would cover the demo scenario", w.ID, at)
			}
		}
	}
	if recurring == 0 {
		t.Error("the demo plant has no recurring maintenance window")
	}
	// The issue's "done when": the demo uses the full model.
	kinds := map[string]bool{}
	for _, z := range m.Zones {
		kinds[z.Kind] = true
		if z.Kind == "safety" && !z.Safety {
			t.Errorf("safety zone %s is not flagged safety", z.ID)
		}
	}
	if !kinds["safety"] || !kinds["dmz"] {
		t.Errorf("demo zone kinds %v lack safety or dmz", kinds)
	}
	mwFlows, unidirectional := 0, 0
	for _, c := range m.Conduits {
		if c.Unidirectional {
			unidirectional++
		}
		for _, f := range c.Flows {
			if len(f.Operations.RequireMaintenanceWindow) > 0 {
				mwFlows++
			}
		}
	}
	if mwFlows == 0 || unidirectional == 0 {
		t.Errorf("demo conduits: %d flows require a maintenance window, %d unidirectional conduits; want both", mwFlows, unidirectional)
	}
	if len(m.MaintenanceWindows) == recurring {
		t.Error("the demo plant has no one-off maintenance window")
	}
}
