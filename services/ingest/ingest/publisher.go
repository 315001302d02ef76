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

// publisher drains the queue into batches in one goroutine (run) and hands
// full or due batches to the publishing pipeline (startWorkers):
// PublishWorkers goroutines enrich (Service.EnrichWith) and encode batches
// concurrently, and one sender publishes them in the order run flushed
// them, pipelined: up to publishWindow batches are sent before the first
// PubAck is awaited, so the publish round trip (which grows to tens of
// milliseconds when the machine is busy) no longer bounds the rate. The
// server stores what one connection sends in order, so the batches of a
// source land on the stream in order. A batch whose pipelined publish is
// not acknowledged is published again synchronously with the same message
// id (retried until JetStream acknowledges it); only then can batches
// behind it that were already sent land before it. When the pipeline is
// full, run blocks, the queue fills and the listeners push back.
type publisher struct {
	s       *Service
	batches map[*route]*batch
	dls     []event.DeadLetter // owned by run
	dlCost  int64              // budget reservation of dls
	dlSince time.Time
	timer   *time.Timer
	jobs    chan *job
	// free recycles the event slices of published batches: a batch
	// holds up to MaxBatch events of ~1 KiB, and growing a new slice
	// event by event for every batch cost more allocation than parsing.
	free chan []event.Event
	// bufs recycles the encoded batches.
	bufs    chan []byte
	workers sync.WaitGroup
	lost    atomic.Int64
}

// publishWindow is the number of batches published but not yet
// acknowledged.
const publishWindow = 8

// pubAckWait bounds the wait for one pipelined publish acknowledgement; a
// batch not acknowledged by then is published again synchronously.
const pubAckWait = 5 * time.Second

// job is one batch on its way through the publishing pipeline.
type job struct {
	r     *route
	evs   []event.Event
	cost  int64
	start time.Time
	// Set by a preparing worker before ready is closed: the encoded batch
	// (nil when it could not be encoded: the synchronous path reports
	// it). A batch the server refuses as too large is split by the
	// synchronous path.
	data  []byte
	ready chan struct{}
	// fut is the pipelined publish's acknowledgement (nil: not sent).
	fut jetstream.PubAckFuture
}

func newPublisher(s *Service) *publisher {
	t := time.NewTimer(time.Hour)
	t.Stop()
	n := s.cfg.PublishWorkers
	return &publisher{
		s: s, batches: map[*route]*batch{}, timer: t,
		jobs: make(chan *job, n),
		free: make(chan []event.Event, n+2*publishWindow+1),
		bufs: make(chan []byte, n+2*publishWindow+1),
	}
}

// startWorkers starts the publishing pipeline; it stops once jobs is
// closed and every batch is published (or lost at the shutdown timeout).
func (p *publisher) startWorkers(ctx context.Context) {
	n := p.s.cfg.PublishWorkers
	prepare := make(chan *job, n)
	sendq := make(chan *job, publishWindow)
	acks := make(chan *job, publishWindow)
	p.workers.Go(func() {
		defer close(prepare)
		defer close(sendq)
		for j := range p.jobs {
			prepare <- j
			sendq <- j
		}
	})
	for range n {
		p.workers.Go(func() {
			for j := range prepare {
				p.prepare(j)
			}
		})
	}
	p.workers.Go(func() {
		defer close(acks)
		for j := range sendq {
			<-j.ready
			if j.data != nil && ctx.Err() == nil {
				subject := j.r.publishSubject()
				f, err := p.s.js.PublishMsgAsync(bus.BatchMsg(subject, len(j.evs), j.data), jetstream.WithMsgID(batchID(j.evs)))
				if err == nil {
					j.fut = f
				} else {
					p.s.log.Warn("pipelined publish; publishing the batch synchronously", "subject", subject, "err", err)
				}
			}
			acks <- j
		}
	})
	p.workers.Go(func() {
		var buf []byte
		timer := time.NewTimer(pubAckWait)
		defer timer.Stop()
		for j := range acks {
			p.settle(ctx, j, timer, &buf)
		}
	})
}

// prepare enriches (once: a publish that is retried sends the same bytes)
// and encodes j's batch, then marks it ready.
func (p *publisher) prepare(j *job) {
	defer close(j.ready)
	p.s.enrich(j.evs)
	var buf []byte
	select {
	case buf = <-p.bufs:
	default:
	}
	data, err := event.AppendEvents(buf[:0], j.evs)
	if err != nil {
		// The synchronous path reports the error.
		p.recycleBuf(data)
		return
	}
	j.data = data
}

// settle waits for j's pipelined publish to be acknowledged, or publishes
// it synchronously (retrying with the same message id until it is
// acknowledged or ctx ends), then releases the batch.
func (p *publisher) settle(ctx context.Context, j *job, timer *time.Timer, buf *[]byte) {
	subject := j.r.publishSubject()
	var err error
	if j.fut != nil {
		timer.Reset(pubAckWait)
		err = bus.AwaitPubAck(ctx, j.fut, timer.C, pubAckWait)
		if err == nil {
			p.s.countPublished(j.r, len(j.evs), j.start)
		} else if ctx.Err() == nil {
			p.s.m.publishErrors.WithLabelValues(subject).Inc()
			p.s.log.Warn("pipelined publish not acknowledged; publishing it again synchronously with the same message id", "subject", subject, "err", err)
		}
	}
	if j.fut == nil || err != nil {
		err = p.retry(ctx, subject, func() error { return p.s.publishEvents(ctx, j.r, j.evs, buf) })
		if err != nil {
			p.lose(j.r.l.cfg.Name, len(j.evs), err)
		}
	}
	p.s.budget.release(j.cost)
	p.recycle(j.evs)
	p.recycleBuf(j.data)
}

// batchID is the message id of a batch: "<first event id>:<count>".
func batchID(evs []event.Event) string { return evs[0].ID + ":" + strconv.Itoa(len(evs)) }

// recycleBuf keeps an encoded batch's buffer for a next batch, unless
// enough are kept or it grew beyond what a batch needs.
func (p *publisher) recycleBuf(b []byte) {
	if b == nil || cap(b) > 4*p.s.cfg.MaxBatchBytes {
		return
	}
	select {
	case p.bufs <- b[:0]:
	default:
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
			if it.dl != nil {
				if len(p.dls) == 0 {
					p.dlSince = time.Now()
				}
				p.dls = append(p.dls, *it.dl)
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
			size := eventSize(it.ev)
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
			// The one copy of the event on its way from the parser to
			// the bus.
			b.evs = append(b.evs, *it.ev)
			releaseQueued(it.ev)
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
	case p.jobs <- &job{r: b.r, evs: evs, cost: cost, start: time.Now(), ready: make(chan struct{})}:
	case <-ctx.Done():
		p.lose(b.r.l.cfg.Name, len(evs), ctx.Err())
		p.s.budget.release(cost)
	}
}

// countPublished counts a published batch of n events of r, formed at
// start.
func (s *Service) countPublished(r *route, n int, start time.Time) {
	s.m.publishSeconds.Observe(time.Since(start).Seconds())
	s.m.batches.WithLabelValues(r.site, r.source).Inc()
	s.m.published.WithLabelValues(r.site, r.source).Add(float64(n))
	s.published.Add(int64(n))
}

// publishEvents publishes evs as one message with id batchID(evs) and
// waits for its acknowledgement, splitting a batch the bus rejects as too
// large into halves (each with its own deterministic id), and
// dead-letters a single event that is too large: the synchronous path of
// the publisher and of the HTTP input. buf, when not nil, is reused for
// the encoding.
func (s *Service) publishEvents(ctx context.Context, r *route, evs []event.Event, buf *[]byte) error {
	if buf == nil {
		buf = new([]byte)
	}
	l := r.l
	subject := r.publishSubject()
	start := time.Now()
	// The same bytes as bus.PublishRecords (event.Marshal), encoded into
	// the caller's buffer; the publish has copied them when it returns.
	data, err := event.AppendEvents((*buf)[:0], evs)
	if err != nil {
		return fmt.Errorf("encode batch for %s: %w", subject, err)
	}
	if cap(data) <= 4*s.cfg.MaxBatchBytes {
		*buf = data
	}
	err = bus.Publish(ctx, s.js, subject, batchID(evs), len(evs), data)
	if err == nil {
		s.countPublished(r, len(evs), start)
		return nil
	}
	if !tooLarge(err) {
		return err
	}
	if len(evs) == 1 {
		ev := evs[0]
		s.m.dropped.WithLabelValues(l.cfg.Name, dropTooLarge).Inc()
		s.log.Warn("event too large for the bus; dead-lettered", "listener", l.cfg.Name, "id", ev.ID, "raw_bytes", len(ev.Raw))
		// Published here (not queued with the publisher's dead letters):
		// the dead letter is durable before the batch counts as done.
		dl := []event.DeadLetter{{
			ID: ev.ID, Time: ev.ReceivedAt, Stage: bus.StageIngest, Site: ev.Site, Source: ev.Source,
			Reason: "event too large for the bus: " + err.Error(), Payload: ev.Raw, Position: ev.Transport + " " + ev.Peer,
		}}
		if err := bus.DeadLetter(ctx, s.js, bus.StageIngest, dl); err != nil {
			return err
		}
		s.m.deadLetters.Inc()
		return nil
	}
	half := len(evs) / 2
	if err := s.publishEvents(ctx, r, evs[:half], buf); err != nil {
		return err
	}
	return s.publishEvents(ctx, r, evs[half:], buf)
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
