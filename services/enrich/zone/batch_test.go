package zone

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"testing"

	"github.com/c981/c981/services/shared/event"
	"github.com/c981/c981/services/shared/site"
)

// batchSet is the demo plant plus two generated sites of 700 assets.
func batchSet(t testing.TB) *Set {
	t.Helper()
	models := []*site.Model{loadDemo(t)}
	for n := range 2 {
		m, err := site.Parse(fmt.Sprintf("gen-%03d.yaml", n), []byte(genSite(n, 700)))
		if err != nil {
			t.Fatal(err)
		}
		models = append(models, m)
	}
	s, err := NewSet(models...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// batchEvents returns events of every kind the lookup distinguishes, sites
// interleaved and in runs, more than a few chunks of them.
func batchEvents(t testing.TB) []event.Event {
	t.Helper()
	in, err := os.ReadFile("testdata/demo-events.json")
	if err != nil {
		t.Fatal(err)
	}
	var demo []event.Event
	if err := json.Unmarshal(in, &demo); err != nil {
		t.Fatal(err)
	}
	gen := genEvents(2, 700, 40)
	var evs []event.Event
	for i := range 150 {
		switch i % 5 {
		case 0, 1:
			evs = append(evs, demo[i%len(demo)])
		case 2:
			evs = append(evs, gen[i%len(gen)])
		case 3:
			ev := gen[(i+1)%len(gen)]
			switch i % 4 {
			case 0: // an address in a zone, not an asset
				ev.DstIP = "10.0.64.250"
			case 1: // outside every zone, and IPv4-mapped IPv6
				ev.SrcIP, ev.DstIP = "192.0.2.1", "::ffff:"+ev.DstIP
			case 2: // unparsable, and by MAC
				ev.SrcIP, ev.SrcMAC = "10.0.1.x", "02:00:03:00:00:00"
			case 3: // a device's own log line: by host name
				ev.SrcIP, ev.DstIP, ev.Host = "", "", "gen-000-a-3"
			}
			evs = append(evs, ev)
		case 4:
			ev := gen[i%len(gen)]
			if i%2 == 0 {
				ev.Site = "no-such-site"
			} else {
				ev.Operation = "program_download" // requires a window
			}
			evs = append(evs, ev)
		}
	}
	// A run of one site, longer than a chunk.
	for i := range 2*batchChunk + 3 {
		evs = append(evs, gen[i%len(gen)])
	}
	return evs
}

// TestEnrichBatch checks that EnrichBatch enriches exactly as Enrich does
// event by event, and reports which sites have a model, for every batch
// length around the chunk size.
func TestEnrichBatch(t *testing.T) {
	s := batchSet(t)
	all := batchEvents(t)
	want := make([]event.Event, len(all))
	wantFound := make([]bool, len(all))
	for i := range all {
		want[i] = all[i]
		wantFound[i] = s.Enrich(&want[i])
	}
	var kinds [3]int // known, unknown site, violation
	for i := range want {
		switch {
		case !wantFound[i]:
			kinds[1]++
		case want[i].Flow.Violation != "":
			kinds[2]++
		default:
			kinds[0]++
		}
	}
	if kinds[0] == 0 || kinds[1] == 0 || kinds[2] == 0 {
		t.Fatalf("the events do not cover every outcome: %v", kinds)
	}
	for _, n := range []int{0, 1, batchChunk - 1, batchChunk, batchChunk + 1, 3*batchChunk + 5, len(all)} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			for off := 0; off+n <= len(all); off += max(n, 1) {
				got := make([]event.Event, n)
				copy(got, all[off:off+n])
				found := make([]bool, n)
				s.EnrichBatch(got, found)
				for i := range got {
					if !reflect.DeepEqual(got[i], want[off+i]) || found[i] != wantFound[off+i] {
						t.Fatalf("event %d: EnrichBatch\n got %+v (found %v)\nwant %+v (found %v)", off+i, got[i], found[i], want[off+i], wantFound[off+i])
					}
				}
				if n == 0 {
					break
				}
			}
		})
	}
	// found may be nil.
	got := append([]event.Event(nil), all...)
	s.EnrichBatch(got, nil)
	if !reflect.DeepEqual(got, want) {
		t.Error("EnrichBatch without found differs from Enrich")
	}
}
