package loadgen

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/shared/event"
)

// RawReport is what VerifyRaw found on the raw stream for one run.
type RawReport struct {
	// Run and First..Last are the sequence numbers looked for.
	Run         string
	First, Last uint64
	// Events is the number of events of the run found (Last-First+1 when
	// nothing is missing or duplicated).
	Events uint64
	// Missing sequence numbers were not found, Duplicated ones were found
	// more than once (counting every extra copy), Outside are events of
	// the run with a sequence number outside First..Last.
	Missing, Duplicated, Outside uint64
	// Other counts the events of other runs (or without a run) read on
	// the way, Undecodable the messages that are not event batches (e.g. a
	// poison message of a test).
	Other, Undecodable uint64
	// FirstStored and LastStored are the JetStream timestamps of the
	// first and last message holding an event of the run: LastStored
	// minus the load's start is the wall-clock time until the last
	// record was durable.
	FirstStored, LastStored time.Time
}

// OK reports whether every sequence number was found exactly once.
func (r RawReport) OK() bool {
	return r.Missing == 0 && r.Duplicated == 0 && r.Outside == 0 && r.Events == r.Last-r.First+1
}

// String summarises the report.
func (r RawReport) String() string {
	return fmt.Sprintf("raw stream: run %s seq %d..%d: %d events, %d missing, %d duplicated, %d outside the range (%d events of other runs, %d undecodable messages)",
		r.Run, r.First, r.Last, r.Events, r.Missing, r.Duplicated, r.Outside, r.Other, r.Undecodable)
}

// VerifyRaw reads C981_RAW from its start with an ordered consumer and
// checks that every sequence number First..Last of run was published
// exactly once. It returns when every sequence number was found and the
// stream's end (at that moment) was read, or when no message arrived for
// quiet (what is missing then is reported). It returns an error only when
// the stream cannot be read.
func VerifyRaw(ctx context.Context, js jetstream.JetStream, run string, first, last uint64, quiet time.Duration) (RawReport, error) {
	rep := RawReport{Run: run, First: first, Last: last}
	if last < first {
		return rep, fmt.Errorf("verify raw: last %d < first %d", last, first)
	}
	stream, err := js.Stream(ctx, bus.StreamRaw)
	if err != nil {
		return rep, fmt.Errorf("verify raw: %w", err)
	}
	cons, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return rep, fmt.Errorf("verify raw: %w", err)
	}
	want := last - first + 1
	seen := make([]uint8, want)
	var found uint64     // distinct sequence numbers seen
	var streamSeq uint64 // stream sequence of the last message read
	lastMsg := time.Now()
	var evs []event.Event
	for {
		if found == want {
			// Read on to the stream's current end, so that duplicates
			// published after the last new number are counted.
			info, err := stream.Info(ctx)
			if err != nil {
				return rep, fmt.Errorf("verify raw: %w", err)
			}
			if streamSeq >= info.State.LastSeq {
				break
			}
		}
		batch, err := cons.Fetch(256, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			return rep, fmt.Errorf("verify raw: fetch: %w", err)
		}
		got := 0
		for msg := range batch.Messages() {
			got++
			evs = evs[:0]
			if err := event.Unmarshal(msg.Data(), &evs); err != nil {
				rep.Undecodable++
				evs = evs[:0]
			}
			mine := false
			for i := range evs {
				r, seq, ok := Seq([]byte(evs[i].Raw))
				switch {
				case !ok || r != run:
					rep.Other++
					continue
				case seq < first || seq > last:
					rep.Outside++
				default:
					if seen[seq-first]++; seen[seq-first] == 1 {
						found++
					} else {
						rep.Duplicated++
					}
				}
				rep.Events++
				mine = true
			}
			md, err := msg.Metadata()
			if err != nil {
				return rep, fmt.Errorf("verify raw: message metadata: %w", err)
			}
			streamSeq = md.Sequence.Stream
			if mine {
				if rep.FirstStored.IsZero() {
					rep.FirstStored = md.Timestamp
				}
				rep.LastStored = md.Timestamp
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) && !errors.Is(err, context.DeadlineExceeded) {
			return rep, fmt.Errorf("verify raw: fetch: %w", err)
		}
		if got > 0 {
			lastMsg = time.Now()
		} else if time.Since(lastMsg) > quiet {
			break
		}
		if ctx.Err() != nil {
			return rep, fmt.Errorf("verify raw: %w", ctx.Err())
		}
	}
	rep.Missing = want - found
	return rep, nil
}
