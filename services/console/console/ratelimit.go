package console

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// maxLimiters bounds the callers tracked by a limiter set; when it is full
// the idle buckets are dropped (a dropped bucket restarts full).
const maxLimiters = 10000

// limiters holds one token bucket per caller key.
type limiters struct {
	perSecond rate.Limit
	burst     int

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	lim  *rate.Limiter
	last time.Time
}

func newLimiters(cfg RateLimitConfig) *limiters {
	return &limiters{perSecond: rate.Limit(cfg.PerSecond), burst: cfg.Burst, buckets: map[string]*bucket{}}
}

// allow takes a token from key's bucket at now; when there is none it
// returns false and how long until one is available.
func (l *limiters) allow(key string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= maxLimiters {
			l.evict(now)
		}
		b = &bucket{lim: rate.NewLimiter(l.perSecond, l.burst)}
		l.buckets[key] = b
	}
	b.last = now
	r := b.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// evict drops the buckets that have refilled (idle long enough to be full
// again), or all of them when none has.
func (l *limiters) evict(now time.Time) {
	refill := time.Duration(float64(l.burst) / float64(l.perSecond) * float64(time.Second))
	for k, b := range l.buckets {
		if now.Sub(b.last) >= refill {
			delete(l.buckets, k)
		}
	}
	if len(l.buckets) >= maxLimiters {
		clear(l.buckets)
	}
}
