package store

import (
	"sync"

	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/shared/event"
	"github.com/c981/c981/services/store/chstore"
)

// record is one decoded bus record and the rows it maps to.
type record struct {
	id, site, source string
	// rows are the table rows of the record (an action plan has one per
	// step); nil when err is set.
	rows [][]any
	// err wraps chstore.ErrInvalidRow when the record cannot be stored.
	err error
	// orig is the decoded record, JSON-encoded into a dead letter's payload.
	orig any
}

// table is what one writer needs to know about its stream and table.
type table struct {
	name    string
	stream  string
	durable string
	columns []string
	// decode decodes a message's records; for the events table decodeSlab
	// does instead, into the memory of a slab the writer takes from
	// eventSlabs and returns once the message's batch is acknowledged.
	decode     func(data []byte) ([]record, error)
	decodeSlab func(data []byte, s *eventSlab) ([]record, error)
	// waitStream: the stream is created by another stage; the writer waits
	// for it instead of failing the start (see awaitConsumer).
	waitStream bool
}

// decoder decodes a batch of T and maps each record with rows.
func decoder[T any](rows func(*T) ([][]any, error), meta func(*T) (id, site, source string)) func([]byte) ([]record, error) {
	return func(data []byte) ([]record, error) {
		var recs []T
		if err := event.Unmarshal(data, &recs); err != nil {
			return nil, err
		}
		out := make([]record, len(recs))
		for i := range recs {
			r := &recs[i]
			id, site, source := meta(r)
			rs, err := rows(r)
			out[i] = record{id: id, site: site, source: source, rows: rs, err: err, orig: r}
		}
		return out, nil
	}
}

// decodeEvents decodes a batch of events into the slab s (its events and
// records are reused, overwritten by the decoder) without copying their
// strings and without building their Fields maps
// (event.UnmarshalEventsRawFields: the strings, and the fields of compact
// records, point into data, the message's bytes, which the writer holds
// until the batch is acknowledged) and maps each event to a
// chstore.EventRef row (chstore.EventRefs, the rows of a message in one
// allocation), which chstore.Insert sends column by column, reading the
// fields with RangeFields. Whatever outlives the batch copies what it
// keeps (textIndex.state clones the site); a dead letter's payload decodes
// the fields (payload).
func decodeEvents(data []byte, s *eventSlab) ([]record, error) {
	evs, err := event.UnmarshalEventsRawFields(data, s.evs)
	s.evs = evs
	if err != nil {
		return nil, err
	}
	rows, errs := chstore.EventRefs(evs)
	out := s.recs[:0]
	if cap(out) < len(evs) {
		out = make([]record, 0, len(evs))
	}
	for i := range evs {
		e := &evs[i]
		r := record{id: e.ID, site: e.Site, source: e.Source, orig: e}
		if errs != nil && errs[i] != nil {
			r.err = errs[i]
		} else {
			r.rows = rows[i : i+1 : i+1]
		}
		out = append(out, r)
	}
	s.recs = out
	return out, nil
}

// eventSlab is the memory the events of one message are decoded into:
// about 1.3 KiB per event, which a fresh slice per message made the
// store's largest allocation (a megabyte per message, zeroed, then
// scanned by the GC). A slab is taken from eventSlabs for a message and
// put back once the message's batch is acknowledged (writer.recycle),
// when no row, dead letter or index key refers to its events any more.
type eventSlab struct {
	evs  []event.Event
	recs []record
}

// eventSlabs holds the slabs of acknowledged batches for reuse.
var eventSlabs = sync.Pool{New: func() any { return new(eventSlab) }}

func one(row []any, err error) ([][]any, error) {
	if err != nil {
		return nil, err
	}
	return [][]any{row}, nil
}

// tables lists the five pipeline writers (Run adds auditTable).
func tables() []table {
	return []table{
		{
			name: chstore.TableEvents, stream: bus.StreamEvents, durable: bus.ConsumerStoreEvents, columns: chstore.EventColumns,
			decodeSlab: decodeEvents,
		},
		{
			name: chstore.TableAlerts, stream: bus.StreamAlerts, durable: bus.ConsumerStoreAlerts, columns: chstore.AlertColumns,
			decode: decoder(func(a *event.Alert) ([][]any, error) { return one(chstore.AlertRow(a)) },
				func(a *event.Alert) (string, string, string) { return a.ID, a.Site, a.RuleID }),
		},
		{
			name: chstore.TableIncidents, stream: bus.StreamIncidents, durable: bus.ConsumerStoreIncidents, columns: chstore.IncidentColumns,
			decode: decoder(func(in *event.Incident) ([][]any, error) { return one(chstore.IncidentRow(in)) },
				func(in *event.Incident) (string, string, string) { return in.ID, in.Site, in.Key }),
		},
		{
			name: chstore.TableActions, stream: bus.StreamActions, durable: bus.ConsumerStoreActions, columns: chstore.ActionColumns,
			decode: decoder(chstore.ActionRows,
				func(p *event.Plan) (string, string, string) { return p.ID, p.Site, p.PlaybookID }),
		},
		{
			name: chstore.TableDeadLetters, stream: bus.StreamDLQ, durable: bus.ConsumerStoreDLQ, columns: chstore.DeadLetterColumns,
			decode: decoder(func(d *event.DeadLetter) ([][]any, error) { return [][]any{chstore.DeadLetterRow(d)}, nil },
				func(d *event.DeadLetter) (string, string, string) { return d.ID, d.Site, d.Source }),
		},
	}
}
