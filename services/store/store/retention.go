package store

import (
	"context"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/c981/c981/services/store/chstore"
)

// retains reports whether any table has a retention period.
func (s *Service) retains() bool {
	for _, days := range s.cfg.Retention {
		if days > 0 {
			return true
		}
	}
	return false
}

// retain drops the expired day partitions at start and then every
// RetentionInterval until ctx ends. A failed run is logged and counted;
// the next run retries it (dropping partitions is idempotent).
func (s *Service) retain(ctx context.Context, conn driver.Conn) {
	t := time.NewTicker(s.cfg.RetentionInterval)
	defer t.Stop()
	for {
		s.retainOnce(ctx, conn)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// retainOnce runs one retention pass.
func (s *Service) retainOnce(ctx context.Context, conn driver.Conn) {
	now := s.now()
	dropped, err := chstore.EnforceRetention(ctx, conn, s.cfg.Retention, now)
	for _, p := range dropped {
		s.m.retentionParts.WithLabelValues(p.Table).Inc()
		s.m.retentionRows.WithLabelValues(p.Table).Add(float64(p.Rows))
		s.log.Info("retention dropped a day partition", "table", p.Table, "day", p.Day.Format(time.DateOnly),
			"rows", p.Rows, "bytes", p.Bytes, "keep_days", s.cfg.Retention.Days(p.Table))
	}
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		s.m.retentionRuns.WithLabelValues("error").Inc()
		s.log.Error("retention run failed; retrying at the next run", "err", err, "next_in", s.cfg.RetentionInterval)
		return
	}
	s.m.retentionRuns.WithLabelValues("ok").Inc()
}
