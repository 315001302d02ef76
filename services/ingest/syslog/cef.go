package syslog

import (
	"math/bits"
	"strconv"
	"strings"
	"time"

	"github.com/c981/c981/services/shared/event"
)

// parseCEF parses a CEF record starting at "CEF:":
//
//	CEF:Version|Device Vendor|Device Product|Device Version|Signature ID|Name|Severity|Extension
//
// Header fields unescape \| and \\; the extension is key=value pairs whose
// values may contain spaces (a value ends at the last space before the
// next key=) and unescape \=, \\, \n and \r. Label pairs (cs1/cs1Label,
// cn1/cn1Label, ...) also add the value under the normalized label.
// valid says that s is valid UTF-8.
func (p *Parser) parseCEF(s string, valid bool, ev *event.Event, fields *fieldSet, as *aliasState) error {
	var hdr [7]string
	rest := s[len("CEF:"):]
	// Without a backslash in the record (the usual case) nothing is
	// escaped: the header splits at every '|' and no value needs
	// unescaping.
	esc := strings.IndexByte(rest, '\\') >= 0
	for i := range hdr {
		var end int
		if esc {
			end = unescapedPipe(rest)
		} else {
			end = strings.IndexByte(rest, '|')
		}
		if end < 0 {
			return newError(ReasonBadCEF, FormatCEF, nil, "CEF header has %d of 8 fields", i+1)
		}
		hdr[i] = rest[:end]
		if esc {
			hdr[i] = unescapeHeader(hdr[i])
		}
		rest = rest[end+1:]
	}
	if hdr[0] != "0" && hdr[0] != "1" {
		return newError(ReasonBadCEF, FormatCEF, nil, "unknown CEF version %q", hdr[0])
	}
	sev, ok := cefSeverity(hdr[6])
	if !ok {
		return newError(ReasonBadCEF, FormatCEF, nil, "CEF severity %q is not 0-10 or Low/Medium/High/Very-High", hdr[6])
	}
	// valid holds for every part cut at ASCII delimiters, unescaped or
	// not: no value needs clean then.
	if err := cefExtension(rest, valid, esc, fields, as); err != nil {
		return err
	}
	fv := fieldView{fields, as}
	ev.Vendor, ev.Product = cleanUnless(valid, hdr[1]), cleanUnless(valid, hdr[2])
	ev.SignatureID, ev.Signature = cleanUnless(valid, hdr[4]), cleanUnless(valid, hdr[5])
	if hdr[3] != "" {
		setField(fields, as, "cef.device_version", cleanUnless(valid, hdr[3]))
	}
	setField(fields, as, "cef.severity", cleanUnless(valid, hdr[6]))
	if sev >= 0 {
		ev.Severity = sev
	}
	if v := fv.hotGet(hMsg); v != "" {
		ev.Message = v
	} else if ev.Message == "" {
		ev.Message = ev.Signature
	}
	if err := p.vendorTime(ev, fv, FormatCEF, cefTimeKeys); err != nil {
		return err
	}
	if ev.Host == "" {
		ev.Host = fv.firstOf(cefHostKeys, keep)
	}
	ev.EventCode = fv.firstOf(cefEventCodeKeys, keep)
	vendorOT(ev, fv)
	return nil
}

// Keys of CEF extensions, in order of preference.
var (
	cefTimeKeys      = newKeyList("rt", "end", "start")
	cefHostKeys      = newKeyList("dvchost", "dvc")
	cefEventCodeKeys = newKeyList("externalId", "event_code", "eventid", "event_id")
)

// unescapedPipe returns the index of the first '|' not escaped by '\'.
func unescapedPipe(s string) int {
	if p := strings.IndexByte(s, '|'); p < 0 || strings.IndexByte(s[:p], '\\') < 0 {
		return p // no backslash before the first '|'
	}
	return scanUnescapedPipe(s)
}

// scanUnescapedPipe is unescapedPipe byte by byte.
func scanUnescapedPipe(s string) int {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '|':
			return i
		}
	}
	return -1
}

func unescapeHeader(s string) string {
	if strings.IndexByte(s, '\\') < 0 {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) && (s[i+1] == '|' || s[i+1] == '\\') {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// cefExtension parses the extension into fields; valid says that s is
// valid UTF-8 (its values need no clean), esc that it may hold escapes.
func cefExtension(s string, valid, esc bool, fields *fieldSet, as *aliasState) error {
	s = strings.TrimLeft(s, " ")
	if s == "" {
		return nil
	}
	var buf [24]cefPair
	pairs, ok := cefPairs(s, buf[:0])
	if !ok {
		return newError(ReasonBadCEF, FormatCEF, nil, "CEF extension does not start with key=value")
	}
	// With an empty map and every pair added, fields[k] is the last
	// non-empty value of k among the pairs (kept in pairs, unescaped),
	// so the label pairs below need no map lookups.
	// (noView: tests compare with the lookups.)
	fromPairs := fields.len() == 0 && (as == nil || !as.noView)
	for i, kv := range pairs {
		if fields.len() >= MaxFields {
			fromPairs = false
			break
		}
		v := kv.val
		if esc {
			v = unescapeCEFValue(v)
		}
		v = cleanUnless(valid, v)
		pairs[i].val = v
		if v != "" {
			setField(fields, as, kv.key, v)
		}
	}
	cefLabels(pairs, fromPairs, fields, as)
	return nil
}

// cefLabels adds the label pairs of an extension: cs1Label=Operation
// cs1=program_download adds operation=program_download. fromPairs says
// that the pairs (values unescaped) are all in fields, so that a key's
// value is its last non-empty one among them.
func cefLabels(pairs []cefPair, fromPairs bool, fields *fieldSet, as *aliasState) {
	derived := false // a label added a key (it may be a later pair's base)
	for _, kv := range pairs {
		if !strings.HasSuffix(kv.key, "Label") || fields.len() >= MaxFields {
			continue
		}
		base := kv.key[:len(kv.key)-len("Label")]
		var v, labelText string
		var ok bool
		if fromPairs {
			// A label key ends in an upper-case 'L', which no derived
			// (lower-case) key does: its value is a pair's.
			labelText, _ = lastValue(pairs, kv.key)
			if v, ok = lastValue(pairs, base); !ok && derived {
				v, ok = fields.get(base)
			}
		} else {
			v, ok = fields.get(base)
			labelText, _ = fields.get(kv.key)
		}
		label := labelKey(labelText)
		if !ok || label == "" {
			continue
		}
		n := fields.len()
		addField(fields, as, label, v)
		derived = derived || fields.len() > n
	}
}

// lastValue returns the last non-empty value of key among pairs.
func lastValue(pairs []cefPair, key string) (string, bool) {
	n := len(key)
	if n == 0 {
		return "", false // no pair has an empty key
	}
	// Two bytes first: keys of the same length mostly differ in the
	// number in the middle (cs1Label, cs2Label) or at the end (cs1, cs2).
	last, mid := key[n-1], key[(n-1)/2]
	for i := len(pairs) - 1; i >= 0; i-- {
		k := pairs[i].key
		if len(k) == n && k[n-1] == last && k[(n-1)/2] == mid && k == key && pairs[i].val != "" {
			return pairs[i].val, true
		}
	}
	return "", false
}

// cefPair is one key=value of a CEF extension, the value as written
// (cefExtension replaces it with the unescaped value).
type cefPair struct{ key, val string }

// cefPairs splits an extension (without leading spaces) into pairs,
// appended to pairs: a value runs to the last space before the next key,
// which is a run of key characters after a space and before '='. It
// jumps from '=' to '=' and looks back over the key, so value text costs
// no per-byte work. ok is false when s does not start with key=value.
func cefPairs(s string, pairs []cefPair) ([]cefPair, bool) {
	keyStart, keyEnd := cefKeyAt(s, 0)
	if keyStart != 0 {
		return pairs, false
	}
	for keyStart >= 0 {
		valStart := keyEnd + 1
		nextStart, nextEnd := -1, -1
		valEnd := len(s)
		for e := valStart; e < len(s); e++ {
			if e = indexEq(s, e); e < 0 {
				break
			}
			// The key characters before this '=', back to a space
			// inside the value text.
			v := s[valStart:e]
			j := len(v) - 1
			for j >= 0 && cefKeyChars[v[j]] {
				j--
			}
			if j >= 0 && j < len(v)-1 && v[j] == ' ' {
				nextStart, nextEnd = valStart+j+1, e
				valEnd = valStart + j // the space before the key
				break
			}
		}
		for valEnd > valStart && s[valEnd-1] == ' ' {
			valEnd--
		}
		pairs = append(pairs, cefPair{s[keyStart:keyEnd], s[valStart:valEnd]})
		keyStart, keyEnd = nextStart, nextEnd
	}
	return pairs, true
}

// indexEq returns the index of the first '=' of s at or after i, or -1.
// It tests the next 16 bytes eight at a time inline: the distances
// between the '=' of key=value text are mostly too short for
// strings.IndexByte's call and setup to pay off; longer text (a message
// without pairs) goes to IndexByte's vector loop. In the mask the lowest
// set bit marks the first '='.
func indexEq(s string, i int) int {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	for end := i + 16; i+8 <= len(s); i += 8 {
		if i >= end {
			if j := strings.IndexByte(s[i:], '='); j >= 0 {
				return i + j
			}
			return -1
		}
		c := s[i : i+8] // one bounds check; the compiler makes one load
		x := uint64(c[0]) | uint64(c[1])<<8 | uint64(c[2])<<16 | uint64(c[3])<<24 |
			uint64(c[4])<<32 | uint64(c[5])<<40 | uint64(c[6])<<48 | uint64(c[7])<<56
		x ^= lo * '='
		if m := (x - lo) &^ x & hi; m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
	}
	for ; i < len(s); i++ {
		if s[i] == '=' {
			return i
		}
	}
	return -1
}

// cefKeyAt returns the bounds of a key at i followed by an unescaped '=',
// or -1, -1. Keys are letters, digits, '_', '.', '-', '[' and ']'.
func cefKeyAt(s string, i int) (int, int) {
	j := i
	for j < len(s) && cefKeyChars[s[j]] {
		j++
	}
	if j == i || j >= len(s) || s[j] != '=' {
		return -1, -1
	}
	return i, j
}

// cefKeyChars marks the bytes of a CEF extension key.
var cefKeyChars = func() (t [256]bool) {
	for c := range 256 {
		t[c] = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-' || c == '[' || c == ']'
	}
	return t
}()

func unescapeCEFValue(s string) string {
	if strings.IndexByte(s, '\\') < 0 {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) {
			switch s[i+1] {
			case '=', '\\', '|':
				c = s[i+1]
				i++
			case 'n':
				c = '\n'
				i++
			case 'r':
				c = '\r'
				i++
			}
		}
		b.WriteByte(c)
	}
	return b.String()
}

// labelKey normalizes a custom-field label to a field key: lower case,
// runs of other characters than letters and digits as one '_'. The usual
// spellings of the keys the mappers read cost one table lookup.
func labelKey(label string) string {
	if k, ok := labelTextTable.get(label); ok {
		return k
	}
	return normLabelKey(label)
}

// normLabelKey is labelKey without the table of usual spellings.
func normLabelKey(label string) string {
	var buf [64]byte
	b := buf[:0]
	sep := false
	for i := 0; i < len(label); i++ {
		c := label[i]
		switch {
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
			fallthrough
		case c >= 'a' && c <= 'z' || c >= '0' && c <= '9':
			if sep && len(b) > 0 {
				b = append(b, '_')
			}
			b = append(b, c)
			sep = false
		default:
			sep = true
		}
	}
	if string(b) == label {
		return label
	}
	if k, ok := internLabelKey(b); ok {
		return k // no allocation for the common labels
	}
	return string(b)
}

// labelKeys are the normalized custom-field labels that the vendor
// mapping reads (vendorOT), interned by internLabelKey so that
// "Operation" or "MITRE Technique" cost no allocation.
func labelKeys() []string {
	var keys []string
	for _, l := range [][]string{vendorOpKeys, vendorTechniqueKeys, vendorProtoKeys, {"category", "zone", "site", "asset", "asset_name", "asset_type", "risk", "severity", "protocol_name"}} {
		keys = append(keys, l...)
	}
	return keys
}

// cefTimeLayouts are the CEF/LEEF date formats besides epoch milliseconds.
var cefTimeLayouts = []string{
	"Jan 02 2006 15:04:05.000 MST", "Jan 02 2006 15:04:05 MST", "Jan 02 2006 15:04:05.000", "Jan 02 2006 15:04:05",
	"Jan _2 2006 15:04:05.000", "Jan _2 2006 15:04:05", "Jan 02 15:04:05.000", "Jan 02 15:04:05",
	time.RFC3339Nano, "2006-01-02 15:04:05.000", "2006-01-02 15:04:05",
}

// vendorTime sets the event time from the first present key: epoch
// milliseconds or one of cefTimeLayouts (zone-less times in the parser's
// location). A present but unparseable value is a bad_timestamp error.
func (p *Parser) vendorTime(ev *event.Event, f fieldView, format Format, keys *keyList) error {
	if keys.absentIn(f) {
		return nil
	}
	for i, k := range keys.keys {
		v := trimSpace(f.getAt(keys, i))
		if v == "" {
			continue
		}
		t, ok := p.parseVendorTime(v, "")
		if !ok {
			return newError(ReasonBadTimestamp, format, nil, "%s %q is not a known time format", k, v)
		}
		ev.Time, ev.TimeRaw = t, v
		return nil
	}
	return nil
}

// parseVendorTime parses epoch seconds/milliseconds/micro/nanoseconds or
// a date in layout (a Go layout, "" for the known layouts).
func (p *Parser) parseVendorTime(v, layout string) (time.Time, bool) {
	if n, ok := digits(v); ok && n > 0 {
		return epoch(n), true
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil && n > 0 {
		return epoch(n), true
	}
	layouts := cefTimeLayouts
	if layout != "" {
		layouts = []string{layout}
	}
	for _, l := range layouts {
		t, err := time.ParseInLocation(l, v, p.loc)
		if err != nil {
			continue
		}
		if t.Year() == 0 {
			t = p.stampTime(t)
		}
		return t.UTC(), true
	}
	return time.Time{}, false
}

// epoch interprets n as seconds, milliseconds, microseconds or
// nanoseconds since 1970 by its magnitude.
func epoch(n int64) time.Time {
	switch {
	case n < 1e11:
		return time.Unix(n, 0).UTC()
	case n < 1e14:
		return time.UnixMilli(n).UTC()
	case n < 1e17:
		return time.UnixMicro(n).UTC()
	}
	return time.Unix(0, n).UTC()
}
