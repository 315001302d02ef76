package respond

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/shared/bustest"
	"github.com/c981/c981/services/shared/event"
)

// positionedMsg is an incident message as the respond stage's handler sees
// it: its data and its stream position (the message ids of the plans,
// dead letters and audit records derive from it). The outputs go to a
// real JetStream.
type positionedMsg struct {
	jetstream.Msg
	data []byte
	seq  uint64
}

func (m *positionedMsg) Data() []byte    { return m.data }
func (m *positionedMsg) Subject() string { return bus.IncidentsSubject("demo-plant") }
func (m *positionedMsg) Metadata() (*jetstream.MsgMetadata, error) {
	return &jetstream.MsgMetadata{Stream: bus.StreamIncidents, Sequence: jetstream.SequencePair{Stream: m.seq, Consumer: m.seq}}, nil
}

// BenchmarkIncidentVersion measures respond's cost per incident version
// (one version per message, the audit chain on, an in-process JetStream):
// "changed" versions change what the plans depend on (the severity
// alternates, so every version is planned, audited and supersedes the
// approval requests of the one before); "alert_only" versions only add
// alerts (AlertCount, AlertIDs, LastSeen, UpdatedAt and Version move), as
// most versions of a busy incident do. The rate is in incident versions
// per second (events/s).
func BenchmarkIncidentVersion(b *testing.B) {
	base := readIncident(b, "PB-OT-01")
	for _, mode := range []string{"changed", "alert_only"} {
		b.Run(mode, func(b *testing.B) {
			env := bustest.Start(b)
			ctx := context.Background()
			s, err := New(Config{PlaybooksDir: packDir, Audit: true}, Deps{JS: env.JS, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err != nil {
				b.Fatal(err)
			}
			if err := s.open(ctx); err != nil {
				b.Fatal(err)
			}
			inc := base
			seq := uint64(0)
			b.ReportAllocs()
			start := time.Now()
			for b.Loop() {
				seq++
				inc.Version = seq
				inc.UpdatedAt = base.UpdatedAt.Add(time.Duration(seq) * time.Second)
				inc.LastSeen = inc.UpdatedAt
				inc.AlertIDs = append(inc.AlertIDs[:len(base.AlertIDs):len(base.AlertIDs)], event.NewID("alert", "bench", inc.UpdatedAt.String()))
				inc.AlertCount = len(inc.AlertIDs) + int(seq)
				if mode == "changed" {
					inc.Severity = [...]string{"high", "critical"}[seq%2]
				}
				data, err := event.Marshal([]event.Incident{inc})
				if err != nil {
					b.Fatal(err)
				}
				if err := s.handle(ctx, &positionedMsg{data: data, seq: seq}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(seq)/time.Since(start).Seconds(), "events/s")
		})
	}
}
