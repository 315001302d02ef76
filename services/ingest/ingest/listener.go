package ingest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/c981/c981/services/ingest/framing"
	"github.com/c981/c981/services/ingest/syslog"
	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/shared/event"
)

// route is where the events of a listener (or of one mapped TLS client
// identity) go: their parser, site, source and subject. The publisher
// batches per route.
type route struct {
	l       *listener
	parser  *syslog.Parser
	site    string
	source  string
	subject string // on C981_RAW
	events  string // on C981_EVENTS, for batches enriched inline
}

// publishSubject is where r's batches go: C981_EVENTS when the service
// enriches inline (Service.EnrichWith), else C981_RAW.
func (r *route) publishSubject() string {
	if r.l.s.enricher != nil {
		return r.events
	}
	return r.subject
}

// listener is one configured input.
type listener struct {
	cfg ListenerConfig
	s   *Service
	// def is the route of the listener itself; byIdentity the routes of
	// mapped TLS client identities.
	def        *route
	byIdentity map[string]*route

	// received and parsed are this listener's counters (looked up once:
	// they are incremented for every record).
	received, parsed prometheus.Counter

	boot   string        // Run's start time, part of every record id
	idBase [8]byte       // hash of node, listener and boot: the first half of every record id
	seq    atomic.Uint64 // records received, for ids
	addr   string        // bound address

	tcp   net.Listener   // tcp, tls and http
	udp   []*net.UDPConn // udp: one socket, or one per reader with UDPReusePort
	certs *certStore     // tls
	http  *http.Server
	nats  *natsInput                  // nats
	drops atomic.Pointer[[]*udpDrops] // udp: the kernel's drop counters of the sockets

	// limit is the per-sender token bucket (nil: no rate_limit).
	limit *peerLimiter
	// done is closed by close: readers waiting for a token give up.
	done chan struct{}

	mu      sync.Mutex
	conns   map[net.Conn]struct{}
	perPeer map[string]int // open connections per peer IP
	closed  bool
}

func newRoute(l *listener, site, source string, cfg Config) (*route, error) {
	loc, err := time.LoadLocation(l.cfg.Timezone)
	if err != nil {
		return nil, fmt.Errorf("listener %s: timezone %q: %w", l.cfg.Name, l.cfg.Timezone, err)
	}
	return &route{
		l: l,
		parser: syslog.NewParser(syslog.Options{
			Format:    l.cfg.Format,
			Site:      site,
			Source:    source,
			Transport: l.cfg.Proto,
			Location:  loc,
			MaxBytes:  cfg.MaxLineBytes,
		}),
		site:    site,
		source:  source,
		subject: bus.RawSubject(site, source),
		events:  bus.EventsSubject(site),
	}, nil
}

func newListener(s *Service, lc ListenerConfig) (*listener, error) {
	l := &listener{cfg: lc, s: s, received: s.m.received.WithLabelValues(lc.Name), parsed: s.m.parsed.WithLabelValues(lc.Name),
		limit: newPeerLimiter(lc.RateLimit), done: make(chan struct{})}
	def, err := newRoute(l, lc.Site, lc.Name, s.cfg)
	if err != nil {
		return nil, err
	}
	l.def = def
	if lc.TLS != nil {
		l.byIdentity = map[string]*route{}
		for _, m := range lc.TLS.Identities {
			site, source := m.Site, m.Source
			if site == "" {
				site = lc.Site
			}
			if source == "" {
				source = lc.Name
			}
			r, err := newRoute(l, site, source, s.cfg)
			if err != nil {
				return nil, err
			}
			l.byIdentity[m.Identity] = r
		}
		// Load the certificate now so that a bad file fails New, not the
		// first handshake.
		certs, err := newCertStore(lc.TLS, s.log.With("listener", lc.Name), s.m.certReloads.WithLabelValues(lc.Name, "ok"), s.m.certReloads.WithLabelValues(lc.Name, "error"))
		if err != nil {
			return nil, fmt.Errorf("listener %s: %w", lc.Name, err)
		}
		l.certs = certs
	}
	return l, nil
}

func (l *listener) bind(boot string) error {
	l.boot = boot
	h := sha256.Sum256([]byte(l.s.cfg.NodeID + "\x00" + l.cfg.Name + "\x00" + boot))
	copy(l.idBase[:], h[:8])
	switch l.cfg.Proto {
	case ProtoTCP, ProtoTLS, ProtoHTTP:
		ln, err := net.Listen("tcp", l.cfg.Addr)
		if err != nil {
			return fmt.Errorf("listener %s: listen tcp %s: %w", l.cfg.Name, l.cfg.Addr, err)
		}
		l.tcp = ln
		l.addr = ln.Addr().String()
		l.conns = map[net.Conn]struct{}{}
		l.perPeer = map[string]int{}
	case ProtoUDP:
		return l.bindUDP()
	case ProtoNATS:
		return l.bindNATS(l.s.js.Conn())
	default:
		return fmt.Errorf("listener %s: unknown proto %q", l.cfg.Name, l.cfg.Proto)
	}
	return nil
}

// close stops accepting and reading: it closes the socket and every open
// connection, which unblocks their readers.
func (l *listener) close() {
	l.mu.Lock()
	srv := l.http
	defer func() {
		l.mu.Unlock()
		// Outside the lock: closing its connections untracks them.
		if srv != nil {
			_ = srv.Close()
		}
	}()
	if !l.closed {
		close(l.done)
	}
	l.closed = true
	if l.tcp != nil {
		_ = l.tcp.Close()
	}
	for _, c := range l.udp {
		_ = c.Close()
	}
	if l.nats != nil {
		// Drain: messages already delivered to the handler are ingested.
		_ = l.nats.sub.Drain()
	}
	for c := range l.conns {
		_ = c.Close()
	}
}

func (l *listener) isClosed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed
}

func (l *listener) serve(ctx context.Context) {
	switch l.cfg.Proto {
	case ProtoUDP:
		var wg sync.WaitGroup
		for i := range l.s.cfg.UDPReaders {
			conn := l.udp[i%len(l.udp)]
			wg.Go(func() { l.serveUDP(conn) })
		}
		wg.Wait()
	case ProtoHTTP:
		l.serveHTTP()
	case ProtoNATS:
		<-ctx.Done() // the subscription's handler does the work
		l.waitNATSDrained()
	default:
		if l.certs != nil {
			go l.certs.watch(ctx)
		}
		l.serveTCP(ctx)
	}
}

// where is the position of a record for its dead letter, e.g. "tcp
// 10.0.0.5:40112 line 7". It is formatted only when the record is
// dead-lettered: building the string for every record cost about as much
// as framing it.
type where struct {
	proto string // "udp ", "tcp ", "tls ", "nats "
	addr  string // the peer address, or the NATS subject
	unit  string // " line ", " frame ", or "" without an index
	n     int
}

// String formats the position.
func (w where) String() string {
	if w.unit == "" {
		return w.proto + w.addr
	}
	return w.proto + w.addr + w.unit + strconv.Itoa(w.n)
}

// nextID returns the deterministic id of the next received record: a
// UUID (version 8, RFC 9562 custom layout) of 64 bits of the hash of
// (node id, listener, boot) followed by the record's sequence number, so
// ids are unique per ingest instance and run and cost no hash per record
// (hashing every record's id cost as much as framing it).
func (l *listener) nextID() string {
	var b [16]byte
	copy(b[:8], l.idBase[:])
	binary.BigEndian.PutUint64(b[8:], l.seq.Add(1))
	// The variant bits take two of the sequence's: the 2^62 records of a
	// run stay distinct.
	return event.UUIDv8(b)
}

// handle parses one record of the listener's own route and queues the
// event or its dead letter; it reports whether the record was parsed.
func (l *listener) handle(raw []byte, peer string, pos where, block bool) bool {
	return l.handleRoute(l.def, "", raw, peer, pos, block)
}

// handleRoute parses one record (without its framing) with r's parser,
// stamps identity and queues the event or its dead letter. It reports
// whether the record was parsed (a UDP record may still be dropped when
// the queue is full, which is counted).
func (l *listener) handleRoute(r *route, identity string, raw []byte, peer string, pos where, block bool) bool {
	l.received.Inc()
	id := l.nextID()
	now := time.Now().UTC()
	// Parsed straight into the Event the queue carries: no copy of it
	// until the publisher's batch.
	ev := queuedEvent()
	if err := parseRecycled(ev, r.parser, raw, id, peer, now); err != nil {
		releaseQueued(ev)
		l.reject(r, id, now, raw, pos.String(), string(syslog.ReasonOf(err)), err.Error(), block)
		return false
	}
	ev.PeerIdentity = identity
	l.parsed.Inc()
	if !l.s.enqueue(item{l: l, r: r, ev: ev}, block) {
		// Dropped (counted): its field storage is left to the garbage
		// collector, like the record.
		releaseQueued(ev)
	}
	return true
}

// reject queues the dead letter of a record that cannot be used: reason is
// the metric label, detail the dead letter's reason text.
func (l *listener) reject(r *route, id string, now time.Time, raw []byte, pos, reason, detail string, block bool) {
	if reason == "" {
		reason = "unknown"
	}
	l.s.m.malformed.WithLabelValues(l.cfg.Name, reason).Inc()
	l.s.log.Debug("dead-lettered record", "listener", l.cfg.Name, "position", pos, "reason", reason, "detail", detail)
	l.s.enqueue(item{l: l, r: r, dl: &event.DeadLetter{
		ID:       id,
		Time:     now,
		Stage:    bus.StageIngest,
		Site:     r.site,
		Source:   r.source,
		Reason:   detail,
		Payload:  string(raw),
		Position: pos,
	}}, block)
}

// rejectTransport dead-letters a transport-level failure (framing, TLS)
// that is not a record of its own: it counts as received. The dead
// letter's reason is "<reason>: <detail>", like a parser's.
func (l *listener) rejectTransport(r *route, head []byte, pos, reason, detail string) {
	l.received.Inc()
	l.reject(r, l.nextID(), time.Now().UTC(), head, pos, reason, reason+": "+detail, true)
}

// bindUDP binds the listener's UDP socket, or with UDPReusePort one
// socket per reader on the same address (the first one resolves port 0),
// and finds their kernel drop counters.
func (l *listener) bindUDP() error {
	n := 1
	var lc net.ListenConfig
	if l.s.cfg.UDPReusePort {
		n = l.s.cfg.UDPReaders
		lc.Control = setReusePort
	}
	addr := l.cfg.Addr
	var drops []*udpDrops
	for i := range n {
		pc, err := lc.ListenPacket(context.Background(), "udp", addr)
		if err != nil {
			for _, c := range l.udp {
				_ = c.Close()
			}
			l.udp = nil
			return fmt.Errorf("listener %s: listen udp %s (socket %d of %d): %w", l.cfg.Name, addr, i+1, n, err)
		}
		c := pc.(*net.UDPConn)
		l.udp = append(l.udp, c)
		if i == 0 {
			addr = c.LocalAddr().String()
			l.addr = addr
		}
		if err := c.SetReadBuffer(l.s.cfg.UDPReadBuffer); err != nil {
			l.s.log.Warn("set UDP receive buffer", "listener", l.cfg.Name, "bytes", l.s.cfg.UDPReadBuffer, "err", err)
		}
		if d := newUDPDrops(c); d != nil {
			drops = append(drops, d)
		}
	}
	if len(drops) == len(l.udp) {
		l.drops.Store(&drops)
	} else {
		l.s.log.Info("the kernel's UDP drop counter is not available on this system; only queue drops are counted", "listener", l.cfg.Name)
	}
	return nil
}

// serveUDP reads datagrams from conn until it is closed.
func (l *listener) serveUDP(conn *net.UDPConn) {
	buf := make([]byte, 64<<10)
	name := l.cfg.Name
	for {
		n, addr, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if l.isClosed() || errors.Is(err, net.ErrClosed) {
				return
			}
			l.s.log.Warn("udp read", "listener", name, "err", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		l.s.m.udpDatagrams.WithLabelValues(name).Inc()
		peer := addr.String()
		pos := where{proto: "udp ", addr: peer}
		var b *bucket
		if l.limit != nil {
			b = l.limit.get(addr.Addr().Unmap().String(), time.Now())
		}
		// RFC 5426: one message per datagram, but senders that batch
		// newline-separated records are accepted too.
		data := bytes.TrimRight(buf[:n], "\r\n")
		if bytes.IndexByte(data, '\n') < 0 {
			if len(data) > 0 && l.admitUDP(b) {
				l.handle(data, peer, pos, false)
			}
			continue
		}
		for i, line := range bytes.Split(data, []byte{'\n'}) {
			line = bytes.TrimSuffix(line, []byte{'\r'})
			if len(line) > 0 && l.admitUDP(b) {
				l.handle(line, peer, where{proto: "udp ", addr: peer, unit: " line ", n: i + 1}, false)
			}
		}
	}
}

// admitUDP takes a token of the sender's bucket b (nil: no limit); a
// record over the limit is received, dropped and counted.
func (l *listener) admitUDP(b *bucket) bool {
	if b == nil {
		return true
	}
	if ok, _ := l.limit.allow(b, 1, time.Now()); ok {
		return true
	}
	l.received.Inc()
	l.s.m.rateLimited.WithLabelValues(l.cfg.Name, rateDropped).Inc()
	l.s.m.dropped.WithLabelValues(l.cfg.Name, dropRateLimit).Inc()
	return false
}

// waitToken takes a token of the sender's bucket b (nil: no limit) and,
// over the limit, waits until it is due: the reader stops reading, which
// pushes back on the sender. It returns false when the listener closed
// meanwhile.
func (l *listener) waitToken(b *bucket, delayed prometheus.Counter) bool {
	if b == nil {
		return true
	}
	wait := l.limit.reserve(b, time.Now())
	if wait <= 0 {
		return true
	}
	delayed.Inc()
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-l.done:
		return false
	}
}

func (l *listener) serveTCP(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	name := l.cfg.Name
	backoff := 5 * time.Millisecond
	for {
		conn, err := l.tcp.Accept()
		if err != nil {
			if l.isClosed() || errors.Is(err, net.ErrClosed) {
				return
			}
			l.s.log.Warn("tcp accept", "listener", name, "err", err, "retry_in", backoff)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 5 * time.Millisecond
		l.s.m.tcpConnsTotal.WithLabelValues(name).Inc()
		if !l.track(conn) {
			continue
		}
		wg.Go(func() {
			defer l.untrack(conn)
			if l.certs != nil {
				l.serveTLSConn(conn)
			} else {
				l.serveConn(conn, l.def, "", "tcp ")
			}
		})
	}
}

// track registers a new connection; it closes it and returns false when
// the listener is closed or MaxConns connections are open.
func (l *listener) track(conn net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		_ = conn.Close()
		return false
	}
	if len(l.conns) >= l.s.cfg.MaxConns {
		_ = conn.Close()
		l.s.m.tcpRejected.WithLabelValues(l.cfg.Name).Inc()
		l.s.log.Warn("tcp connection rejected: max_conns reached", "listener", l.cfg.Name, "peer", conn.RemoteAddr().String(), "max_conns", l.s.cfg.MaxConns)
		return false
	}
	ip := peerIP(conn.RemoteAddr().String())
	if l.perPeer[ip] >= l.cfg.MaxConnsPerPeer {
		_ = conn.Close()
		l.s.m.peerRejected.WithLabelValues(l.cfg.Name).Inc()
		l.s.log.Warn("tcp connection rejected: max_conns_per_peer reached", "listener", l.cfg.Name, "peer", conn.RemoteAddr().String(), "max_conns_per_peer", l.cfg.MaxConnsPerPeer)
		return false
	}
	l.perPeer[ip]++
	l.conns[conn] = struct{}{}
	l.s.m.tcpConns.WithLabelValues(l.cfg.Name).Inc()
	return true
}

func (l *listener) untrack(conn net.Conn) {
	_ = conn.Close()
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.conns[conn]; !ok {
		return
	}
	delete(l.conns, conn)
	ip := peerIP(conn.RemoteAddr().String())
	if l.perPeer[ip]--; l.perPeer[ip] <= 0 {
		delete(l.perPeer, ip)
	}
	l.s.m.tcpConns.WithLabelValues(l.cfg.Name).Dec()
}

// serveTLSConn runs the TLS handshake (bounded by FrameTimeout), takes the
// client's identity and serves the records. A handshake that fails is
// dead-lettered: plaintext syslog on the TLS port with its first bytes.
func (l *listener) serveTLSConn(raw net.Conn) {
	peer := raw.RemoteAddr().String()
	pos := "tls " + peer
	conn := tls.Server(raw, l.certs.serverConfig())
	ctx, cancel := context.WithTimeout(context.Background(), l.s.cfg.FrameTimeout)
	err := conn.HandshakeContext(ctx)
	cancel()
	if err != nil {
		var rh tls.RecordHeaderError
		switch {
		case l.isClosed():
		case errors.As(err, &rh):
			l.rejectTransport(l.def, rh.RecordHeader[:], pos, reasonPlaintextOnTLS,
				"plaintext on the TLS port: the client did not start a TLS handshake (use the tcp listener or configure TLS on the sender): "+err.Error())
		case errors.Is(err, io.EOF):
			l.s.m.tlsHandshakeErrors.WithLabelValues(l.cfg.Name, "eof").Inc()
			l.s.log.Debug("tls client closed before the handshake", "listener", l.cfg.Name, "peer", peer)
		case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
			l.rejectTransport(l.def, nil, pos, string(framing.ReasonSlowClient), fmt.Sprintf("TLS handshake not complete within %s: %v", l.s.cfg.FrameTimeout, err))
		default:
			l.rejectTransport(l.def, nil, pos, reasonTLSHandshake, "TLS handshake failed: "+err.Error())
		}
		return
	}
	identity := peerIdentity(conn.ConnectionState())
	r := l.def
	if mapped, ok := l.byIdentity[identity]; ok && identity != "" {
		r = mapped
	}
	l.serveConn(conn, r, identity, "tls ")
}

// Transport-level dead letter reasons besides framing.Reason*.
const (
	reasonPlaintextOnTLS = "plaintext_on_tls_port"
	reasonTLSHandshake   = "tls_handshake_failed"
)

// serveConn reads RFC 6587 framed records until EOF, an error, the idle
// timeout or the listener closing. Framing failures are dead-lettered; a
// fatal one (absurd octet count, slow client, TLS on the plain port) also
// closes the connection, since the stream cannot be resynchronized.
func (l *listener) serveConn(conn net.Conn, r *route, identity, proto string) {
	peer := conn.RemoteAddr().String()
	fr := framing.NewReader(conn, framing.Options{
		MaxBytes:     l.s.cfg.MaxLineBytes,
		IdleTimeout:  l.s.cfg.IdleTimeout,
		FrameTimeout: l.s.cfg.FrameTimeout,
		RejectTLS:    l.certs == nil,
	})
	var b *bucket
	if l.limit != nil {
		b = l.limit.get(peerIP(peer), time.Now())
	}
	delayed := l.s.m.rateLimited.WithLabelValues(l.cfg.Name, rateDelayed)
	position := func() where {
		unit := " line "
		if fr.Mode() == framing.ModeOctetCounting {
			unit = " frame "
		}
		return where{proto: proto, addr: peer, unit: unit, n: fr.Records()}
	}
	for {
		rec, err := fr.Next()
		if err == nil {
			// The record is in the reader's buffer: handle it after the
			// wait, before reading on.
			if !l.waitToken(b, delayed) {
				return
			}
			l.handleRoute(r, identity, rec, peer, position(), true)
			continue
		}
		var fe *framing.FrameError
		if errors.As(err, &fe) {
			l.rejectTransport(r, fe.Head, position().String(), string(fe.Reason), fe.Detail)
			if !fe.Fatal {
				continue
			}
			l.s.log.Warn("closing connection after a framing error", "listener", l.cfg.Name, "peer", peer, "reason", fe.Reason, "detail", fe.Detail)
			return
		}
		switch {
		case errors.Is(err, io.EOF), l.isClosed(), errors.Is(err, net.ErrClosed):
		case errors.Is(err, framing.ErrIdle):
			l.s.log.Info("tcp connection idle, closing", "listener", l.cfg.Name, "peer", peer, "idle_timeout", l.s.cfg.IdleTimeout)
		default:
			l.s.log.Warn("tcp read", "listener", l.cfg.Name, "peer", peer, "err", err)
		}
		return
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
