package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/c981/c981/schemas"
	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/store/chstore"
)

// Deps are the store's collaborators.
type Deps struct {
	// JS is the JetStream handle the consumers are created on (required).
	JS jetstream.JetStream
	// Conn is the ClickHouse connection; when nil, Run opens one from
	// Config.ClickHouse (retrying until the server answers) and closes it
	// on exit. A Conn passed in is not closed.
	Conn driver.Conn
	// Migrations are the NNNN_name.sql files applied at start; nil means
	// the ones embedded in the binary (Migrations()).
	Migrations fs.FS
	// Logger receives the stage's logs; nil means slog.Default().
	Logger *slog.Logger
	// Registry receives the c981_store_* metrics; nil means a private
	// registry.
	Registry prometheus.Registerer
}

// Migrations returns the ClickHouse migrations embedded in the binary
// (schemas/clickhouse/NNNN_name.sql) as a file system with the files at its
// root, the form chstore.Migrate expects.
func Migrations() fs.FS {
	sub, err := fs.Sub(schemas.ClickHouse, "clickhouse")
	if err != nil {
		// fs.Sub only fails for an invalid path literal.
		panic(fmt.Sprintf("schemas.ClickHouse: %v", err))
	}
	return sub
}

// Service is the store stage.
type Service struct {
	cfg  Config
	deps Deps
	log  *slog.Logger
	m    *metrics

	mu        sync.Mutex
	unhealthy map[string]error // table -> last insert error while retrying

	// afterInsert, when set (tests), runs after a batch's rows are durable
	// and before its messages are acknowledged; an error stops Run as a
	// crash would, leaving the messages unacknowledged.
	afterInsert func(table string) error
	// now is the clock of the retention runs (time.Now; tests move it).
	now func() time.Time
	// gramDeltaEvery is the period of the text index's count deltas
	// (gramDeltaEvery; tests shorten it).
	gramDeltaEvery time.Duration
}

// New validates cfg (after applying defaults) and builds the service.
func New(cfg Config, deps Deps) (*Service, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("store config: %w", err)
	}
	if deps.JS == nil {
		return nil, errors.New("store: Deps.JS is required")
	}
	if deps.Migrations == nil {
		deps.Migrations = Migrations()
	}
	log := deps.Logger
	if log == nil {
		log = slog.Default()
	}
	reg := deps.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	return &Service{cfg: cfg, deps: deps, log: log.With("stage", bus.StageStore), m: m, unhealthy: map[string]error{}, now: time.Now, gramDeltaEvery: gramDeltaEvery}, nil
}

// Health returns nil while ClickHouse is reachable and every table's inserts
// succeed, or the errors of the connection attempt or of the tables
// currently retrying an insert (for a readiness check).
func (s *Service) Health() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for t, err := range s.unhealthy {
		errs = append(errs, fmt.Errorf("%s: %w", t, err))
	}
	return errors.Join(errs...)
}

func (s *Service) setHealth(table string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil {
		delete(s.unhealthy, table)
	} else {
		s.unhealthy[table] = err
	}
}

// consumerConfig is the durable consumer of one writer. Its MaxDeliver is
// unlimited, unlike the other stages' (bus.DefaultMaxDeliver): the writer
// never relies on redelivery to give up on a message. It dead-letters
// undecodable messages and rows ClickHouse rejects itself, and retries a
// transient failure in place, keeping the batch leased with InProgress; a
// message is redelivered only after a shutdown or crash, and a delivery
// limit would turn repeated restarts during a long ClickHouse outage into
// silent loss (the dead letter of a final delivery would itself need
// ClickHouse).
func (s *Service) consumerConfig(durable string) jetstream.ConsumerConfig {
	return bus.ConsumerConfig(durable, s.cfg.MaxAckPending, s.cfg.AckWait, bus.WithMaxDeliver(-1))
}

// Run creates the durable consumers (the audit writer's once respond has
// created C981_AUDIT, without holding up the other writers), connects to
// ClickHouse and applies the migrations (both retried with backoff while the server is unreachable),
// then runs one writer per table until ctx ends. It returns nil on a clean
// shutdown and an error when setup fails for good (consumers cannot be
// created, the database schema is newer than the binary, a migration is
// rejected) or a writer fails.
func (s *Service) Run(ctx context.Context) error {
	tabs := append(tables(), auditTable())
	conss := make([]jetstream.Consumer, len(tabs))
	for i, t := range tabs {
		if t.waitStream {
			continue // created by its writer once the stream exists
		}
		cons, err := s.deps.JS.CreateOrUpdateConsumer(ctx, t.stream, s.consumerConfig(t.durable))
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("store: create consumer %s on %s: %w", t.durable, t.stream, err)
		}
		conss[i] = cons
	}

	conn := s.deps.Conn
	if conn == nil {
		c, err := s.open(ctx)
		if err != nil {
			return err
		}
		if c == nil { // ctx ended
			return nil
		}
		conn = c
		defer func() { _ = conn.Close() }()
	}
	if !s.cfg.SkipMigrate {
		if err := s.migrate(ctx, conn); err != nil {
			return err
		}
		if ctx.Err() != nil {
			return nil
		}
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	errs := make([]error, len(tabs))
	for i, t := range tabs {
		w := &writer{svc: s, t: t, cons: conss[i], conn: conn, log: s.log.With("table", t.name)}
		if t.name == chstore.TableEvents {
			w.idx, w.grams = newTextIndex(time.Now(), s.gramDeltaEvery), newGramCounter()
		}
		wg.Go(func() {
			if w.cons == nil {
				if w.cons = s.awaitConsumer(ctx, t); w.cons == nil { // ctx ended
					return
				}
			}
			if err := w.run(ctx); err != nil {
				errs[i] = fmt.Errorf("store %s: %w", t.name, err)
				cancel(errs[i])
			}
		})
	}
	if s.retains() {
		wg.Go(func() { s.retain(ctx, conn) })
	}
	var triageErr error // triage bucket -> incident_triage, incident_changes (triage.go)
	wg.Go(func() {
		if triageErr = s.runTriage(ctx, conn); triageErr != nil {
			cancel(triageErr)
		}
	})
	s.log.Info("store running", "tables", len(tabs), "batch_rows", s.cfg.BatchRows, "batch_wait", s.cfg.BatchWait)
	wg.Wait()
	return errors.Join(append(errs, triageErr)...)
}

// open connects to ClickHouse, retrying with backoff until it answers; it
// returns nil, nil when ctx ends first.
func (s *Service) open(ctx context.Context) (driver.Conn, error) {
	b := backoff{min: s.cfg.RetryMin, max: s.cfg.RetryMax}
	for {
		conn, err := chstore.Open(ctx, s.cfg.ClickHouse)
		if err == nil {
			s.setHealth("clickhouse", nil)
			return conn, nil
		}
		if isPermanent(err) {
			return nil, fmt.Errorf("store: %w", err)
		}
		s.setHealth("clickhouse", err)
		s.log.Warn("clickhouse unavailable; retrying", "err", err, "retry_in", b.next())
		if !b.wait(ctx) {
			return nil, nil
		}
	}
}

// migrate applies the migrations, retrying while the server is unreachable.
func (s *Service) migrate(ctx context.Context, conn driver.Conn) error {
	b := backoff{min: s.cfg.RetryMin, max: s.cfg.RetryMax}
	for {
		err := chstore.Migrate(ctx, conn, s.deps.Migrations)
		if err == nil {
			s.setHealth("clickhouse", nil)
			return nil
		}
		if ctx.Err() != nil {
			return nil
		}
		if isPermanent(err) {
			return fmt.Errorf("store: migrate: %w", err)
		}
		s.setHealth("clickhouse", err)
		s.log.Warn("migrate: clickhouse unavailable; retrying", "err", err, "retry_in", b.next())
		if !b.wait(ctx) {
			return nil
		}
	}
}

// isPermanent reports whether a setup error cannot be cured by waiting: the
// server answered with an exception (unknown database, bad migration,
// access denied) or the schema is newer than the binary. Network errors are
// not permanent.
func isPermanent(err error) bool {
	if errors.Is(err, chstore.ErrNewerSchema) {
		return true
	}
	var ex *clickhouse.Exception
	return errors.As(err, &ex)
}

// backoff is a capped exponential backoff.
type backoff struct {
	min, max, cur time.Duration
}

// next returns the delay the following wait will use.
func (b *backoff) next() time.Duration {
	if b.cur == 0 {
		return b.min
	}
	return b.cur
}

// wait sleeps for the next delay and doubles it (up to max); it returns
// false when ctx ends first.
func (b *backoff) wait(ctx context.Context) bool {
	d := b.next()
	b.cur = min(d*2, b.max)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
