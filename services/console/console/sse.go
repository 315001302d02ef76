package console

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/shared/event"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

// Live updates of GET /api/stream (server-sent events).
const (
	// StreamHeartbeat is the interval of the heartbeat comments that keep
	// idle streams (and the proxies in between) alive.
	StreamHeartbeat = 15 * time.Second
	// StreamBuffer is how many updates may wait for one client; a client
	// that falls further behind is disconnected (it reconnects and reloads).
	StreamBuffer = 256
	// streamWriteTimeout bounds one write (and flush) to a client.
	streamWriteTimeout = 10 * time.Second
)

// Kinds of live updates: the SSE event names.
const (
	// UpdateIncident carries an event.Incident version (c981.incidents.>).
	UpdateIncident = "incident"
	// UpdatePlan carries an event.Plan (c981.actions.>).
	UpdatePlan = "plan"
	// UpdateTriage carries an event.Triage revision (the triage KV bucket).
	UpdateTriage = "triage"
)

// triageKVPrefix is the subject prefix of the KV updates of every bucket;
// the triage bucket's updates are $KV.<bucket>.<incident id>.
const triageKVPrefix = "$KV."

// streamSubjects are the core NATS subjects the console listens to for
// live updates. Triage changes arrive as the triage bucket's KV updates
// (a subscription on a bucket that does not exist yet receives nothing).
var streamSubjects = []string{"c981.incidents.>", "c981.actions.>", triageKVPrefix + bus.KVTriage + ".>"}

// update is one live update, encoded once for every client.
type update struct {
	kind string
	site string
	// frame is the complete SSE frame ("event: ...\ndata: ...\n\n").
	frame []byte
}

// streamClient is one connected /api/stream client.
type streamClient struct {
	id Identity
	ch chan update
	// slow is closed when the client's buffer overflowed.
	slow chan struct{}
}

// streamHub fans the bus updates out to the connected clients, each
// filtered by the client's site scope. It subscribes to the bus while at
// least one client is connected.
type streamHub struct {
	nc           *nats.Conn
	log          *slog.Logger
	heartbeat    time.Duration
	buffer       int
	writeTimeout time.Duration

	mu      sync.Mutex
	clients map[*streamClient]struct{}
	subs    []*nats.Subscription
	closed  bool
	done    chan struct{}

	connected prometheus.Gauge
	sent      *prometheus.CounterVec
	slowDrops prometheus.Counter
	bad       *prometheus.CounterVec
}

// newStreamHub builds the hub of js's connection; without js the stream
// route answers 503.
func newStreamHub(js jetstream.JetStream, reg prometheus.Registerer, log *slog.Logger) (*streamHub, error) {
	h := &streamHub{
		log: log, heartbeat: StreamHeartbeat, buffer: StreamBuffer, writeTimeout: streamWriteTimeout,
		clients: map[*streamClient]struct{}{}, done: make(chan struct{}),
		connected: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "c981_console_stream_clients",
			Help: "Clients connected to the live update stream (/api/stream).",
		}),
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "c981_console_stream_updates_total",
			Help: "Live updates queued to stream clients, by kind (incident, plan, triage).",
		}, []string{"kind"}),
		slowDrops: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "c981_console_stream_slow_disconnects_total",
			Help: "Stream clients disconnected as too slow: their update buffer overflowed or a write timed out.",
		}),
		bad: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "c981_console_stream_bad_messages_total",
			Help: "Bus messages the live update stream could not decode (skipped), by kind.",
		}, []string{"kind"}),
	}
	if js != nil {
		h.nc = js.Conn()
	}
	for _, c := range []prometheus.Collector{h.connected, h.sent, h.slowDrops, h.bad} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register stream metrics: %w", err)
		}
	}
	return h, nil
}

// errStreamClosed: the console is shutting down.
var errStreamClosed = errors.New("the console is shutting down")

// join registers a client, subscribing to the bus for the first one.
func (h *streamHub) join(id Identity) (*streamClient, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, errStreamClosed
	}
	if len(h.subs) == 0 {
		for _, subj := range streamSubjects {
			sub, err := h.nc.Subscribe(subj, h.dispatch)
			if err != nil {
				h.unsubscribeLocked()
				return nil, fmt.Errorf("subscribe %s: %w", subj, err)
			}
			h.subs = append(h.subs, sub)
		}
		// The subscriptions must be registered on the server before the
		// client is told it is connected, or the first updates are missed.
		if err := h.nc.FlushTimeout(5 * time.Second); err != nil {
			h.unsubscribeLocked()
			return nil, fmt.Errorf("subscribe: %w", err)
		}
	}
	c := &streamClient{id: id, ch: make(chan update, h.buffer), slow: make(chan struct{})}
	h.clients[c] = struct{}{}
	h.connected.Inc()
	return c, nil
}

// leave unregisters c (unless the dispatcher already dropped it as too
// slow) and unsubscribes after the last client.
func (h *streamHub) leave(c *streamClient) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.clients[c]; ok {
		delete(h.clients, c)
		h.connected.Dec()
	}
	if len(h.clients) == 0 {
		h.unsubscribeLocked()
	}
}

func (h *streamHub) unsubscribeLocked() {
	for _, sub := range h.subs {
		if err := sub.Unsubscribe(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) && !errors.Is(err, nats.ErrBadSubscription) {
			h.log.Warn("live updates: unsubscribe failed", "subject", sub.Subject, "err", err)
		}
	}
	h.subs = nil
}

// shutdown ends every stream; new ones are refused (503).
func (h *streamHub) shutdown() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.closed {
		h.closed = true
		close(h.done)
	}
}

// decode turns one bus message into live updates, one per record.
func decode(msg *nats.Msg) ([]update, string, error) {
	var ups []update
	add := func(kind, site string, v any) error {
		data, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("encode %s: %w", kind, err)
		}
		ups = append(ups, update{kind: kind, site: site, frame: frame(kind, data)})
		return nil
	}
	switch {
	case strings.HasPrefix(msg.Subject, "c981.incidents."):
		var incs []event.Incident
		if err := event.Unmarshal(msg.Data, &incs); err != nil {
			return nil, UpdateIncident, err
		}
		for _, inc := range incs {
			if err := add(UpdateIncident, inc.Site, inc); err != nil {
				return nil, UpdateIncident, err
			}
		}
		return ups, UpdateIncident, nil
	case strings.HasPrefix(msg.Subject, "c981.actions."):
		var plans []event.Plan
		if err := event.Unmarshal(msg.Data, &plans); err != nil {
			return nil, UpdatePlan, err
		}
		for _, p := range plans {
			if err := add(UpdatePlan, p.Site, p); err != nil {
				return nil, UpdatePlan, err
			}
		}
		return ups, UpdatePlan, nil
	case strings.HasPrefix(msg.Subject, triageKVPrefix):
		if op := msg.Header.Get("KV-Operation"); op != "" {
			// DEL and PURGE markers carry no triage state.
			return nil, UpdateTriage, nil
		}
		var tr event.Triage
		if err := json.Unmarshal(msg.Data, &tr); err != nil {
			return nil, UpdateTriage, fmt.Errorf("decode triage: %w", err)
		}
		if tr.IncidentID == "" || tr.Site == "" {
			return nil, UpdateTriage, errors.New("decode triage: no incident_id or site")
		}
		return ups, UpdateTriage, add(UpdateTriage, tr.Site, tr)
	}
	return nil, "unknown", fmt.Errorf("unexpected subject %s", msg.Subject)
}

// frame is the SSE frame of one update; data is one line of JSON.
func frame(kind string, data []byte) []byte {
	b := make([]byte, 0, len(kind)+len(data)+16)
	b = append(b, "event: "...)
	b = append(b, kind...)
	b = append(b, "\ndata: "...)
	b = append(b, data...)
	return append(b, "\n\n"...)
}

// dispatch is the NATS handler: it queues each update to every client that
// may see its site, dropping clients whose buffer is full.
func (h *streamHub) dispatch(msg *nats.Msg) {
	ups, kind, err := decode(msg)
	if err != nil {
		h.bad.WithLabelValues(kind).Inc()
		h.log.Warn("live updates: undecodable bus message skipped", "subject", msg.Subject, "err", err)
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, u := range ups {
		for c := range h.clients {
			if !c.id.CanSee(u.site) {
				continue
			}
			select {
			case c.ch <- u:
				h.sent.WithLabelValues(u.kind).Inc()
			default:
				delete(h.clients, c)
				h.connected.Dec()
				close(c.slow)
				h.slowDrops.Inc()
				h.log.Warn("live updates: client too slow, disconnected", "user", c.id.User, "buffer", h.buffer)
			}
		}
	}
	if len(h.clients) == 0 {
		h.unsubscribeLocked()
	}
}

// stream serves GET /api/stream: the live updates of the caller's sites as
// server-sent events (incident, plan and triage events whose data is the
// record's JSON), with heartbeat comments, until the client goes away, is
// too slow or the console shuts down.
func (s *Service) stream(w http.ResponseWriter, r *http.Request) {
	if !noQuery(s, w, r) {
		return
	}
	h := s.streams
	if h.nc == nil {
		writeProblem(w, r, http.StatusServiceUnavailable, "live updates need the NATS bus; this console runs without it", nil)
		return
	}
	id, _ := IdentityFrom(r.Context())
	c, err := h.join(id)
	if err != nil {
		s.log.Warn("live updates unavailable", "err", err)
		writeProblem(w, r, http.StatusServiceUnavailable, "live updates are unavailable: "+err.Error(), nil)
		return
	}
	defer h.leave(c)

	// The server's write timeout is for ordinary requests; a stream lives
	// on, each write bounded by streamWriteTimeout instead. (net/http
	// clears the read deadline itself once a body-less request is read.)
	rc := http.NewResponseController(w)
	hdr := w.Header()
	hdr.Set("Content-Type", "text/event-stream; charset=utf-8")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)

	var buf bytes.Buffer
	send := func() bool {
		if err := rc.SetWriteDeadline(time.Now().Add(h.writeTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return false
		}
		_, err := w.Write(buf.Bytes())
		if err == nil {
			err = rc.Flush()
		}
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				// The client stopped reading: as slow as an overflow.
				h.slowDrops.Inc()
				s.log.Warn("live updates: client too slow (write timed out), disconnected", "user", id.User, "timeout", h.writeTimeout)
			} else {
				s.log.Debug("live updates: client went away", "user", id.User, "err", err)
			}
			return false
		}
		buf.Reset()
		return true
	}
	buf.WriteString(": c981 live updates\nretry: 3000\n\n")
	if !send() {
		return
	}
	tick := time.NewTicker(h.heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-h.done:
			buf.WriteString("event: shutdown\ndata: {}\n\n")
			send()
			return
		case <-c.slow:
			buf.WriteString("event: overflow\ndata: {\"reason\":\"the client fell too far behind; reconnect and reload\"}\n\n")
			send()
			return
		case u := <-c.ch:
			buf.Write(u.frame)
			// Send whatever else is queued in the same write.
			for more := true; more && buf.Len() < 64<<10; {
				select {
				case u := <-c.ch:
					buf.Write(u.frame)
				default:
					more = false
				}
			}
			if !send() {
				return
			}
		case <-tick.C:
			buf.WriteString(": heartbeat\n\n")
			if !send() {
				return
			}
		}
	}
}
