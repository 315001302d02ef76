package event

import (
	"encoding/binary"
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
	// slab is the unused rest of the block the lists of the batch's
	// compact records are carved from (strings), and blocks the number
	// of blocks allocated so far.
	slab   []string
	blocks int
}

// Bounds of the blocks strings allocates: the first block of a batch
// holds slabFirst strings, each next one twice as many up to slabMax; a
// list longer than slabLong gets its own allocation.
const (
	slabFirst = 64
	slabMax   = 4096
	slabLong  = 256
)

// strings returns a new list of n empty strings (n > 0), with no room to
// grow (an append copies it), for a list of a compact record. The lists
// of a batch are carved from a few shared blocks (an enriched event has
// up to four: Techniques and the maintenance window's lists) instead of
// being one allocation each; like the strings in them, a list kept from
// a decoded event keeps its block alive.
func (d *sharedText) strings(n int) []string {
	if n > slabLong {
		return make([]string, n)
	}
	if len(d.slab) < n {
		size := slabFirst
		for i := 0; i < d.blocks && size < slabMax; i++ {
			size *= 2
		}
		d.slab = make([]string, max(size, n))
		d.blocks++
	}
	l := d.slab[:n:n]
	d.slab = d.slab[n:]
	return l
}

// readString is msgp.ReadStringBytes returning a substring of the
// message instead of a new string: b is always a suffix of d.data (the
// decoders consume it front to back), so a string's bytes in b are the
// bytes of d.text at the same place. A string of up to 65,535 bytes is
// read here (the generated decoders read a fixstr, up to 31 bytes,
// before they call it); longer ones and errors are readStringSlow's. An
// empty string is "", which keeps nothing alive.
func (d *sharedText) readString(b []byte) (string, []byte, error) {
	var n, h int // the string's length and its header's
	switch {
	case len(b) == 0:
	case b[0]&0xe0 == 0xa0:
		n, h = int(b[0]&0x1f), 1
	case b[0] == 0xd9 && len(b) >= 2:
		n, h = int(b[1]), 2
	case b[0] == 0xda && len(b) >= 3:
		n, h = int(binary.BigEndian.Uint16(b[1:3])), 3
	}
	if h != 0 && n <= len(b)-h {
		return zcString(b[h : h+n]), b[h+n:], nil
	}
	return d.readStringSlow(b)
}

// readStringSlow is readString for every string encoding: the string's
// offset in d.text is where b's rest starts minus its length.
func (d *sharedText) readStringSlow(b []byte) (string, []byte, error) {
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
// The lists of the events (Techniques, the Maint lists) are carved from
// a few blocks allocated per batch: a list kept keeps its block (up to
// 64 KiB) alive, and slices.Clone is the copy. The events in dst are
// overwritten, not cleared first, and nothing they held (lists, maps) is
// reused, so a copy of an earlier event stays intact; after an error the
// events of dst beyond the failed record may still hold earlier values.
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
	// A reused event is not cleared here: a compact record's decoder
	// writes every field of the event (zero where the record has no
	// value) and reuses nothing it held, and unmarshalRecordShared clears
	// the event before a map-form record, whose decoder sets only the
	// fields the record has.
	if cap(dst) >= int(n) {
		dst = dst[:n]
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
