package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/c981/c981/services/shared/bus"
)

// Stream is the JetStream stream of the audit chains (bus.StreamAudit).
const Stream = bus.StreamAudit

// Subject returns the audit subject of a site: c981.audit.<site>.
func Subject(site string) string { return bus.AuditSubject(site) }

// Log appends to and reads the per-site chains in C981_AUDIT.
type Log struct {
	js     jetstream.JetStream
	stream jetstream.Stream
	// mu guards ends: the last record this Log appended per site and its
	// stream sequence, so that an Append need not read the chain's end
	// first. Another writer's append makes the first publish fail its
	// expected-last-sequence check; the end is then read again.
	mu   sync.Mutex
	ends map[string]chainEnd
}

// chainEnd is the last record of a site's chain and its stream sequence.
type chainEnd struct {
	rec Record
	seq uint64
}

// end returns the cached end of site's chain, or reads it.
func (l *Log) end(ctx context.Context, site string) (*Record, uint64, error) {
	l.mu.Lock()
	e, ok := l.ends[site]
	l.mu.Unlock()
	if ok {
		return &e.rec, e.seq, nil
	}
	return l.Last(ctx, site)
}

// setEnd caches the end of site's chain (nil: forget it).
func (l *Log) setEnd(site string, rec *Record, seq uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if rec == nil {
		delete(l.ends, site)
		return
	}
	if l.ends == nil {
		l.ends = map[string]chainEnd{}
	}
	if cur, ok := l.ends[site]; !ok || seq > cur.seq {
		l.ends[site] = chainEnd{rec: *rec, seq: seq}
	}
}

// ExistingLog opens the C981_AUDIT stream as it is, without creating or
// changing it: for readers such as `c981 audit verify`, which must not
// touch a cluster's settings (replicas) of the chain.
func ExistingLog(ctx context.Context, js jetstream.JetStream) (*Log, error) {
	st, err := js.Stream(ctx, Stream)
	if err != nil {
		return nil, fmt.Errorf("audit: stream %s: %w", Stream, err)
	}
	return &Log{js: js, stream: st}, nil
}

// OpenLog creates (or updates) the C981_AUDIT stream: file storage, no
// age limit, no deletes or purges, a 2-minute duplicate window (records
// have deterministic ids, so a redelivered input does not add them twice),
// replicas copies (3 in a cluster; 0 means 1).
func OpenLog(ctx context.Context, js jetstream.JetStream, replicas int) (*Log, error) {
	st, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        Stream,
		Description: "C-981 response audit trail, hash-chained per site",
		Subjects:    []string{"c981.audit.>"},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardNew,
		DenyDelete:  true,
		DenyPurge:   true,
		Duplicates:  2 * time.Minute,
		Replicas:    max(replicas, 1),
	})
	if err != nil {
		return nil, fmt.Errorf("audit: stream %s: %w", Stream, err)
	}
	return &Log{js: js, stream: st}, nil
}

// Last returns the last record of site's chain and its stream sequence,
// or nil, 0 for an empty chain.
func (l *Log) Last(ctx context.Context, site string) (*Record, uint64, error) {
	msg, err := l.stream.GetLastMsgForSubject(ctx, Subject(site))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("audit: last record of %s: %w", site, err)
	}
	var r Record
	if err := json.Unmarshal(msg.Data, &r); err != nil {
		return nil, 0, fmt.Errorf("audit: last record of %s (seq %d): %w", site, msg.Sequence, err)
	}
	return &r, msg.Sequence, nil
}

// maxConflicts bounds the retries when another writer appended first.
const maxConflicts = 10

// Append seals recs onto the chain of site and publishes them in order.
// Each publish expects the subject's last sequence to be the one the link
// was computed from, so two writers can never fork the chain; on a
// conflict the link is recomputed. A record whose id was already appended
// within the duplicate window is skipped.
func (l *Log) Append(ctx context.Context, site string, recs []Record) ([]Record, error) {
	out, prev, lastSeq, err := l.append(ctx, site, recs)
	if err != nil {
		l.setEnd(site, nil, 0)
		return out, err
	}
	if prev != nil {
		l.setEnd(site, prev, lastSeq)
	}
	return out, nil
}

// append does the work of Append; it returns the chain's end after it.
func (l *Log) append(ctx context.Context, site string, recs []Record) ([]Record, *Record, uint64, error) {
	out := make([]Record, 0, len(recs))
	prev, lastSeq, err := l.end(ctx, site)
	if err != nil {
		return nil, nil, 0, err
	}
	var buf []byte
	for _, r := range recs {
		r.Site = site
		for attempt := 0; ; attempt++ {
			sealed, err := Seal(r, prev)
			if err != nil {
				return out, nil, 0, err
			}
			// The record as json.Marshal writes it, without reflection.
			// A fresh buffer per record: Publish may keep it.
			buf, err = appendRecord(make([]byte, 0, len(buf)+64), &sealed)
			if err != nil {
				return out, nil, 0, fmt.Errorf("audit: encode: %w", err)
			}
			data := buf
			ack, err := l.js.Publish(ctx, Subject(site), data,
				jetstream.WithMsgID("audit/"+bus.Token(site)+"/"+sealed.ID), jetstream.WithExpectLastSequencePerSubject(lastSeq))
			if err == nil && ack.Duplicate {
				// Appended before (a redelivered input): not added again.
				if prev, lastSeq, err = l.Last(ctx, site); err != nil {
					return out, nil, 0, err
				}
				break
			}
			if err == nil {
				out = append(out, sealed)
				prev, lastSeq = &sealed, ack.Sequence
				break
			}
			if !conflict(err) || attempt >= maxConflicts {
				return out, nil, 0, fmt.Errorf("audit: append to %s: %w", site, err)
			}
			// Another writer appended first: relink to the new end.
			if prev, lastSeq, err = l.Last(ctx, site); err != nil {
				return out, nil, 0, err
			}
		}
	}
	return out, prev, lastSeq, nil
}

// conflict reports whether err is a failed expected-last-sequence check.
func conflict(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

// Read returns site's whole chain in order.
func (l *Log) Read(ctx context.Context, site string) ([]Record, error) {
	info, err := l.stream.Info(ctx, jetstream.WithSubjectFilter(Subject(site)))
	if err != nil {
		return nil, fmt.Errorf("audit: stream info: %w", err)
	}
	n := int(info.State.Subjects[Subject(site)])
	if n == 0 {
		return nil, nil
	}
	cons, err := l.stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{Subject(site)}})
	if err != nil {
		return nil, fmt.Errorf("audit: read %s: %w", site, err)
	}
	out := make([]Record, 0, n)
	for len(out) < n {
		batch, err := cons.Fetch(min(n-len(out), 500), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			return out, fmt.Errorf("audit: read %s: %w", site, err)
		}
		got := 0
		for msg := range batch.Messages() {
			got++
			var r Record
			if err := json.Unmarshal(msg.Data(), &r); err != nil {
				md, _ := msg.Metadata()
				seq := uint64(0)
				if md != nil {
					seq = md.Sequence.Stream
				}
				return out, fmt.Errorf("audit: record at stream seq %d is not a record: %w", seq, err)
			}
			out = append(out, r)
		}
		if err := batch.Error(); err != nil {
			return out, fmt.Errorf("audit: read %s: %w", site, err)
		}
		if got == 0 {
			return out, fmt.Errorf("audit: read %s: %d of %d records arrived", site, len(out), n)
		}
	}
	return out, nil
}
