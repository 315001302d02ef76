package console

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// SetStreamLimits changes the live update stream's heartbeat interval,
// per-client buffer and write timeout, for tests; call it before the first
// client connects.
func SetStreamLimits(s *Service, heartbeat time.Duration, buffer int, writeTimeout time.Duration) {
	s.streams.mu.Lock()
	defer s.streams.mu.Unlock()
	s.streams.heartbeat, s.streams.buffer, s.streams.writeTimeout = heartbeat, buffer, writeTimeout
}

// StreamDecode exposes the bus message decoder of the live update stream:
// the SSE frames of the message on subject, for fuzzing.
func StreamDecode(subject string, header map[string]string, data []byte) ([][]byte, error) {
	msg := nats.NewMsg(subject)
	for k, v := range header {
		msg.Header.Set(k, v)
	}
	msg.Data = data
	ups, _, err := decode(msg)
	var frames [][]byte
	for _, u := range ups {
		frames = append(frames, u.frame)
	}
	return frames, err
}

// StreamFanOut queues one bus message to n connected clients of every
// site and drains their queues, b.N times, for BenchmarkStreamFanOut.
func StreamFanOut(b *testing.B, s *Service, n int, msg *nats.Msg) {
	h := s.streams
	clients := make([]*streamClient, n)
	for i := range clients {
		clients[i] = &streamClient{id: Identity{User: "bench", AllSites: true}, ch: make(chan update, 4), slow: make(chan struct{})}
		h.clients[clients[i]] = struct{}{}
	}
	defer func() {
		for _, c := range clients {
			delete(h.clients, c)
		}
	}()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		h.dispatch(msg)
		for _, c := range clients {
			for len(c.ch) > 0 {
				<-c.ch
			}
		}
	}
}
