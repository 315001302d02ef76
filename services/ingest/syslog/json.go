package syslog

import (
	"errors"
	"math/bits"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// maxJSONDepth bounds the nesting of a JSON record.
const maxJSONDepth = 32

// jsonFlattener parses one JSON object and sets every scalar leaf in a
// map under its flattened key: nested object keys are joined with '.',
// array elements get their index ("alert.metadata.tags.0"). Strings are
// unescaped and made valid UTF-8; numbers keep their literal text; true
// and false are "true" and "false"; null leaves are skipped; a later
// duplicate key overwrites. It validates the whole document (RFC 8259)
// and rejects anything after the object.
type jsonFlattener struct {
	data string
	pos  int
	key  keyBuf
	// fields receives the leaves (at most MaxFields), tracked in track (a
	// value, not a pointer: the recursive methods would make a pointer
	// escape to the heap).
	fields *fieldSet
	track  aliasState
	// topKey is the current key while it is a top-level key: usually a
	// substring of data, so top-level leaves cost no key allocation.
	topKey string
}

// flattenJSON parses data, which must hold exactly one JSON object, and
// sets every leaf in fields (at most MaxFields), tracked in as (nil: not
// tracked). A usual record into empty fields takes fastFlattenJSON;
// anything else (or a record it gives up on, after its partial work is
// undone) the general jsonFlattener.
func flattenJSON(data string, fields *fieldSet, as *aliasState) error {
	if fields.len() == 0 && (as == nil || as.count == 0) {
		if fastFlattenJSON(data, fields, as) {
			return nil
		}
		// Undo: with nothing added before, the state was the zero
		// state but for its settings.
		fields.clearPairs()
		if as != nil {
			*as = aliasState{valid: as.valid, noView: as.noView}
		}
	}
	return flattenJSONGeneral(data, fields, as)
}

// flattenJSONGeneral is flattenJSON with the general jsonFlattener.
func flattenJSONGeneral(data string, fields *fieldSet, as *aliasState) error {
	f := jsonFlattener{data: data, fields: fields}
	if as != nil {
		f.track = *as
	}
	err := f.run()
	if as != nil {
		*as = f.track
	}
	return err
}

func (f *jsonFlattener) run() error {
	f.skipSpace()
	if f.pos >= len(f.data) || f.data[f.pos] != '{' {
		return errors.New("record is not a JSON object")
	}
	if err := f.value(0); err != nil {
		return err
	}
	f.skipSpace()
	if f.pos != len(f.data) {
		return f.errorf("data after the JSON object")
	}
	return nil
}

func (f *jsonFlattener) errorf(msg string) error {
	return errors.New(msg + " at offset " + strconv.Itoa(f.pos))
}

func (f *jsonFlattener) skipSpace() {
	if f.pos < len(f.data) && f.data[f.pos] > ' ' {
		return // compact JSON: no space here (one test, inlined)
	}
	f.skipSpaceSlow()
}

// skipSpaceSlow is skipSpace past a run of white space.
func (f *jsonFlattener) skipSpaceSlow() {
	for f.pos < len(f.data) {
		switch f.data[f.pos] {
		case ' ', '\t', '\n', '\r':
			f.pos++
		default:
			return
		}
	}
}

// value parses the value at pos; the current key is f.key, or topKey
// (a substring of data) at the top level.
func (f *jsonFlattener) value(depth int) error {
	f.skipSpace()
	if f.pos >= len(f.data) {
		return f.errorf("unexpected end of JSON")
	}
	switch c := f.data[f.pos]; {
	case c == '{':
		if depth >= maxJSONDepth {
			return f.errorf("JSON nested deeper than " + strconv.Itoa(maxJSONDepth))
		}
		f.nest()
		return f.object(depth + 1)
	case c == '[':
		if depth >= maxJSONDepth {
			return f.errorf("JSON nested deeper than " + strconv.Itoa(maxJSONDepth))
		}
		f.nest()
		return f.array(depth + 1)
	case c == '"':
		s, err := f.str()
		if err != nil {
			return err
		}
		f.emit(s)
		return nil
	case c == 't':
		return f.literal("true", true)
	case c == 'f':
		return f.literal("false", true)
	case c == 'n':
		return f.literal("null", false)
	case c == '-' || c >= '0' && c <= '9':
		return f.number()
	}
	return f.errorf("unexpected character " + strconv.QuoteRune(rune(f.data[f.pos])))
}

// nest starts the key of a nested object or array: a top-level key is
// copied to the key buffer only here, its leaves use topKey.
func (f *jsonFlattener) nest() {
	if f.topKey != "" {
		f.key.add(f.topKey)
	}
}

func (f *jsonFlattener) emit(v string) {
	if f.fields.len() >= MaxFields {
		return
	}
	switch {
	case f.topKey != "":
		setField(f.fields, &f.track, f.topKey, v)
	case f.key.n > 0:
		key := f.key.bytes()
		k, ok := internJSONKey(key)
		if !ok {
			k = string(key)
		}
		setField(f.fields, &f.track, k, v)
	}
}

func (f *jsonFlattener) literal(lit string, emit bool) error {
	if len(f.data)-f.pos < len(lit) || f.data[f.pos:f.pos+len(lit)] != lit {
		return f.errorf("invalid literal")
	}
	f.pos += len(lit)
	if emit {
		f.emit(lit)
	}
	return nil
}

func (f *jsonFlattener) number() error {
	start := f.pos
	end, ok := scanNumber(f.data, start)
	f.pos = end
	if !ok {
		return f.errorf("invalid number")
	}
	f.emit(f.data[start:end])
	return nil
}

// scanNumber reads the JSON number that starts at d[i] ('-' or a digit):
// end is the index after it, or, with ok false, where it stopped being
// one.
func scanNumber(d string, i int) (end int, ok bool) {
	if d[i] == '-' {
		i++
	}
	if i < len(d) && d[i] == '0' {
		i++
	} else if j := skipDigits(d, i); j > i {
		i = j
	} else {
		return j, false
	}
	if i < len(d) && d[i] == '.' {
		j := skipDigits(d, i+1)
		if j == i+1 {
			return j, false
		}
		i = j
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		j := skipDigits(d, i)
		if j == i {
			return j, false
		}
		i = j
	}
	return i, true
}

// skipDigits returns the index of the first non-digit of d at or after i.
func skipDigits(d string, i int) int {
	for i < len(d) && isDigit(d[i]) {
		i++
	}
	return i
}

// jsonPlain marks the bytes a JSON string scan can skip: printable ASCII
// other than '"' and '\\'.
var jsonPlain = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// plainJSONRun returns the index of the first byte of d at or after i
// that a JSON string scan must look at ('"', '\\', a control character,
// a non-ASCII byte), or len(d). It tests eight bytes at a time: in each
// mask below the lowest set bit marks the first such byte exactly.
func plainJSONRun(d string, i int) int {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	for ; i+8 <= len(d); i += 8 {
		c := d[i : i+8] // one bounds check; the compiler makes one load
		x := uint64(c[0]) | uint64(c[1])<<8 | uint64(c[2])<<16 | uint64(c[3])<<24 |
			uint64(c[4])<<32 | uint64(c[5])<<40 | uint64(c[6])<<48 | uint64(c[7])<<56
		q := x ^ (lo * '"')
		b := x ^ (lo * '\\')
		m := ((q - lo) &^ q) | ((b - lo) &^ b) | ((x - lo*0x20) &^ x) | x
		if m &= hi; m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
	}
	for i < len(d) && jsonPlain[d[i]] {
		i++
	}
	return i
}

// str parses a string at pos (on the opening quote) and returns it
// unescaped, with invalid UTF-8 replaced by U+FFFD.
func (f *jsonFlattener) str() (string, error) {
	d := f.data
	f.pos++ // opening quote
	start := f.pos
	// Fast path: no escapes; an ASCII string needs no UTF-8 check. The
	// table skips the plain bytes with one test each.
	ascii := true
	for i := f.pos; i < len(d); i++ {
		i = plainJSONRun(d, i)
		if i == len(d) {
			break
		}
		c := d[i]
		if c >= utf8.RuneSelf {
			ascii = false
			continue
		}
		if c == '"' {
			f.pos = i + 1
			if ascii {
				return d[start:i], nil
			}
			return clean(d[start:i]), nil
		}
		if c == '\\' {
			break
		}
		// A control character.
		f.pos = i
		return "", f.errorf("control character in string")
	}
	var b []byte
	for f.pos < len(d) {
		c := d[f.pos]
		switch {
		case c == '"':
			f.pos++
			return clean(string(b)), nil
		case c < 0x20:
			return "", f.errorf("control character in string")
		case c != '\\':
			b = append(b, c)
			f.pos++
			continue
		}
		if f.pos+1 >= len(d) {
			break
		}
		e := d[f.pos+1]
		f.pos += 2
		switch e {
		case '"', '\\', '/':
			b = append(b, e)
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r, ok := f.hex4()
			if !ok {
				return "", f.errorf("invalid \\u escape")
			}
			if utf16.IsSurrogate(r) {
				r2 := utf8.RuneError
				if f.pos+1 < len(d) && d[f.pos] == '\\' && d[f.pos+1] == 'u' {
					save := f.pos
					f.pos += 2
					if lo, ok := f.hex4(); ok {
						r2 = utf16.DecodeRune(r, lo)
					}
					if r2 == utf8.RuneError {
						f.pos = save
					}
				}
				r = r2
			}
			if r == 0 {
				r = utf8.RuneError // a NUL never reaches an event
			}
			b = utf8.AppendRune(b, r)
		default:
			f.pos -= 2
			return "", f.errorf("invalid escape")
		}
	}
	return "", f.errorf("unterminated string")
}

func (f *jsonFlattener) hex4() (rune, bool) {
	if len(f.data)-f.pos < 4 {
		return 0, false
	}
	var r rune
	for _, c := range f.data[f.pos : f.pos+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	f.pos += 4
	return r, true
}

func (f *jsonFlattener) object(depth int) error {
	f.pos++ // '{'
	f.topKey = ""
	base := f.key.n
	f.skipSpace()
	if f.pos < len(f.data) && f.data[f.pos] == '}' {
		f.pos++
		return nil
	}
	for {
		f.skipSpace()
		if f.pos >= len(f.data) || f.data[f.pos] != '"' {
			return f.errorf("expected object key")
		}
		k, err := f.str()
		if err != nil {
			return err
		}
		f.skipSpace()
		if f.pos >= len(f.data) || f.data[f.pos] != ':' {
			return f.errorf("expected ':' after object key")
		}
		f.pos++
		f.key.n = base
		if depth == 1 {
			f.topKey = k // copied to key only if the value nests (nest)
		} else {
			if base > 0 {
				f.key.add(".")
			}
			f.key.add(k)
		}
		err = f.value(depth)
		f.topKey = ""
		if err != nil {
			return err
		}
		f.key.n = base
		f.skipSpace()
		if f.pos >= len(f.data) {
			return f.errorf("unterminated object")
		}
		switch f.data[f.pos] {
		case ',':
			f.pos++
		case '}':
			f.pos++
			return nil
		default:
			return f.errorf("expected ',' or '}' in object")
		}
	}
}

func (f *jsonFlattener) array(depth int) error {
	f.pos++ // '['
	f.topKey = ""
	base := f.key.n
	f.skipSpace()
	if f.pos < len(f.data) && f.data[f.pos] == ']' {
		f.pos++
		return nil
	}
	for i := 0; ; i++ {
		f.key.n = base
		if base > 0 {
			f.key.add(".")
		}
		var digits [20]byte
		f.key.addBytes(strconv.AppendInt(digits[:0], int64(i), 10))
		if err := f.value(depth); err != nil {
			return err
		}
		f.key.n = base
		f.skipSpace()
		if f.pos >= len(f.data) {
			return f.errorf("unterminated array")
		}
		switch f.data[f.pos] {
		case ',':
			f.pos++
		case ']':
			f.pos++
			return nil
		default:
			return f.errorf("expected ',' or ']' in array")
		}
	}
}

// keyBuf holds the flattened key being built: in an inline array while
// it fits, else in a heap slice. (A slice field of the flattener would
// always be on the heap: the leaves it stores in the map make everything
// the flattener points to escape; an array inside it does not.)
type keyBuf struct {
	arr [128]byte
	n   int
	big []byte // non-nil once a key outgrew arr; then it holds the key
}

// bytes returns the key.
func (k *keyBuf) bytes() []byte {
	if k.big != nil {
		return k.big[:k.n]
	}
	return k.arr[:k.n]
}

// add appends s to the key.
func (k *keyBuf) add(s string) {
	if k.big == nil && k.n+len(s) <= len(k.arr) {
		k.n += copy(k.arr[k.n:], s)
		return
	}
	if k.big == nil {
		k.big = append(make([]byte, 0, 2*(k.n+len(s))), k.arr[:k.n]...)
	}
	k.big = append(k.big[:k.n], s...)
	k.n = len(k.big)
}

// addBytes appends b to the key.
func (k *keyBuf) addBytes(b []byte) {
	if k.big == nil && k.n+len(b) <= len(k.arr) {
		k.n += copy(k.arr[k.n:], b)
		return
	}
	if k.big == nil {
		k.big = append(make([]byte, 0, 2*(k.n+len(b))), k.arr[:k.n]...)
	}
	k.big = append(k.big[:k.n], b...)
	k.n = len(k.big)
}
