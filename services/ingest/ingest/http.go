package ingest

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
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

// handleEvents accepts one JSON document or NDJSON (one document per
// line) with a valid bearer token. Every document goes through the
// listener's parser (format auto detects EVE, Zeek and generic JSON);
// invalid ones are dead-lettered. When the queue has no room for all the
// documents, nothing is queued and the answer is 429 with Retry-After.
func (l *listener) handleEvents(w http.ResponseWriter, req *http.Request) {
	hc := l.cfg.HTTP
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		l.answer(w, http.StatusMethodNotAllowed, "use POST")
		return
	}
	if !l.authorized(req.Header.Get("Authorization")) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="c981"`)
		l.answer(w, http.StatusUnauthorized, "missing or invalid bearer token")
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
	docs := splitDocuments(body)
	if len(docs) == 0 {
		l.answer(w, http.StatusBadRequest, "no JSON document in the body")
		return
	}
	if len(docs) > cap(l.s.queue) {
		l.answer(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("%d documents in one request; at most %d (queue_size)", len(docs), cap(l.s.queue)))
		return
	}
	if cost := int64(len(docs))*itemOverhead + 2*int64(len(body)); cost > int64(l.s.cfg.QueueBytes) {
		l.answer(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request needs %d bytes of queue; at most %d (queue_bytes)", cost, l.s.cfg.QueueBytes))
		return
	}
	// Backpressure: all or nothing, so that the sensor can simply retry
	// the request.
	if !l.s.room(len(docs), len(body)) {
		l.s.m.throttled.WithLabelValues(l.cfg.Name).Add(float64(len(docs)))
		w.Header().Set("Retry-After", strconv.Itoa(int(max(1, hc.RetryAfter.Round(time.Second)/time.Second))))
		l.answer(w, http.StatusTooManyRequests, "ingest queue full; retry later")
		return
	}
	peer := req.RemoteAddr
	var res httpResult
	for i, doc := range docs {
		pos := "http " + peer + " " + EventsPath + " document " + strconv.Itoa(i+1)
		if !utf8.Valid(doc) {
			l.received.Inc()
			l.reject(l.def, l.nextID(), time.Now().UTC(), doc, pos, reasonInvalidUTF8, "invalid_utf8: the document is not valid UTF-8", true)
			res.Rejected++
			continue
		}
		if !json.Valid(doc) || doc[0] != '{' {
			l.received.Inc()
			l.reject(l.def, l.nextID(), time.Now().UTC(), doc, pos, reasonBadJSON, "bad_json: not a valid JSON object", true)
			res.Rejected++
			continue
		}
		if l.handleRoute(l.def, "", doc, peer, pos, true) {
			res.Accepted++
		} else {
			res.Rejected++
		}
	}
	l.s.m.httpRequests.WithLabelValues(l.cfg.Name, strconv.Itoa(http.StatusAccepted)).Inc()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_ = json.NewEncoder(w).Encode(res)
}

// authorized checks an Authorization header against the tokens in
// constant time.
func (l *listener) authorized(h string) bool {
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || tok == "" {
		return false
	}
	found := 0
	for _, t := range l.cfg.HTTP.Tokens {
		found |= subtle.ConstantTimeCompare([]byte(tok), []byte(t))
	}
	return found == 1
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
