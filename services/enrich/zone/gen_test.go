package zone

import (
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/c981/c981/services/shared/event"
	"github.com/c981/c981/services/shared/site"
)

// genZones are the zones of a generated site: name, kind, Purdue level,
// safety, the roles of its assets and the third octet of its /20.
var genZones = []struct {
	name, kind string
	purdue     float64
	safety     bool
	roles      []string
}{
	{"enterprise", "enterprise", 4, false, []string{"workstation", "server"}},
	{"dmz", "dmz", 3.5, false, []string{"jump_host", "historian"}},
	{"operations", "operations", 3, false, []string{"historian", "server"}},
	{"supervisory", "supervisory", 2, false, []string{"hmi", "scada_server", "ews"}},
	{"control-a", "control", 1, false, []string{"plc", "rtu", "dcs_controller"}},
	{"control-b", "control", 1, false, []string{"plc", "rtu"}},
	{"safety", "safety", 1, true, []string{"sis"}},
	{"field", "field", 0, false, []string{"ied", "iot"}},
}

// genSite writes the YAML of generated site number n (0-99) with the given
// number of assets spread over its zones: 10.n.(16z).0/20 per zone, role
// flows from supervisory to both control zones, a unidirectional
// control-to-safety conduit, and one recurring and one one-off window.
func genSite(n, assets int) string {
	var b strings.Builder
	id := fmt.Sprintf("gen-%03d", n)
	fmt.Fprintf(&b, "version: 1\nsite: {id: %s, name: Generated %d, timezone: Europe/Berlin, nis2: {entity_class: important, sector: energy}}\nzones:\n", id, n)
	for z, gz := range genZones {
		fmt.Fprintf(&b, "  - {id: %s/%s, kind: %s, purdue_level: %g, security_level: {target: 2}, safety: %v, cidrs: [10.%d.%d.0/20]}\n", id, gz.name, gz.kind, gz.purdue, gz.safety, n, z*16)
	}
	b.WriteString("conduits:\n")
	for _, ctl := range []string{"control-a", "control-b"} {
		fmt.Fprintf(&b, `  - id: %[1]s/c-sup-%[2]s
    between: [%[1]s/supervisory, %[1]s/%[2]s]
    enforcement: [{type: firewall, device: fw-%[2]s}]
    flows:
      - {id: poll, src: {zone: %[1]s/supervisory, roles: [hmi, scada_server]}, dst: {zone: %[1]s/%[2]s, roles: [plc, rtu, dcs_controller]}, transport: tcp, ports: [502], protocol: modbus, operations: {allow: [read, write]}}
      - {id: eng, src: {zone: %[1]s/supervisory, roles: [ews]}, dst: {zone: %[1]s/%[2]s, roles: [plc, dcs_controller]}, transport: tcp, ports: [44818], protocol: enip, operations: {allow: [read, write, program_download], require_maintenance_window: [program_download]}}
`, id, ctl)
	}
	fmt.Fprintf(&b, `  - id: %[1]s/c-ctl-sis
    between: [%[1]s/control-a, %[1]s/safety]
    unidirectional: true
    flows:
      - {id: read, src: {zone: %[1]s/control-a, roles: [plc]}, dst: {zone: %[1]s/safety, roles: [sis]}, transport: tcp, ports: [502], protocol: modbus, operations: {allow: [read]}}
  - id: %[1]s/c-ops-dmz
    between: [%[1]s/operations, %[1]s/dmz]
    flows:
      - {id: repl, src: {zone: %[1]s/operations, roles: [historian]}, dst: {zone: %[1]s/dmz, roles: [historian]}, transport: tcp, ports: [5450]}
assets:
`, id)
	for i := range assets {
		z := i % len(genZones)
		gz := genZones[z]
		host := i / len(genZones)
		ip := netip.AddrFrom4([4]byte{10, byte(n), byte(z*16 + host/250), byte(host%250 + 1)})
		fmt.Fprintf(&b, "  - {id: %s/a-%d, role: %s, ips: [%s], macs: [\"02:%02x:%02x:%02x:%02x:00\"], hostname: %s-a-%d}\n", id, i, gz.roles[host%len(gz.roles)], ip, n, z, host>>8, host&0xff, id, i)
	}
	fmt.Fprintf(&b, `maintenance_windows:
  - {id: weekly, work_order: MOC-%[2]d, scope: {zones: [%[1]s/control-a, %[1]s/control-b]}, recurrence: {weekdays: [tue], start: "06:00", duration: 4h}, allowed_operations: [program_download]}
  - {id: once, work_order: WO-%[2]d, scope: {assets: [%[1]s/a-4]}, start: "2026-11-20T06:00:00+01:00", end: "2026-11-20T14:00:00+01:00", allowed_operations: [program_download]}
`, id, n)
	return b.String()
}

// genAddr is the address of asset i of generated site n (see genSite).
func genAddr(n, i int) string {
	z := i % len(genZones)
	host := i / len(genZones)
	return netip.AddrFrom4([4]byte{10, byte(n), byte(z*16 + host/250), byte(host%250 + 1)}).String()
}

func writeGenSites(t testing.TB, dir string, sites, assets int) []string {
	t.Helper()
	paths := make([]string, sites)
	for n := range sites {
		paths[n] = filepath.Join(dir, fmt.Sprintf("gen-%03d.yaml", n))
		if err := os.WriteFile(paths[n], []byte(genSite(n, assets)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return paths
}

func loadGenSet(t testing.TB, paths []string) *Set {
	t.Helper()
	models, err := site.LoadAll(paths...)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSet(models...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

var scale = flag.Bool("scale", false, "run TestLoad100Sites (1,000,000 assets; minutes on a loaded machine)")

// TestLoad100Sites loads the generated 100-site model with 10,000 assets per
// site (1,000,000 assets) from YAML, validates and indexes it, and reports
// the load time and the heap it keeps. It runs only with -scale:
//
//	go test -run TestLoad100Sites ./zone/ -scale -v
func TestLoad100Sites(t *testing.T) {
	if !*scale {
		t.Skip("loads 1,000,000 assets; run with -scale")
	}
	const sites, assets = 100, 10000
	paths := writeGenSites(t, t.TempDir(), sites, assets)
	before := heapInUse()
	cpu0, cpuOK := procCPU()
	start := time.Now()
	s := loadGenSet(t, paths)
	elapsed := time.Since(start)
	cpu1, _ := procCPU()
	heap := heapInUse() - before
	cpu := "unknown"
	if cpuOK {
		cpu = (cpu1 - cpu0).Round(time.Millisecond).String()
	}
	t.Logf("loaded %d sites x %d assets in %v (CPU %s over all threads); heap in use %.0f MiB (%.0f bytes/asset)", sites, assets, elapsed.Round(time.Millisecond), cpu, float64(heap)/(1<<20), float64(heap)/float64(sites*assets))
	if got := len(s.Sites()); got != sites {
		t.Fatalf("%d sites loaded", got)
	}
	// Spot checks across the model.
	for _, n := range []int{0, 42, 99} {
		ev := event.Event{Site: fmt.Sprintf("gen-%03d", n), SrcIP: genAddr(n, 3), DstIP: genAddr(n, 4), Proto: "tcp", DstPort: 502, AppProto: "modbus", Operation: "read", Time: demoNow}
		if !s.Enrich(&ev) || !ev.Dst.Known || ev.Dst.Zone != ev.Site+"/control-a" {
			t.Errorf("site %d: dst %+v flow %+v", n, ev.Dst, ev.Flow)
		}
	}
	// Generous bounds for a loaded CI machine: the point is "seconds, not
	// minutes" and "hundreds of MiB, not tens of GiB".
	if elapsed > 3*time.Minute {
		t.Errorf("load took %v", elapsed)
	}
	if heap > 4<<30 {
		t.Errorf("model holds %d MiB", heap>>20)
	}
	runtime.KeepAlive(s)
}

// genEvents returns n flow events over the generated sites: mostly allowed
// supervisory-to-control polls, same-zone traffic and control-to-safety
// reads, so the hot path (no violation string) is measured.
func genEvents(sites, assets, n int) []event.Event {
	evs := make([]event.Event, n)
	per := assets / len(genZones)
	for i := range evs {
		s := i % sites
		k := (i / sites) % per
		ev := event.Event{Site: fmt.Sprintf("gen-%03d", s), Time: demoNow, Proto: "tcp", DstPort: 502, AppProto: "modbus", Operation: "read"}
		switch i % 4 {
		case 0, 1: // hmi/scada (supervisory, role index 0 or 1) -> plc/rtu in control-a
			src := 3 + len(genZones)*(3*(k/3))
			dst := 4 + len(genZones)*k
			ev.SrcIP, ev.DstIP = genAddr(s, src), genAddr(s, dst)
		case 2: // same zone
			ev.SrcIP, ev.DstIP = genAddr(s, 3+len(genZones)*k), genAddr(s, 3+len(genZones)*((k+1)%per))
		case 3: // plc in control-a reads sis
			ev.SrcIP, ev.DstIP = genAddr(s, 4+len(genZones)*(3*(k/3))), genAddr(s, 6+len(genZones)*k)
		}
		evs[i] = ev
	}
	return evs
}

// gen100 is the generated 100-site set, shared by the benchmarks.
var gen100 *Set

func gen100Set(b *testing.B) *Set {
	const sites, assets = 100, 10000
	if gen100 == nil {
		gen100 = loadGenSet(b, writeGenSites(b, b.TempDir(), sites, assets))
	}
	return gen100
}

// hotEvents returns the generated events, checked to be on the hot path
// (both endpoints inventoried, the flow allowed).
func hotEvents(b *testing.B, s *Set) []event.Event {
	evs := genEvents(100, 10000, 1<<16)
	for i := range evs {
		ev := evs[i]
		s.Enrich(&ev)
		if ev.Flow.Violation != "" || !ev.Dst.Known || !ev.Src.Known {
			b.Fatalf("event %d is not on the hot path: src %+v dst %+v flow %+v", i, ev.Src, ev.Dst, ev.Flow)
		}
	}
	return evs
}

// BenchmarkEnrich100Sites measures the enrichment lookup on the generated
// 100-site, 10,000-assets-per-site model, with sites and assets uniformly
// random: per event, the site's index, both endpoints (asset by exact IP,
// else zone by longest prefix) and the conduit check, as Set.EnrichBatch
// does them (lookupBatch), batchChunk events per op. The hot path allocates
// nothing.
//
// The events are enriched where the enrich stage has them: in a batch of
// 1000 it has just decoded, so in the CPU caches. Before each chunk is
// looked up, its site and addresses are copied in from a pool of 65,536
// events, as decoding writes them — the lookups stay uniformly random over
// the million assets, while the events themselves are not the 74 MB of a
// pool cycled through memory (BenchmarkEnrich100SitesColdEvents measures
// that).
func BenchmarkEnrich100Sites(b *testing.B) {
	s := gen100Set(b)
	pool := hotEvents(b, s)
	type addrs struct{ site, src, dst string }
	fresh := make([]addrs, len(pool))
	for i, ev := range pool {
		fresh[i] = addrs{ev.Site, ev.SrcIP, ev.DstIP}
	}
	batch := make([]event.Event, 1000/batchChunk*batchChunk)
	copy(batch, pool)
	n := 0
	benchLookups(b, func(lk *[batchChunk]lookup) int {
		k := n % len(batch)
		chunk := batch[k : k+batchChunk]
		for i := range chunk {
			f := &fresh[(n+i)&(len(fresh)-1)]
			chunk[i].Site, chunk[i].SrcIP, chunk[i].DstIP = f.site, f.src, f.dst
		}
		s.lookupBatch(chunk, lk)
		n += batchChunk
		return batchChunk
	})
	checkAllowed(b, batch)
}

// BenchmarkEnrich100SitesColdEvents is BenchmarkEnrich100Sites over the
// pool of 65,536 events itself: besides the random table slots, every
// event is a cache miss (74 MB of events cycled through).
func BenchmarkEnrich100SitesColdEvents(b *testing.B) {
	s := gen100Set(b)
	evs := hotEvents(b, s)
	n := 0
	benchLookups(b, func(lk *[batchChunk]lookup) int {
		k := n & (len(evs) - 1)
		s.lookupBatch(evs[k:k+batchChunk], lk)
		n += batchChunk
		return batchChunk
	})
	checkAllowed(b, evs)
}

func checkAllowed(b *testing.B, evs []event.Event) {
	for i := range evs {
		if f := evs[i].Flow; !f.Allowed || f.Violation != "" {
			b.Fatalf("lookup %d not allowed: %+v", i, f)
		}
	}
}

// benchLookups runs op, which looks up a chunk of events and returns how
// many, and reports lookups/s, and per CPU second of the benchmark's thread
// (cpu-lookups/s, Linux only).
func benchLookups(b *testing.B, op func(lk *[batchChunk]lookup) int) {
	// Finish the collection the 1M-asset setup started: a concurrent mark
	// phase would slow the loop with write barriers and mark work.
	runtime.GC()
	// On a shared machine wall time says more about the other processes
	// than about the lookup: also report the rate per CPU second of the
	// benchmark's thread (cpu-lookups/s, Linux only).
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cpu0, cpuOK := threadCPU()
	b.ReportAllocs()
	n := 0
	var lk [batchChunk]lookup
	for b.Loop() {
		n += op(&lk)
	}
	cpu1, _ := threadCPU()
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "lookups/s")
	if cpuOK && cpu1 > cpu0 {
		b.ReportMetric(float64(n)/(cpu1-cpu0).Seconds(), "cpu-lookups/s")
	}
}

// BenchmarkEnrich100SitesFull is BenchmarkEnrich100Sites through
// Set.EnrichBatch, as the enrich stage calls it (1000-event batches): the
// lookup plus the maintenance window at the event time (a recurring window
// covers the control zones) and the derived fields.
func BenchmarkEnrich100SitesFull(b *testing.B) {
	s := gen100Set(b)
	evs := hotEvents(b, s)
	// Finish the collection the 1M-asset setup started: a concurrent mark
	// phase would slow the loop with write barriers and mark work.
	runtime.GC()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cpu0, cpuOK := threadCPU()
	b.ReportAllocs()
	const batch = 1000
	found := make([]bool, batch)
	n := 0
	for b.Loop() {
		k := n % (len(evs) - batch)
		s.EnrichBatch(evs[k:k+batch], found)
		n += batch
	}
	cpu1, _ := threadCPU()
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
	if cpuOK && cpu1 > cpu0 {
		b.ReportMetric(float64(n)/(cpu1-cpu0).Seconds(), "cpu-events/s")
	}
}

// BenchmarkLoad100Sites reads, validates and indexes the generated 100-site
// model with 10,000 assets per site (1,000,000 assets) from its YAML files,
// as the enrich service does at start and on reload. Besides the load time
// (ns/op) it reports the load rate (assets/s) and the heap the loaded set
// holds (heap-MiB, measured after the loop with the last set alive) and the
// CPU time of one load over all threads (cpu-s/op, Linux only), which on a
// shared machine says more than the wall time.
func BenchmarkLoad100Sites(b *testing.B) {
	const sites, assets = 100, 10000
	paths := writeGenSites(b, b.TempDir(), sites, assets)
	before := heapInUse()
	var s *Set
	n := 0
	cpu0, cpuOK := procCPU()
	for b.Loop() {
		s = nil
		s = loadGenSet(b, paths)
		n++
	}
	cpu1, _ := procCPU()
	elapsed := b.Elapsed()
	heap := heapInUse() - before
	if len(s.Sites()) != sites {
		b.Fatalf("%d sites loaded", len(s.Sites()))
	}
	runtime.KeepAlive(s)
	b.ReportMetric(float64(n*sites*assets)/elapsed.Seconds(), "assets/s")
	b.ReportMetric(float64(heap)/(1<<20), "heap-MiB")
	if cpuOK && cpu1 > cpu0 {
		b.ReportMetric((cpu1-cpu0).Seconds()/float64(n), "cpu-s/op")
	}
}
