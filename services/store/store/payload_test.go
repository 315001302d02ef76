package store

import (
	"encoding/json"
	"maps"
	"testing"

	"github.com/c981/c981/services/shared/event"
)

// TestPayloadRawFields checks that the dead-letter payload of an event
// decoded by eventDecoder (its fields left raw) holds its fields, like
// that of the same event with a Fields map, and that encoding it leaves
// the event as it was.
func TestPayloadRawFields(t *testing.T) {
	tests := []struct {
		name   string
		fields map[string]string
	}{
		{"none", nil},
		{"empty", map[string]string{}},
		{"some", map[string]string{"user": "op1", "slot": "0", "": "empty key"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := event.MarshalEvents([]event.Event{{ID: "not-a-uuid", Site: "s", Fields: tt.fields}})
			if err != nil {
				t.Fatal(err)
			}
			recs, err := eventDecoder(data)
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != 1 || recs[0].err == nil {
				t.Fatalf("records %+v: want one invalid (id not a UUID)", recs)
			}
			e := recs[0].orig.(*event.Event)
			before := *e
			var got event.Event
			if err := json.Unmarshal([]byte(payload(e)), &got); err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got.Fields, tt.fields) {
				t.Fatalf("payload fields %v, want %v", got.Fields, tt.fields)
			}
			if e.Fields != nil || e.NumFields() != before.NumFields() {
				t.Fatalf("payload changed the event: Fields %v, %d fields", e.Fields, e.NumFields())
			}
		})
	}
}
