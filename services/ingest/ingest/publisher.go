package ingest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/shared/event"
)

// batch collects the events of one route, i.e. one (site, source).
type batch struct {
	r        *route
	evs      []event.Event
	bytes    int
	cost     int64 // budget reservation of evs
	deadline time.Time
}

// publisher drains the queue into batches in one goroutine (run) and
// hands full or due batches to PublishWorkers goroutines, which encode and
// publish them concurrently, each retrying its batch with the same message
// id until JetStream acknowledges it. At most 2*PublishWorkers batches are
// in flight (one per worker and one waiting per worker); when all workers
// are busy, run blocks, the queue fills and the listeners push back. The
// order of batches on a subject is therefore not guaranteed; events carry
// their own time and id.
type publisher struct {
	s       *Service
	batches map[*route]*batch
	dls     []event.DeadLetter // owned by run
	dlCost  int64              // budget reservation of dls
	dlSince time.Time
	timer   *time.Timer
	jobs    chan job
	// free recycles the event slices of published batches: a batch
	// holds up to MaxBatch events of ~1 KiB, and growing a new slice
	// event by event for every batch cost more allocation than parsing.
	free      chan []event.Event
	workers   sync.WaitGroup
	published atomic.Int64
	lost      atomic.Int64
}

// job is one batch handed to a publish worker.
type job struct {
	r    *route
	evs  []event.Event
	cost int64
}

func newPublisher(s *Service) *publisher {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &publisher{
		s: s, batches: map[*route]*batch{}, timer: t,
		jobs: make(chan job, s.cfg.PublishWorkers),
		free: make(chan []event.Event, 2*s.cfg.PublishWorkers+1),
	}
}

// startWorkers starts the publish workers; they stop when jobs is closed.
func (p *publisher) startWorkers(ctx context.Context) {
	for range p.s.cfg.PublishWorkers {
		p.workers.Go(func() {
			// Each worker encodes into its own buffer, reused across
			// batches: no per-batch allocation of the encoded message.
			var buf []byte
			for j := range p.jobs {
				if p.s.enricher != nil {
					p.s.enricher.EnrichInline(j.evs)
				}
				err := p.retry(ctx, j.r.publishSubject(), func() error { return p.publishEvents(ctx, j.r, j.evs, &buf) })
				if err != nil {
					p.lose(j.r.l.cfg.Name, len(j.evs), err)
				}
				p.s.budget.release(j.cost)
				p.recycle(j.evs)
			}
		})
	}
}

// eventSlice returns an empty slice for a new batch: a recycled one, else
// a new one with capacity n.
func (p *publisher) eventSlice(n int) []event.Event {
	select {
	case evs := <-p.free:
		return evs
	default:
		return make([]event.Event, 0, n)
	}
}

// recycle gives a published (or lost) batch's Fields maps back to the
// parsers (see recycleFields), clears its events (so that what they
// reference can be collected) and keeps the slice for a next batch, unless
// enough are kept.
func (p *publisher) recycle(evs []event.Event) {
	recycleFields(evs)
	clear(evs)
	select {
	case p.free <- evs[:0]:
	default:
	}
}

// eventSize estimates the encoded size of an event: the raw text appears
// up to three times (raw, message, fields) plus the fixed fields.
func eventSize(ev *event.Event) int { return 3*len(ev.Raw) + 400 }

func (p *publisher) run(ctx context.Context) {
	cfg := p.s.cfg
	p.startWorkers(ctx)
	// armed is the deadline the timer is set for (zero: stopped). The
	// timer is re-armed only when the earliest deadline changes, not for
	// every record (since Go 1.23 Reset and Stop leave no stale tick).
	var armed time.Time
	for {
		next, ok := p.nextDeadline()
		switch {
		case !ok && !armed.IsZero():
			p.timer.Stop()
			armed = time.Time{}
		case ok && !next.Equal(armed):
			p.timer.Reset(time.Until(next))
			armed = next
		}
		var timerC <-chan time.Time
		if !armed.IsZero() {
			timerC = p.timer.C
		}
		select {
		case it, open := <-p.s.queue:
			if !open {
				for _, b := range p.batches {
					p.flush(ctx, b)
				}
				close(p.jobs)
				p.workers.Wait()
				p.flushDeadLetters(ctx)
				return
			}
			if it.dead {
				if len(p.dls) == 0 {
					p.dlSince = time.Now()
				}
				p.dls = append(p.dls, it.dl)
				p.dlCost += it.cost
				if len(p.dls) >= cfg.MaxBatch {
					p.flushDeadLetters(ctx)
				}
				continue
			}
			b := p.batches[it.r]
			if b == nil {
				b = &batch{r: it.r}
				p.batches[it.r] = b
			}
			size := eventSize(&it.ev)
			if len(b.evs) > 0 && b.bytes+size > cfg.MaxBatchBytes {
				p.flush(ctx, b)
			}
			if len(b.evs) == 0 {
				b.deadline = time.Now().Add(cfg.MaxWait)
				if cap(b.evs) == 0 {
					// A flushed batch's slice went to a worker: take a
					// recycled one, or start one at a size that fits the
					// queued records.
					b.evs = p.eventSlice(min(cfg.MaxBatch, len(p.s.queue)+1))
				}
			}
			b.evs = append(b.evs, it.ev)
			b.bytes += size
			b.cost += it.cost
			if len(b.evs) >= cfg.MaxBatch {
				p.flush(ctx, b)
			}
		case <-timerC:
			armed = time.Time{}
			now := time.Now()
			for _, b := range p.batches {
				if len(b.evs) > 0 && !now.Before(b.deadline) {
					p.flush(ctx, b)
				}
			}
			if len(p.dls) > 0 && !now.Before(p.dlSince.Add(cfg.MaxWait)) {
				p.flushDeadLetters(ctx)
			}
		}
	}
}

func (p *publisher) nextDeadline() (time.Time, bool) {
	var next time.Time
	found := false
	for _, b := range p.batches {
		if len(b.evs) > 0 && (!found || b.deadline.Before(next)) {
			next, found = b.deadline, true
		}
	}
	if len(p.dls) > 0 {
		d := p.dlSince.Add(p.s.cfg.MaxWait)
		if !found || d.Before(next) {
			next, found = d, true
		}
	}
	return next, found
}

// flush hands b's events to a publish worker (waiting while all are busy)
// and empties b; the worker releases their budget reservation once they
// are published (or lost). The worker retries with the same message ids until the
// publish succeeds or ctx ends (ShutdownTimeout passed).
func (p *publisher) flush(ctx context.Context, b *batch) {
	evs, cost := b.evs, b.cost
	b.evs = b.evs[:0:0]
	b.bytes, b.cost = 0, 0
	if len(evs) == 0 {
		return
	}
	select {
	case p.jobs <- job{r: b.r, evs: evs, cost: cost}:
	case <-ctx.Done():
		p.lose(b.r.l.cfg.Name, len(evs), ctx.Err())
		p.s.budget.release(cost)
	}
}

// publishEvents publishes evs as one message with id "<first event id>:<count>",
// splitting a batch the bus rejects as too large into halves (each with its
// own deterministic id), and dead-letters a single event that is too large.
func (p *publisher) publishEvents(ctx context.Context, r *route, evs []event.Event, buf *[]byte) error {
	l := r.l
	subject := r.publishSubject()
	start := time.Now()
	// The same bytes as bus.PublishRecords (event.Marshal), encoded into
	// the worker's buffer; the publish has copied them when it returns.
	data, err := event.AppendEvents((*buf)[:0], evs)
	if err != nil {
		return fmt.Errorf("encode batch for %s: %w", subject, err)
	}
	if cap(data) <= 4*p.s.cfg.MaxBatchBytes {
		*buf = data
	}
	err = bus.Publish(ctx, p.s.js, subject, evs[0].ID+":"+strconv.Itoa(len(evs)), len(evs), data)
	if err == nil {
		p.s.m.publishSeconds.Observe(time.Since(start).Seconds())
		p.s.m.batches.WithLabelValues(r.site, r.source).Inc()
		p.s.m.published.WithLabelValues(r.site, r.source).Add(float64(len(evs)))
		p.published.Add(int64(len(evs)))
		return nil
	}
	if !tooLarge(err) {
		return err
	}
	if len(evs) == 1 {
		ev := evs[0]
		p.s.m.dropped.WithLabelValues(l.cfg.Name, dropTooLarge).Inc()
		p.s.log.Warn("event too large for the bus; dead-lettered", "listener", l.cfg.Name, "id", ev.ID, "raw_bytes", len(ev.Raw))
		// Published here (this runs in a worker, not in run, which owns
		// p.dls): the dead letter is durable before the batch counts as done.
		dl := []event.DeadLetter{{
			ID: ev.ID, Time: ev.ReceivedAt, Stage: bus.StageIngest, Site: ev.Site, Source: ev.Source,
			Reason: "event too large for the bus: " + err.Error(), Payload: ev.Raw, Position: ev.Transport + " " + ev.Peer,
		}}
		if err := bus.DeadLetter(ctx, p.s.js, bus.StageIngest, dl); err != nil {
			return err
		}
		p.s.m.deadLetters.Inc()
		return nil
	}
	half := len(evs) / 2
	if err := p.publishEvents(ctx, r, evs[:half], buf); err != nil {
		return err
	}
	return p.publishEvents(ctx, r, evs[half:], buf)
}

func tooLarge(err error) bool {
	var apiErr *jetstream.APIError
	return errors.Is(err, nats.ErrMaxPayload) ||
		errors.Is(err, jetstream.ErrStreamMessageExceedsMaximum) ||
		errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamMessageExceedsMaximum
}

// flushDeadLetters publishes the pending dead letters in batches of at most
// MaxBatch.
func (p *publisher) flushDeadLetters(ctx context.Context) {
	for len(p.dls) > 0 {
		n := min(len(p.dls), p.s.cfg.MaxBatch)
		dls := p.dls[:n]
		err := p.retry(ctx, bus.DLQSubject(bus.StageIngest), func() error {
			return bus.DeadLetter(ctx, p.s.js, bus.StageIngest, dls)
		})
		if err != nil {
			for _, dl := range dls {
				p.lose(dl.Source, 1, err)
			}
		} else {
			p.s.m.deadLetters.Add(float64(n))
		}
		p.dls = p.dls[n:]
	}
	p.dls = nil
	p.s.budget.release(p.dlCost)
	p.dlCost = 0
}

// retry calls publish until it succeeds or ctx ends, backing off between
// attempts. Publishing never drops: while it retries, the queue fills and
// the listeners push back (TCP) or count drops (UDP).
func (p *publisher) retry(ctx context.Context, subject string, publish func() error) error {
	backoff := 100 * time.Millisecond
	for {
		err := publish()
		if err == nil {
			return nil
		}
		p.s.m.publishErrors.WithLabelValues(subject).Inc()
		if ctx.Err() != nil {
			return fmt.Errorf("publish %s: %w (gave up: %w)", subject, err, ctx.Err())
		}
		p.s.log.Error("publish failed; retrying with the same message id", "subject", subject, "err", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return fmt.Errorf("publish %s: %w (gave up: %w)", subject, err, ctx.Err())
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

func (p *publisher) lose(listener string, n int, err error) {
	p.lost.Add(int64(n))
	p.s.m.dropped.WithLabelValues(listener, dropShutdown).Add(float64(n))
	p.s.log.Error("records lost: not published before the shutdown timeout", "listener", listener, "records", n, "err", err)
}
