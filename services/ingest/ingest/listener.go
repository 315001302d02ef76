package ingest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/c981/c981/services/ingest/syslog"
	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/shared/event"
)

// listener is one configured syslog input.
type listener struct {
	cfg     ListenerConfig
	s       *Service
	parser  *syslog.Parser
	subject string

	boot string        // Run's start time, part of every record id
	seq  atomic.Uint64 // records received, for ids
	addr string        // bound address

	tcp *net.TCPListener
	udp *net.UDPConn

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
}

func (l *listener) bind(boot string) error {
	l.boot = boot
	switch l.cfg.Proto {
	case ProtoTCP:
		ln, err := net.Listen("tcp", l.cfg.Addr)
		if err != nil {
			return fmt.Errorf("listener %s: listen tcp %s: %w", l.cfg.Name, l.cfg.Addr, err)
		}
		l.tcp = ln.(*net.TCPListener)
		l.addr = ln.Addr().String()
		l.conns = map[net.Conn]struct{}{}
	case ProtoUDP:
		pc, err := net.ListenPacket("udp", l.cfg.Addr)
		if err != nil {
			return fmt.Errorf("listener %s: listen udp %s: %w", l.cfg.Name, l.cfg.Addr, err)
		}
		l.udp = pc.(*net.UDPConn)
		if err := l.udp.SetReadBuffer(l.s.cfg.UDPReadBuffer); err != nil {
			l.s.log.Warn("set UDP receive buffer", "listener", l.cfg.Name, "bytes", l.s.cfg.UDPReadBuffer, "err", err)
		}
		l.addr = pc.LocalAddr().String()
	default:
		return fmt.Errorf("listener %s: unknown proto %q", l.cfg.Name, l.cfg.Proto)
	}
	return nil
}

// close stops accepting and reading: it closes the socket and every open
// connection, which unblocks their readers.
func (l *listener) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	if l.tcp != nil {
		_ = l.tcp.Close()
	}
	if l.udp != nil {
		_ = l.udp.Close()
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
	if l.tcp != nil {
		l.serveTCP(ctx)
	} else {
		l.serveUDP()
	}
}

// nextID returns the deterministic id of the next received record.
func (l *listener) nextID() string {
	return event.NewID(l.s.cfg.NodeID, l.cfg.Name, l.boot, strconv.FormatUint(l.seq.Add(1), 10))
}

// handle parses one record (without its line terminator) and queues the
// event or its dead letter.
func (l *listener) handle(raw []byte, peer, pos string, block bool) {
	l.s.m.received.WithLabelValues(l.cfg.Name).Inc()
	id := l.nextID()
	now := time.Now().UTC()
	ev, err := l.parser.Parse(raw, id, peer, now)
	if err != nil {
		l.reject(id, now, raw, pos, err, block)
		return
	}
	l.s.enqueue(item{l: l, ev: ev}, block)
}

func (l *listener) reject(id string, now time.Time, raw []byte, pos string, err error, block bool) {
	reason := string(syslog.ReasonOf(err))
	if reason == "" {
		reason = "unknown"
	}
	l.s.m.malformed.WithLabelValues(l.cfg.Name, reason).Inc()
	l.s.log.Debug("malformed record", "listener", l.cfg.Name, "position", pos, "err", err)
	l.s.enqueue(item{l: l, dead: true, dl: event.DeadLetter{
		ID:       id,
		Time:     now,
		Stage:    bus.StageIngest,
		Site:     l.cfg.Site,
		Source:   l.cfg.Name,
		Reason:   err.Error(),
		Payload:  string(raw),
		Position: pos,
	}}, block)
}

func (l *listener) serveUDP() {
	buf := make([]byte, 64<<10)
	name := l.cfg.Name
	for {
		n, addr, err := l.udp.ReadFromUDPAddrPort(buf)
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
		pos := "udp " + peer
		// RFC 5426: one message per datagram, but senders that batch
		// newline-separated records are accepted too.
		data := bytes.TrimRight(buf[:n], "\r\n")
		if bytes.IndexByte(data, '\n') < 0 {
			if len(data) > 0 {
				l.handle(data, peer, pos, false)
			}
			continue
		}
		for i, line := range bytes.Split(data, []byte{'\n'}) {
			line = bytes.TrimSuffix(line, []byte{'\r'})
			if len(line) > 0 {
				l.handle(line, peer, pos+" line "+strconv.Itoa(i+1), false)
			}
		}
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
			l.serveConn(conn)
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
	l.conns[conn] = struct{}{}
	l.s.m.tcpConns.WithLabelValues(l.cfg.Name).Inc()
	return true
}

func (l *listener) untrack(conn net.Conn) {
	_ = conn.Close()
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.conns, conn)
	l.s.m.tcpConns.WithLabelValues(l.cfg.Name).Dec()
}

// serveConn reads newline-framed records (LF or CR LF) until EOF, an error,
// the idle timeout or the listener closing. A record longer than
// MaxLineBytes is dead-lettered (its first MaxLineBytes bytes) and the rest
// of its line skipped.
func (l *listener) serveConn(conn net.Conn) {
	peer := conn.RemoteAddr().String()
	prefix := "tcp " + peer + " line "
	maxLine := l.s.cfg.MaxLineBytes
	r := bufio.NewReaderSize(conn, maxLine+2) // room for the record and CR LF
	line := 0
	for {
		if r.Buffered() == 0 {
			_ = conn.SetReadDeadline(time.Now().Add(l.s.cfg.IdleTimeout))
		}
		b, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			line++
			head := append([]byte(nil), b[:maxLine]...)
			size := len(b)
			for errors.Is(err, bufio.ErrBufferFull) {
				_ = conn.SetReadDeadline(time.Now().Add(l.s.cfg.IdleTimeout))
				b, err = r.ReadSlice('\n')
				size += len(b)
			}
			size -= len(b) - len(bytes.TrimRight(b, "\r\n")) // the terminator is not part of the record
			l.s.m.received.WithLabelValues(l.cfg.Name).Inc()
			l.reject(l.nextID(), time.Now().UTC(), head, prefix+strconv.Itoa(line),
				&syslog.ParseError{Reason: syslog.ReasonTooLong, Detail: fmt.Sprintf("record is %d bytes, maximum is %d (payload keeps the first %d)", size, maxLine, maxLine)}, true)
		} else if len(b) > 0 {
			line++
			rec := bytes.TrimSuffix(bytes.TrimSuffix(b, []byte{'\n'}), []byte{'\r'})
			if len(rec) > 0 {
				l.handle(rec, peer, prefix+strconv.Itoa(line), true)
			}
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			var ne net.Error
			switch {
			case errors.Is(err, io.EOF), l.isClosed(), errors.Is(err, net.ErrClosed):
			case errors.As(err, &ne) && ne.Timeout():
				l.s.log.Info("tcp connection idle, closing", "listener", l.cfg.Name, "peer", peer, "idle_timeout", l.s.cfg.IdleTimeout)
			default:
				l.s.log.Warn("tcp read", "listener", l.cfg.Name, "peer", peer, "err", err)
			}
			return
		}
	}
}
