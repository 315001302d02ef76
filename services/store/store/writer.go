package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/shared/event"
	"github.com/c981/c981/services/store/chstore"
)

const (
	// maxPull bounds the messages a writer's pull subscription requests
	// ahead of the batch being gathered.
	maxPull = 256
)

// writer moves one stream into one table.
type writer struct {
	svc  *Service
	t    table
	cons jetstream.Consumer
	// it is the pull subscription batches are gathered from (pull), nil
	// until the first batch and after it ended.
	it jetstream.MessagesContext
	// carry holds the messages of a parked subscription (park), taken by
	// the next batches before the subscription's.
	carry []jetstream.Msg
	conn  driver.Conn
	log   *slog.Logger
	// idx and grams build the text-search index of the events writer
	// (nil for the other tables; textindex.go): grams counts the keys of
	// a gathered batch, idx decides which rows the finisher inserts.
	idx   *textIndex
	grams *gramCounter
}

// held is one message of the batch being gathered.
type held struct {
	msg    jetstream.Msg
	pos    string    // "C981_EVENTS seq 12", or the subject without metadata
	stored time.Time // when the stream stored it (deterministic across redeliveries)
	poison bool      // could not be decoded: terminate instead of ack
	// slab holds the message's decoded events (events table), returned to
	// eventSlabs once the batch is acknowledged.
	slab *eventSlab
}

// row is one table row and where it came from.
type row struct {
	vals []any
	rec  *record
	msg  int // index into batch.msgs
	idx  int // record index in its message
	sub  int // row index in its record
}

// batch is what one flush inserts and acknowledges.
type batch struct {
	msgs []held
	rows []row
	dead []event.DeadLetter
	// stopKeepAlive ends the InProgress ticker started once the batch was
	// gathered (keepAlive); it is idempotent.
	stopKeepAlive func()
	// grams are the text-index keys of the events (events writer only).
	grams *gramBatch
}

func (b *batch) size() int { return len(b.rows) + len(b.dead) }

// run gathers and flushes batches until ctx ends. Gathering (fetch, decode,
// map) runs in this goroutine; each gathered batch is inserted by a
// goroutine of its own, up to inserts batches at the same time (the events
// table's InsertConcurrency, 1 for the others), so the next batch is
// decoded, and another inserted, while ClickHouse ingests one; and one
// finisher completes the batches in the order they were gathered: text
// index keys, dead letters, acknowledgement (finish). A table holds at
// most inserts+1 batches (inserts being inserted or waiting for the
// finisher, one gathering), their messages kept alive with InProgress
// until acknowledged.
func (w *writer) run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer w.unsubscribe()
	inserts := 1
	if w.t.name == chstore.TableEvents {
		inserts = w.svc.cfg.InsertConcurrency
	}
	// slots bounds the batches between gathering and finishing, running
	// the inserts in progress; flights hands the batches to the finisher
	// in gathering order.
	slots := make(chan struct{}, inserts+1)
	running := make(chan struct{}, inserts)
	flights := make(chan *flight, inserts+1)
	var (
		flushErr error
		wg       sync.WaitGroup
	)
	wg.Go(func() {
		for f := range flights {
			<-f.done
			w.complete(ctx, f, &flushErr, cancel)
			<-slots
		}
	})
	for ctx.Err() == nil {
		if !w.acquire(ctx, slots) {
			break
		}
		b := w.collect(ctx)
		if len(b.msgs) == 0 {
			<-slots
			continue
		}
		b.stopKeepAlive = w.keepAlive(b)
		if w.grams != nil {
			b.grams = countGrams(w.grams, b)
		}
		if ctx.Err() != nil {
			w.nak(b)
			<-slots
			break
		}
		f := &flight{b: b, done: make(chan struct{})}
		go func() {
			defer close(f.done)
			select {
			case running <- struct{}{}:
			case <-ctx.Done():
				f.err = ctx.Err()
				return
			}
			defer func() { <-running }()
			f.rejected, f.err = w.insertAll(ctx, w.t.name, w.t.columns, b.rows)
		}()
		flights <- f // never blocks: at most inserts+1 flights hold a slot
	}
	close(flights)
	wg.Wait()
	return flushErr
}

// flight is a gathered batch being inserted: done is closed when the
// insert returned the rows ClickHouse rejected, or an error (ctx ended).
type flight struct {
	b        *batch
	rejected []rejection
	err      error
	done     chan struct{}
}

// complete finishes an inserted batch in the finisher goroutine: it
// acknowledges it (finish), or naks it when the writer is stopping or an
// earlier batch failed; the first failure is kept in *flushErr and stops
// the writer (cancel).
func (w *writer) complete(ctx context.Context, f *flight, flushErr *error, cancel context.CancelFunc) {
	b := f.b
	if *flushErr != nil || ctx.Err() != nil {
		w.nak(b)
		return
	}
	err := f.err
	if err == nil {
		err = w.finish(ctx, b, f.rejected)
	}
	if err == nil {
		return
	}
	if ctx.Err() != nil {
		w.nak(b)
		return
	}
	b.stopKeepAlive()
	*flushErr = err
	cancel()
}

// collect gathers messages until the batch holds BatchRows rows, BatchWait
// has passed since its first message, MaxAckPending messages are held,
// their payloads reach MaxBatchBytes, or ctx ends. Messages come from one
// long-lived pull subscription (pull): the client keeps a pull budget of
// messages requested ahead, and whatever the server delivers stays in the
// subscription until it is read, however late it arrives. (A fetch per
// round dropped the messages that reached the client after the fetch had
// given up on them, and they came back only an AckWait later.)
func (w *writer) collect(ctx context.Context) *batch {
	cfg := w.svc.cfg
	b := &batch{}
	var deadline time.Time
	held := 0 // payload bytes of b.msgs
	for b.size() < cfg.BatchRows && len(b.msgs) < cfg.MaxAckPending && held < cfg.MaxBatchBytes && ctx.Err() == nil {
		// The first message of a batch is waited for until ctx ends; the
		// others until the batch's deadline.
		opt := jetstream.NextContext(ctx)
		if len(b.msgs) > 0 {
			wait := time.Until(deadline)
			if wait <= 0 {
				break
			}
			opt = jetstream.NextMaxWait(wait)
		}
		msg, err := w.next(opt)
		if err != nil {
			switch {
			case ctx.Err() != nil || errors.Is(err, nats.ErrTimeout):
			case errors.Is(err, errSubscribe):
				w.log.Warn("pull", "err", err)
				sleep(ctx, cfg.RetryMin)
			case errors.Is(err, jetstream.ErrMsgIteratorClosed):
				// The connection closed, or the subscription ended on a
				// terminal status (the consumer was deleted): the next
				// round subscribes again.
				w.log.Warn("pull subscription ended; subscribing again", "err", err)
				w.it = nil
				sleep(ctx, cfg.RetryMin)
			default:
				w.log.Warn("pull", "err", err)
			}
			continue
		}
		if len(b.msgs) == 0 {
			deadline = time.Now().Add(cfg.BatchWait)
		}
		held += len(msg.Data())
		w.add(b, msg)
	}
	w.svc.m.unacked.WithLabelValues(w.t.name).Add(float64(len(b.msgs)))
	return b
}

// errSubscribe marks a failed subscription (pull).
var errSubscribe = errors.New("subscribe")

// next returns the next message for a batch: a parked one (w.carry), else
// the subscription's.
func (w *writer) next(opt jetstream.NextOpt) (jetstream.Msg, error) {
	if len(w.carry) > 0 {
		msg := w.carry[0]
		w.carry[0] = nil
		w.carry = w.carry[1:]
		return msg, nil
	}
	it, err := w.pull()
	if err != nil {
		return nil, err
	}
	return it.Next(opt)
}

// pull returns the writer's pull subscription, subscribing on first use.
// It asks the server ahead for up to half a batch's bytes (at least one
// message of the stream limit) and at most maxPull messages, so the next
// messages are already in the client when a batch starts.
func (w *writer) pull() (jetstream.MessagesContext, error) {
	if w.it != nil {
		return w.it, nil
	}
	cfg := w.svc.cfg
	it, err := w.cons.Messages(bus.PullBudget(min(maxPull, cfg.MaxAckPending), cfg.MaxBatchBytes/2))
	if err != nil {
		return nil, fmt.Errorf("%w %s: %w", errSubscribe, w.t.durable, err)
	}
	w.it = it
	return it, nil
}

// acquire takes a slot for the next batch (false: ctx ended first). While
// it waits, the messages the subscription pulled ahead are in no batch and
// so not kept alive: if the wait passes AckWait/3 (the inserts in flight
// are slow or retrying: ClickHouse is down), it parks the subscription -
// ends it, moves what it holds to w.carry, where InProgress keeps it
// leased, and subscribes again when a batch is next gathered - so that
// nothing is redelivered and inserted twice however long the wait.
func (w *writer) acquire(ctx context.Context, slots chan<- struct{}) bool {
	t := time.NewTimer(w.svc.cfg.AckWait / 3)
	defer t.Stop()
	select {
	case slots <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	case <-t.C:
	}
	w.park()
	w.svc.m.parked.WithLabelValues(w.t.name).Inc()
	stop := w.keepAliveMsgs(w.carry)
	defer stop()
	select {
	case slots <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

// drainWait bounds how long ending a subscription waits for the messages
// the server sent to it before it ended.
const drainWait = 5 * time.Second

// park ends the pull subscription and appends the messages it holds,
// including those still on their way from the server, to w.carry, which
// the next batches take first.
func (w *writer) park() {
	it := w.it
	if it == nil {
		return
	}
	w.it = nil
	w.carry = append(w.carry, drain(it, w.log)...)
}

// drain ends it and returns the messages it holds: what it buffered and
// what the server sent before it learnt of the end (nats.go's drain reads
// up to the server's answer to the unsubscription).
func drain(it jetstream.MessagesContext, log *slog.Logger) []jetstream.Msg {
	it.Drain()
	var msgs []jetstream.Msg
	deadline := time.Now().Add(drainWait)
	for {
		wait := time.Until(deadline)
		if wait <= 0 {
			log.Warn("pull subscription did not drain; what it still receives is redelivered after ack_wait", "after", drainWait)
			break
		}
		msg, err := it.Next(jetstream.NextMaxWait(wait))
		if err != nil {
			if !errors.Is(err, jetstream.ErrMsgIteratorClosed) && !errors.Is(err, nats.ErrTimeout) {
				log.Warn("drain pull subscription", "err", err)
			}
			break
		}
		msgs = append(msgs, msg)
	}
	it.Stop()
	return msgs
}

// keepAliveMsgs sends InProgress for msgs at once and then every
// AckWait/3 until the returned function is called.
func (w *writer) keepAliveMsgs(msgs []jetstream.Msg) func() {
	if len(msgs) == 0 {
		return func() {}
	}
	return w.lease(true, func() {
		for _, m := range msgs {
			if err := m.InProgress(); err != nil {
				w.log.Debug("in progress", "subject", m.Subject(), "err", err)
			}
		}
	})
}

// unsubscribe ends the pull subscription when the writer stops: the
// messages it holds that no batch took, and the parked ones, are returned
// with a nak, so a restarted store gets them at once rather than an
// AckWait later.
func (w *writer) unsubscribe() {
	w.park()
	for _, msg := range w.carry {
		if err := msg.Nak(); err != nil {
			w.log.Debug("nak", "subject", msg.Subject(), "err", err)
		}
	}
	w.carry = nil
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// add decodes msg into the batch: its rows, or dead letters for a message
// that cannot be decoded and for records that cannot be stored.
func (w *writer) add(b *batch, msg jetstream.Msg) {
	h := held{msg: msg, pos: msg.Subject(), stored: time.Unix(0, 0).UTC()}
	if md, err := msg.Metadata(); err == nil {
		h.pos = md.Stream + " seq " + strconv.FormatUint(md.Sequence.Stream, 10)
		h.stored = md.Timestamp.UTC()
		w.svc.m.pending.WithLabelValues(w.t.name).Set(float64(md.NumPending))
	}
	mi := len(b.msgs)
	recs, err := w.decode(msg, &h)
	if err != nil {
		h.poison = true
		b.dead = append(b.dead, event.DeadLetter{
			ID:       event.NewID(bus.StageStore, w.t.name, h.pos),
			Time:     h.stored,
			Stage:    bus.StageStore,
			Reason:   fmt.Sprintf("decode %s for table %s: %v", h.pos, w.t.name, err),
			Payload:  string(msg.Data()),
			Position: h.pos,
		})
		w.svc.m.deadLetters.WithLabelValues(w.t.name, reasonPoison).Inc()
		w.log.Warn("undecodable message dead-lettered", "position", h.pos, "err", err)
	}
	growRows(b, len(recs), w.svc.cfg.BatchRows)
	for ri := range recs {
		rec := &recs[ri]
		if rec.err != nil {
			pos := h.pos + " record " + strconv.Itoa(ri)
			b.dead = append(b.dead, event.DeadLetter{
				ID:       event.NewID(bus.StageStore, w.t.name, pos),
				Time:     h.stored,
				Stage:    bus.StageStore,
				Site:     rec.site,
				Source:   rec.source,
				Reason:   fmt.Sprintf("store %s: %v", w.t.name, rec.err),
				Payload:  payload(rec.orig),
				Position: pos,
			})
			w.svc.m.deadLetters.WithLabelValues(w.t.name, reasonInvalid).Inc()
			w.log.Warn("invalid record dead-lettered", "position", pos, "err", rec.err)
			continue
		}
		for si, vals := range rec.rows {
			b.rows = append(b.rows, row{vals: vals, rec: rec, msg: mi, idx: ri, sub: si})
		}
	}
	b.msgs = append(b.msgs, h)
}

// growRows makes room in b.rows for n more rows (one per record, the
// usual case), doubling its capacity up to batchRows (the batch's bound)
// where append would grow a large slice by a quarter: a batch of events
// is gathered from many messages, and growing by a quarter allocated and
// copied its rows about five times over.
func growRows(b *batch, n, batchRows int) {
	if need := len(b.rows) + n; need > cap(b.rows) {
		rows := make([]row, len(b.rows), max(need, min(2*cap(b.rows), batchRows)))
		copy(rows, b.rows)
		b.rows = rows
	}
}

// decode checks the encoding header and decodes the records of msg, into
// a slab recorded in h for a table that decodes into slabs.
func (w *writer) decode(msg jetstream.Msg, h *held) ([]record, error) {
	if enc := msg.Headers().Get(bus.HeaderEncoding); enc != "" && enc != event.Encoding {
		return nil, fmt.Errorf("unsupported encoding %q (want %q)", enc, event.Encoding)
	}
	if w.t.decodeSlab == nil {
		return w.t.decode(msg.Data())
	}
	h.slab = eventSlabs.Get().(*eventSlab)
	return w.t.decodeSlab(msg.Data(), h.slab)
}

// recycle returns the slabs of an acknowledged batch to eventSlabs.
func recycle(b *batch) {
	for i := range b.msgs {
		if s := b.msgs[i].slab; s != nil {
			b.msgs[i].slab = nil
			eventSlabs.Put(s)
		}
	}
}

// payload is v JSON-encoded, the payload of a dead letter. An event
// whose fields decodeEvents left raw (event.UnmarshalEventsRawFields) is
// encoded with its Fields map decoded (in a copy: its row may still
// alias it).
func payload(v any) string {
	if e, ok := v.(*event.Event); ok && e.Fields == nil && e.NumFields() > 0 {
		c := *e
		c.DecodeFields()
		v = &c
	}
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%+v", v)
	}
	return string(data)
}

// finish completes a batch whose rows are inserted (but for rejected):
// it dead-letters the rejected rows, writes the text-index keys of the
// batch (events writer), runs the afterInsert hook and acknowledges the
// messages. Batches must be finished in the order they were gathered, by
// one goroutine (the text index state is the finisher's).
func (w *writer) finish(ctx context.Context, b *batch, rejected []rejection) error {
	stop := b.stopKeepAlive
	for _, rj := range rejected {
		h := b.msgs[rj.row.msg]
		pos := h.pos + " record " + strconv.Itoa(rj.row.idx)
		if len(rj.row.rec.rows) > 1 {
			pos += " row " + strconv.Itoa(rj.row.sub)
		}
		b.dead = append(b.dead, event.DeadLetter{
			ID:       event.NewID(bus.StageStore, w.t.name, pos),
			Time:     h.stored,
			Stage:    bus.StageStore,
			Site:     rj.row.rec.site,
			Source:   rj.row.rec.source,
			Reason:   fmt.Sprintf("clickhouse rejected row for %s: %v", w.t.name, rj.err),
			Payload:  payload(rj.row.rec.orig),
			Position: pos,
		})
		w.svc.m.deadLetters.WithLabelValues(w.t.name, reasonRejected).Inc()
		w.log.Warn("rejected row dead-lettered", "position", pos, "err", rj.err)
	}
	if w.idx != nil {
		if err := w.indexText(ctx, b); err != nil {
			return err
		}
	}
	if len(b.dead) > 0 {
		dl := make([]row, len(b.dead))
		for i := range b.dead {
			dl[i] = row{vals: chstore.DeadLetterRow(&b.dead[i]), idx: i}
		}
		bad, err := w.insertAll(ctx, chstore.TableDeadLetters, chstore.DeadLetterColumns, dl)
		if err != nil {
			return err
		}
		for _, rj := range bad {
			w.svc.m.unstorable.WithLabelValues(w.t.name).Inc()
			d := b.dead[rj.row.idx]
			w.log.Error("clickhouse rejected a dead letter; it is logged here and acknowledged",
				"err", rj.err, "id", d.ID, "position", d.Position, "reason", d.Reason, "payload", d.Payload)
		}
	}
	if hook := w.svc.afterInsert; hook != nil {
		if err := hook(w.t.name); err != nil {
			return err
		}
	}
	stop()
	w.ack(b)
	recycle(b)
	if w.idx != nil && w.idx.deltaDue(time.Now()) {
		w.flushGramDeltas(ctx)
	}
	return nil
}

// keepAlive sends InProgress for every held message each AckWait/3 until
// the returned function is called, so that retries do not let JetStream
// redeliver the batch.
func (w *writer) keepAlive(b *batch) func() {
	return w.lease(false, func() {
		for _, h := range b.msgs {
			if err := h.msg.InProgress(); err != nil {
				w.log.Debug("in progress", "position", h.pos, "err", err)
			}
		}
	})
}

// lease calls inProgress every AckWait/3 (and once at once when now is
// set) until the returned function, which may be called more than once,
// is called.
func (w *writer) lease(now bool, inProgress func()) func() {
	if now {
		inProgress()
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(w.svc.cfg.AckWait / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				inProgress()
			}
		}
	})
	var once sync.Once
	return func() {
		once.Do(func() {
			close(done)
			wg.Wait()
		})
	}
}

// ack acknowledges the batch's messages (terminating the undecodable ones).
func (w *writer) ack(b *batch) {
	m := w.svc.m
	oldest := time.Now()
	for _, h := range b.msgs {
		var err error
		if h.poison {
			err = h.msg.Term()
		} else {
			err = h.msg.Ack()
		}
		if err != nil {
			m.ackFailures.WithLabelValues(w.t.name).Inc()
			w.log.Warn("ack failed; the message will be redelivered and deduplicated", "position", h.pos, "err", err)
		}
		if h.stored.After(time.Unix(0, 0)) && h.stored.Before(oldest) {
			oldest = h.stored
		}
	}
	m.messages.WithLabelValues(w.t.name).Add(float64(len(b.msgs)))
	m.batches.WithLabelValues(w.t.name).Inc()
	m.lag.WithLabelValues(w.t.name).Set(time.Since(oldest).Seconds())
	m.unacked.WithLabelValues(w.t.name).Sub(float64(len(b.msgs)))
}

// nak returns the batch's messages for redelivery (shutdown).
func (w *writer) nak(b *batch) {
	if b.stopKeepAlive != nil {
		b.stopKeepAlive()
	}
	for _, h := range b.msgs {
		if err := h.msg.Nak(); err != nil {
			w.log.Debug("nak", "position", h.pos, "err", err)
		}
	}
	w.svc.m.unacked.WithLabelValues(w.t.name).Sub(float64(len(b.msgs)))
}

// rejection is a row ClickHouse or the driver refused, with the reason.
type rejection struct {
	row row
	err error
}

// insertAll inserts rows into table. Transient failures are retried with
// backoff until ctx ends (the only error returned); a part rejected as bad
// data is bisected until the offending rows are isolated, and those are
// returned while every other row is inserted.
func (w *writer) insertAll(ctx context.Context, tbl string, cols []string, rows []row) ([]rejection, error) {
	var rejected []rejection
	stack := [][]row{rows}
	for len(stack) > 0 {
		part := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if len(part) == 0 {
			continue
		}
		err := w.insertRetry(ctx, tbl, cols, part)
		if err == nil {
			continue
		}
		if errors.Is(err, errSplit) {
			mid := len(part) / 2
			stack = append(stack, part[mid:], part[:mid])
			continue
		}
		if !chstore.IsBadData(err) {
			return nil, err
		}
		var ae *chstore.AppendError
		switch {
		case errors.As(err, &ae) && ae.Index < len(part):
			rejected = append(rejected, rejection{row: part[ae.Index], err: ae.Err})
			rest := make([]row, 0, len(part)-1)
			rest = append(append(rest, part[:ae.Index]...), part[ae.Index+1:]...)
			stack = append(stack, rest)
		case len(part) == 1:
			rejected = append(rejected, rejection{row: part[0], err: err})
		default:
			mid := len(part) / 2
			stack = append(stack, part[mid:], part[:mid])
		}
	}
	return rejected, nil
}

// minSplitRows is the smallest part a timed-out insert is split into.
const minSplitRows = 1000

// errSplit asks insertAll to retry a part as two halves.
var errSplit = errors.New("insert timed out: retry as two halves")

// isTimeout reports whether err is the client giving up waiting for the
// server (clickhouse.read_timeout), as opposed to a refused or broken
// connection.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() || errors.Is(err, os.ErrDeadlineExceeded)
}

// insertRetry inserts one part, retrying transient failures with capped
// exponential backoff. It returns nil, a bad-data error, ctx's error, or
// errSplit when the insert of a part of at least 2*minSplitRows rows timed
// out: a server too slow for the block (starved of CPU, or busy with the
// events' materialized views) would time out on the same rows again and
// again, each attempt possibly stored (duplicates collapse under FINAL)
// while the backlog grows; smaller blocks complete.
func (w *writer) insertRetry(ctx context.Context, tbl string, cols []string, part []row) error {
	vals := make([][]any, len(part))
	for i := range part {
		vals[i] = part[i].vals
	}
	m := w.svc.m
	bo := backoff{min: w.svc.cfg.RetryMin, max: w.svc.cfg.RetryMax}
	storedCol := slices.Index(cols, chstore.StoredMSColumn)
	for {
		start := time.Now()
		// The stored time is the time of the attempt that succeeds: set
		// again before every retry.
		chstore.SetStoredMS(vals, storedCol, start)
		err := chstore.Insert(ctx, w.conn, tbl, cols, vals)
		if err == nil {
			m.insertDur.WithLabelValues(tbl).Observe(time.Since(start).Seconds())
			m.rows.WithLabelValues(tbl).Add(float64(len(vals)))
			w.svc.setHealth(w.t.name, nil)
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if chstore.IsBadData(err) {
			w.log.Warn("clickhouse rejected the rows as bad data; isolating them", "table", tbl, "rows", len(vals), "err", err)
			return err
		}
		if isTimeout(err) && len(part) >= 2*minSplitRows {
			m.splits.WithLabelValues(tbl).Inc()
			w.log.Warn("insert timed out; retrying the rows as two smaller inserts", "table", tbl, "rows", len(vals), "err", err)
			return errSplit
		}
		m.retries.WithLabelValues(tbl).Inc()
		w.svc.setHealth(w.t.name, err)
		w.log.Warn("insert failed; retrying the same rows", "table", tbl, "rows", len(vals), "err", err, "retry_in", bo.next())
		if !bo.wait(ctx) {
			return ctx.Err()
		}
	}
}
