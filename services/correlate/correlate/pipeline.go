package correlate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/shared/event"
)

// Restart reasons (Metrics.Restarts).
const (
	restartResume = "resume"
	restartError  = "error"
	restartGap    = "gap"
)

// durableTimeout bounds the wait for the acknowledgements of one message's
// outputs and checkpoint records; a message that exceeds it restarts the
// pipeline from the checkpoint.
const durableTimeout = 30 * time.Second

// item is one input message on its way from the apply stage to the commit
// stage.
type item struct {
	msg   jetstream.Msg
	seq   uint64
	start time.Time
	// outs are the message's alerts and incident versions, encoded, until
	// the apply stage publishes them; futures are their PubAcks.
	outs    []*nats.Msg
	futures []jetstream.PubAckFuture
	// cp is the window, sequence and watermark state the message changed.
	cp Checkpoint
	// term marks a poison message, dead-lettered: it is terminated.
	term bool
	// skip marks a redelivered copy of a message already applied: it is
	// acknowledged once everything before it is durable.
	skip bool
	// err is why applying the message failed: the messages before it are
	// committed, then the pipeline restarts from it.
	err error
}

// pipelineError is why a pipeline run ended: a failed message (msg, seq)
// or a delivery the service did not see (gap).
type pipelineError struct {
	reason string
	seq    uint64
	msg    jetstream.Msg
	err    error
}

func (e *pipelineError) Error() string {
	if e.seq != 0 {
		return fmt.Sprintf("message %d: %v", e.seq, e.err)
	}
	return e.err.Error()
}

// runPipeline consumes messages until ctx ends or a message fails. Two
// stages run concurrently: apply (this goroutine) decodes each message,
// evaluates the rules, writes incidents and starts the publications of
// alerts and incident versions without waiting for them; commit (in stream
// order) waits for those PubAcks, writes the message's checkpoint (keys,
// then watermarks) and acknowledges it. So rule evaluation of message n+1
// overlaps the round trips that make message n durable, and the effects
// still become durable in stream order. applied is the last message whose
// effects are durable (the consumer's ack floor or the last commit);
// expect is the consumer sequence of the next delivery (0: unknown). It
// returns the last message committed.
func (s *Service) runPipeline(ctx context.Context, cons jetstream.Consumer, engine *Engine, store *CachedStore, state *StateStore, applied, expect uint64) (uint64, *pipelineError) {
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	it, err := cons.Messages(bus.PullBudget(s.cfg.MaxAckPending, s.cfg.PullMaxBytes))
	if err != nil {
		return applied, &pipelineError{reason: restartError, err: fmt.Errorf("consume: %w", err)}
	}
	stop := context.AfterFunc(pctx, it.Stop)
	defer stop()
	defer it.Stop()

	commits := make(chan *item, s.cfg.MaxAckPending)
	type result struct {
		committed uint64
		err       *pipelineError
	}
	done := make(chan result, 1)
	go func() {
		c, perr := s.commit(pctx, state, commits, applied)
		if perr != nil {
			cancel() // stops the apply stage
		}
		done <- result{c, perr}
	}()
	aerr := s.apply(pctx, it, engine, store, commits, applied, expect)
	close(commits)
	r := <-done
	if r.err != nil {
		return r.committed, r.err
	}
	return r.committed, aerr
}

// maxApplyGroup bounds the messages the apply stage applies before it
// flushes their incidents and publishes their outputs.
const maxApplyGroup = 16

// apply is the first stage of runPipeline: it reads the deliveries in
// order and hands each message, prepared, to the commit stage. A message
// at or below applied is a redelivery of one already applied: it is passed
// on to be acknowledged, not applied again. A delivery out of the
// consumer's sequence means a message went elsewhere (a predecessor's
// pending pull): the run ends so that the pipeline restarts from the
// checkpoint.
//
// Messages are applied in groups: the messages already delivered when a
// group starts (at most maxApplyGroup and MaxAckPending) are evaluated one
// after the other with deferred incident writes (CachedStore), then the
// incidents of the whole group are written at once (Flush: one round trip
// per group, not one per message) and only then are the group's alerts
// and incident versions published, in order. A correlator that keeps up
// applies groups of one message; one that fell behind catches up.
func (s *Service) apply(ctx context.Context, it jetstream.MessagesContext, engine *Engine, store *CachedStore, commits chan<- *item, applied, expect uint64) *pipelineError {
	// Deferred writes not flushed belong to messages that are applied
	// again after the restart from the checkpoint.
	defer store.Discard()
	msgs := s.deliveries(ctx, it)
	limit := max(min(maxApplyGroup, s.cfg.MaxAckPending), 1)
	group := make([]*item, 0, limit)
	for {
		var msg jetstream.Msg
		select {
		case m, ok := <-msgs:
			if !ok {
				return nil
			}
			msg = m
		case <-ctx.Done():
			return nil
		}
		group = group[:0]
		failed := false
		for {
			md, err := msg.Metadata()
			if err != nil {
				return &pipelineError{reason: restartError, err: fmt.Errorf("message without JetStream metadata on %s: %w", msg.Subject(), err)}
			}
			if expect != 0 && md.Sequence.Consumer != expect {
				return &pipelineError{reason: restartGap, err: fmt.Errorf("delivery %d (stream sequence %d) where %d was expected: a delivery went elsewhere",
					md.Sequence.Consumer, md.Sequence.Stream, expect)}
			}
			expect = md.Sequence.Consumer + 1
			var next *item
			if md.Sequence.Stream <= applied {
				s.metrics.Replayed.Inc()
				next = &item{msg: msg, seq: md.Sequence.Stream, skip: true}
			} else {
				applied = md.Sequence.Stream
				next = s.prepare(ctx, engine, msg, md.Sequence.Stream)
			}
			group = append(group, next)
			if failed = next.err != nil; failed || len(group) == limit {
				break
			}
			select {
			case m, ok := <-msgs:
				if ok {
					msg = m
					continue
				}
			default:
			}
			break
		}
		if err := s.release(ctx, store, group, commits); err != nil || failed {
			return nil // the commit stage reports the failure after committing the earlier messages
		}
	}
}

// deliveries reads the consumer's messages into a channel until ctx ends
// or the iterator is stopped, so that the apply stage can see which
// messages are already delivered.
func (s *Service) deliveries(ctx context.Context, it jetstream.MessagesContext) <-chan jetstream.Msg {
	msgs := make(chan jetstream.Msg, max(min(maxApplyGroup, s.cfg.MaxAckPending), 1))
	go func() {
		defer close(msgs)
		for {
			msg, err := it.Next()
			if err != nil {
				if ctx.Err() != nil || errors.Is(err, jetstream.ErrMsgIteratorClosed) {
					return
				}
				s.log.Warn("consumer next", "err", err)
				if !sleep(ctx, 50*time.Millisecond) {
					return
				}
				continue
			}
			select {
			case msgs <- msg:
			case <-ctx.Done():
				return
			}
		}
	}()
	return msgs
}

// release makes a group's incidents durable (CachedStore.Flush), publishes
// the outputs of its messages in order and hands the messages to the
// commit stage. When the flush or a publication fails, the first message
// whose outputs are not published carries the error and is the last one
// handed over; release then returns the error.
func (s *Service) release(ctx context.Context, store *CachedStore, group []*item, commits chan<- *item) error {
	var err error
	if ferr := store.Flush(ctx, s.cfg.StoreConcurrency); ferr != nil {
		err = ferr
	}
	for _, it := range group {
		if it.err == nil && len(it.outs) > 0 {
			if err == nil {
				it.futures, err = publishAll(s.js, it.outs, it.futures)
			}
			it.outs = nil
			if err != nil {
				it.err = err
			}
		}
		select {
		case commits <- it:
		case <-ctx.Done():
			return ctx.Err()
		}
		if it.err != nil {
			return it.err
		}
	}
	return nil
}

// commit is the second stage of runPipeline: it makes the prepared
// messages durable in order and acknowledges them. It returns the last
// message committed and, when a message failed, why.
//
// Messages are committed in groups: every message the apply stage has
// handed over by the time a group starts joins it (at most MaxAckPending).
// A group costs the round trips of one message (the outputs' PubAcks, the
// keys' checkpoint, the watermarks' checkpoint), however many messages it
// holds, so a commit stage that fell behind catches up instead of paying
// three round trips per message: under load, when every round trip waits
// for a CPU and behind other stages' traffic on a shared connection, per
// message commits were what held the correlator below the input rate.
func (s *Service) commit(ctx context.Context, state *StateStore, commits <-chan *item, committed uint64) (uint64, *pipelineError) {
	group := make([]*item, 0, max(s.cfg.MaxAckPending, 1))
	for it := range commits {
		group = append(group[:0], it)
	fill:
		for it.err == nil && len(group) < cap(group) {
			select {
			case next, ok := <-commits:
				if !ok {
					break fill
				}
				group = append(group, next)
				it = next
			default:
				break fill
			}
		}
		var perr *pipelineError
		committed, perr = s.commitGroup(ctx, state, group, committed)
		clear(group) // the messages' data is not kept until the next group
		if perr != nil {
			return committed, perr
		}
	}
	return committed, nil
}

// commitGroup commits a group of messages in stream order: it waits for
// the PubAcks of their outputs, writes one checkpoint of the state they
// changed (keys, then watermarks; a key changed by several messages is
// written once, as the last one left it) and acknowledges them. The
// messages before the first one that failed (failed to apply, or its
// outputs were refused) are committed; that one is reported.
func (s *Service) commitGroup(ctx context.Context, state *StateStore, group []*item, committed uint64) (uint64, *pipelineError) {
	ctx, cancel := context.WithTimeout(ctx, durableTimeout)
	defer cancel()
	n := len(group) // the messages committed: those before the first failure
	var failed *item
	var ferr error
	for i, it := range group {
		err := it.err
		if err == nil {
			err = waitPublished(ctx, it.futures)
		}
		if err != nil {
			n, failed, ferr = i, it, err
			break
		}
	}
	cps := make([]Checkpoint, 0, n)
	for _, it := range group[:n] {
		if !it.cp.Empty() {
			cps = append(cps, it.cp)
		}
	}
	if err := state.writeOrdered(ctx, mergeAll(cps)); err != nil {
		return committed, &pipelineError{reason: restartError, seq: group[0].seq, msg: group[0].msg, err: err}
	}
	for _, it := range group[:n] {
		ack := it.msg.Ack
		if it.term {
			ack = it.msg.Term
		}
		if err := ack(); err != nil {
			// The effects are durable: a redelivery is skipped as applied.
			s.log.Warn("ack", "seq", it.seq, "err", err)
		}
		if !it.skip {
			committed = it.seq
			s.metrics.Duration.Observe(time.Since(it.start).Seconds())
		}
	}
	if failed != nil {
		return committed, &pipelineError{reason: restartError, seq: failed.seq, msg: failed.msg, err: ferr}
	}
	return committed, nil
}

// waitPublished waits for the PubAcks of a message's outputs.
func waitPublished(ctx context.Context, futures []jetstream.PubAckFuture) error {
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return fmt.Errorf("publish %s: %w", f.Msg().Subject, err)
		case <-ctx.Done():
			return fmt.Errorf("publish %s: %w", f.Msg().Subject, ctx.Err())
		}
	}
	return nil
}

// prepare applies one message of enriched events to the engine and starts
// publishing its outputs: dead letters of invalid events (waited for: they
// are rare), alerts and incident versions (asynchronous, with message ids
// derived from the input message, so a replay is deduplicated). An
// undecodable message is dead-lettered and marked for termination.
func (s *Service) prepare(ctx context.Context, engine *Engine, msg jetstream.Msg, seq uint64) *item {
	it := &item{msg: msg, seq: seq, start: time.Now()}
	evs, err := s.decode(msg.Data())
	if err != nil {
		s.metrics.PoisonMessages.Inc()
		cause := fmt.Errorf("decode events: %w", err)
		if err := deadLetterMessage(ctx, s.js, msg, cause); err != nil {
			it.err = fmt.Errorf("dead-letter poison message: %w", err)
			return it
		}
		s.log.Warn("poison message dead-lettered", "subject", msg.Subject(), "seq", seq, "err", cause)
		it.term = true
		return it
	}
	var dls []event.DeadLetter
	pos := position(msg)
	n := 0
	for i := range evs {
		if !s.cfg.Partitions.Owns(evs[i].Site) {
			continue // another replica's site
		}
		if err := ValidateEvent(&evs[i]); err != nil {
			s.metrics.InvalidEvents.Inc()
			dls = append(dls, deadLetter(&evs[i], pos, i, err))
			continue
		}
		if n != i {
			evs[n] = evs[i]
		}
		n++
	}
	valid := evs[:n]
	if err := bus.DeadLetter(ctx, s.js, bus.StageCorrelate, dls); err != nil {
		it.err = fmt.Errorf("dead-letter invalid events: %w", err)
		return it
	}
	alerts, incidents, err := engine.ProcessAt(ctx, seq, valid)
	if err != nil {
		it.err = err
		return it
	}
	// Encoded now: the alerts and incidents are the engine's until the
	// next message is applied; they are published once the group's
	// incidents are stored (see release).
	it.outs, err = encodeBySite(msg, s.cfg.Partitions.suffix("alerts"), bus.AlertsSubject, alerts, func(a event.Alert) string { return a.Site }, it.outs)
	if err == nil {
		it.outs, err = encodeBySite(msg, s.cfg.Partitions.suffix("incidents"), bus.IncidentsSubject, incidents, func(i event.Incident) string { return i.Site }, it.outs)
	}
	if err != nil {
		it.err = err
		return it
	}
	it.cp = engine.TakeCheckpoint()
	if len(alerts) > 0 {
		s.log.Debug("correlated", "events", len(valid), "alerts", len(alerts), "incidents", len(incidents), "position", pos)
	}
	return it
}

// deadLetterMessage dead-letters a whole input message with its reason,
// with the id bus.Consume gives a poison message (so either path's dead
// letter of one message is stored once).
func deadLetterMessage(ctx context.Context, js jetstream.JetStream, msg jetstream.Msg, cause error) error {
	pos := position(msg)
	return bus.DeadLetter(ctx, js, bus.StageCorrelate, []event.DeadLetter{{
		ID:       event.NewID("dlq-msg", bus.StageCorrelate, pos),
		Time:     time.Now().UTC(),
		Stage:    bus.StageCorrelate,
		Reason:   cause.Error(),
		Payload:  string(msg.Data()),
		Position: pos,
	}})
}

// decode decodes a message of events into the apply stage's reusable
// buffer: a message of 1000 events is about 1 MB of Event structs, and
// allocating it for every message made the garbage collector run several
// times as often. The events' strings are not allocated either: they
// point into data (event.UnmarshalEventsRawFields; a decoded event has
// about 40 of them), which nothing writes to, and an event's Fields map is
// not built: it stays the message's bytes until a rule that reads fields
// is a candidate for the event (rule.Matcher.Eval decodes it then; building
// a map per event was most of the decoding). So the events and their strings
// are only used while their message is applied: the engine copies what it
// keeps beyond that (see own.go), alerts and incidents are encoded before
// the message is acknowledged, and the engine's memo of the last batch
// points into the buffer (the pipeline never applies a sequence twice
// without resetting the engine). The buffer keeps the last message alive
// until the next one is decoded, and no other: the events a smaller next
// message does not overwrite, and those of a failed decode, are cleared.
func (s *Service) decode(data []byte) ([]event.Event, error) {
	// The decoder checks every array and map header against the bytes
	// left (an element takes one at least), so a damaged or hostile
	// header is an error, not an allocation of what it announces.
	evs, err := event.UnmarshalEventsRawFields(data, s.evbuf[:0])
	if cap(evs) > cap(s.evbuf) {
		s.evbuf, s.evlen = evs[:0], 0 // the old buffer is dropped whole
	}
	if err != nil {
		// The decoder does not say how far it got.
		clear(s.evbuf[:cap(s.evbuf)])
		s.evlen = 0
		return nil, err
	}
	if len(evs) < s.evlen {
		clear(s.evbuf[len(evs):s.evlen])
	}
	s.evlen = len(evs)
	return evs, nil
}
