package event

import (
	"bytes"
	"fmt"
	"sync"

	"github.com/vmihailenco/msgpack/v5"
)

// Encoding is the value of the Encoding header on bus messages that carry
// batches encoded by this package.
const Encoding = "msgpack"

// Batch encoding on the bus: many records per JetStream message, MessagePack
// with the json field names (see docs/BENCHMARKS.md for the comparison with
// encoding/json that chose it).

var encPool = sync.Pool{New: func() any {
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	enc.SetCustomStructTag("json")
	return &encoder{buf: &buf, enc: enc}
}}

type encoder struct {
	buf *bytes.Buffer
	enc *msgpack.Encoder
}

// Marshal encodes v (typically a slice of records) in the bus encoding.
func Marshal(v any) ([]byte, error) {
	e := encPool.Get().(*encoder)
	defer encPool.Put(e)
	e.buf.Reset()
	if err := e.enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encode batch: %w", err)
	}
	out := make([]byte, e.buf.Len())
	copy(out, e.buf.Bytes())
	return out, nil
}

// Unmarshal decodes data produced by Marshal into v.
func Unmarshal(data []byte, v any) error {
	dec := msgpack.GetDecoder()
	defer msgpack.PutDecoder(dec)
	dec.Reset(bytes.NewReader(data))
	dec.SetCustomStructTag("json")
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("decode batch: %w", err)
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
