package event

import (
	"fmt"
	"unsafe"

	"github.com/tinylib/msgp/msgp"
)

//go:generate go run ./internal/sharedgen

// sharedText is the decoding state of UnmarshalEventsShared: the message
// it decodes and the same bytes as a string, which every decoded string is
// a substring of.
type sharedText struct {
	data []byte
	text string
	// rawMap, when not nil, asks the compact decoder to leave the Fields
	// map of the record it decodes undecoded (readRawMap), in this slot
	// (UnmarshalEventsRawFields).
	rawMap *[]byte
}

// readString is msgp.ReadStringBytes returning a substring of d.text
// instead of a new string: b is always a suffix of d.data (the decoders
// consume it front to back), so the string's offset is where b's rest
// starts minus its length.
func (d *sharedText) readString(b []byte) (string, []byte, error) {
	v, o, err := msgp.ReadStringZC(b)
	if err != nil || len(v) == 0 {
		return "", o, err
	}
	end := len(d.data) - len(o)
	return d.text[end-len(v) : end], o, nil
}

// UnmarshalEventsShared decodes a batch of events like UnmarshalEvents, but
// the strings of all events share data's memory instead of being one
// allocation each (a decoded enriched event has about 40 of them), and
// dst's storage is reused when it is large enough. The result is equal to
// UnmarshalEvents' (FuzzUnmarshalEventsShared checks it).
//
// The price, and the caller's obligations: data must not be modified
// while any of the events' strings is in use (a bus message's payload,
// which nothing writes to, qualifies), and any string kept from one of the
// events keeps the whole message alive. Use it where the events are
// dropped after the batch is processed (enrich re-encodes them, store
// turns them into rows) and copy (strings.Clone) what is kept for long.
func UnmarshalEventsShared(data []byte, dst []Event) ([]Event, error) {
	return unmarshalEventsShared(data, dst, false)
}

// unmarshalEventsShared is UnmarshalEventsShared and, with rawFields,
// UnmarshalEventsRawFields.
func unmarshalEventsShared(data []byte, dst []Event, rawFields bool) ([]Event, error) {
	n, bts, err := msgp.ReadArrayHeaderBytes(data)
	if err != nil {
		return dst[:0], fmt.Errorf("decode batch: %w", err)
	}
	// Every event takes at least one byte: a count beyond the data is a
	// corrupt header, not a reason to allocate.
	if int(n) > len(bts) {
		return dst[:0], fmt.Errorf("decode batch: %d events in %d bytes: %w", n, len(bts), msgp.ErrShortBytes)
	}
	if cap(dst) >= int(n) {
		dst = dst[:n]
		clear(dst)
	} else {
		dst = make([]Event, n)
	}
	// The strings alias data (see the obligations above): no copy.
	d := &sharedText{data: data, text: unsafe.String(unsafe.SliceData(data), len(data))}
	var slots [][]byte
	if rawFields {
		// One slot per event for its raw Fields, allocated once for the
		// batch (an Event holds a pointer to its slot, see
		// Event.fieldsRaw).
		slots = make([][]byte, n)
	}
	for i := range dst {
		if rawFields {
			d.rawMap = &slots[i]
		}
		if bts, err = dst[i].unmarshalRecordShared(bts, d); err != nil {
			return dst[:0], fmt.Errorf("decode batch: %w", msgp.WrapError(err, i))
		}
	}
	if len(bts) != 0 {
		return dst[:0], fmt.Errorf("decode batch: %d trailing bytes", len(bts))
	}
	return dst, nil
}
