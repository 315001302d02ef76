package ingest

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/c981/c981/services/ingest/syslog"
	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/shared/event"
)

// EventsPath is the path of the sensor HTTP input.
const EventsPath = "/v1/events"

// Dead letter reasons of the HTTP input.
const (
	reasonBadJSON     = "bad_json"     // not a JSON object
	reasonInvalidUTF8 = "invalid_utf8" // JSON must be UTF-8 (RFC 8259)
)

// httpResult is the JSON body of a 202 answer.
type httpResult struct {
	// Accepted documents were queued for publishing, Rejected ones
	// dead-lettered (bad JSON or unparseable).
	Accepted int `json:"accepted"`
	Rejected int `json:"rejected"`
}

func (l *listener) serveHTTP() {
	mux := http.NewServeMux()
	mux.HandleFunc(EventsPath, l.handleEvents)
	l.mu.Lock()
	l.http = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: l.s.cfg.FrameTimeout,
		ReadTimeout:       l.s.cfg.FrameTimeout,
		IdleTimeout:       l.s.cfg.IdleTimeout,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          nil,
	}
	srv, closed := l.http, l.closed
	l.mu.Unlock()
	if closed {
		return
	}
	err := srv.Serve(limitListener{Listener: l.tcp, l: l})
	if err != nil && !errors.Is(err, http.ErrServerClosed) && !l.isClosed() {
		l.s.log.Error("http serve", "listener", l.cfg.Name, "err", err)
	}
}

// limitListener applies MaxConns to the HTTP server's connections.
type limitListener struct {
	net.Listener
	l *listener
}

func (ll limitListener) Accept() (net.Conn, error) {
	for {
		c, err := ll.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ll.l.s.m.tcpConnsTotal.WithLabelValues(ll.l.cfg.Name).Inc()
		if ll.l.track(c) {
			return &trackedConn{Conn: c, l: ll.l}, nil
		}
	}
}

// trackedConn untracks its connection when the HTTP server closes it.
type trackedConn struct {
	net.Conn
	l    *listener
	once sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(func() { c.l.untrack(c.Conn) })
	return nil
}

func (l *listener) answer(w http.ResponseWriter, code int, msg string) {
	l.s.m.httpRequests.WithLabelValues(l.cfg.Name, strconv.Itoa(code)).Inc()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

// IdempotencyKeyHeader names the request header that makes a POST
// /v1/events retry-safe: the ids of its events (and the message ids of
// their batches) derive from (site, listener, key, index of the record in
// the body) instead of the time of receipt, so a request retried after a
// lost answer or an ingest crash publishes the same messages, which
// JetStream deduplicates within its duplicates window, and the same event
// ids, which the store's ReplacingMergeTree tables collapse after it.
const IdempotencyKeyHeader = "Idempotency-Key"

// maxIdempotencyKey bounds the length of an Idempotency-Key.
const maxIdempotencyKey = 128

// handleEvents accepts one JSON document, NDJSON (one document per line)
// or, with Content-Type text/plain, syslog records one per line, with a
// valid bearer token. Every record goes through the listener's parser
// (format auto detects EVE, Zeek, generic JSON and the syslog formats);
// invalid ones are dead-lettered. The records are published to JetStream
// by the handler itself: the answer 202 means that JetStream acknowledged
// every event and dead letter of the request, so a sensor that retries
// until it gets a 2xx loses nothing. When the queue budget has no room for
// all the records, or the sender is over its rate_limit, nothing is
// published and the answer is 429 with Retry-After; when JetStream does not
// acknowledge within FrameTimeout the answer is 503 with Retry-After (retry
// with the same Idempotency-Key).
func (l *listener) handleEvents(w http.ResponseWriter, req *http.Request) {
	hc := l.cfg.HTTP
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		l.answer(w, http.StatusMethodNotAllowed, "use POST")
		return
	}
	token, ok := l.authorized(req.Header.Get("Authorization"))
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="c981"`)
		l.answer(w, http.StatusUnauthorized, "missing or invalid bearer token")
		return
	}
	key := req.Header.Get(IdempotencyKeyHeader)
	if len(key) > maxIdempotencyKey || !printableASCII(key) {
		l.answer(w, http.StatusBadRequest, fmt.Sprintf("%s must be 1-%d printable ASCII characters", IdempotencyKeyHeader, maxIdempotencyKey))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, int64(hc.MaxBodyBytes)))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			l.answer(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body exceeds %d bytes", hc.MaxBodyBytes))
			return
		}
		l.answer(w, http.StatusBadRequest, "read body: "+err.Error())
		return
	}
	text := isTextPlain(req.Header.Get("Content-Type"))
	var docs [][]byte
	if text {
		docs = splitLines(body)
	} else {
		docs = splitDocuments(body)
	}
	if len(docs) == 0 {
		l.answer(w, http.StatusBadRequest, "no record in the body")
		return
	}
	if len(docs) > cap(l.s.queue) {
		l.answer(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("%d documents in one request; at most %d (queue_size)", len(docs), cap(l.s.queue)))
		return
	}
	cost := int64(len(docs))*itemOverhead + 2*int64(len(body))
	if cost > int64(l.s.cfg.QueueBytes) {
		l.answer(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request needs %d bytes of queue; at most %d (queue_bytes)", cost, l.s.cfg.QueueBytes))
		return
	}
	if l.limit != nil && len(docs) > int(l.limit.burst) {
		l.answer(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("%d documents in one request; at most %d (rate_limit.burst)", len(docs), int(l.limit.burst)))
		return
	}
	// Backpressure: all or nothing, so that the sensor can simply retry
	// the request. The request holds its budget until it is published,
	// like the records queued by the other listeners.
	if !l.s.room(len(docs), len(body)) || !l.s.budget.tryAcquire(cost) {
		l.s.m.throttled.WithLabelValues(l.cfg.Name).Add(float64(len(docs)))
		w.Header().Set("Retry-After", strconv.Itoa(retrySeconds(hc.RetryAfter)))
		l.answer(w, http.StatusTooManyRequests, "ingest queue full; retry later")
		return
	}
	defer l.s.budget.release(cost)
	if l.limit != nil {
		// Per sender: the token and the peer IP, as several sensors may
		// share a token. Checked after the budget, so that a request
		// refused for the budget costs no tokens.
		now := time.Now()
		b := l.limit.get(strconv.Itoa(token)+" "+peerIP(req.RemoteAddr), now)
		if ok, wait := l.limit.allow(b, len(docs), now); !ok {
			l.s.m.rateLimited.WithLabelValues(l.cfg.Name, rateRefused).Add(float64(len(docs)))
			w.Header().Set("Retry-After", strconv.Itoa(retrySeconds(wait)))
			l.answer(w, http.StatusTooManyRequests, "rate limit of this sender exceeded; retry later")
			return
		}
	}
	if key != "" {
		l.s.m.httpReplayed.WithLabelValues(l.cfg.Name).Inc()
	}
	peer := req.RemoteAddr
	var res httpResult
	evs := make([]event.Event, 0, len(docs))
	var dls []event.DeadLetter
	for i, doc := range docs {
		pos := "http " + peer + " " + EventsPath + " document " + strconv.Itoa(i+1)
		id := l.requestID(key, i)
		now := time.Now().UTC()
		l.received.Inc()
		var reason, detail string
		switch {
		case !utf8.Valid(doc):
			reason, detail = reasonInvalidUTF8, "invalid_utf8: the document is not valid UTF-8"
		case !text && (!json.Valid(doc) || doc[0] != '{'):
			reason, detail = reasonBadJSON, "bad_json: not a valid JSON object"
		default:
			evs = append(evs, event.Event{})
			err := parseRecycled(&evs[len(evs)-1], l.def.parser, doc, id, peer, now)
			if err == nil {
				l.parsed.Inc()
				res.Accepted++
				continue
			}
			evs = evs[:len(evs)-1] // left zero by parseRecycled
			reason, detail = string(syslog.ReasonOf(err)), err.Error()
			if reason == "" {
				reason = "unknown"
			}
		}
		res.Rejected++
		l.s.m.malformed.WithLabelValues(l.cfg.Name, reason).Inc()
		dls = append(dls, event.DeadLetter{ID: id, Time: now, Stage: bus.StageIngest, Site: l.def.site, Source: l.def.source,
			Reason: detail, Payload: string(doc), Position: pos})
	}
	ctx, cancel := context.WithTimeout(req.Context(), l.s.cfg.FrameTimeout)
	defer cancel()
	err = l.publishRequest(ctx, evs, dls)
	recycleFields(evs) // encoded and published (or given up): the maps go back to the parsers
	if err != nil {
		l.s.log.Warn("http request not published; the sender retries", "listener", l.cfg.Name, "peer", peer, "err", err)
		w.Header().Set("Retry-After", strconv.Itoa(retrySeconds(hc.RetryAfter)))
		l.answer(w, http.StatusServiceUnavailable, "events not acknowledged by the bus; retry later (with the same Idempotency-Key)")
		return
	}
	l.s.m.httpRequests.WithLabelValues(l.cfg.Name, strconv.Itoa(http.StatusAccepted)).Inc()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_ = json.NewEncoder(w).Encode(res)
}

// requestID is the id of record i of a request: derived from the
// Idempotency-Key when there is one, else the listener's next id.
func (l *listener) requestID(key string, i int) string {
	if key == "" {
		return l.nextID()
	}
	return event.NewID(l.def.site, l.cfg.Name, "idempotency-key", key, strconv.Itoa(i))
}

// publishRequest publishes the events of one request in batches of at
// most MaxBatch events and MaxBatchBytes (estimated), each with the
// message id "<first event id>:<count>" (deterministic with an
// Idempotency-Key), then its dead letters.
func (l *listener) publishRequest(ctx context.Context, evs []event.Event, dls []event.DeadLetter) error {
	cfg := l.s.cfg
	var buf []byte
	for len(evs) > 0 {
		n, size := 0, 0
		for n < len(evs) && n < cfg.MaxBatch && (n == 0 || size+eventSize(&evs[n]) <= cfg.MaxBatchBytes) {
			size += eventSize(&evs[n])
			n++
		}
		l.s.enrich(evs[:n])
		if err := l.s.publishEvents(ctx, l.def, evs[:n], &buf); err != nil {
			l.s.m.publishErrors.WithLabelValues(l.def.publishSubject()).Inc()
			return err
		}
		evs = evs[n:]
	}
	for len(dls) > 0 {
		n := min(len(dls), cfg.MaxBatch)
		if err := bus.DeadLetter(ctx, l.s.js, bus.StageIngest, dls[:n]); err != nil {
			l.s.m.publishErrors.WithLabelValues(bus.DLQSubject(bus.StageIngest)).Inc()
			return err
		}
		l.s.m.deadLetters.Add(float64(n))
		dls = dls[n:]
	}
	return nil
}

// retrySeconds is a Retry-After value: d rounded up to whole seconds, at
// least 1.
func retrySeconds(d time.Duration) int {
	return max(1, int((d+time.Second-1)/time.Second))
}

// printableASCII reports whether s holds only printable ASCII.
func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// isTextPlain reports whether a Content-Type is text/plain (syslog
// records, one per line).
func isTextPlain(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "text/plain"
}

// splitLines returns the non-empty lines of a text/plain body, without
// their line ends.
func splitLines(body []byte) [][]byte {
	var out [][]byte
	for line := range bytes.Lines(body) {
		line = bytes.TrimRight(line, "\r\n")
		if len(bytes.TrimSpace(line)) > 0 {
			out = append(out, line)
		}
	}
	return out
}

// authorized checks an Authorization header against the tokens in
// constant time; it returns the index of the matching token.
func (l *listener) authorized(h string) (int, bool) {
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || tok == "" {
		return 0, false
	}
	found, index := 0, 0
	for i, t := range l.cfg.HTTP.Tokens {
		eq := subtle.ConstantTimeCompare([]byte(tok), []byte(t))
		index = subtle.ConstantTimeSelect(eq, i, index)
		found |= eq
	}
	return index, found == 1
}

// splitDocuments returns the documents of a body: the whole body when it
// is one JSON value (which may span lines), else its non-empty lines.
func splitDocuments(body []byte) [][]byte {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil
	}
	if json.Valid(trimmed) {
		return [][]byte{trimmed}
	}
	var docs [][]byte
	for line := range bytes.Lines(trimmed) {
		if line = bytes.TrimSpace(line); len(line) > 0 {
			docs = append(docs, line)
		}
	}
	return docs
}
