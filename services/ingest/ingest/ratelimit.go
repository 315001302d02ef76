package ingest

import (
	"math"
	"net"
	"net/netip"
	"sync"
	"time"
)

// RateLimitConfig is a per-sender token bucket of a listener.
//
//	rate_limit: {events_per_second: 5000, burst: 10000}
//
// Every sender (peer IP for udp, tcp and tls; bearer token and peer IP for
// http) has its own bucket of Burst tokens refilled at EventsPerSecond; a
// record takes one token. Over the limit, TCP and TLS stop reading from
// the connection until tokens are available (backpressure: the sender is
// slowed down by TCP itself, nothing is lost), UDP drops the record and
// counts it, HTTP answers 429 with Retry-After. Other senders keep their
// own buckets and are not affected.
type RateLimitConfig struct {
	// EventsPerSecond is the sustained rate per sender; required.
	EventsPerSecond float64 `yaml:"events_per_second"`
	// Burst is the bucket size, the records a quiet sender may send at
	// once; default one second's worth (EventsPerSecond, at least 1).
	Burst int `yaml:"burst"`
}

// maxRatePeers bounds the senders with a bucket of their own per listener;
// beyond it (e.g. spoofed UDP sources) idle buckets are evicted, and when
// none is idle the further senders share one overflow bucket, so the
// memory stays bounded.
const maxRatePeers = 65536

// Actions of c981_ingest_rate_limited_total.
const (
	rateDelayed = "delayed" // tcp, tls: the record waited for a token (backpressure)
	rateDropped = "dropped" // udp: the record was dropped
	rateRefused = "refused" // http: the documents of a 429 answer
)

// bucket is one sender's token bucket. tokens may go negative: a TCP
// reader takes its token at once and waits for the debt to be repaid.
type bucket struct {
	mu     sync.Mutex
	tokens float64
	last   time.Time
}

// peerLimiter holds the buckets of one listener's senders.
type peerLimiter struct {
	rate, burst float64

	mu        sync.Mutex
	peers     map[string]*bucket
	overflow  *bucket
	lastSweep time.Time
}

// newPeerLimiter returns nil (no limit) for a nil config.
func newPeerLimiter(c *RateLimitConfig) *peerLimiter {
	if c == nil {
		return nil
	}
	return &peerLimiter{
		rate: c.EventsPerSecond, burst: float64(c.Burst),
		peers:    map[string]*bucket{},
		overflow: &bucket{tokens: float64(c.Burst)},
	}
}

// get returns the bucket of a sender, creating it full.
func (p *peerLimiter) get(key string, now time.Time) *bucket {
	p.mu.Lock()
	defer p.mu.Unlock()
	if b, ok := p.peers[key]; ok {
		return b
	}
	if len(p.peers) >= maxRatePeers {
		if now.Sub(p.lastSweep) < time.Second {
			return p.overflow
		}
		p.lastSweep = now
		p.sweep(now)
		if len(p.peers) >= maxRatePeers {
			return p.overflow
		}
	}
	b := &bucket{tokens: p.burst, last: now}
	p.peers[key] = b
	return b
}

// sweep drops the buckets that have refilled completely: their senders
// were idle long enough that a new full bucket is the same. Called with
// p.mu held.
func (p *peerLimiter) sweep(now time.Time) {
	for k, b := range p.peers {
		b.mu.Lock()
		full := b.tokens+now.Sub(b.last).Seconds()*p.rate >= p.burst
		b.mu.Unlock()
		if full {
			delete(p.peers, k)
		}
	}
}

// refill adds the tokens earned since b.last; called with b.mu held.
func (p *peerLimiter) refill(b *bucket, now time.Time) {
	if d := now.Sub(b.last); d > 0 {
		b.tokens = math.Min(p.burst, b.tokens+d.Seconds()*p.rate)
	}
	b.last = now
}

// allow takes n tokens if the bucket holds them; otherwise it takes none
// and returns how long until it will.
func (p *peerLimiter) allow(b *bucket, n int, now time.Time) (bool, time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	p.refill(b, now)
	if b.tokens >= float64(n) {
		b.tokens -= float64(n)
		return true, 0
	}
	return false, p.until(b.tokens, float64(n))
}

// reserve takes one token, going into debt if needed, and returns how long
// the caller must wait before using it (0 when a token was available).
func (p *peerLimiter) reserve(b *bucket, now time.Time) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	p.refill(b, now)
	b.tokens--
	if b.tokens >= 0 {
		return 0
	}
	return p.until(b.tokens, 0)
}

// until is the time for a bucket at tokens to reach want.
func (p *peerLimiter) until(tokens, want float64) time.Duration {
	return time.Duration((want - tokens) / p.rate * float64(time.Second))
}

// peerIP returns the IP of a host:port peer address (the address itself
// when it has no port), the key of per-peer limits.
func peerIP(addr string) string {
	if ap, err := netip.ParseAddrPort(addr); err == nil {
		return ap.Addr().Unmap().String()
	}
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}
