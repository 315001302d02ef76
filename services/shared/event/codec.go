package event

import (
	"fmt"

	"github.com/tinylib/msgp/msgp"
)

// Encoding is the value of the Encoding header on bus messages that carry
// batches encoded by this package: MessagePack maps keyed by the json field
// names, encoded and decoded by generated code (see batch.go). The choice
// over encoding/json is measured by BenchmarkBatchCodec and
// BenchmarkBatchEncoding (docs/BENCHMARKS.md).
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
// gives - to buf, without Marshal's up-front size pass over every event's
// Fields: for publishers that reuse one buffer.
func AppendEvents(buf []byte, evs []Event) ([]byte, error) {
	buf = msgp.AppendArrayHeader(buf, uint32(len(evs)))
	for i := range evs {
		var err error
		if buf, err = evs[i].MarshalMsg(buf); err != nil {
			return buf, fmt.Errorf("encode batch: event %d: %w", i, err)
		}
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
		rest, err = (*EventBatch)(x).UnmarshalMsg(data)
	case *[]Alert:
		rest, err = (*AlertBatch)(x).UnmarshalMsg(data)
	case *[]Incident:
		rest, err = (*IncidentBatch)(x).UnmarshalMsg(data)
	case *[]Plan:
		rest, err = (*PlanBatch)(x).UnmarshalMsg(data)
	case *[]DeadLetter:
		rest, err = (*DeadLetterBatch)(x).UnmarshalMsg(data)
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
