package ingest

import (
	"strings"
	"testing"
	"time"

	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/shared/event"
)

// TestNATSInput publishes sensor records directly on NATS: site and source
// come from the subject, requests are answered ok, bad records are
// dead-lettered ("busy": see TestBackpressureWhenJetStreamRefuses).
func TestNATSInput(t *testing.T) {
	cfg := testConfig()
	cfg.Listeners = append(cfg.Listeners, ListenerConfig{Name: "sensors", Proto: ProtoNATS, Site: "demo-plant"})
	h := start(t, nil, cfg)
	nc := h.env.NC
	eve := `{"timestamp":"2026-11-26T10:00:00.000000+0000","event_type":"alert","src_ip":"10.20.2.11","dest_ip":"10.20.1.11","alert":{"signature_id":1,"signature":"x"}}`

	tests := []struct {
		name, subject, data string
		request             bool
		wantReply           string
	}{
		{"request, routed by subject", "c981.sensor.plant-north.nozomi-1", eve, true, natsReplyOK},
		{"fire and forget, two lines", "c981.sensor.plant-north.nozomi-1", line3164 + "\n" + line5424 + "\n", false, ""},
		{"subject without site and source", "c981.sensor.x", line3164, true, natsReplyOK},
		{"bad record is dead-lettered", "c981.sensor.demo-plant.claroty", "<999>bad", true, natsReplyOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !tt.request {
				if err := nc.Publish(tt.subject, []byte(tt.data)); err != nil {
					t.Fatal(err)
				}
				if err := nc.Flush(); err != nil {
					t.Fatal(err)
				}
				return
			}
			reply, err := nc.Request(tt.subject, []byte(tt.data), 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if string(reply.Data) != tt.wantReply {
				t.Errorf("reply %q, want %q", reply.Data, tt.wantReply)
			}
		})
	}
	msgs := collect[event.Event](t, h.env.JS, bus.StreamRaw, 4)
	subjects := map[string]int{}
	for _, m := range msgs {
		for _, ev := range m.recs {
			subjects[m.subject]++
			if ev.Transport != ProtoNATS {
				t.Errorf("transport %q", ev.Transport)
			}
		}
	}
	if subjects[bus.RawSubject("plant-north", "nozomi-1")] != 3 || subjects[bus.RawSubject("demo-plant", "sensors")] != 1 {
		t.Errorf("events per subject: %v", subjects)
	}
	dls := collect[event.DeadLetter](t, h.env.JS, bus.StreamDLQ, 1)
	if dl := dls[0].recs[0]; !strings.HasPrefix(dl.Reason, "bad_pri") || dl.Source != "claroty" || dl.Position != "nats c981.sensor.demo-plant.claroty" {
		t.Errorf("dead letter %+v", dl)
	}
}
