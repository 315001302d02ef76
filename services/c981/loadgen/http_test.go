package loadgen

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// lossyProxy forwards requests to ingest but answers 503 to the first
// attempt of every Idempotency-Key after ingest stored it: the answer is
// lost as when ingest is killed between the PubAck and its reply.
type lossyProxy struct {
	target string
	mu     sync.Mutex
	seen   map[string]bool
	lost   int
}

func (p *lossyProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	req, _ := http.NewRequestWithContext(r.Context(), r.Method, p.target, bytes.NewReader(body))
	req.Header = r.Header.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	key := r.Header.Get("Idempotency-Key")
	p.mu.Lock()
	first := !p.seen[key]
	p.seen[key] = true
	if first {
		p.lost++
	}
	p.mu.Unlock()
	if first {
		http.Error(w, "answer lost", http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(out)
}

// TestHTTPLoadRetriesExactlyOnce sends over HTTP through a proxy that
// loses the first answer of every batch after ingest stored it: loadgen
// retries each batch with the same Idempotency-Key, and every sequence
// number is on C981_RAW exactly once.
func TestHTTPLoadRetriesExactlyOnce(t *testing.T) {
	h := startIngest(t, 1)
	proxy := &lossyProxy{target: EventsURL(h.http, false), seen: map[string]bool{}}
	srv := httptest.NewServer(proxy)
	defer srv.Close()
	const n = 2000
	res, err := Run(context.Background(), Config{Addr: srv.URL, Proto: ProtoHTTP, Token: testToken, Batch: 300, Format: FormatMix, Count: n, RunID: "http-retry", Suspicious: 0.05})
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent != n || res.LastSeq != n {
		t.Fatalf("result %v", res)
	}
	if want := suspiciousIn("http-retry", 0.05, 1, n); res.Suspicious != want || want == 0 {
		t.Errorf("%d suspicious records counted, want %d", res.Suspicious, want)
	}
	if want := (n + 299) / 300; proxy.lost != want {
		t.Errorf("%d answers lost, want one per batch (%d)", proxy.lost, want)
	}
	verifySeqs(t, h.env.JS, "http-retry", 1, n)
}

func TestHTTPSenderRejected(t *testing.T) {
	tests := []struct {
		name    string
		code    int
		wantErr bool
		calls   int
	}{
		{"unauthorized is permanent", http.StatusUnauthorized, true, 1},
		{"too large is permanent", http.StatusRequestEntityTooLarge, true, 1},
		{"429 is retried", http.StatusTooManyRequests, false, 3},
		{"503 is retried", http.StatusServiceUnavailable, false, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls++
				if r.Header.Get("Idempotency-Key") != "k-1" || r.Header.Get("Authorization") != "Bearer tok" {
					t.Errorf("headers %v", r.Header)
				}
				if calls < 3 {
					w.WriteHeader(tt.code)
					return
				}
				w.WriteHeader(http.StatusAccepted)
			}))
			defer srv.Close()
			s := &HTTPSender{URL: srv.URL, Token: "tok", MaxBackoff: time.Millisecond}
			err := s.Send(context.Background(), "k-1", []byte("x\n"))
			if (err != nil) != tt.wantErr || calls != tt.calls {
				t.Errorf("err %v after %d calls; want error %v after %d", err, calls, tt.wantErr, tt.calls)
			}
		})
	}
}
