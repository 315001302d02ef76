package event

import (
	"fmt"

	"github.com/tinylib/msgp/msgp"
)

// Encoding is the value of the Encoding header on bus messages that carry
// batches encoded by this package: MessagePack arrays of records, encoded
// and decoded by generated code (see batch.go). Records are maps keyed by
// the json field names, except events, which are written as compact
// positional arrays (see compact.go) and read in either form. The choice
// over encoding/json is measured by BenchmarkBatchCodec and
// BenchmarkBatchEncoding (docs/BENCHMARKS.md); the compact form's by
// BenchmarkEventRecordForms.
const Encoding = "msgpack"

// batchOf returns the generated encoder of a batch: one of the *Batch
// types or a slice of a record type of this package.
func batchOf(v any) (msgp.Marshaler, error) {
	switch x := v.(type) {
	case []Event:
		return EventBatch(x), nil
	case []Alert:
		return AlertBatch(x), nil
	case []Incident:
		return IncidentBatch(x), nil
	case []Plan:
		return PlanBatch(x), nil
	case []DeadLetter:
		return DeadLetterBatch(x), nil
	case msgp.Marshaler:
		return x, nil
	}
	return nil, fmt.Errorf("encode batch: unsupported type %T", v)
}

// Marshal encodes v — a slice of Event, Alert, Incident, Plan or DeadLetter
// (or the matching *Batch type) — in the bus encoding.
func Marshal(v any) ([]byte, error) {
	m, err := batchOf(v)
	if err != nil {
		return nil, err
	}
	// The generated MarshalMsg sizes its buffer itself (one Msgsize pass);
	// presizing here as well would walk every record twice.
	out, err := m.MarshalMsg(nil)
	if err != nil {
		return nil, fmt.Errorf("encode batch: %w", err)
	}
	return out, nil
}

// AppendEvents appends the bus encoding of evs - the bytes Marshal(evs)
// gives: an array of compact records (compact.go) - to buf, without
// Marshal's up-front size pass over every event's Fields: for publishers
// that reuse one buffer. The error is always nil (the compact encoding of
// an Event cannot fail); it stays for the callers written against the
// map-form encoder, which could.
func AppendEvents(buf []byte, evs []Event) ([]byte, error) {
	buf = msgp.AppendArrayHeader(buf, uint32(len(evs)))
	for i := range evs {
		buf = evs[i].appendCompact(buf)
	}
	return buf, nil
}

// Unmarshal decodes data produced by Marshal into v, a pointer to a slice of
// one of the record types (or to the matching *Batch type). Unknown fields
// are skipped, so older readers accept newer records.
func Unmarshal(data []byte, v any) error {
	var (
		rest []byte
		err  error
	)
	switch x := v.(type) {
	case *[]Event:
		rest, err = unmarshalBatchWith(data, x, (*Event).unmarshalRecord)
	case *EventBatch:
		rest, err = unmarshalBatchWith(data, (*[]Event)(x), (*Event).unmarshalRecord)
	case *[]Alert:
		rest, err = unmarshalBatch(data, x)
	case *AlertBatch:
		rest, err = unmarshalBatch(data, (*[]Alert)(x))
	case *[]Incident:
		rest, err = unmarshalBatch(data, x)
	case *IncidentBatch:
		rest, err = unmarshalBatch(data, (*[]Incident)(x))
	case *[]Plan:
		rest, err = unmarshalBatch(data, x)
	case *PlanBatch:
		rest, err = unmarshalBatch(data, (*[]Plan)(x))
	case *[]DeadLetter:
		rest, err = unmarshalBatch(data, x)
	case *DeadLetterBatch:
		rest, err = unmarshalBatch(data, (*[]DeadLetter)(x))
	case msgp.Unmarshaler:
		rest, err = x.UnmarshalMsg(data)
	default:
		return fmt.Errorf("decode batch: unsupported type %T", v)
	}
	if err != nil {
		return fmt.Errorf("decode batch: %w", err)
	}
	if len(rest) != 0 {
		return fmt.Errorf("decode batch: %d trailing bytes", len(rest))
	}
	return nil
}

// maxPrealloc bounds the records allocated up front for a batch from its
// array header; a longer batch grows as its records are decoded.
const maxPrealloc = 4096

// unmarshalBatch decodes a batch (an array of records) into *dst with the
// generated per-record decoder, like the generated *Batch UnmarshalMsg,
// except that it trusts the array header only as far as the data goes:
// every record takes at least one byte, so a count beyond the bytes left
// is rejected, and at most maxPrealloc records are allocated before any is
// decoded. The generated code allocates whatever the header announces: a
// five-byte message claiming 2^28 events took the process down (fatal
// out of memory, not a recoverable panic).
func unmarshalBatch[T any, P interface {
	*T
	msgp.Unmarshaler
}](data []byte, dst *[]T) ([]byte, error) {
	return unmarshalBatchWith(data, dst, func(r *T, b []byte) ([]byte, error) { return P(r).UnmarshalMsg(b) })
}

// unmarshalBatchWith is unmarshalBatch with the per-record decoder given:
// decode decodes the record b starts with into the zero record r and
// returns the bytes after it (event batches decode either record form,
// see (*Event).unmarshalRecord).
func unmarshalBatchWith[T any](data []byte, dst *[]T, decode func(r *T, b []byte) ([]byte, error)) ([]byte, error) {
	n, bts, err := msgp.ReadArrayHeaderBytes(data)
	if err != nil {
		return bts, msgp.WrapError(err)
	}
	if int64(n) > int64(len(bts)) {
		return bts, msgp.WrapError(fmt.Errorf("%d records in %d bytes: %w", n, len(bts), msgp.ErrShortBytes))
	}
	out := (*dst)[:0]
	if cap(out) < int(n) {
		out = make([]T, 0, min(int(n), maxPrealloc))
	}
	for i := 0; i < int(n); i++ {
		var zero T
		out = append(out, zero)
		if bts, err = decode(&out[i], bts); err != nil {
			*dst = out[:i]
			return bts, msgp.WrapError(err, i)
		}
	}
	*dst = out
	return bts, nil
}

// MarshalEvents encodes a batch of events.
func MarshalEvents(evs []Event) ([]byte, error) { return Marshal(evs) }

// UnmarshalEvents decodes a batch of events.
func UnmarshalEvents(data []byte) ([]Event, error) {
	var evs []Event
	if err := Unmarshal(data, &evs); err != nil {
		return nil, err
	}
	return evs, nil
}
