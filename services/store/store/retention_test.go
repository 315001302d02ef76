package store

import (
	"fmt"
	"testing"
	"time"

	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/store/chstore"
)

// TestRetentionRuns stores events back-dated over five days through the
// stage and checks that its scheduled retention drops the day partitions
// older than the events table's two days, and only those.
func TestRetentionRuns(t *testing.T) {
	e := newEnv(t)
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	for day := range 5 {
		evs := demoEvents(day, 20)
		for i := range evs {
			evs[i].Time = now.AddDate(0, 0, -day).Add(-time.Duration(i) * time.Second)
		}
		publish(t, e.bus.JS, bus.EventsSubject(site), fmt.Sprintf("day-%d", day), evs)
	}
	cfg := e.config(e.addr)
	cfg.Retention = chstore.Retention{chstore.TableEvents: 2, chstore.TableAlerts: 1}
	cfg.RetentionInterval = 100 * time.Millisecond
	reg := e.start(t, cfg, nil, nil, nil, func(s *Service) { s.now = func() time.Time { return now } })
	// The first run may precede the inserts; later runs drop what arrived.
	e.waitDrained(t, 30*time.Second)
	eventually(t, 10*time.Second, func() (bool, string) {
		n := e.count(t, "SELECT count() FROM events")
		return n == 60, fmt.Sprintf("%d events; want 60 (today and the two days before)", n)
	})
	if n := e.count(t, "SELECT count() FROM events WHERE toDate(time) < '2026-11-24'"); n != 0 {
		t.Errorf("%d events older than the cutoff remain", n)
	}
	m := reg.svc.m
	// The metrics follow once the run has dropped every expired partition
	// (event_grams' too).
	eventually(t, 10*time.Second, func() (bool, string) {
		got := counter(m.retentionParts.WithLabelValues(chstore.TableEvents))
		return got == 2, fmt.Sprintf("retention_dropped_partitions_total{events} = %v; want 2", got)
	})
	// event_grams is written by the writer after each events insert; its
	// partitions are dropped in the same or a later run.
	eventually(t, 10*time.Second, func() (bool, string) {
		got := counter(m.retentionParts.WithLabelValues(chstore.TableEventGrams))
		return got == 2, fmt.Sprintf("retention_dropped_partitions_total{event_grams} = %v; want 2", got)
	})
	if got := counter(m.retentionRows.WithLabelValues(chstore.TableEvents)); got != 40 {
		t.Errorf("retention_dropped_rows_total{events} = %v; want 40", got)
	}
	if got := counter(m.retentionRuns.WithLabelValues("error")); got != 0 {
		t.Errorf("retention_runs_total{error} = %v; want 0", got)
	}
	if got := counter(m.retentionRuns.WithLabelValues("ok")); got < 2 {
		t.Errorf("retention_runs_total{ok} = %v; want at least 2", got)
	}
}
