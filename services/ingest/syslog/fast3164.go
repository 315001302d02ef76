package syslog

import (
	"strings"
	"time"
)

// fast3164 parses the common RFC 3164 record without the go-syslog
// machine and without copying:
//
//	[<PRI>]TIMESTAMP SP [HOSTNAME SP] TAG[ '[' PID ']' ] ':' SP MSG
//
// with a Stamp (optionally with fractions) or RFC 3339 TIMESTAMP. It
// accepts only what the machine accepts with the same result
// (FuzzFast3164 checks this) and returns false for anything else, which
// then goes through the machine.
func (p *Parser) fast3164(r record, host, app, procID, msg *string, ts *time.Time, tsRaw *string) bool {
	if r.priLen > 3 && r.raw[1] == '0' {
		return false // the machine rejects a PRI with a leading zero
	}
	s := r.body()
	// TIMESTAMP
	var stamp string
	switch {
	case len(s) >= 16 && s[0] >= 'A' && s[0] <= 'Z':
		n := 15
		if s[n] == '.' {
			n++
			for n < len(s) && isDigit(s[n]) {
				n++
			}
			if n-16 < 1 || n-16 > 6 {
				return false
			}
		}
		stamp = s[:n]
		f, ok := parseStampFields(stamp)
		if !ok {
			return false
		}
		*ts = p.stampYear(f)
	case len(s) >= 20 && isDigit(s[0]):
		n := strings.IndexByte(s, ' ')
		if n < 0 {
			return false
		}
		stamp = s[:n]
		if !rfc3339Micro(stamp) {
			return false
		}
		t, err := time.Parse(time.RFC3339, stamp)
		if err != nil {
			return false
		}
		*ts = t.UTC()
	default:
		return false
	}
	s = s[len(stamp):]
	if len(s) < 2 || s[0] != ' ' || s[1] == ' ' {
		return false
	}
	s = s[1:]
	// HOSTNAME, when the first token is followed by a space.
	n := 0
	for n < len(s) && s[n] > ' ' && s[n] < 0x7f && s[n] != ':' && s[n] != '[' && s[n] != ']' {
		n++
	}
	if n == 0 || n == len(s) {
		return false
	}
	if s[n] == ' ' {
		if n > 255 || n+1 >= len(s) || s[n+1] == ' ' {
			return false
		}
		*host, s = s[:n], s[n+1:]
		n = 0
		for n < len(s) && s[n] > ' ' && s[n] < 0x7f && s[n] != ':' && s[n] != '[' && s[n] != ']' {
			n++
		}
		if n == 0 || n == len(s) {
			return false
		}
	}
	// TAG, PID
	if n > 48 {
		return false
	}
	*app, s = s[:n], s[n:]
	if s[0] == '[' {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return false
		}
		for i := 1; i < end; i++ {
			// Printable without spaces: "a[1 2]:" would let the
			// machine read "a[1" as a hostname.
			if c := s[i]; c <= ' ' || c >= 0x7f || c == '[' {
				return false
			}
		}
		*procID, s = s[1:end], s[end+1:]
	}
	if len(s) < 3 || s[0] != ':' || s[1] != ' ' {
		return false
	}
	s = s[2:]
	// MSG: one or more visible characters.
	if !visible(s) {
		return false
	}
	// The machine reports "-" as absent.
	*host, *app, *procID = nilDash(*host), nilDash(*app), nilDash(*procID)
	*msg, *tsRaw = s, stamp
	return true
}

// invisible marks the bytes the machine does not accept in MSG: control
// characters other than tab, and DEL.
var invisible = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = c != '\t'
	}
	t[0x7f] = true
	return t
}()

// visible reports whether s has no invisible byte. It tests eight bytes
// at a time for a control character or DEL (a tab, which is allowed,
// makes it look at that group byte by byte).
func visible(s string) bool {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	i := 0
	for ; i+8 <= len(s); i += 8 {
		c := s[i : i+8]
		x := uint64(c[0]) | uint64(c[1])<<8 | uint64(c[2])<<16 | uint64(c[3])<<24 |
			uint64(c[4])<<32 | uint64(c[5])<<40 | uint64(c[6])<<48 | uint64(c[7])<<56
		del := x ^ (lo * 0x7f)
		if ((x-lo*0x20)&^x|(del-lo)&^del)&hi == 0 {
			continue
		}
		for j := range 8 {
			if invisible[c[j]] {
				return false
			}
		}
	}
	for ; i < len(s); i++ {
		if invisible[s[i]] {
			return false
		}
	}
	return true
}

// months maps the month abbreviations of Stamp timestamps.
var months = map[string]time.Month{
	"Jan": time.January, "Feb": time.February, "Mar": time.March, "Apr": time.April, "May": time.May, "Jun": time.June,
	"Jul": time.July, "Aug": time.August, "Sep": time.September, "Oct": time.October, "Nov": time.November, "Dec": time.December,
}

// monthOf returns the month of a three-letter English abbreviation, 0
// for another string: the switch costs no hashing (months is the map).
func monthOf(s string) time.Month {
	switch s {
	case "Jan":
		return time.January
	case "Feb":
		return time.February
	case "Mar":
		return time.March
	case "Apr":
		return time.April
	case "May":
		return time.May
	case "Jun":
		return time.June
	case "Jul":
		return time.July
	case "Aug":
		return time.August
	case "Sep":
		return time.September
	case "Oct":
		return time.October
	case "Nov":
		return time.November
	case "Dec":
		return time.December
	}
	return 0
}

// parseStampFast parses "Mmm dd hh:mm:ss[.1-6 digits]" (stampShape, monthOf) as
// time.Parse(time.Stamp, s) does — year 0, UTC — without its layout
// interpretation; false where time.Parse fails or the shape differs.
func parseStampFast(s string) (time.Time, bool) {
	f, ok := parseStampFields(s)
	if !ok {
		return time.Time{}, false
	}
	return time.Date(0, f.mo, f.d, f.hh, f.mi, f.ss, f.ns, time.UTC), true
}

// stampFields are the fields of a "Mmm dd hh:mm:ss[.frac]" timestamp,
// each within its range.
type stampFields struct {
	mo                time.Month
	d, hh, mi, ss, ns int
}

// parseStampFields is parseStampFast without building the time: the
// fields go to stampYear directly.
func parseStampFields(s string) (stampFields, bool) {
	if !stampShape(s) {
		return stampFields{}, false
	}
	two := func(i int) int { return int(s[i]-'0')*10 + int(s[i+1]-'0') }
	day := int(s[5] - '0')
	if s[4] != ' ' {
		day += int(s[4]-'0') * 10
	}
	m := monthOf(s[:3])
	if m == 0 || day > daysIn(m, 0) { // year 0 is a leap year, as in time.Parse
		return stampFields{}, false
	}
	ns := 0
	if len(s) > 15 {
		if s[15] != '.' || len(s) < 17 || len(s) > 22 {
			return stampFields{}, false
		}
		for i := 16; i < len(s); i++ {
			if !isDigit(s[i]) {
				return stampFields{}, false
			}
			ns = ns*10 + int(s[i]-'0')
		}
		for k := len(s) - 16; k < 9; k++ {
			ns *= 10
		}
	}
	return stampFields{m, day, two(7), two(10), two(13), ns}, true
}

// stampShape checks "??? dd hh:mm:ss" with the machine's lenient day
// (" d", "0d", "dd" up to 31).
func stampShape(s string) bool {
	if len(s) < 15 || s[3] != ' ' || s[6] != ' ' || s[9] != ':' || s[12] != ':' {
		return false
	}
	// The month name is checked by monthOf (parseStampFields).
	d1, d2 := s[4], s[5]
	switch {
	case d1 == ' ' || d1 == '0':
		if d2 < '1' || d2 > '9' {
			return false
		}
	case d1 == '1' || d1 == '2':
		if !isDigit(d2) {
			return false
		}
	case d1 == '3':
		if d2 != '0' && d2 != '1' {
			return false
		}
	default:
		return false
	}
	h0, h1 := s[7], s[8]
	if !isDigit(h0) || !isDigit(h1) || h0 > '2' || h0 == '2' && h1 > '3' {
		return false
	}
	return s[10] >= '0' && s[10] <= '5' && isDigit(s[11]) && s[13] >= '0' && s[13] <= '5' && isDigit(s[14])
}
