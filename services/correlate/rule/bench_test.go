package rule

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/c981/c981/services/shared/event"
)

// benchEvents returns a realistic mix of enriched events: every fixture
// event of the rule pack (mostly suspicious) diluted with routine plant
// traffic (HMI polling, historian replication), ten routine events per
// fixture event, as on a real control network.
func benchEvents(tb testing.TB) []event.Event {
	tb.Helper()
	dirs, err := os.ReadDir(filepath.Join(packDir, "testdata"))
	if err != nil {
		tb.Fatal(err)
	}
	var fixtures []event.Event
	for _, d := range dirs {
		if d.IsDir() {
			fixtures = append(fixtures, readEvents(tb, filepath.Join(packDir, "testdata", d.Name(), "events.jsonl"))...)
		}
	}
	hmi := event.Endpoint{IP: "10.20.2.11", Known: true, AssetID: "demo-plant/hmi-01", Role: "hmi", Zone: "demo-plant/supervisory", ZoneKind: "supervisory", Purdue: 2, SLT: 2}
	scada := event.Endpoint{IP: "10.20.2.31", Known: true, AssetID: "demo-plant/scada-01", Role: "scada_server", Zone: "demo-plant/supervisory", ZoneKind: "supervisory", Purdue: 2, SLT: 2}
	hist := event.Endpoint{IP: "10.20.3.10", Known: true, AssetID: "demo-plant/hist-01", Role: "historian", Zone: "demo-plant/operations", ZoneKind: "operations", Purdue: 3, SLT: 2}
	plcs := []event.Endpoint{
		{IP: "10.20.1.11", Known: true, AssetID: "demo-plant/plc-101", Role: "plc", Zone: "demo-plant/control", ZoneKind: "control", Purdue: 1, SLT: 3, Criticality: "critical"},
		{IP: "10.20.1.12", Known: true, AssetID: "demo-plant/plc-102", Role: "plc", Zone: "demo-plant/control", ZoneKind: "control", Purdue: 1, SLT: 3, Criticality: "critical"},
		{IP: "10.20.1.31", Known: true, AssetID: "demo-plant/rtu-01", Role: "rtu", Zone: "demo-plant/control", ZoneKind: "control", Purdue: 1, SLT: 3, Criticality: "critical"},
	}
	t0 := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	var out []event.Event
	for i, f := range fixtures {
		out = append(out, f)
		for j := range 10 {
			n := i*10 + j
			src, dst, op, conduit := hmi, plcs[n%len(plcs)], "read", "demo-plant/supervisory-control"
			switch n % 5 {
			case 1:
				op = "write"
			case 2:
				src = scada
			case 3:
				src, dst, op, conduit = scada, hist, "", "demo-plant/supervisory-operations"
			}
			out = append(out, event.Event{
				ID: event.NewID("bench", f.ID, string(rune('a'+j))), Time: t0.Add(time.Duration(n) * time.Second), Site: "demo-plant",
				Source: "syslog-udp", Format: "rfc3164", Transport: "udp", Host: "fw-cell-01", App: "fw", Kind: event.KindFlow,
				Action: "allow", SrcIP: src.IP, DstIP: dst.IP, DstPort: 502, Proto: "tcp", AppProto: "modbus", Operation: op,
				Fields: map[string]string{"action": "allow", "src": src.IP, "dst": dst.IP, "dport": "502", "proto": "tcp"},
				Src:    src, Dst: dst,
				Flow: event.Flow{CrossZone: src.Zone != dst.Zone, Allowed: true, Conduit: conduit},
			})
		}
	}
	return out
}

// BenchmarkMatch evaluates the whole rule pack against realistic events.
func BenchmarkMatch(b *testing.B) {
	set, err := LoadDir(packDir)
	if err != nil {
		b.Fatal(err)
	}
	evs := benchEvents(b)
	m := set.NewMatcher()
	var buf []Match
	n := 0
	b.ReportAllocs()
	start := time.Now()
	for b.Loop() {
		buf, _ = m.Match(&evs[n%len(evs)], buf[:0])
		n++
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "events/s")
}
