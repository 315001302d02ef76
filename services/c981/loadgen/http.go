package loadgen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"
)

// DefaultHTTPBatch is the default number of records per HTTP request.
const DefaultHTTPBatch = 500

// eventsPath is the path of ingest's HTTP input.
const eventsPath = "/v1/events"

// HTTPSender posts batches of records to an ingest HTTP listener and
// retries each until ingest acknowledges it. Ingest answers 2xx only once
// JetStream has stored the batch, and the Idempotency-Key makes a retry of
// a batch that was stored before its answer got lost (a killed ingest, a
// timeout) produce the same events, which the pipeline deduplicates: so a
// batch Send returned for is stored exactly once.
type HTTPSender struct {
	// URL is the listener's events URL, e.g. http://127.0.0.1:8514/v1/events.
	URL string
	// Token is the bearer token.
	Token string
	// Client sends the requests; default one with a 30 s timeout.
	Client *http.Client
	// MaxBackoff bounds the wait between attempts without Retry-After;
	// default 2 s.
	MaxBackoff time.Duration

	retries atomic.Uint64
}

// EventsURL returns the events URL of an ingest HTTP listener: addr is
// host:port (http, or https when tls is set) or a URL, whose path is
// replaced by /v1/events.
func EventsURL(addr string, https bool) string {
	if u, err := url.Parse(addr); err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" {
		u.Path, u.RawQuery = eventsPath, ""
		return u.String()
	}
	if https {
		return "https://" + addr + eventsPath
	}
	return "http://" + addr + eventsPath
}

// Retries is the number of failed attempts that were retried.
func (s *HTTPSender) Retries() uint64 { return s.retries.Load() }

// ErrRejected wraps a permanent refusal (4xx other than 408 and 429): the
// request is wrong and a retry cannot succeed.
var ErrRejected = errors.New("request rejected")

// Send posts body (records, one per line) with the Idempotency-Key key
// until ingest answers 2xx, ctx ends, or ingest rejects the request for
// good (ErrRejected). It honours Retry-After and otherwise backs off
// exponentially up to MaxBackoff.
func (s *HTTPSender) Send(ctx context.Context, key string, body []byte) error {
	client := s.Client
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	maxBackoff := s.MaxBackoff
	if maxBackoff <= 0 {
		maxBackoff = 2 * time.Second
	}
	backoff := 50 * time.Millisecond
	for {
		wait, err := s.post(ctx, client, key, body)
		if err == nil {
			return nil
		}
		if errors.Is(err, ErrRejected) {
			return err
		}
		s.retries.Add(1)
		if wait <= 0 {
			wait = backoff
			backoff = min(2*backoff, maxBackoff)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("loadgen: batch %s not acknowledged: %w (last error: %w)", key, ctx.Err(), err)
		case <-time.After(wait):
		}
	}
}

// post makes one attempt; on a retriable failure it returns the wait the
// server asked for (Retry-After), if any.
func (s *HTTPSender) post(ctx context.Context, client *http.Client, key string, body []byte) (time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrRejected, err)
	}
	req.Header.Set("Authorization", "Bearer "+s.Token)
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	req.Header.Set("Idempotency-Key", key)
	resp, err := client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("post %s: %w", s.URL, err)
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	resp.Body.Close()
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300:
		return 0, nil
	case c == http.StatusTooManyRequests || c == http.StatusRequestTimeout || c >= 500:
		var wait time.Duration
		if n, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && n > 0 {
			wait = time.Duration(n) * time.Second
		}
		return wait, fmt.Errorf("post %s: %s: %s", s.URL, resp.Status, bytes.TrimSpace(msg))
	default:
		return 0, fmt.Errorf("%w: post %s: %s: %s", ErrRejected, s.URL, resp.Status, bytes.TrimSpace(msg))
	}
}

// runHTTP sends the run's records (built by gen) in batches of cfg.Batch,
// each with the Idempotency-Key "<run>-<first seq>", paced to cfg.Rate.
func runHTTP(ctx context.Context, cfg Config, gen *Generator) (Result, error) {
	batch := cfg.Batch
	if batch <= 0 {
		batch = DefaultHTTPBatch
	}
	client := &http.Client{Timeout: 30 * time.Second}
	if cfg.TLS != nil {
		client.Transport = &http.Transport{TLSClientConfig: cfg.TLS.Clone(), ForceAttemptHTTP2: true}
	}
	sender := &HTTPSender{URL: EventsURL(cfg.Addr, cfg.TLS != nil), Token: cfg.Token, Client: client}
	res := Result{FirstSeq: cfg.FirstSeq}
	clk := newClock(&cfg)
	start := clk.start
	retries := func() string { return fmt.Sprintf(", %d retries", sender.Retries()) }
	body := make([]byte, 0, batch*400)
	seq := cfg.FirstSeq
	for {
		if _, over := clk.tick(ctx, res.Sent, retries); over {
			break
		}
		n := uint64(batch)
		if cfg.Count > 0 {
			n = min(n, cfg.Count-res.Sent)
		}
		if cfg.Rate > 0 {
			// The batch is due when the rate allows its last record.
			due := start.Add(time.Duration(float64(res.Sent+n-1) / float64(cfg.Rate) * float64(time.Second)))
			if d := time.Until(due); d > 0 {
				select {
				case <-ctx.Done():
					continue
				case <-time.After(d):
				}
			}
		}
		body = body[:0]
		sent := cfg.Now()
		first := seq
		var susp uint64
		for range n {
			body = gen.Line(body, cfg.Format, cfg.RunID, seq, sent)
			body = append(body, '\n')
			if gen.IsSuspicious(cfg.RunID, seq) {
				susp++
			}
			seq++
		}
		if err := sender.Send(ctx, cfg.RunID+"-"+strconv.FormatUint(first, 10), body); err != nil {
			if ctx.Err() != nil {
				break // not an error: the batch is not counted as sent
			}
			return res, err
		}
		res.LastSeq = seq - 1
		res.Sent += n
		res.Suspicious += susp
	}
	res.Elapsed = time.Since(start)
	client.CloseIdleConnections()
	return res, nil
}
