package console

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"github.com/c981/c981/services/shared/event"
)

// FuzzISMSPatch: any body either is refused (a writeError, never a panic)
// or gives a valid record whose recorded changes, replayed with setISMS
// onto the old record, reproduce it exactly (the history is a faithful
// audit of the write).
func FuzzISMSPatch(f *testing.F) {
	for _, s := range []string{
		`{"version":0,"classification":"incident","category":"malware","significant":true,"became_aware_at":"2026-11-25T10:00:00Z","early_warning_at":"2026-11-25T20:00:00.5Z","impact":{"safety":"high"},"evidence":["pcap:1"," sha256:ab "]}`,
		`{"version":3,"classification":null,"impact":null,"evidence":null,"lessons_learned":"line1\nline2"}`,
		`{"significant":true,"became_aware_at":"2026-11-25T10:00:00+02:00","notification_at":"2026-11-26T10:00:00Z","final_report_at":"2026-11-26T11:00:00Z"}`,
		`{"final_report_at":"1999-01-01T00:00:00Z"}`,
		`{"history":[]}`, `[]`, `null`, `{"version":-1}`, `{"impact":{"x":1}}`,
	} {
		f.Add([]byte(s))
	}
	aware := time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC)
	old := event.ISMSRecord{Classification: "event", Significant: true, BecameAwareAt: &aware, Evidence: []string{"ticket:1"}}
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte) {
		var p ISMSPatch
		r := httptest.NewRequest(http.MethodPatch, "/api/incidents/x/isms", bytes.NewReader(body))
		if err := decodeStrict(r, &p); err != nil {
			var we *writeError
			if !errors.As(err, &we) || we.code < 400 {
				t.Fatalf("decode error %v is not a refusal", err)
			}
			return
		}
		next := old
		next.Evidence = append([]string(nil), old.Evidence...)
		if err := p.applyTo(&next, now); err != nil {
			var we *writeError
			if !errors.As(err, &we) || we.code != http.StatusUnprocessableEntity {
				t.Fatalf("applyTo error %v is not a 422", err)
			}
			return
		}
		replayed := old
		replayed.Evidence = append([]string(nil), old.Evidence...)
		for _, c := range ismsChanges(old, next) {
			if err := setISMS(&replayed, c); err != nil {
				t.Fatalf("replay %+v: %v", c, err)
			}
		}
		a, _ := json.Marshal(replayed)
		b, _ := json.Marshal(next)
		if !bytes.Equal(a, b) {
			t.Fatalf("replayed history gives\n%s\nthe write gave\n%s", a, b)
		}
		if len(ismsChanges(next, replayed)) != 0 || !reflect.DeepEqual(ismsValues(next), ismsValues(replayed)) {
			t.Fatal("replayed record differs from the written one")
		}
	})
}

// FuzzIfMatch: any If-Match header with any body version gives a version
// or a refusal, never a panic.
func FuzzIfMatch(f *testing.F) {
	for _, s := range []string{`"3"`, `W/"3"`, `*`, ``, `"18446744073709551616"`, `"-1"`} {
		f.Add(s, uint64(3), true)
	}
	f.Fuzz(func(t *testing.T, header string, v uint64, set bool) {
		r := httptest.NewRequest(http.MethodPatch, "/", nil)
		r.Header.Set("If-Match", header)
		got, err := wantVersion(r, opt[uint64]{Set: set, V: v})
		if err != nil {
			var we *writeError
			if !errors.As(err, &we) {
				t.Fatalf("error %v is not a refusal", err)
			}
			return
		}
		if set && got != v {
			t.Fatalf("version %d, want the body's %d", got, v)
		}
	})
}
