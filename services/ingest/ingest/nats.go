package ingest

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// NATS input replies (to messages sent with a reply subject).
const (
	natsReplyOK   = "ok"
	natsReplyBusy = "busy"
)

// natsInput is the state of a nats listener: the subscription and the
// routes of the (site, source) pairs seen in subjects.
type natsInput struct {
	sub    *nats.Subscription
	mu     sync.Mutex
	routes map[string]*route // "site.source"
}

// bindNATS subscribes; Run calls it in place of binding a socket.
func (l *listener) bindNATS(nc *nats.Conn) error {
	if nc == nil {
		return fmt.Errorf("listener %s: the JetStream handle has no NATS connection", l.cfg.Name)
	}
	in := &natsInput{routes: map[string]*route{}}
	sub, err := nc.QueueSubscribe(l.cfg.NATS.Subject, l.cfg.NATS.Queue, l.handleNATS)
	if err != nil {
		return fmt.Errorf("listener %s: subscribe %s: %w", l.cfg.Name, l.cfg.NATS.Subject, err)
	}
	// Messages wait in the client's buffer while the handler blocks; the
	// client drops beyond these limits and reports a slow consumer, which
	// the connection's error handler logs. Bound them by the queue's size.
	if err := sub.SetPendingLimits(l.s.cfg.QueueSize, l.s.cfg.QueueSize*l.s.cfg.MaxLineBytes); err != nil {
		_ = sub.Unsubscribe()
		return fmt.Errorf("listener %s: %w", l.cfg.Name, err)
	}
	in.sub = sub
	l.nats = in
	l.addr = "nats " + l.cfg.NATS.Subject
	return nil
}

// routeFor returns the route of a subject c981.sensor.<site>.<source> (any
// prefix of two tokens), or the listener's own route.
func (l *listener) routeFor(subject string) *route {
	tok := strings.Split(subject, ".")
	if len(tok) != 4 || !nameRE.MatchString(tok[2]) || !nameRE.MatchString(tok[3]) {
		return l.def
	}
	key := tok[2] + "." + tok[3]
	in := l.nats
	in.mu.Lock()
	defer in.mu.Unlock()
	if r, ok := in.routes[key]; ok {
		return r
	}
	if len(in.routes) >= l.cfg.NATS.MaxSources {
		return l.def
	}
	r, err := newRoute(l, tok[2], tok[3], l.s.cfg)
	if err != nil { // cannot happen: the timezone was validated
		return l.def
	}
	in.routes[key] = r
	return r
}

// handleNATS ingests one message: one record or LF-separated records. A
// request is answered "busy" without queuing anything when the queue has
// no room for all its records now, else "ok" once they are queued. Without
// a reply subject, records that find the queue full are dropped and
// counted.
func (l *listener) handleNATS(msg *nats.Msg) {
	data := bytes.TrimRight(msg.Data, "\r\n")
	recs := [][]byte{data}
	if bytes.IndexByte(data, '\n') >= 0 {
		recs = bytes.Split(data, []byte{'\n'})
	}
	request := msg.Reply != ""
	// A request that fits the queue (QueueSize and QueueBytes) is all or
	// nothing; one larger than the whole queue is queued as room frees up
	// (its reply waits).
	if request && len(recs) <= cap(l.s.queue) && int64(len(recs))*itemOverhead+2*int64(len(data)) <= int64(l.s.cfg.QueueBytes) &&
		!l.s.room(len(recs), len(data)) {
		l.s.m.throttled.WithLabelValues(l.cfg.Name).Add(float64(len(recs)))
		_ = msg.Respond([]byte(natsReplyBusy))
		return
	}
	r := l.routeFor(msg.Subject)
	for i, rec := range recs {
		rec = bytes.TrimSuffix(rec, []byte{'\r'})
		if len(rec) == 0 {
			continue
		}
		p := where{proto: "nats ", addr: msg.Subject}
		if len(recs) > 1 {
			p.unit, p.n = " line ", i+1
		}
		l.handleRoute(r, "", rec, "", p, request)
	}
	if request {
		_ = msg.Respond([]byte(natsReplyOK))
	}
}

// waitNATSDrained waits until the subscription's drain (started by close)
// has delivered the buffered messages, so that no handler runs after the
// queue is closed.
func (l *listener) waitNATSDrained() {
	for l.nats.sub.IsValid() {
		time.Sleep(5 * time.Millisecond)
	}
}
