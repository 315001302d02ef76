package event

import (
	"unsafe"

	"github.com/tinylib/msgp/msgp"
)

// UnmarshalEventsRawFields decodes a batch of events like
// UnmarshalEventsShared, with the same obligations (the events' strings
// share data's memory), except that the Fields of a compact record are
// not decoded into a map: they are validated as UnmarshalEventsShared
// validates them (the same input is accepted and rejected, with the same
// error) and left as the record's MessagePack bytes, a part of data.
// Such an event has a nil Fields; RangeFields, NumFields and DecodeFields
// read its fields from the bytes, which stay valid while data is. A
// map-form record (written before the compact form) is decoded into a
// Fields map as by UnmarshalEventsShared.
//
// It is for a reader that does not need the map: the store, which writes
// the fields as two sorted arrays, saves a map and its buckets per event.
// Code that reads e.Fields directly, or encodes the event (MarshalMsg,
// AppendEvents, encoding/json: they write Fields as it is), must call
// DecodeFields first.
func UnmarshalEventsRawFields(data []byte, dst []Event) ([]Event, error) {
	return unmarshalEventsShared(data, dst, true)
}

// readRawMap validates the MessagePack map of strings to strings (or nil)
// b starts with, as the compact decoder of the map field name reads it,
// stores its bytes in *d.rawMap and returns d.rawMap (nil for a nil map)
// and the rest of b. Its errors are the map decoding's, with the same
// context (name, and the key of a bad value).
func (d *sharedText) readRawMap(b []byte, name string) (*[]byte, []byte, error) {
	if msgp.IsNil(b) {
		o, err := msgp.ReadNilBytes(b)
		if err != nil {
			return nil, o, msgp.WrapError(err, name)
		}
		return nil, o, nil
	}
	var (
		m   uint32
		o   []byte
		err error
	)
	if len(b) != 0 && b[0]&0xf0 == 0x80 { // a fixmap: up to 15 pairs
		m, o = uint32(b[0]&0x0f), b[1:]
	} else if m, o, err = msgp.ReadMapHeaderBytes(b); err != nil {
		return nil, o, msgp.WrapError(err, name)
	}
	if int64(m) > int64(len(o)) {
		return nil, o, msgp.WrapError(msgp.ErrShortBytes, name)
	}
	if m > compactLimit {
		return nil, o, msgp.WrapError(msgp.ErrLimitExceeded, name)
	}
	// The pairs are stepped over by their offset in b: a key and a value
	// that are fixstrs inline, anything else by msgp.ReadStringZC (also
	// the errors).
	i := len(b) - len(o)
	for ; m > 0; m-- {
		k := i
		if i = fixStrEnd(b, k); i < 0 {
			if _, o, err = msgp.ReadStringZC(b[k:]); err != nil {
				return nil, o, msgp.WrapError(err, name)
			}
			i = len(b) - len(o)
		}
		v := i
		if i = fixStrEnd(b, v); i < 0 {
			if _, o, err = msgp.ReadStringZC(b[v:]); err != nil {
				key, _, _ := msgp.ReadStringZC(b[k:])
				return nil, o, msgp.WrapError(err, name, string(key))
			}
			i = len(b) - len(o)
		}
	}
	*d.rawMap = b[:i]
	return d.rawMap, b[i:], nil
}

// fixStrEnd returns the offset in b after the fixstr (a string of up to
// 31 bytes) at offset i, -1 when no whole one is there.
func fixStrEnd(b []byte, i int) int {
	if uint(i) < uint(len(b)) {
		if c := b[i]; c&0xe0 == 0xa0 {
			if j := i + 1 + int(c&0x1f); j <= len(b) {
				return j
			}
		}
	}
	return -1
}

// rawFields returns the raw Fields map of z (see UnmarshalEventsRawFields)
// after its header, and its number of pairs; ok is false when z has none.
func (z *Event) rawFields() (pairs []byte, n uint32, ok bool) {
	if z.fieldsRaw == nil {
		return nil, 0, false
	}
	// Validated when decoded: the header reads.
	n, pairs, err := msgp.ReadMapHeaderBytes(*z.fieldsRaw)
	if err != nil {
		return nil, 0, false
	}
	return pairs, n, true
}

// zcString is v as a string sharing its memory ("" for an empty v, which
// keeps nothing alive).
func zcString(v []byte) string {
	if len(v) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(v), len(v))
}

// NumFields returns the number of fields of z: len(z.Fields), or, for an
// event decoded by UnmarshalEventsRawFields whose Fields were left raw,
// the number of key/value pairs RangeFields yields, or the number of the
// pairs set by SetFieldPairs.
func (z *Event) NumFields() int {
	if z.Fields != nil {
		return len(z.Fields)
	}
	if z.fieldsPairs != nil {
		return len(*z.fieldsPairs) / 2
	}
	_, n, _ := z.rawFields()
	return int(n)
}

// RangeFields calls yield with every key and value of the event's fields
// until yield returns false: the entries of z.Fields (in map order) when
// it is not nil, else, for an event decoded by UnmarshalEventsRawFields,
// the pairs of the raw map in their encoded order, as strings sharing the
// message's memory (valid while it is; strings.Clone what is kept). A raw
// map that holds a key twice (no encoder of this package writes one)
// yields it twice; the map decoding keeps the last value. For an event
// whose fields were set by SetFieldPairs it yields the pairs in their
// order. Its signature is an iterator's: `for k, v := range e.RangeFields`.
func (z *Event) RangeFields(yield func(k, v string) bool) {
	if z.Fields != nil {
		for k, v := range z.Fields {
			if !yield(k, v) {
				return
			}
		}
		return
	}
	if p := z.fieldsPairs; p != nil {
		kv := *p
		for i := 0; i+1 < len(kv); i += 2 {
			if !yield(kv[i], kv[i+1]) {
				return
			}
		}
		return
	}
	b, n, ok := z.rawFields()
	if !ok {
		return
	}
	for ; n > 0; n-- {
		k, o, err := msgp.ReadStringZC(b)
		if err != nil {
			return // validated when decoded: unreachable
		}
		v, o, err := msgp.ReadStringZC(o)
		if err != nil {
			return
		}
		b = o
		if !yield(zcString(k), zcString(v)) {
			return
		}
	}
}

// DecodeFields sets z.Fields to the map UnmarshalEventsShared would have
// decoded when they were left raw by UnmarshalEventsRawFields (its
// strings share the message's memory), after which z is that decoder's
// event, or to the map of the pairs set by SetFieldPairs (which z then
// no longer reads); it does nothing for any other event.
func (z *Event) DecodeFields() {
	if z.fieldsRaw == nil && z.fieldsPairs == nil {
		return // nothing to decode: no write, so concurrent readers of a decoded event do not race
	}
	if z.Fields == nil && z.fieldsPairs != nil {
		kv := *z.fieldsPairs
		m := make(map[string]string, len(kv)/2)
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		z.Fields, z.fieldsRaw, z.fieldsPairs = m, nil, nil
		return
	}
	z.fieldsPairs = nil
	if z.fieldsRaw == nil || z.Fields != nil {
		z.fieldsRaw = nil
		return
	}
	m := make(map[string]string, z.NumFields())
	z.RangeFields(func(k, v string) bool {
		m[k] = v
		return true
	})
	z.Fields, z.fieldsRaw = m, nil
}

// SetFieldPairs sets the fields of z to the key/value pairs in *p (k0, v0,
// k1, v1, ...; an even number of strings, no key twice) in place of a
// Fields map: Fields and any raw fields are dropped. NumFields,
// RangeFields (in the pairs' order) and DecodeFields read them, and the
// compact encoder (AppendEvents, MarshalEvents, EventBatch) writes them
// as the map they stand for, byte for byte the record of an event whose
// Fields map holds them and iterates in that order; a nil p leaves z
// without fields. z reads *p until the fields are replaced: the caller
// must not change it while z is used. Code that reads z.Fields directly
// or encodes the map form (MarshalMsg, encoding/json) calls DecodeFields
// first. A parser fills the pairs instead of a map when the map would
// only be iterated again by the encoder (ingest).
func (z *Event) SetFieldPairs(p *[]string) {
	z.Fields, z.fieldsRaw, z.fieldsPairs = nil, nil, p
}

// FieldPairs returns the pairs z's fields were set to by SetFieldPairs,
// nil when they are not (a Fields map, raw fields or none): the storage
// a caller recycles once nothing reads the event any more.
func (z *Event) FieldPairs() *[]string {
	if z.Fields != nil {
		return nil
	}
	return z.fieldsPairs
}

// appendStringPairs appends the MessagePack map of the key/value pairs
// kv (see SetFieldPairs) to o.
func appendStringPairs(o []byte, kv []string) []byte {
	o = msgp.AppendMapHeader(o, uint32(len(kv)/2))
	for _, s := range kv[:len(kv)&^1] {
		o = appendStr(o, s)
	}
	return o
}

// sizeStringPairs returns an upper bound of the bytes appendStringPairs
// appends for kv.
func sizeStringPairs(kv []string) int {
	s := msgp.MapHeaderSize
	for _, v := range kv {
		s += msgp.StringPrefixSize + len(v)
	}
	return s
}
