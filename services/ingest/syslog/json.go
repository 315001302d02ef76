package syslog

import (
	"errors"
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
	key  []byte
	// fields receives the leaves (at most MaxFields), tracked in track (a
	// value, not a pointer: the recursive methods would make a pointer
	// escape to the heap).
	fields map[string]string
	track  aliasState
	// topKey is the current key while it is a top-level key: usually a
	// substring of data, so top-level leaves cost no key allocation.
	topKey string
}

// flattenJSON parses data, which must hold exactly one JSON object, and
// sets every leaf in fields (at most MaxFields), tracked in as (nil: not
// tracked).
func flattenJSON(data string, fields map[string]string, as *aliasState) error {
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
	f.key = make([]byte, 0, 64)
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
		return f.object(depth + 1)
	case c == '[':
		if depth >= maxJSONDepth {
			return f.errorf("JSON nested deeper than " + strconv.Itoa(maxJSONDepth))
		}
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

func (f *jsonFlattener) emit(v string) {
	if len(f.fields) >= MaxFields {
		return
	}
	switch {
	case f.topKey != "":
		setField(f.fields, &f.track, f.topKey, v)
	case len(f.key) > 0:
		k, ok := jsonKeys[string(f.key)] // no allocation for the lookup
		if !ok {
			k = string(f.key)
		}
		setField(f.fields, &f.track, k, v)
	}
}

// jsonKeys interns the nested keys of the common EVE, Zeek and ECS
// records (the ones the mappers read, and the usual alert and flow
// leaves): such a key costs a map lookup instead of an allocation.
var jsonKeys = func() map[string]string {
	m := map[string]string{}
	for _, k := range []string{
		"alert.action", "alert.gid", "alert.rev", "alert.signature_id", "alert.signature", "alert.category", "alert.severity",
		"flow.pkts_toserver", "flow.pkts_toclient", "flow.bytes_toserver", "flow.bytes_toclient", "flow.start", "flow.end",
		"flow.age", "flow.state", "flow.reason", "flow.alerted", "netflow.bytes", "netflow.pkts",
		"ether.src_mac", "ether.dest_mac",
		"modbus.request.function_raw", "modbus.request.function_code", "modbus.request.transaction_id",
		"modbus.request.protocol_id", "modbus.request.unit_id", "modbus.request.access_type", "modbus.request.category",
		"modbus.response.function_raw", "modbus.response.function_code",
		"dnp3.type", "dnp3.application.function_code", "dnp3.src", "dnp3.dst",
		"enip.request.command", "enip.request.cip.service", "enip.request.cip_service", "enip.cip.service",
		"id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p",
		"event.category", "event.outcome", "event.action", "event.kind", "event.severity",
		"source.ip", "source.port", "destination.ip", "destination.port", "host.name", "host.hostname",
		"user.name", "log.level", "rule.id", "rule.name", "observer.vendor", "observer.product",
	} {
		m[k] = k
	}
	return m
}()

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
	d := f.data
	if d[f.pos] == '-' {
		f.pos++
	}
	digits := func() int {
		n := 0
		for f.pos < len(d) && d[f.pos] >= '0' && d[f.pos] <= '9' {
			f.pos++
			n++
		}
		return n
	}
	if f.pos < len(d) && d[f.pos] == '0' {
		f.pos++
	} else if digits() == 0 {
		return f.errorf("invalid number")
	}
	if f.pos < len(d) && d[f.pos] == '.' {
		f.pos++
		if digits() == 0 {
			return f.errorf("invalid number")
		}
	}
	if f.pos < len(d) && (d[f.pos] == 'e' || d[f.pos] == 'E') {
		f.pos++
		if f.pos < len(d) && (d[f.pos] == '+' || d[f.pos] == '-') {
			f.pos++
		}
		if digits() == 0 {
			return f.errorf("invalid number")
		}
	}
	f.emit(d[start:f.pos])
	return nil
}

// str parses a string at pos (on the opening quote) and returns it
// unescaped, with invalid UTF-8 replaced by U+FFFD.
func (f *jsonFlattener) str() (string, error) {
	d := f.data
	f.pos++ // opening quote
	start := f.pos
	// Fast path: no escapes, valid UTF-8.
	for i := f.pos; i < len(d); i++ {
		c := d[i]
		if c == '"' {
			f.pos = i + 1
			return clean(d[start:i]), nil
		}
		if c == '\\' {
			break
		}
		if c < 0x20 {
			f.pos = i
			return "", f.errorf("control character in string")
		}
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
	base := len(f.key)
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
		f.key = f.key[:base]
		if base > 0 {
			f.key = append(f.key, '.')
		}
		f.key = append(f.key, k...)
		if depth == 1 {
			f.topKey = k
		}
		err = f.value(depth)
		f.topKey = ""
		if err != nil {
			return err
		}
		f.key = f.key[:base]
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
	base := len(f.key)
	f.skipSpace()
	if f.pos < len(f.data) && f.data[f.pos] == ']' {
		f.pos++
		return nil
	}
	for i := 0; ; i++ {
		f.key = f.key[:base]
		if base > 0 {
			f.key = append(f.key, '.')
		}
		f.key = strconv.AppendInt(f.key, int64(i), 10)
		if err := f.value(depth); err != nil {
			return err
		}
		f.key = f.key[:base]
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
