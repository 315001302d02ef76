package console_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/c981/c981/services/console/console"
	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/shared/event"
)

// FuzzStreamDecode: any bus message either is refused with an error or
// becomes well-formed SSE frames: one event line and one data line of
// valid JSON carrying a site.
func FuzzStreamDecode(f *testing.F) {
	inc := event.Incident{ID: event.NewID("incident", "f"), Version: 1, Site: "demo-plant", Title: "line one\nline two", Severity: event.SevHigh, Status: event.StatusNew, OpenedAt: time.Unix(1e9, 0).UTC()}
	incs, err := event.Marshal([]event.Incident{inc})
	if err != nil {
		f.Fatal(err)
	}
	plans, err := event.Marshal([]event.Plan{{ID: "p", IncidentID: inc.ID, Site: "demo-plant", Steps: []event.Step{{ID: "s", Text: "a\r\nb"}}}})
	if err != nil {
		f.Fatal(err)
	}
	tr, err := json.Marshal(event.NewTriage(inc.ID, "demo-plant"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(bus.IncidentsSubject("demo-plant"), "", incs)
	f.Add(bus.ActionsSubject("demo-plant"), "", plans)
	f.Add("$KV."+bus.KVTriage+"."+inc.ID, "", tr)
	f.Add("$KV."+bus.KVTriage+"."+inc.ID, "DEL", []byte{})
	f.Add("c981.incidents.x", "", []byte{0x91, 0x80})
	f.Add("c981.other.x", "", []byte("{}"))
	f.Fuzz(func(t *testing.T, subject, op string, data []byte) {
		hdr := map[string]string{}
		if op != "" {
			hdr["KV-Operation"] = op
		}
		frames, err := console.StreamDecode(subject, hdr, data)
		if err != nil {
			if len(frames) != 0 {
				t.Fatalf("error %v with %d frames", err, len(frames))
			}
			return
		}
		for _, fr := range frames {
			lines := bytes.Split(bytes.TrimSuffix(fr, []byte("\n\n")), []byte("\n"))
			if len(lines) != 2 || !bytes.HasPrefix(lines[0], []byte("event: ")) || !bytes.HasPrefix(lines[1], []byte("data: ")) || bytes.ContainsRune(fr[:len(fr)-2], '\r') {
				t.Fatalf("malformed frame %q", fr)
			}
			var v struct {
				Site string `json:"site"`
			}
			if err := json.Unmarshal(bytes.TrimPrefix(lines[1], []byte("data: ")), &v); err != nil {
				t.Fatalf("frame data is not JSON: %v: %q", err, fr)
			}
		}
	})
}
