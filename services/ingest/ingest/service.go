package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/shared/event"
	"github.com/c981/c981/services/shared/stage"
)

// Deps are the stage's collaborators (see package stage).
type Deps = stage.Deps

// Service is the ingest service. Build it with New and run it with Run.
type Service struct {
	cfg       Config
	js        jetstream.JetStream
	log       *slog.Logger
	m         *metrics
	listeners []*listener
	queue     chan item
	budget    *byteBudget // bytes of the queued records (QueueBytes)
	ready     chan struct{}
	// abort is closed when ShutdownTimeout has passed after the context
	// ended: readers blocked on the full queue give up.
	abort   chan struct{}
	running atomic.Bool

	mu    sync.Mutex
	addrs map[string]string

	// enricher, when set (EnrichWith), enriches every batch before it is
	// published to C981_EVENTS.
	enricher Enricher

	// published counts the events published (for the log at shutdown).
	published atomic.Int64
}

// Enricher enriches a batch of parsed events in place, with the site
// model, before ingest publishes it: enrich.Service.EnrichInline, wired by
// the all-in-one run so that events cross one stream (C981_EVENTS) instead
// of two. It must be safe for concurrent use.
type Enricher interface {
	EnrichInline(evs []event.Event)
}

// EnrichWith makes the service enrich every batch with e before publishing
// it and publish the enriched batches to C981_EVENTS (bus.EventsSubject of
// the listener's site) instead of the parsed ones to C981_RAW. A batch is
// enriched once, before its first publish attempt, so a retried publish
// sends the same bytes under the same message id. Call it before Run.
func (s *Service) EnrichWith(e Enricher) { s.enricher = e }

// enrich enriches a batch about to be published, when the service
// enriches inline (EnrichWith).
func (s *Service) enrich(evs []event.Event) {
	if s.enricher != nil {
		s.enricher.EnrichInline(evs)
	}
}

// item is one received record on its way to the publisher: an event, or a
// dead letter when it could not be parsed. It holds both by pointer: an
// Event is over 1 KiB, and copying it by value from the parser into the
// item, the queue and the batch cost more than framing the record (see
// queuedEvent).
type item struct {
	l *listener
	r *route
	// ev is the parsed record (nil for a dead letter), taken from
	// queuedEvent: the publisher copies it into its batch and gives it
	// back with releaseQueued.
	ev *event.Event
	// dl, when not nil, is the dead letter of a record that could not be
	// used.
	dl *event.DeadLetter
	// cost is the item's reservation in Service.budget, released by the
	// publisher once the item is published.
	cost int64
}

// costOf is the budget cost of it (see recordCost).
func costOf(it *item) int64 {
	switch {
	case it.dl != nil:
		return recordCost(len(it.dl.Payload) + len(it.dl.Reason))
	case it.ev != nil:
		return recordCost(len(it.ev.Raw))
	}
	return recordCost(0)
}

// queuedEvents holds the emptied Events of items the publisher has
// copied into a batch (*event.Event), for the listeners to parse the next
// records into.
var queuedEvents = sync.Pool{New: func() any { return new(event.Event) }}

// queuedEvent returns an Event for a listener to parse a record into and
// queue (item.ev). It is zero, or at least holds nothing still in use:
// releaseQueued empties it.
func queuedEvent() *event.Event { return queuedEvents.Get().(*event.Event) }

// releaseQueued empties ev (emptyQueued), once its record was copied
// into a batch or was not queued, and keeps it for a next record. It must
// be called once per queuedEvent: an Event kept twice would be handed to
// two listeners.
func releaseQueued(ev *event.Event) {
	emptyQueued(ev)
	queuedEvents.Put(ev)
}

// emptyQueued makes ev zero, releasing what its record referenced: the
// batch's copy owns the field storage and Techniques array now
// (recycleFields recycles them), and a kept Event must not keep the
// record's strings alive.
func emptyQueued(ev *event.Event) { *ev = event.Event{} }

// New validates cfg (after applying defaults) and builds the service. It
// does not bind any socket; Run does.
func New(cfg Config, deps Deps) (*Service, error) {
	cfg.Listeners = append([]ListenerConfig(nil), cfg.Listeners...)
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("ingest config: %w", err)
	}
	if deps.JS == nil {
		return nil, errors.New("ingest: Deps.JS is required")
	}
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	if deps.Registry == nil {
		deps.Registry = prometheus.NewRegistry()
	}
	s := &Service{
		cfg:    cfg,
		js:     deps.JS,
		log:    deps.Logger.With("stage", bus.StageIngest),
		queue:  make(chan item, cfg.QueueSize),
		budget: newByteBudget(int64(cfg.QueueBytes)),
		ready:  make(chan struct{}),
		abort:  make(chan struct{}),
		addrs:  map[string]string{},
	}
	m, err := newMetrics(deps.Registry, func() float64 { return float64(len(s.queue)) }, func() float64 { return float64(s.budget.inUse()) }, kernelDrops{
		s: s,
		desc: prometheus.NewDesc("c981_ingest_udp_kernel_drops_total",
			"Datagrams the kernel dropped for a UDP listener's socket (receive buffer full), from /proc/net/udp; Linux only.",
			[]string{"listener"}, nil),
	})
	if err != nil {
		return nil, err
	}
	s.m = m
	for _, lc := range cfg.Listeners {
		l, err := newListener(s, lc)
		if err != nil {
			return nil, err
		}
		s.listeners = append(s.listeners, l)
	}
	return s, nil
}

// Ready is closed once every listener is bound; Addrs is valid from then on.
func (s *Service) Ready() <-chan struct{} { return s.ready }

// Addrs returns each listener's name and actual bound address (so an addr
// with port 0 reveals its port). It is empty before Ready is closed.
func (s *Service) Addrs() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.addrs)
}

// Run binds the listeners, receives, parses and publishes until ctx ends,
// then stops the listeners, publishes what is queued and returns. It
// returns an error when a listener cannot be bound, or when records were
// still unpublished after ShutdownTimeout. Run may be called once.
func (s *Service) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return errors.New("ingest: Run called twice")
	}
	boot := strconv.FormatInt(time.Now().UnixNano(), 10)
	for i, l := range s.listeners {
		if err := l.bind(boot); err != nil {
			for _, b := range s.listeners[:i] {
				b.close()
			}
			return err
		}
		s.mu.Lock()
		s.addrs[l.cfg.Name] = l.addr
		s.mu.Unlock()
		s.log.Info("listening", "listener", l.cfg.Name, "proto", l.cfg.Proto, "addr", l.addr, "site", l.cfg.Site, "format", l.cfg.Format)
	}
	close(s.ready)

	// The publisher's context outlives ctx by ShutdownTimeout so that the
	// queued records can still be published.
	pubCtx, cancelPub := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelPub()
	pub := newPublisher(s)
	pubDone := make(chan struct{})
	go func() {
		defer close(pubDone)
		pub.run(pubCtx)
	}()

	var wg sync.WaitGroup
	for _, l := range s.listeners {
		wg.Go(func() { l.serve(ctx) })
	}
	<-ctx.Done()
	s.log.Info("shutting down: stopping listeners and publishing queued records", "queued", len(s.queue))
	deadline := time.AfterFunc(s.cfg.ShutdownTimeout, func() {
		close(s.abort)
		cancelPub()
	})
	defer deadline.Stop()
	for _, l := range s.listeners {
		l.close()
	}
	wg.Wait()
	close(s.queue)
	<-pubDone
	if lost := pub.lost.Load(); lost > 0 {
		return fmt.Errorf("ingest: %d records not published within shutdown timeout %s", lost, s.cfg.ShutdownTimeout)
	}
	s.log.Info("stopped", "published", s.published.Load())
	return nil
}

// enqueue hands a record to the publisher within the queue's two bounds,
// QueueSize records and QueueBytes bytes. With block (TCP, TLS, HTTP, NATS
// requests) it waits for room, pushing back on the sender; without (UDP) a
// full queue drops the record and counts it. It returns false when the
// record was not queued.
func (s *Service) enqueue(it item, block bool) bool {
	it.cost = costOf(&it)
	if block {
		if !s.budget.acquire(it.cost, s.abort) {
			s.m.dropped.WithLabelValues(it.l.cfg.Name, dropShutdown).Inc()
			return false
		}
		select {
		case s.queue <- it:
			return true
		default:
		}
		select {
		case s.queue <- it:
			return true
		case <-s.abort:
			s.budget.release(it.cost)
			s.m.dropped.WithLabelValues(it.l.cfg.Name, dropShutdown).Inc()
			return false
		}
	}
	if s.budget.tryAcquire(it.cost) {
		select {
		case s.queue <- it:
			return true
		default:
			s.budget.release(it.cost)
		}
	}
	s.m.dropped.WithLabelValues(it.l.cfg.Name, dropQueueFull).Inc()
	return false
}

// room reports whether records of the given total raw size, n of them,
// fit into the queue now (both bounds). HTTP and NATS requests are all or
// nothing: without room they are refused (429, "busy") and retried.
func (s *Service) room(n int, rawBytes int) bool {
	return cap(s.queue)-len(s.queue) >= n && s.budget.fits(int64(n)*itemOverhead+2*int64(rawBytes))
}
