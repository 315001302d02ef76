package ingest

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/shared/event"
)

// TestHTTPIdempotencyKey posts requests with and without an
// Idempotency-Key, as text/plain syslog and as NDJSON: a retried request
// (same key, same body) yields the same event ids and message ids, which
// JetStream deduplicates, so C981_RAW holds every record once; another key
// yields new ids. A 202 means the events are already on the stream.
func TestHTTPIdempotencyKey(t *testing.T) {
	cfg := testConfig()
	cfg.MaxBatch = 2 // several batches per request: each must be deduplicated
	cfg.Listeners = append(cfg.Listeners, ListenerConfig{
		Name: "sensor-http", Proto: ProtoHTTP, Addr: "127.0.0.1:0", Site: "demo-plant",
		HTTP: &HTTPConfig{Tokens: []string{testToken}},
	})
	h := start(t, nil, cfg)
	url := "http://" + h.addr("sensor-http") + EventsPath
	syslogBody := line3164 + "\n" + line5424 + "\r\n\n" + line3164 + " again\n"
	jsonBody := `{"event_type":"alert","n":1}` + "\n" + `{"event_type":"alert","n":2}` + "\n"
	post := func(key, contentType, body string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+testToken)
		if key != "" {
			req.Header.Set(IdempotencyKeyHeader, key)
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	rawEvents := func() int {
		st, err := h.env.JS.Stream(context.Background(), bus.StreamRaw)
		if err != nil {
			t.Fatal(err)
		}
		info, err := st.Info(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
			m, err := st.GetMsg(context.Background(), seq)
			if err != nil {
				t.Fatal(err)
			}
			var evs []event.Event
			if err := event.Unmarshal(m.Data, &evs); err != nil {
				t.Fatal(err)
			}
			n += len(evs)
		}
		return n
	}
	tests := []struct {
		name, key, contentType, body string
		wantCode                     int
		wantTotal                    int // events in C981_RAW afterwards
	}{
		{"syslog lines with a key", "batch-0001", "text/plain; charset=utf-8", syslogBody, http.StatusAccepted, 3},
		{"the same request retried", "batch-0001", "text/plain; charset=utf-8", syslogBody, http.StatusAccepted, 3},
		{"retried once more", "batch-0001", "text/plain", syslogBody, http.StatusAccepted, 3},
		{"the same body with another key", "batch-0002", "text/plain", syslogBody, http.StatusAccepted, 6},
		{"NDJSON with a key", "ndjson-1", "application/x-ndjson", jsonBody, http.StatusAccepted, 8},
		{"NDJSON retried", "ndjson-1", "application/x-ndjson", jsonBody, http.StatusAccepted, 8},
		{"no key: a retry is new events", "", "application/x-ndjson", jsonBody, http.StatusAccepted, 10},
		{"no key again", "", "application/x-ndjson", jsonBody, http.StatusAccepted, 12},
		{"key with a space", "a b", "text/plain", syslogBody, http.StatusBadRequest, 12},
		{"key too long", strings.Repeat("k", maxIdempotencyKey+1), "text/plain", syslogBody, http.StatusBadRequest, 12},
		{"syslog without text/plain is not JSON", "x-1", "", line3164, http.StatusAccepted, 12},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if code := post(tt.key, tt.contentType, tt.body); code != tt.wantCode {
				t.Fatalf("status %d, want %d", code, tt.wantCode)
			}
			// No waiting: the answer came after JetStream's acknowledgement.
			if n := rawEvents(); n != tt.wantTotal {
				t.Errorf("%d events in C981_RAW, want %d", n, tt.wantTotal)
			}
		})
	}
	// The ids derive from the key and the index: the first request's.
	msgs := collect[event.Event](t, h.env.JS, bus.StreamRaw, 12)
	first := msgs[0].recs[0]
	if want := event.NewID("demo-plant", "sensor-http", "idempotency-key", "batch-0001", "0"); first.ID != want {
		t.Errorf("first event id %s, want %s", first.ID, want)
	}
	if first.Format != "rfc3164" || first.Transport != ProtoHTTP {
		t.Errorf("text/plain record parsed as %s over %s, want rfc3164 over http", first.Format, first.Transport)
	}
	// The syslog line sent as JSON was dead-lettered.
	if n := testutil.ToFloat64(h.svc.m.malformed.WithLabelValues("sensor-http", reasonBadJSON)); n != 1 {
		t.Errorf("bad_json dead letters %v, want 1", n)
	}
}
