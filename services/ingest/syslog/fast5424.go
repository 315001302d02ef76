package syslog

import (
	"strings"
	"time"
	"unicode/utf8"

	"github.com/c981/c981/services/shared/event"
)

// sdParam is one structured-data param found by fast5424.
type sdParam struct{ id, name, value string }

// fast5424 parses the common well-formed RFC 5424 record without the
// go-syslog machine and without copying: header values, param values
// without escapes and the message are substrings of r.raw. It accepts
// only what the machine accepts with the same result (FuzzFast5424
// checks this against go-syslog) and returns false for anything else —
// an unusual but valid record or an invalid one — which then goes
// through the machine for its result or its precise error.
func fast5424(r record, ev *event.Event, fields *fieldSet, as *aliasState) bool {
	if r.priLen > 3 && r.raw[1] == '0' {
		return false // the machine rejects a PRI with a leading zero
	}
	s := r.body()
	if len(s) < 2 || s[0] != '1' || s[1] != ' ' {
		return false
	}
	s = s[2:]
	var hdr [5]string // TIMESTAMP HOSTNAME APP-NAME PROCID MSGID
	maxLen := [5]int{64, 255, 48, 128, 32}
	for i := range hdr {
		n := 0
		for n < len(s) && printASCII[s[n]] {
			n++
		}
		if n == 0 || n > maxLen[i] || n == len(s) || s[n] != ' ' {
			return false
		}
		hdr[i], s = s[:n], s[n+1:]
	}
	var t time.Time
	if hdr[0] != "-" {
		var ok bool
		if t, ok = parseRFC3339(hdr[0]); !ok {
			return false
		}
	}
	var buf [32]sdParam
	params := buf[:0]
	if s == "" {
		return false
	}
	if s[0] == '-' {
		s = s[1:]
	} else {
		var ok bool
		if params, s, ok = scanSD(s, params); !ok {
			return false
		}
	}
	msg := ""
	switch {
	case s == "":
	case s[0] == ' ':
		msg = s[1:]
	default:
		return false
	}
	if hdr[0] != "-" {
		ev.Time, ev.TimeRaw = t.UTC(), hdr[0]
	}
	ev.Host, ev.App, ev.ProcID, ev.MsgID = nilDash(hdr[1]), nilDash(hdr[2]), nilDash(hdr[3]), nilDash(hdr[4])
	msg = strings.TrimPrefix(msg, "\xef\xbb\xbf")
	ev.Message = clean(msg)
	// The same order as sdFields: SD-IDs, then param names, sorted.
	for i := 1; i < len(params); i++ {
		for j := i; j > 0 && (params[j].id < params[j-1].id || params[j].id == params[j-1].id && params[j].name < params[j-1].name); j-- {
			params[j], params[j-1] = params[j-1], params[j]
		}
	}
	// All "sdid.param" keys share one allocation.
	n := 0
	for _, p := range params {
		n += len(p.id) + 1 + len(p.name)
	}
	var kb strings.Builder
	kb.Grow(n)
	for _, p := range params {
		kb.WriteString(p.id)
		kb.WriteByte('.')
		kb.WriteString(p.name)
	}
	keys, off := kb.String(), 0
	for _, p := range params {
		k := keys[off : off+len(p.id)+1+len(p.name)]
		off += len(k)
		if fields.len() >= MaxFields {
			break
		}
		v := p.value // valid UTF-8: scanSD checked it
		setField(fields, as, k, v)
		addField(fields, as, p.name, v)
	}
	return true
}

func nilDash(s string) string {
	if s == "-" {
		return ""
	}
	return s
}

// scanSD scans one or more SD-ELEMENTs at the start of s and returns
// their params and the rest of s. ok is false for anything the fast path
// leaves to the machine: a malformed element, a duplicate SD-ID or param,
// an escape other than \" \\ \], invalid UTF-8, more than 32 params.
func scanSD(s string, params []sdParam) ([]sdParam, string, bool) {
	if len(s) == 0 || s[0] != '[' {
		return nil, "", false
	}
	var idBuf [16]string
	ids := idBuf[:0]
	for len(s) > 0 && s[0] == '[' {
		s = s[1:]
		n := sdName(s)
		if n == 0 {
			return nil, "", false
		}
		id := s[:n]
		for _, seen := range ids {
			if seen == id {
				return nil, "", false
			}
		}
		if len(ids) == cap(ids) {
			return nil, "", false
		}
		ids = append(ids, id)
		s = s[n:]
		elemStart := len(params)
		for len(s) > 0 && s[0] == ' ' {
			s = s[1:]
			n := sdName(s)
			if n == 0 || n >= len(s) || s[n] != '=' || n+1 >= len(s) || s[n+1] != '"' {
				return nil, "", false
			}
			name := s[:n]
			s = s[n+2:]
			end := -1
			escaped := false
			for i := 0; i < len(s); i++ {
				for i < len(s) && !sdValueSpecial[s[i]] {
					i++
				}
				if i == len(s) {
					break
				}
				c := s[i]
				if c == '\\' {
					if i+1 >= len(s) || s[i+1] != '"' && s[i+1] != '\\' && s[i+1] != ']' {
						return nil, "", false
					}
					escaped = true
					i++
					continue
				}
				if c == ']' {
					return nil, "", false
				}
				if c == '"' {
					end = i
					break
				}
			}
			if end < 0 {
				return nil, "", false
			}
			value := s[:end]
			if !utf8.ValidString(value) {
				return nil, "", false
			}
			if escaped {
				value = unescapeSD(value)
			}
			for _, p := range params[elemStart:] {
				if p.name == name {
					return nil, "", false
				}
			}
			if len(params) == cap(params) {
				return nil, "", false
			}
			params = append(params, sdParam{id: id, name: name, value: value})
			s = s[end+1:]
		}
		if len(s) == 0 || s[0] != ']' {
			return nil, "", false
		}
		s = s[1:]
	}
	return params, s, true
}

// sdName returns the length of the SD-NAME at the start of s (1-32
// printable US-ASCII characters except '=', ' ', ']' and '"'), 0 if none.
func sdName(s string) int {
	n := 0
	for n < len(s) && n <= 32 && sdNameChars[s[n]] {
		n++
	}
	if n > 32 {
		return 0
	}
	return n
}

// printASCII marks the printable US-ASCII bytes other than space.
var printASCII = func() (t [256]bool) {
	for c := '!'; c < 0x7f; c++ {
		t[c] = true
	}
	return t
}()

// sdNameChars marks the bytes of an SD-NAME: printASCII except '=', ']'
// and '"'.
var sdNameChars = func() (t [256]bool) {
	t = printASCII
	t['='], t[']'], t['"'] = false, false, false
	return t
}()

// sdValueSpecial marks the bytes a PARAM-VALUE scan stops at.
var sdValueSpecial = func() (t [256]bool) {
	t['\\'], t[']'], t['"'] = true, true, true
	return t
}()

func unescapeSD(v string) string {
	b := make([]byte, 0, len(v))
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' && i+1 < len(v) {
			i++
		}
		b = append(b, v[i])
	}
	return string(b)
}

// parseRFC3339 parses an RFC 5424 TIMESTAMP (see rfc3339Micro) without
// time.Parse: the same instant as time.Parse(rfc5424.RFC3339MICRO, s), in
// UTC, and false where time.Parse fails (a day the month does not have).
func parseRFC3339(s string) (time.Time, bool) {
	if !rfc3339Micro(s) {
		return time.Time{}, false
	}
	num := func(i, n int) int {
		v := 0
		for _, c := range []byte(s[i : i+n]) {
			v = v*10 + int(c-'0')
		}
		return v
	}
	y, mo, d := num(0, 4), time.Month(num(5, 2)), num(8, 2)
	if d > daysIn(mo, y) {
		return time.Time{}, false
	}
	ns, i := 0, 19
	if s[i] == '.' {
		j := i + 1
		for j < len(s) && isDigit(s[j]) {
			j++
		}
		ns = num(i+1, j-i-1)
		for k := j - i - 1; k < 9; k++ {
			ns *= 10
		}
		i = j
	}
	t := time.Date(y, mo, d, num(11, 2), num(14, 2), num(17, 2), ns, time.UTC)
	if s[i] != 'Z' {
		off := time.Duration(num(i+1, 2))*time.Hour + time.Duration(num(i+4, 2))*time.Minute
		if s[i] == '-' {
			off = -off
		}
		t = t.Add(-off)
	}
	return t, true
}

// daysIn returns the number of days of month m in year y.
func daysIn(m time.Month, y int) int {
	switch m {
	case time.February:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case time.April, time.June, time.September, time.November:
		return 30
	}
	return 31
}

// rfc3339Micro checks the shape of an RFC 5424 TIMESTAMP:
// YYYY-MM-DDThh:mm:ss[.1-6 digits](Z|+hh:mm|-hh:mm) with the field ranges
// of the RFC 5424 grammar (day-of-month validity is left to time.Parse).
func rfc3339Micro(s string) bool {
	if len(s) < 20 {
		return false
	}
	d := func(i int) int {
		if i >= len(s) || s[i] < '0' || s[i] > '9' {
			return -100
		}
		return int(s[i] - '0')
	}
	two := func(i int) int { return d(i)*10 + d(i+1) }
	for _, i := range []int{0, 1, 2, 3} {
		if d(i) < 0 {
			return false
		}
	}
	if s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' {
		return false
	}
	if m := two(5); m < 1 || m > 12 {
		return false
	}
	if dd := two(8); dd < 1 || dd > 31 {
		return false
	}
	if h := two(11); h < 0 || h > 23 {
		return false
	}
	if mi := two(14); mi < 0 || mi > 59 {
		return false
	}
	if se := two(17); se < 0 || se > 59 {
		return false
	}
	i := 19
	if s[i] == '.' {
		j := i + 1
		for j < len(s) && d(j) >= 0 {
			j++
		}
		if j-i-1 < 1 || j-i-1 > 6 {
			return false
		}
		i = j
	}
	rest := s[i:]
	if rest == "Z" {
		return true
	}
	if len(rest) != 6 || rest[0] != '+' && rest[0] != '-' || rest[3] != ':' {
		return false
	}
	h := int(rest[1]-'0')*10 + int(rest[2]-'0')
	m := int(rest[4]-'0')*10 + int(rest[5]-'0')
	return isDigit(rest[1]) && isDigit(rest[2]) && isDigit(rest[4]) && isDigit(rest[5]) && h <= 23 && m <= 59
}
