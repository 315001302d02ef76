package ingest

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/shared/event"
)

// markEnricher is an Enricher that stamps every event it sees: the batch
// number in Flow.Conduit and one more in ModelVersion, so that an event
// enriched twice (or not at all) shows.
type markEnricher struct {
	mu      sync.Mutex
	batches int
}

func (e *markEnricher) EnrichInline(evs []event.Event) {
	e.mu.Lock()
	e.batches++
	n := e.batches
	e.mu.Unlock()
	for i := range evs {
		evs[i].Flow.Conduit = fmt.Sprintf("batch-%d", n)
		evs[i].ModelVersion++
	}
}

// TestInlineEnrichment: with an enricher, every batch of every input
// (TCP syslog through the publisher, HTTP documents through the request
// path) is enriched exactly once and published to C981_EVENTS under the
// listener's site; nothing goes to C981_RAW.
func TestInlineEnrichment(t *testing.T) {
	cfg := testConfig()
	cfg.MaxBatch = 4
	cfg.Listeners = append(cfg.Listeners, ListenerConfig{
		Name: "sensor-http", Proto: ProtoHTTP, Addr: "127.0.0.1:0", Site: "demo-plant",
		HTTP: &HTTPConfig{Tokens: []string{testToken}},
	})
	enr := &markEnricher{}
	h := startWith(t, nil, cfg, enr)

	var b strings.Builder
	for i := range 10 {
		fmt.Fprintf(&b, "<134>Nov 26 10:00:01 hmi-01 hmi: seq=%d\n", i)
	}
	sendTCP(t, h.addr("syslog-tcp"), b.String())
	doc := `{"timestamp":"2026-11-26T10:00:00Z","event_type":"alert","src_ip":"10.20.2.11"}`
	req, err := http.NewRequest(http.MethodPost, "http://"+h.addr("sensor-http")+EventsPath, bytes.NewBufferString(doc+"\n"+doc+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST: %s", resp.Status)
	}

	msgs := collect[event.Event](t, h.env.JS, bus.StreamEvents, 12)
	perSource := map[string]int{}
	for _, m := range msgs {
		if want := bus.EventsSubject("demo-plant"); m.subject != want {
			t.Errorf("published on %s, want %s", m.subject, want)
		}
		for _, ev := range m.recs {
			perSource[ev.Source]++
			if ev.ModelVersion != 1 {
				t.Errorf("event %s enriched %d times, want once", ev.ID, ev.ModelVersion)
			}
			// A message is one enriched batch: every event carries the
			// same batch stamp.
			if ev.Flow.Conduit != m.recs[0].Flow.Conduit || ev.Flow.Conduit == "" {
				t.Errorf("event %s has batch stamp %q in a message stamped %q", ev.ID, ev.Flow.Conduit, m.recs[0].Flow.Conduit)
			}
		}
	}
	if perSource["syslog-tcp"] != 10 || perSource["sensor-http"] != 2 {
		t.Errorf("events per source %v, want 10 syslog-tcp and 2 sensor-http", perSource)
	}
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}
	st, err := h.env.JS.Stream(t.Context(), bus.StreamRaw)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 0 {
		t.Errorf("%s holds %d messages, want none with inline enrichment", bus.StreamRaw, info.State.Msgs)
	}
}
