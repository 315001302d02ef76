package console

import (
	"fmt"
	"testing"
	"time"
)

func TestLimiters(t *testing.T) {
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	l := newLimiters(RateLimitConfig{PerSecond: 2, Burst: 2})
	for i, want := range []bool{true, true, false} {
		if ok, _ := l.allow("a", now); ok != want {
			t.Fatalf("request %d: allowed %v, want %v", i, ok, want)
		}
	}
	if ok, wait := l.allow("a", now); ok || wait <= 0 || wait > time.Second {
		t.Errorf("empty bucket: allowed %v, wait %s; want a wait of at most 1s", ok, wait)
	}
	if ok, _ := l.allow("b", now); !ok {
		t.Error("another key shares the bucket")
	}
	if ok, _ := l.allow("a", now.Add(500*time.Millisecond)); !ok {
		t.Error("no token after the refill time")
	}

	t.Run("eviction bounds the keys", func(t *testing.T) {
		l := newLimiters(RateLimitConfig{PerSecond: 1, Burst: 1})
		for i := range maxLimiters {
			l.allow(fmt.Sprint(i), now)
		}
		// All buckets are fresh: a new key clears them.
		l.allow("new", now)
		if n := len(l.buckets); n != 1 {
			t.Errorf("%d buckets after eviction of fresh ones, want 1", n)
		}
		for i := range maxLimiters - 1 {
			l.allow(fmt.Sprint(i), now)
		}
		// Later, the idle (refilled) ones are dropped, the busy one kept.
		later := now.Add(2 * time.Second)
		l.allow("busy", later.Add(-time.Millisecond))
		l.allow("newer", later)
		if _, ok := l.buckets["busy"]; !ok || len(l.buckets) != 2 {
			t.Errorf("%d buckets, busy kept %v; want busy and newer", len(l.buckets), ok)
		}
	})
}
