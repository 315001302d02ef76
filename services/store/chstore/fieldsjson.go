package chstore

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"
	"unsafe"

	"github.com/c981/c981/services/shared/event"
)

// FieldsJSONColumn is the events column (migration 0009) that holds an
// event's fields as one JSON object. The store writes it, and no longer
// the Nested fields.key and fields.value arrays, which keep the fields of
// the rows stored before (their fields_json is empty); a reader takes
// fields_json when it is not empty and the arrays otherwise
// (DecodeStoredFields).
//
// The encoding (AppendFieldsJSON) is one JSON object with one member per
// distinct field name, members sorted by name (byte order), so a given
// event gives the same bytes whatever its fields came from: a Fields map,
// the raw MessagePack map left by event.UnmarshalEventsRawFields, or the
// pairs of event.Event.SetFieldPairs. A name a raw map holds more than
// once is written once, with its last value, the one the map decoding
// keeps. Names and values are JSON strings: '"' and '\' are escaped with a
// backslash, every control byte (below 0x20) as \u00XX, and every byte
// that is not part of valid UTF-8 is replaced by U+FFFD (written as its
// UTF-8 bytes), as encoding/json does; all other characters, U+2028,
// U+2029 and '<', '>', '&' included, are written as they are. The raw
// column keeps the original bytes of the line. An event without fields is
// written as {}.
//
// One String per row costs ClickHouse 18.16 less CPU to insert and merge
// than the two Array(String) of the Nested column, and the store fewer
// instructions to build (docs/BENCHMARKS.md, session 7).
//
// The member of a name can be read in SQL on ClickHouse 18.16 and current
// releases with visitParamExtractString(fields_json, 'name'): the members
// are flat strings, the names distinct, and a '"' inside a string is
// always escaped, so the text "name": only occurs as the member's name.
const FieldsJSONColumn = "fields_json"

// AppendFieldsJSON appends the fields of e to dst as the fields_json
// object (FieldsJSONColumn describes the encoding) and returns the
// extended slice.
func AppendFieldsJSON(dst []byte, e *event.Event) []byte {
	n := e.NumFields()
	pairs := make([]kvPair, 0, n)
	keys, vals := sortedKV(e, make([]string, 2*n), &pairs)
	return appendFieldsObject(dst, keys, vals)
}

// fieldsJSON returns the fields_json value of e (EventRow's; the block
// builder writes its events' objects into one buffer instead).
func fieldsJSON(e *event.Event) string {
	if e.NumFields() == 0 {
		return emptyFieldsJSON
	}
	buf := AppendFieldsJSON(nil, e)
	return unsafe.String(unsafe.SliceData(buf), len(buf))
}

// emptyFieldsJSON is the fields_json of an event without fields.
const emptyFieldsJSON = "{}"

// appendFieldsObject appends the JSON object of the sorted, distinct names
// keys and their values vals to dst.
func appendFieldsObject(dst []byte, keys, vals []string) []byte {
	dst = append(dst, '{')
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, k)
		dst = append(dst, ':')
		dst = appendJSONString(dst, vals[i])
	}
	return append(dst, '}')
}

// jsonPlain is true for the ASCII bytes a JSON string holds as they are:
// 0x20-0x7f except '"' and '\'.
var jsonPlain = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

const lowerHexDigits = "0123456789abcdef"

// appendJSONString appends s to dst as a JSON string, escaped as
// FieldsJSONColumn describes. The common string needs no escape: it is
// checked 8 bytes at a time (plainWord) and copied at once.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	i := 0
	for ; i+8 <= len(s); i += 8 {
		t := s[i : i+8]
		w := uint64(t[0]) | uint64(t[1])<<8 | uint64(t[2])<<16 | uint64(t[3])<<24 |
			uint64(t[4])<<32 | uint64(t[5])<<40 | uint64(t[6])<<48 | uint64(t[7])<<56
		if !plainWord(w) {
			break
		}
	}
	for ; i < len(s); i++ {
		if c := s[i]; c >= utf8.RuneSelf || !jsonPlain[c] {
			return append(appendJSONEscaped(dst, s, i), '"')
		}
	}
	dst = append(dst, s...)
	return append(dst, '"')
}

// Bytes repeated in the 8 bytes of a word, for plainWord.
const (
	wordOnes  = 0x0101010101010101
	wordHighs = 0x8080808080808080
)

// plainWord reports whether none of the 8 bytes of w needs an escape or a
// UTF-8 check: each is ASCII, not a control byte, '"' or '\'. (For
// bytes below 0x80, (x - n*ones) & ^x has the high bit of some byte set
// exactly when some byte of x is below n.)
func plainWord(w uint64) bool {
	q := w ^ (wordOnes * '"')
	b := w ^ (wordOnes * '\\')
	return (w|(w-wordOnes*0x20)&^w|(q-wordOnes)&^q|(b-wordOnes)&^b)&wordHighs == 0
}

// appendJSONEscaped appends s (without its quotes) to dst, escaped, from
// its first byte at or after i that is not plain ASCII.
func appendJSONEscaped(dst []byte, s string, i int) []byte {
	start := 0
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			if jsonPlain[c] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			if c == '"' || c == '\\' {
				dst = append(dst, '\\', c)
			} else {
				dst = append(dst, '\\', 'u', '0', '0', lowerHexDigits[c>>4], lowerHexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, "\uFFFD"...)
			i++
			start = i
			continue
		}
		i += size
	}
	return append(dst, s[start:]...)
}

// DecodeStoredFields returns the fields of a stored event row: the object
// of its fields_json when that is not empty (rows stored since migration
// 0009), else the pairs of its fields.key and fields.value arrays (rows
// stored before; a key without a value is dropped). It returns nil for an
// event without fields, and an error when fields_json is not a JSON
// object of strings.
func DecodeStoredFields(fieldsJSON string, keys, vals []string) (map[string]string, error) {
	if fieldsJSON != "" {
		var m map[string]string
		if err := json.Unmarshal([]byte(fieldsJSON), &m); err != nil {
			return nil, fmt.Errorf("decode %s: %w", FieldsJSONColumn, err)
		}
		if len(m) == 0 {
			return nil, nil
		}
		return m, nil
	}
	if len(keys) == 0 {
		return nil, nil
	}
	m := make(map[string]string, len(keys))
	for i, k := range keys {
		if i < len(vals) {
			m[k] = vals[i]
		}
	}
	return m, nil
}

// fieldsJSON fills b.fj with the fields_json value of every event of evs
// (AppendFieldsJSON's bytes), in storage reused from block to block: the
// objects are written one after the other into b.json and the values are
// strings sharing its memory, valid until the next call (the driver copies
// a String column's values when they are appended). The fields are read
// with RangeFields, so an event decoded by event.UnmarshalEventsRawFields,
// whose fields are still the message's bytes, needs no map. The events of
// a source mostly share one set of field names: an event whose fields are
// exactly the sorted names of one of the last events with as many fields
// (fieldSet) takes them (it only places its values, finding each name in
// a small hash table, fieldIndex) and their names already encoded,
// instead of collecting and sorting its own.
func (b *eventBlock) fieldsJSON(evs []*event.Event) {
	// The names kept from the previous block point into its messages.
	for i := range b.sorted {
		b.sorted[i].reset()
	}
	buf := b.json[:0]
	b.ends = b.ends[:0]
	for _, e := range evs {
		m := e.NumFields()
		if cap(b.kv) < 2*m {
			b.kv = make([]string, 2*m)
		}
		if m < len(b.sorted) {
			if x := b.sorted[m].match(e, b.kv[:m]); x != nil {
				buf = x.appendObject(buf, b.kv[:m])
				b.ends = append(b.ends, len(buf))
				continue
			}
		}
		keys, vals := sortedKV(e, b.kv[:2*m], &b.pairs)
		buf = appendFieldsObject(buf, keys, vals)
		b.ends = append(b.ends, len(buf))
		if len(keys) < len(b.sorted) {
			b.sorted[len(keys)].add(keys)
		}
	}
	clear(b.kv) // the strings point into messages
	b.json = buf
	b.fj = b.fj[:0]
	start := 0
	for _, end := range b.ends {
		b.fj = append(b.fj, unsafe.String(&buf[start], end-start))
		start = end
	}
}
