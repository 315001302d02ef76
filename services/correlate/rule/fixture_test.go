package rule

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"testing"

	"github.com/c981/c981/services/shared/event"
)

// packDir is the repository's rule pack, relative to this package.
const packDir = "../../../rules"

// readEvents decodes a JSON-lines file of enriched events, rejecting
// unknown fields so that fixture typos do not go unnoticed.
func readEvents(t testing.TB, path string) []event.Event {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("open events: %v", err)
	}
	defer f.Close()
	var evs []event.Event
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		var ev event.Event
		if err := dec.Decode(&ev); err != nil {
			t.Fatalf("%s:%d: %v", path, n, err)
		}
		evs = append(evs, ev)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return evs
}
