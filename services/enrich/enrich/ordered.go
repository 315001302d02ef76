package enrich

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/shared/event"
)

// gatherWait is how long a window waits for one more buffered raw message
// once it holds at least one.
const gatherWait = 2 * time.Millisecond

// pubAckWait bounds the wait for one pipelined publish acknowledgement; a
// publish not acknowledged by then is sent again synchronously (same id).
const pubAckWait = 5 * time.Second

// item is one raw message of a window and what became of it.
type item struct {
	msg    jetstream.Msg
	start  time.Time
	evs    []event.Event
	st     batchStats
	groups []siteGroup
	outs   []output
	pubs   int   // messages published (a split batch is several)
	tries  int   // publish attempts that failed transiently
	err    error // poison (bus.ErrPoison) or transient
	// oks counts the pipelined publishes of outs acknowledged; dirty marks
	// an item with a pipelined publish that failed or was not awaited (the
	// client may still send it again): its buffers are not recycled.
	oks   int
	dirty bool
}

// output is one enriched batch message to publish.
type output struct {
	subject, id string
	evs         []event.Event
	data        []byte // nil when the batch must be split (too large)
}

// consume processes the consumer's messages in windows of up to
// MaxAckPending messages in stream order, until ctx ends:
//
//  1. the window's batches are decoded by up to Workers goroutines;
//  2. they are enriched one after the other in stream order (the new-pair
//     memory depends on the order of the flows);
//  3. the enriched batches are encoded by up to Workers goroutines;
//  4. they are published in stream order, pipelined on the one connection
//     (the server stores them in the order sent), and every publish
//     acknowledgement is awaited;
//  5. only then are the inputs acknowledged, in order.
//
// The consumer allows MaxAckPending unacknowledged messages, exactly one
// window: after a crash no later message is delivered before the window's
// redeliveries (which come back in stream order after AckWait), so the
// output order is the input order also across crashes; republished outputs
// keep their message ids and are deduplicated. A publish that fails is
// retried in place with every later message of the window (kept leased
// with InProgress), so nothing after it is published or acknowledged
// before it; after MaxDeliver failed attempts it is dead-lettered.
func (s *Service) consume(ctx context.Context, cons jetstream.Consumer) error {
	maxDeliver := 0
	if info := cons.CachedInfo(); info != nil && info.Config.MaxDeliver > 0 {
		maxDeliver = info.Config.MaxDeliver
	}
	// The consumer's MaxAckPending bounds the messages in flight, the byte
	// budget what they may weigh.
	it, err := cons.Messages(bus.PullBudget(s.cfg.MaxAckPending, s.cfg.PullMaxBytes))
	if err != nil {
		return fmt.Errorf("consume: %w", err)
	}
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	defer it.Stop()
	window := make([]*item, 0, s.cfg.MaxAckPending)
	for {
		window = window[:0]
		msg, err := it.Next()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return nil
			}
			s.log.Warn("consumer next", "err", err)
			continue
		}
		window = append(window, &item{msg: msg, start: time.Now()})
		for len(window) < s.cfg.MaxAckPending {
			msg, err := it.Next(jetstream.NextMaxWait(gatherWait))
			if err != nil {
				break
			}
			window = append(window, &item{msg: msg, start: time.Now()})
		}
		s.processWindow(ctx, window)
		// A transient publish failure is retried in place, in order, with
		// the rest of the window kept leased: a nak would let later
		// messages overtake it.
		rest := window
		for {
			var alive bool
			if rest, alive = s.settle(ctx, rest, maxDeliver); !alive {
				return nil
			}
			if len(rest) == 0 {
				break
			}
			for _, it := range rest {
				_ = it.msg.InProgress()
			}
			select {
			case <-ctx.Done():
				nakAll(rest)
				return nil
			case <-time.After(s.cfg.RetryDelay):
			}
			for _, it := range rest {
				if !errors.Is(it.err, bus.ErrPoison) {
					it.err, it.pubs = nil, 0
				}
			}
			s.publishWindow(ctx, rest)
		}
		// Every item is settled: recycle the buffers no publish can still
		// refer to (see recycler.release).
		for _, it := range window {
			if !it.dirty && it.oks == len(it.outs) {
				s.free.release(it)
			}
		}
	}
}

// parallel runs f(i) for i in [0, n) on up to Workers goroutines.
func (s *Service) parallel(n int, f func(i int)) {
	w := min(s.cfg.Workers, n)
	if w <= 1 {
		for i := range n {
			f(i)
		}
		return
	}
	var (
		wg   sync.WaitGroup
		next = make(chan int)
	)
	for range w {
		wg.Go(func() {
			for i := range next {
				f(i)
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}

// processWindow decodes, enriches, encodes and publishes the window's
// messages, setting each item's err when it failed.
func (s *Service) processWindow(ctx context.Context, window []*item) {
	s.parallel(len(window), func(i int) {
		it := window[i]
		if enc := it.msg.Headers().Get(bus.HeaderEncoding); enc != "" && enc != event.Encoding {
			it.err = bus.Poison(fmt.Errorf("raw batch on %s: unsupported encoding %q", it.msg.Subject(), enc))
			return
		}
		// The events are re-encoded and dropped once published: their
		// strings can share the message's memory (no allocation per
		// string; nothing writes to a message's data); the new-pair memory
		// copies what it keeps.
		evs, err := event.UnmarshalEventsShared(it.msg.Data(), s.free.events())
		if err != nil {
			it.err = bus.Poison(fmt.Errorf("raw batch on %s: %w", it.msg.Subject(), err))
			return
		}
		it.evs = evs
	})
	set := s.set.Load() // one snapshot of the models for the window
	for _, it := range window {
		if it.err == nil {
			it.st = s.enrichEvents(set, it.evs)
			it.groups = groupBySite(it.evs)
		}
	}
	s.parallel(len(window), func(i int) {
		it := window[i]
		if it.err != nil {
			return
		}
		for _, g := range it.groups {
			suffix := "events"
			if len(it.groups) > 1 {
				suffix = "events:" + bus.Token(g.site)
			}
			o := output{subject: bus.EventsSubject(g.site), id: bus.MsgID(it.msg, suffix), evs: g.events}
			// Sized from the raw batch (enrichment adds about a third)
			// instead of a Msgsize pass over every event's fields.
			est := len(it.msg.Data())/max(len(it.evs), 1)*len(g.events)*3/2 + 512
			data, err := event.AppendEvents(s.free.buffer(est), g.events)
			if err != nil {
				it.err = bus.Poison(fmt.Errorf("encode enriched batch %s: %w", o.id, err))
				return
			}
			if len(data) <= s.cfg.MaxBatchBytes || len(g.events) == 1 {
				o.data = data
			}
			it.outs = append(it.outs, o)
		}
	})
	s.publishWindow(ctx, window)
}

// publishWindow publishes the outputs of the window in order: pipelined
// while every publish is acknowledged; from the first one that is not (or a
// batch that must be split), synchronously with retries (bus.Publish and
// the splitting of publish), in order. An item whose output cannot be
// published gets the error.
func (s *Service) publishWindow(ctx context.Context, window []*item) {
	type pending struct {
		it  *item
		out int
		f   jetstream.PubAckFuture
	}
	var (
		futures []pending
		syncAt  = len(window) // first item published synchronously
	)
	// Pipelined, up to the first output that must be split.
pipelined:
	for i, it := range window {
		for j, o := range it.outs {
			if o.data == nil {
				syncAt = i
				break pipelined
			}
			f, err := s.js.PublishMsgAsync(bus.BatchMsg(o.subject, len(o.evs), o.data), jetstream.WithMsgID(o.id))
			if err != nil {
				s.log.Warn("pipelined publish; publishing the rest of the window one by one", "id", o.id, "err", err)
				syncAt = i
				break pipelined
			}
			futures = append(futures, pending{it: it, out: j, f: f})
		}
	}
	// Await the acknowledgements in order; the first failure moves the
	// synchronous path to its item.
	timer := time.NewTimer(pubAckWait)
	defer timer.Stop()
	for i, p := range futures {
		if err := bus.AwaitPubAck(ctx, p.f, timer.C, pubAckWait); err != nil {
			if ctx.Err() == nil {
				s.log.Warn("pipelined publish not acknowledged; publishing again one by one", "id", p.it.outs[p.out].id, "err", err)
			}
			for i, it := range window {
				if it == p.it {
					syncAt = min(syncAt, i)
				}
			}
			for _, q := range futures[i:] {
				q.it.dirty = true
			}
			break
		}
		p.it.oks++
	}
	// Synchronous path, in order, from syncAt (outputs already stored are
	// deduplicated by their ids).
	for _, it := range window[:syncAt] {
		it.pubs = len(it.outs)
	}
	for _, it := range window[syncAt:] {
		if it.err != nil {
			continue
		}
		if ctx.Err() != nil {
			it.err = ctx.Err()
			continue
		}
		for _, o := range it.outs {
			n, err := s.publish(ctx, o.subject, o.id, o.evs)
			it.pubs += n
			if err != nil {
				it.err = err
				break
			}
		}
	}
}

// settle acknowledges the window's messages in order and dead-letters
// poison ones. At the first message that failed transiently it stops and
// returns it with the rest of the window, to be published again (see
// consume), unless it failed MaxDeliver times: then it is dead-lettered
// like a poison message. alive is false when ctx ended (the rest is
// nak'ed).
func (s *Service) settle(ctx context.Context, window []*item, maxDeliver int) (rest []*item, alive bool) {
	for i, it := range window {
		err := it.err
		switch {
		case err == nil:
			s.count(it)
			if aerr := it.msg.Ack(); aerr != nil {
				s.log.Warn("ack", "err", aerr)
			}
			continue
		case errors.Is(err, bus.ErrPoison):
			s.m.poison.Inc()
		case ctx.Err() != nil:
			nakAll(window[i:])
			return nil, false
		default:
			it.tries++
			if maxDeliver <= 0 || it.tries < maxDeliver {
				s.log.Warn("publishing an enriched batch failed; retrying it and the rest of the window in order",
					"subject", it.msg.Subject(), "err", err, "attempt", it.tries, "window_rest", len(window)-i)
				return window[i:], true
			}
			s.m.poison.Inc()
			err = fmt.Errorf("failed on attempt %d of at most %d: %w", it.tries, maxDeliver, err)
		}
		if !s.deadLetter(ctx, it.msg, err) {
			nakAll(window[i:])
			return nil, false
		}
	}
	return nil, true
}

func nakAll(items []*item) {
	for _, it := range items {
		_ = it.msg.Nak()
	}
}

// count records the metrics of a published item.
func (s *Service) count(it *item) { s.record(it.st, it.pubs, it.start) }

// record adds one published batch to the metrics: its counts, the events
// published and the time since its processing started.
func (s *Service) record(st batchStats, published int, start time.Time) {
	s.m.batches.Inc()
	s.m.events.Add(float64(st.events))
	s.m.published.Add(float64(published))
	s.m.unknownSite.Add(float64(st.unknownSite))
	s.m.violations.Add(float64(st.violations))
	s.m.newPairs.Add(float64(st.newPairs))
	for i, side := range [2]string{"src", "dst"} {
		if st.noZone[i] > 0 {
			s.m.unknownIP.WithLabelValues(side, "no_zone").Add(float64(st.noZone[i]))
		}
		if st.notInventoried[i] > 0 {
			s.m.unknownIP.WithLabelValues(side, "not_inventoried").Add(float64(st.notInventoried[i]))
		}
	}
	s.m.latency.Observe(time.Since(start).Seconds())
}

// deadLetter publishes msg with the reason to the enrich dead letters
// (retrying, the message kept leased, until it succeeds or ctx ends) and
// terminates it. It returns false when ctx ended first.
func (s *Service) deadLetter(ctx context.Context, msg jetstream.Msg, cause error) bool {
	pos := msg.Subject()
	if md, err := msg.Metadata(); err == nil {
		pos = md.Stream + " seq " + strconv.FormatUint(md.Sequence.Stream, 10)
	}
	dl := event.DeadLetter{
		ID:       event.NewID("dlq-msg", bus.StageEnrich, pos),
		Time:     time.Now().UTC(),
		Stage:    bus.StageEnrich,
		Reason:   cause.Error(),
		Payload:  string(msg.Data()),
		Position: pos,
	}
	for {
		err := bus.DeadLetter(ctx, s.js, bus.StageEnrich, []event.DeadLetter{dl})
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			s.log.Error("dead-letter interrupted by shutdown", "position", pos, "err", err, "cause", cause)
			return false
		}
		s.log.Error("dead-letter; retrying", "position", pos, "err", err)
		_ = msg.InProgress()
		select {
		case <-ctx.Done():
			return false
		case <-time.After(s.cfg.RetryDelay):
		}
	}
	s.log.Warn("raw batch dead-lettered", "position", pos, "err", cause)
	if err := msg.Term(); err != nil {
		s.log.Warn("term", "position", pos, "err", err)
	}
	return true
}
