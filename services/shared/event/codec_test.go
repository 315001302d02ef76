package event

import (
	"reflect"
	"testing"
	"time"
)

func TestEventsRoundTrip(t *testing.T) {
	ts := time.Date(2026, 11, 26, 10, 0, 2, 123_000_000, time.UTC)
	in := []Event{
		{ID: NewID("a"), Time: ts, ReceivedAt: ts.Add(time.Millisecond), Site: "demo-plant", Source: "tcp",
			Format: "rfc3164", Transport: "tcp", Facility: 16, Severity: 6, Kind: KindFlow,
			SrcIP: "10.20.2.11", DstIP: "10.20.1.11", DstPort: 502, Operation: "write",
			Fields: map[string]string{"op": "write"}, Raw: "<134>...",
			Src:   Endpoint{IP: "10.20.2.11", Known: true, Role: "hmi", Purdue: 2, SLT: 2},
			Dst:   Endpoint{IP: "10.20.1.11", Known: true, Role: "plc", Purdue: 1, SLT: 3, Safety: false},
			Flow:  Flow{CrossZone: true, Allowed: true, Conduit: "c1"},
			Maint: Maint{Active: true, WindowID: "mw", AllowedOps: []string{"program_download"}}},
		{ID: NewID("b"), Time: ts, ReceivedAt: ts, Site: "demo-plant", Facility: -1, Severity: -1, Kind: KindLog,
			Src: Endpoint{Purdue: -1}, Dst: Endpoint{Purdue: -1}},
	}
	data, err := MarshalEvents(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := UnmarshalEvents(data)
	if err != nil {
		t.Fatal(err)
	}
	for i := range out {
		out[i].Time = out[i].Time.UTC()
		out[i].ReceivedAt = out[i].ReceivedAt.UTC()
	}
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip differs:\n in %+v\nout %+v", in, out)
	}
	if _, err := UnmarshalEvents([]byte("not msgpack")); err == nil {
		t.Fatal("garbage decoded without error")
	}
}
