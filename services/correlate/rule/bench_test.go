package rule

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
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

// generatedRules returns n match rules of the shapes a large deployment
// accumulates (vendor operations, protocol/port signatures, Windows event
// codes, sensor categories, and one flow rule in fifty that every flow
// event must run).
func generatedRules(tb testing.TB, n int) []*Rule {
	tb.Helper()
	var b strings.Builder
	b.WriteString("rules:\n")
	for i := range n {
		var cond string
		switch {
		case i%50 == 0:
			cond = fmt.Sprintf(`kind == "flow" and dst_port == %d and not flow.allowed`, 10000+i)
		case i%4 == 0:
			cond = fmt.Sprintf(`operation == "vendor_op_%d" and dst.role in controller_roles`, i)
		case i%4 == 1:
			cond = fmt.Sprintf(`app_proto == "proto_%d" and dst_port == %d`, i, 20000+i)
		case i%4 == 2:
			cond = fmt.Sprintf(`event_code == "%d" and host != ""`, 50000+i)
		default:
			cond = fmt.Sprintf(`category == "cat_%d" and lower(outcome) == "failure"`, i)
		}
		fmt.Fprintf(&b, "  - id: GEN-%04d\n    title: Generated %d\n    severity: low\n    condition: '%s'\n", i, i, cond)
	}
	rules, err := Parse("generated.yaml", []byte(b.String()))
	if err != nil {
		tb.Fatal(err)
	}
	return rules
}

// BenchmarkMatch1000Rules evaluates the OT pack plus generated match rules,
// 1000 rules in all, against realistic events (see benchEvents) on one
// goroutine: the candidate index selects the few rules an event can match.
func BenchmarkMatch1000Rules(b *testing.B) {
	pack, err := LoadDir(packDir)
	if err != nil {
		b.Fatal(err)
	}
	rules := append(slices.Clone(pack.Rules()), generatedRules(b, 1000-len(pack.Rules()))...)
	set, err := NewSet(rules...)
	if err != nil {
		b.Fatal(err)
	}
	evs := benchEvents(b)
	m := set.NewMatcher()
	var matches []Match
	var hits []Hit
	n := 0
	b.ReportAllocs()
	start := time.Now()
	for b.Loop() {
		matches, hits, _ = m.Eval(&evs[n%len(evs)], matches[:0], hits[:0])
		n++
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "events/s")
}

// TestIndexKeepsResults checks that the candidate index changes nothing:
// every fixture and routine event gives the same matches and hits with
// the index as when every rule is a candidate.
func TestIndexKeepsResults(t *testing.T) {
	pack, err := LoadDir(packDir)
	if err != nil {
		t.Fatal(err)
	}
	set, err := NewSet(append(slices.Clone(pack.Rules()), generatedRules(t, 200)...)...)
	if err != nil {
		t.Fatal(err)
	}
	full := &index{entries: set.index.entries}
	for i := range full.entries {
		full.always = append(full.always, int32(i))
	}
	indexed, unindexed := set.NewMatcher(), set.NewMatcher()
	unindexed.set = &Set{enabled: set.enabled, index: full}
	if len(set.index.always) >= len(set.index.entries)/2 {
		t.Errorf("%d of %d conditions are not indexed", len(set.index.always), len(set.index.entries))
	}
	for _, ev := range benchEvents(t) {
		m1, h1, _ := indexed.Eval(&ev, nil, nil)
		m2, h2, _ := unindexed.Eval(&ev, nil, nil)
		if len(m1) != len(m2) || !slices.Equal(h1, h2) {
			t.Fatalf("event %s: indexed %d matches %v, full %d matches %v", ev.ID, len(m1), h1, len(m2), h2)
		}
		for i := range m1 {
			if m1[i].Rule != m2[i].Rule || m1[i].IncidentKey != m2[i].IncidentKey {
				t.Fatalf("event %s: match %d differs", ev.ID, i)
			}
		}
	}
}
