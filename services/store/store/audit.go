package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/store/chstore"
)

// AuditStream is the JetStream stream of the response audit chains. The
// respond stage creates it (services/respond/audit.OpenLog) and owns its
// configuration (file storage, no age limit, deny delete and purge).
const AuditStream = bus.StreamAudit

// ConsumerStoreAudit is the store's durable consumer on AuditStream.
const ConsumerStoreAudit = "store-audit"

// auditTable is the writer of the audit table. The store does not create
// AuditStream: it waits for respond to create it (waitStream), so that the
// stream's configuration has a single owner and the other tables are
// stored meanwhile.
func auditTable() table {
	return table{
		name: chstore.TableAudit, stream: AuditStream, durable: ConsumerStoreAudit, columns: chstore.AuditColumns,
		decode: decodeAudit, waitStream: true,
	}
}

// decodeAudit decodes one audit message: a single JSON record (respond
// publishes one record per message, without an encoding header).
func decodeAudit(data []byte) ([]record, error) {
	var r chstore.AuditRecord
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("audit record: %w", err)
	}
	row, err := chstore.AuditRow(&r)
	rows, err := one(row, err)
	return []record{{id: r.ID, site: r.Site, source: r.Actor, rows: rows, err: err, orig: &r}}, nil
}

// awaitConsumer creates t's durable consumer, retrying with backoff while
// its stream does not exist yet (not unhealthy: respond may not run yet) or
// the creation fails otherwise (unhealthy until it succeeds). It returns
// nil when ctx ends first; it never fails the other writers.
func (s *Service) awaitConsumer(ctx context.Context, t table) jetstream.Consumer {
	b := backoff{min: s.cfg.RetryMin, max: s.cfg.RetryMax}
	for {
		cons, err := s.deps.JS.CreateOrUpdateConsumer(ctx, t.stream, s.consumerConfig(t.durable))
		if err == nil {
			s.setHealth(t.name, nil)
			return cons
		}
		if ctx.Err() != nil {
			return nil
		}
		switch {
		case errors.Is(err, jetstream.ErrStreamNotFound):
			if b.cur == 0 {
				s.log.Info("stream not created yet; waiting", "stream", t.stream, "table", t.name)
			}
		default:
			// Denied (NATS permissions without store-audit) or the server
			// is away: the other tables keep being stored; Health reports it.
			err = fmt.Errorf("create consumer %s on %s: %w", t.durable, t.stream, err)
			s.setHealth(t.name, err)
			s.log.Warn("cannot create consumer; retrying", "table", t.name, "err", err, "retry_in", b.next())
		}
		if !b.wait(ctx) {
			return nil
		}
	}
}
