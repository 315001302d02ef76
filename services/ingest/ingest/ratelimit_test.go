package ingest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/shared/event"
)

// rateLimitTest is the events per second and burst of the rate limit
// tests' tcp, tls and udp listeners.
const rateLimitTest = 100

// The senders of the rate limit tests: two loopback addresses, so that
// the listener sees two peer IPs.
const (
	noisyIP = "127.0.0.2"
	quietIP = "127.0.0.3"
)

func TestPeerLimiterBucket(t *testing.T) {
	t0 := time.Unix(1000, 0)
	tests := []struct {
		name string
		// steps: at offset, take n (allow) or reserve one (n == 0).
		steps []struct {
			at       time.Duration
			n        int
			wantOK   bool
			wantWait time.Duration
		}
	}{
		{"burst then refill", []struct {
			at       time.Duration
			n        int
			wantOK   bool
			wantWait time.Duration
		}{
			{0, 10, true, 0},                      // the full burst
			{0, 1, false, 100 * time.Millisecond}, // empty: one token in 1/rate
			{500 * time.Millisecond, 5, true, 0},  // 5 tokens earned
			{500 * time.Millisecond, 1, false, 100 * time.Millisecond},
			{10 * time.Second, 11, false, 100 * time.Millisecond}, // capped at the burst
		}},
		{"reserve goes into debt", []struct {
			at       time.Duration
			n        int
			wantOK   bool
			wantWait time.Duration
		}{
			{0, 10, true, 0},
			{0, 0, true, 100 * time.Millisecond},
			{0, 0, true, 200 * time.Millisecond},
			{200 * time.Millisecond, 0, true, 100 * time.Millisecond}, // two repaid, one more owed
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPeerLimiter(&RateLimitConfig{EventsPerSecond: 10, Burst: 10})
			b := p.get("10.0.0.1", t0)
			for i, s := range tt.steps {
				now := t0.Add(s.at)
				if s.n == 0 {
					if wait := p.reserve(b, now); wait.Round(time.Millisecond) != s.wantWait {
						t.Errorf("step %d: reserve wait %v, want %v", i, wait, s.wantWait)
					}
					continue
				}
				ok, wait := p.allow(b, s.n, now)
				if ok != s.wantOK || wait.Round(time.Millisecond) != s.wantWait {
					t.Errorf("step %d: allow(%d) = %v, %v; want %v, %v", i, s.n, ok, wait, s.wantOK, s.wantWait)
				}
			}
		})
	}
}

// TestPeerLimiterBounded fills the limiter with more senders than it
// keeps: idle buckets are evicted, and while none is idle further senders
// share the overflow bucket.
func TestPeerLimiterBounded(t *testing.T) {
	p := newPeerLimiter(&RateLimitConfig{EventsPerSecond: 1, Burst: 1})
	t0 := time.Unix(1000, 0)
	for i := range maxRatePeers {
		b := p.get("peer-"+strconv.Itoa(i), t0)
		p.allow(b, 1, t0) // busy: its bucket is empty
	}
	if b := p.get("one-more", t0.Add(time.Millisecond)); b != p.overflow {
		t.Fatal("a sender beyond the bound got its own bucket while none was idle")
	}
	// A minute later every bucket has refilled: they are evicted.
	later := t0.Add(time.Minute)
	if b := p.get("one-more", later); b == p.overflow {
		t.Fatal("idle buckets were not evicted")
	}
	if n := len(p.peers); n != 1 {
		t.Fatalf("%d buckets after the sweep, want 1", n)
	}
}

// dialFrom dials addr from the loopback address ip.
func dialFrom(t *testing.T, network, ip, addr string) net.Conn {
	t.Helper()
	var local net.Addr = &net.TCPAddr{IP: net.ParseIP(ip)}
	if network == "udp" {
		local = &net.UDPAddr{IP: net.ParseIP(ip)}
	}
	c, err := (&net.Dialer{LocalAddr: local, Timeout: 5 * time.Second}).Dial(network, addr)
	if err != nil {
		t.Fatalf("dial %s from %s: %v", addr, ip, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// rawByPeerIP counts the events in C981_RAW per peer IP.
func rawByPeerIP(t *testing.T, js jetstream.JetStream) map[string]int {
	t.Helper()
	out := map[string]int{}
	for ip, ts := range rawReceived(t, js) {
		out[ip] = len(ts)
	}
	return out
}

// rawReceived returns the receipt times of the events in C981_RAW per
// peer IP.
func rawReceived(t *testing.T, js jetstream.JetStream) map[string][]time.Time {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cons, err := js.OrderedConsumer(ctx, bus.StreamRaw, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]time.Time{}
	for {
		msg, err := cons.Next(jetstream.FetchMaxWait(200 * time.Millisecond))
		if errors.Is(err, jetstream.ErrNoMessages) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		var evs []event.Event
		if err := event.Unmarshal(msg.Data(), &evs); err != nil {
			t.Fatal(err)
		}
		for _, ev := range evs {
			ip := peerIP(ev.Peer)
			out[ip] = append(out[ip], ev.ReceivedAt)
		}
	}
}

// spread is the time from the earliest to the latest of ts.
func spread(ts []time.Time) time.Duration {
	if len(ts) == 0 {
		return 0
	}
	lo, hi := ts[0], ts[0]
	for _, x := range ts {
		if x.Before(lo) {
			lo = x
		}
		if x.After(hi) {
			hi = x
		}
	}
	return hi.Sub(lo)
}

// waitRaw waits until C981_RAW holds at least want events from ip and
// returns their number.
func waitRaw(t *testing.T, js jetstream.JetStream, ip string, want int, within time.Duration) int {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		got := rawByPeerIP(t, js)[ip]
		if got >= want {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d events from %s in C981_RAW, want %d", got, ip, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRateLimitPerSender sends from a noisy sender far above its
// rate_limit and from a quiet neighbour on every transport: the noisy one
// is held back (tcp: not read, nothing lost; udp: dropped and counted;
// http: 429 with Retry-After) while the quiet one gets everything through
// at once.
func TestRateLimitPerSender(t *testing.T) {
	const rate, burst = rateLimitTest, rateLimitTest
	limit := &RateLimitConfig{EventsPerSecond: rate, Burst: burst}
	serverCA := newTestCA(t, "server-ca")
	files := writeTLSFiles(t, serverCA, newTestCA(t, "client-ca"), 1)
	cfg := testConfig()
	cfg.Listeners[0].RateLimit = limit
	cfg.Listeners[1].RateLimit = limit
	cfg.Listeners = append(cfg.Listeners, ListenerConfig{
		// A slow refill, so that the second request is refused however
		// long the first one takes on a loaded machine.
		Name: "sensor-http", Proto: ProtoHTTP, Addr: "127.0.0.1:0", Site: "demo-plant", RateLimit: &RateLimitConfig{EventsPerSecond: 1, Burst: burst},
		HTTP: &HTTPConfig{Tokens: []string{testToken}},
	})
	cfg.Listeners = append(cfg.Listeners, ListenerConfig{
		Name: "syslog-tls", Proto: ProtoTLS, Addr: "127.0.0.1:0", Site: "demo-plant", RateLimit: limit,
		TLS: &TLSConfig{CertFile: files.cert, KeyFile: files.key},
	})
	line := func(i int) string { return fmt.Sprintf("%s seq=%d", line3164, i) }

	tests := []struct {
		name string
		run  func(t *testing.T, h *harness)
	}{
		{"tcp: the noisy sender is not read beyond its rate, nothing is lost", func(t *testing.T, h *harness) {
			streamLimited(t, h, "syslog-tcp", func(ip string) net.Conn { return dialFrom(t, "tcp", ip, h.addr("syslog-tcp")) })
		}},
		{"tls: the same over TLS", func(t *testing.T, h *harness) {
			streamLimited(t, h, "syslog-tls", func(ip string) net.Conn {
				pool := x509.NewCertPool()
				pool.AddCert(serverCA.cert)
				c := tls.Client(dialFrom(t, "tcp", ip, h.addr("syslog-tls")), &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
				if err := c.Handshake(); err != nil {
					t.Fatalf("tls handshake: %v", err)
				}
				return c
			})
		}},
		{"udp: over the limit is dropped and counted", func(t *testing.T, h *harness) {
			const noisy = 2 * burst
			addr := h.addr("syslog-udp")
			nc := dialFrom(t, "udp", noisyIP, addr)
			start := time.Now()
			for i := range noisy {
				if _, err := io.WriteString(nc, line(i)); err != nil {
					t.Fatal(err)
				}
			}
			qc := dialFrom(t, "udp", quietIP, addr)
			for i := range 50 {
				if _, err := io.WriteString(qc, line(i)); err != nil {
					t.Fatal(err)
				}
			}
			if n := waitRaw(t, h.env.JS, quietIP, 50, 5*time.Second); n != 50 {
				t.Errorf("%d quiet datagrams, want 50", n)
			}
			dropped := testutil.ToFloat64(h.svc.m.dropped.WithLabelValues("syslog-udp", dropRateLimit))
			got := rawByPeerIP(t, h.env.JS)[noisyIP]
			if max := burst + rate*time.Since(start).Seconds(); got < burst || float64(got) > max {
				t.Errorf("%d noisy datagrams published, want the burst %d and at most %.0f", got, burst, max)
			}
			if int(dropped)+got != noisy {
				t.Errorf("%d published + %v dropped, want %d: a drop was not counted", got, dropped, noisy)
			}
			if n := testutil.ToFloat64(h.svc.m.rateLimited.WithLabelValues("syslog-udp", rateDropped)); n != dropped {
				t.Errorf("rate_limited{dropped} = %v, dropped{rate_limited} = %v", n, dropped)
			}
		}},
		{"http: 429 with Retry-After for the noisy sender only", func(t *testing.T, h *harness) {
			url := "http://" + h.addr("sensor-http") + EventsPath
			post := func(ip string, docs int) *http.Response {
				client := &http.Client{Transport: &http.Transport{DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}).DialContext}}
				var b strings.Builder
				for i := range docs {
					fmt.Fprintf(&b, `{"event_type":"alert","seq":%d}`+"\n", i)
				}
				req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(b.String()))
				req.Header.Set("Authorization", "Bearer "+testToken)
				resp, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				client.CloseIdleConnections()
				return resp
			}
			if r := post(noisyIP, burst); r.StatusCode != http.StatusAccepted {
				t.Fatalf("first noisy request: %d, want 202", r.StatusCode)
			}
			r := post(noisyIP, burst)
			if r.StatusCode != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
				t.Fatalf("second noisy request: %d Retry-After %q, want 429 with Retry-After", r.StatusCode, r.Header.Get("Retry-After"))
			}
			if r := post(quietIP, 50); r.StatusCode != http.StatusAccepted {
				t.Fatalf("quiet request: %d, want 202", r.StatusCode)
			}
			if r := post(quietIP, burst+1); r.StatusCode != http.StatusRequestEntityTooLarge {
				t.Errorf("request above the burst: %d, want 413", r.StatusCode)
			}
			if n := testutil.ToFloat64(h.svc.m.rateLimited.WithLabelValues("sensor-http", rateRefused)); n != burst {
				t.Errorf("rate_limited{refused} = %v, want %d", n, burst)
			}
			if n := waitRaw(t, h.env.JS, quietIP, 50, 5*time.Second); n != 50 {
				t.Errorf("%d quiet documents, want 50", n)
			}
			if n := waitRaw(t, h.env.JS, noisyIP, burst, 5*time.Second); n != burst {
				t.Errorf("%d noisy documents, want %d", n, burst)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.run(t, start(t, nil, cfg))
		})
	}
}

// streamLimited sends from a noisy and a quiet sender to a tcp or tls
// listener limited to rateLimitTest: the noisy one is not read beyond its
// rate and loses nothing, the quiet one is not slowed down.
func streamLimited(t *testing.T, h *harness, listener string, dial func(ip string) net.Conn) {
	const rate, burst = rateLimitTest, rateLimitTest
	line := func(i int) string { return fmt.Sprintf("%s seq=%d", line3164, i) }
	const noisy = 5 * burst // 4 s at the rate after the burst
	nc := dial(noisyIP)
	var b strings.Builder
	for i := range noisy {
		b.WriteString(line(i) + "\n")
	}
	start := time.Now()
	if _, err := io.WriteString(nc, b.String()); err != nil {
		t.Fatal(err)
	}
	waitRaw(t, h.env.JS, noisyIP, burst, 5*time.Second)
	// The quiet neighbour sends while the noisy one is held back.
	qc := dial(quietIP)
	const quiet = burst / 2
	for i := range quiet {
		if _, err := io.WriteString(qc, line(i)+"\n"); err != nil {
			t.Fatal(err)
		}
	}
	if n := waitRaw(t, h.env.JS, quietIP, quiet, 10*time.Second); n != quiet {
		t.Errorf("%d quiet records, want %d", n, quiet)
	}
	if got := rawByPeerIP(t, h.env.JS)[noisyIP]; float64(got) > burst+rate*time.Since(start).Seconds()+rate/10 {
		t.Errorf("%d noisy records after %v: more than burst + rate", got, time.Since(start))
	}
	if n := waitRaw(t, h.env.JS, noisyIP, noisy, 15*time.Second); n != noisy {
		t.Errorf("%d noisy records, want %d: lost under backpressure", n, noisy)
	}
	// The receipt times tell, independently of the machine's load:
	// a sender held to the rate has its records after the burst
	// received at least 1/rate apart; the quiet one's records were
	// read without waiting (a shared bucket would space them too).
	times := rawReceived(t, h.env.JS)
	if d, min := spread(times[noisyIP]), time.Duration(float64(noisy-burst-1)/rate*float64(time.Second)); d < min*95/100 {
		t.Errorf("the noisy sender's %d records were received within %v, want at least %v at %d/s", noisy, d, min, rate)
	}
	if d, limited := spread(times[quietIP]), time.Duration(float64(quiet-1)/rate*float64(time.Second)); d >= limited {
		t.Errorf("the quiet sender's %d records were received within %v, as slow as the rate limit (%v)", quiet, d, limited)
	}
	if n := testutil.ToFloat64(h.svc.m.rateLimited.WithLabelValues(listener, rateDelayed)); n == 0 {
		t.Error("no record counted as delayed")
	}
}

// TestMaxConnsPerPeer opens more connections from one peer than
// max_conns_per_peer allows: the extra one is closed at once and counted,
// and another peer still connects.
func TestMaxConnsPerPeer(t *testing.T) {
	for _, proto := range []string{ProtoTCP, ProtoHTTP} {
		t.Run(proto, func(t *testing.T) {
			cfg := testConfig()
			lc := ListenerConfig{Name: "limited", Proto: proto, Addr: "127.0.0.1:0", Site: "demo-plant", MaxConnsPerPeer: 2}
			if proto == ProtoHTTP {
				lc.HTTP = &HTTPConfig{Tokens: []string{testToken}}
			}
			cfg.Listeners = append(cfg.Listeners, lc)
			h := start(t, nil, cfg)
			addr := h.addr("limited")
			dialFrom(t, "tcp", noisyIP, addr)
			dialFrom(t, "tcp", noisyIP, addr)
			h.waitMetric(h.svc.m.tcpConns.WithLabelValues("limited"), 2)
			third := dialFrom(t, "tcp", noisyIP, addr)
			_ = third.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := third.Read(make([]byte, 1)); !errors.Is(err, io.EOF) && !isReset(err) {
				t.Errorf("connection over max_conns_per_peer: read err %v, want EOF", err)
			}
			h.waitMetric(h.svc.m.peerRejected.WithLabelValues("limited"), 1)
			dialFrom(t, "tcp", quietIP, addr)
			h.waitMetric(h.svc.m.tcpConns.WithLabelValues("limited"), 3)
			if n := testutil.ToFloat64(h.svc.m.peerRejected.WithLabelValues("limited")); n != 1 {
				t.Errorf("%v connections rejected, want 1 (the other peer is not limited)", n)
			}
		})
	}
}

// BenchmarkPeerLimiter measures the per-record cost of a rate_limit on
// the TCP path (reserve on the connection's bucket) and the UDP path (a
// bucket lookup by peer IP per datagram, then allow).
func BenchmarkPeerLimiter(b *testing.B) {
	p := newPeerLimiter(&RateLimitConfig{EventsPerSecond: 1e12, Burst: 1 << 30})
	now := time.Now()
	b.Run("tcp", func(b *testing.B) {
		bk := p.get("10.0.0.1", now)
		b.ReportAllocs()
		for b.Loop() {
			p.reserve(bk, now)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lookups/s")
	})
	b.Run("udp", func(b *testing.B) {
		peers := make([]string, 256)
		for i := range peers {
			peers[i] = fmt.Sprintf("10.0.%d.%d", i/250, i%250)
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			p.allow(p.get(peers[i%len(peers)], now), 1, now)
			i++
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lookups/s")
	})
}
