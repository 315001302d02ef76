package site

import (
	"strconv"
	"strings"
	"testing"
)

// splitAssetsHead is the model before the asset lists of splitAssetsCases.
const splitAssetsHead = "version: 1\nsite: {id: t, name: T, timezone: UTC, nis2: {entity_class: important, sector: energy}}\n" +
	"zones:\n  - {id: t/ctl, kind: control, purdue_level: 1, security_level: {target: 2}, cidrs: [10.0.1.0/24]}\n"

// splitAssetsCases are asset lists for TestSplitAssets and seeds for
// FuzzDecoders; lines says whether splitAssets takes them.
var splitAssetsCases = []struct {
	name, assets string
	lines        bool // splitAssets takes it
}{
	{"plain", "assets:\n  - {id: t/plc, role: plc, ips: [10.0.1.10], macs: [\"00:1d:9c:c0:04:9d\"], hostname: plc-1}\n", true},
	{"quoted", "assets:\n  - {id: \"t/plc\", role: \"plc\", ips: [\"10.0.1.10\"], vendor: \"Rockwell, Inc\", model: \"1756 L83E\", firmware: \"33.011\"}\n", true},
	{"all fields", "assets:\n  - {id: t/sis, name: SIS 1, role: sis, zone: t/ctl, ips: [10.0.1.2, 10.0.1.3], hostnames: [sis-a, sis-b], criticality: critical, safety: true, purdue_level: 1.5, firmware: 1.2.3}\n", true},
	{"items at column 0, comments, blank lines", "assets:\n# level 1\n- {id: t/plc, role: plc, ips: [10.0.1.10]}\n\n- {id: t/rtu, role: rtu, zone: t/ctl}\n", true},
	{"followed by a key", "assets:\n  - {id: t/plc, role: plc, ips: [10.0.1.10]}\nconduits: []\n", true},
	{"block mapping", "assets:\n  - id: t/plc\n    role: plc\n", false},
	{"unknown key", "assets:\n  - {id: t/plc, role: plc, colour: red}\n", false},
	{"duplicate key", "assets:\n  - {id: t/plc, role: plc, role: rtu}\n", false},
	{"response", "assets:\n  - {id: t/plc, role: plc, response: {forbidden_actions: [isolate]}}\n", false},
	{"bool-like string", "assets:\n  - {id: t/plc, role: plc, vendor: yes}\n", false},
	{"number as string", "assets:\n  - {id: t/plc, role: plc, firmware: 11.3}\n", false},
	{"date as string", "assets:\n  - {id: t/plc, role: plc, firmware: 2024-01-02}\n", false},
	{"single quotes", "assets:\n  - {id: 't/plc', role: plc}\n", false},
	{"escape", "assets:\n  - {id: \"t/\\x41\", role: plc}\n", false},
	{"empty list", "assets:\n  - {id: t/plc, role: plc, ips: []}\n", false},
	{"ipv6 plain", "assets:\n  - {id: t/plc, role: plc, ips: [fd00::1]}\n", false},
	{"trailing comment", "assets:\n  - {id: t/plc, role: plc} # note\n", false},
	{"mixed indentation", "assets:\n  - {id: t/plc, role: plc}\n    - {id: t/rtu, role: rtu}\n", false},
	{"trailing comma", "assets:\n  - {id: t/plc, role: plc,}\n", false},
	{"safety not a bool", "assets:\n  - {id: t/plc, role: plc, safety: True}\n", false},
	{"assets inside a quoted string", "name2: \"x\nassets:\n  - {id: t/plc, role: plc}\n\"\n", false},
	{"no assets", "conduits: []\n", false},
}

// TestSplitAssets checks which asset lists the line decoder takes and that
// whatever it takes decodes as with the shared config decoder.
func TestSplitAssets(t *testing.T) {
	for _, tt := range splitAssetsCases {
		t.Run(tt.name, func(t *testing.T) {
			data := []byte(splitAssetsHead + tt.assets)
			_, _, _, lines := splitAssets(data)
			var m Model
			if lines && !fastDecode(data, &m) {
				lines = false
			}
			if lines != tt.lines {
				t.Errorf("line decoder used = %v, want %v", lines, tt.lines)
			}
			if lines {
				// decodersAgree compares only models that validate.
				if err := m.Validate(); err != nil {
					t.Fatalf("the test model does not validate: %v", err)
				}
			}
			decodersAgree(t, data)
		})
	}
}

// TestSplitAssetsLarge checks a long generated list against the config
// decoder.
func TestSplitAssetsLarge(t *testing.T) {
	var b strings.Builder
	b.WriteString("version: 1\nsite: {id: t, name: T, timezone: UTC, nis2: {entity_class: important, sector: energy}}\n" +
		"zones:\n  - {id: t/ctl, kind: control, purdue_level: 1, security_level: {target: 2}, cidrs: [10.0.0.0/16]}\nassets:\n")
	for i := range 2000 {
		b.WriteString("  - {id: t/a-" + strconv.Itoa(i) + ", role: plc, ips: [10.0." + strconv.Itoa(i/250) + "." + strconv.Itoa(i%250+1) + "], hostname: h-" + strconv.Itoa(i) + "}\n")
	}
	data := []byte(b.String())
	var m Model
	if !fastDecode(data, &m) || len(m.Assets) != 2000 {
		t.Fatalf("the line decoder did not take the list (%d assets)", len(m.Assets))
	}
	decodersAgree(t, data)
}
