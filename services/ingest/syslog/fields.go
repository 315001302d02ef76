package syslog

import (
	"net"
	"net/netip"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/c981/c981/services/shared/event"
)

// extractPairs adds the key=value pairs of a message body to fields. A key
// starts at the beginning of the text or after a space, tab, comma or
// semicolon, begins with a letter or '_' and continues with letters,
// digits, '_', '-' or '.'; it is followed directly by '='. A value is either
// "double quoted" (with \" and \\ escapes; an unterminated quote runs to the
// end) or runs to the next space or tab. Empty values are skipped, and the
// first occurrence of a key wins (structured data params, added before, win
// over body pairs).
//
// It jumps from '=' to '=': a key is the run of key characters that ends
// at an '=', so no other position can start one.
func extractPairs(s string, fields *fieldSet, as *aliasState) {
	i := 0
	for i < len(s) && fields.len() < MaxFields {
		eq := strings.IndexByte(s[i:], '=')
		if eq < 0 {
			return
		}
		eq += i
		k := eq
		for k > i && isKeyChar(s[k-1]) {
			k--
		}
		if k == eq || !isKeyStart(s[k]) || k > 0 && !isSep(s[k-1]) {
			i = eq + 1
			continue
		}
		key := s[k:eq]
		j := eq + 1
		var val string
		if j < len(s) && s[j] == '"' {
			val, j = quoted(s, j+1)
		} else {
			// The value ends at the next space or tab.
			k := len(s)
			if sp := strings.IndexByte(s[j:], ' '); sp >= 0 {
				k = j + sp
			}
			if tab := strings.IndexByte(s[j:k], '\t'); tab >= 0 {
				k = j + tab
			}
			e := k
			for e > j && (s[e-1] == ',' || s[e-1] == ';') {
				e--
			}
			val, j = s[j:e], k
		}
		if val != "" {
			addField(fields, as, key, val)
		}
		i = j
	}
}

// quoted reads a quoted value starting after the opening quote at i and
// returns it unescaped with the index after the closing quote.
func quoted(s string, i int) (string, int) {
	var b strings.Builder
	plain := true
	start := i
	for i < len(s) {
		c := s[i]
		switch {
		case c == '"':
			if plain {
				return s[start:i], i + 1
			}
			return b.String(), i + 1
		case c == '\\' && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\\'):
			if plain {
				b.WriteString(s[start:i])
				plain = false
			}
			b.WriteByte(s[i+1])
			i += 2
			continue
		}
		if !plain {
			b.WriteByte(c)
		}
		i++
	}
	if plain {
		return s[start:], i
	}
	return b.String(), i
}

func isSep(c byte) bool { return c == ' ' || c == '\t' || c == ',' || c == ';' }

func isKeyStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
}

func isKeyChar(c byte) bool { return keyChars[c] }

// keyChars marks the bytes of a key: letters, digits, '_', '-' and '.'.
var keyChars = func() (t [256]bool) {
	for c := range 256 {
		b := byte(c)
		t[c] = isKeyStart(b) || b >= '0' && b <= '9' || b == '-' || b == '.'
	}
	return t
}()

// trimSpace is strings.TrimSpace without its work for the usual value
// that starts and ends with a visible ASCII character, or with ASCII
// white space only at its ends.
func trimSpace(v string) string {
	if v == "" || v[0] > ' ' && v[0] < utf8.RuneSelf && v[len(v)-1] > ' ' && v[len(v)-1] < utf8.RuneSelf {
		return v
	}
	i, j := 0, len(v)
	for i < j && asciiSpace[v[i]] {
		i++
	}
	for j > i && asciiSpace[v[j-1]] {
		j--
	}
	if v = v[i:j]; v == "" || v[0] < utf8.RuneSelf && v[len(v)-1] < utf8.RuneSelf {
		return v // ASCII ends that are not white space
	}
	return strings.TrimSpace(v) // Unicode white space at an end
}

// asciiSpace marks the ASCII white space that strings.TrimSpace trims.
var asciiSpace = [256]bool{'\t': true, '\n': true, '\v': true, '\f': true, '\r': true, ' ': true}

// Event fields that well-known keys map onto.
const (
	fSrcIP = iota
	fDstIP
	fSrcPort
	fDstPort
	fSrcMAC
	fDstMAC
	fProto
	fAppProto
	fOperation
	fUser
	fAction
	fOutcome
	fCategory
	fBytesOut
	fBytesIn
	fSession
	numMapped
)

// aliases lists, per event field, the keys that fill it, in order of
// preference (the first alias with a valid value wins).
var aliases = [numMapped][]string{
	fSrcIP:     {"src", "src_ip", "srcip", "id.orig_h"},
	fDstIP:     {"dst", "dst_ip", "dstip", "dest_ip", "id.resp_h"},
	fSrcPort:   {"sport", "spt", "src_port", "srcport", "srcPort", "id.orig_p"},
	fDstPort:   {"dport", "dpt", "dst_port", "dstport", "dstPort", "dest_port", "id.resp_p"},
	fSrcMAC:    {"smac", "src_mac", "srcmac", "srcMAC"},
	fDstMAC:    {"dmac", "dst_mac", "dstmac", "dstMAC"},
	fProto:     {"proto"},
	fAppProto:  {"app", "app_proto"},
	fOperation: {"op", "operation"},
	fUser:      {"user", "suser", "duser", "usrName"},
	fAction:    {"action", "act"},
	fOutcome:   {"outcome", "result"},
	fCategory:  {"category", "cat"},
	fBytesOut:  {"bytes_out", "sentbyte", "out", "srcBytes"},
	fBytesIn:   {"bytes_in", "rcvdbyte", "in", "dstBytes"},
	fSession:   {"session", "session_id", "sessionid"},
}

// aliasRef is one alias: the field it fills and its preference (0 best).
type aliasRef struct{ field, pref int }

// aliasIndex finds the alias of a key in one map lookup (used to check
// aliasOf).
var aliasIndex = func() map[string]aliasRef {
	m := map[string]aliasRef{}
	for f, keys := range aliases {
		for p, k := range keys {
			m[k] = aliasRef{field: f, pref: p}
		}
	}
	return m
}()

// normalizers validate and normalize each field's value.
var normalizers = [numMapped]func(string) (string, bool){
	fSrcIP: parseIP, fDstIP: parseIP, fSrcPort: parsePort, fDstPort: parsePort,
	fSrcMAC: parseMAC, fDstMAC: parseMAC, fProto: parseProto, fAppProto: lower,
	fOperation: parseOp, fUser: keep, fAction: lower, fOutcome: parseOutcome, fCategory: lower,
	fBytesOut: parseCount, fBytesIn: parseCount, fSession: keep,
}

// CategoryAuthentication is the category value that makes an event an
// authentication event (Kind auth).
const CategoryAuthentication = "authentication"

// aliasState is the result of the alias mapping, computed while the
// fields are added (add) so that mapFields need not iterate the map. It
// is used only when valid (the parse path tracked every insertion), not
// broken (no tracked key was overwritten) and it saw as many keys as
// Fields has; otherwise mapFields iterates Fields.
type aliasState struct {
	valid, broken bool
	// noView makes fieldView ask the map always (tests compare it with
	// the Bloom filter and the hot keys).
	noView bool
	count  int
	found  [numMapped]string
	// opRaw and opNorm are the last operation alias value normalized
	// (trimmed) and its normalization: vendorOp reuses it for the same
	// value instead of normalizing it again (parseOp is a pure function).
	opRaw, opNorm string
	pref          [numMapped]int8
	// keys is a Bloom filter (one hash, 128 bits) of the keys added:
	// a lookup of a key whose bit is clear need not hash it and probe
	// the map (see fieldView).
	keys [2]uint64
	// hotSet has bit i set when hotKeys[i] is in Fields, with value
	// hotVal[hotIdx[i]]; kept equal to the map's by addHashed and
	// setField. Only maxHotVals values fit (the state is zeroed for every
	// record, so it stays small): hotFull says that more hot keys came,
	// and then the map is asked.
	hotSet  uint64
	hotIdx  [numHot]uint8
	hotN    uint8
	hotFull bool
	hotVal  [maxHotVals]string
}

// keyBit is the Bloom filter bit of key k.
func keyBit(k string) uint { return bloomBit(keyHash(k)) }

// bloomBit is the Bloom filter bit of a key with hash x.
func bloomBit(x uint32) uint { return uint(x >> 25) }

// add records a key newly added to Fields. A nil state ignores it.
func (as *aliasState) add(k, v string) {
	if as == nil {
		return
	}
	x := keyHash(k)
	as.addHashed(v, x, knownKey(k, x))
}

// addHashed is add of a key with hash x and known-key entry e (nil for
// an unknown key). as is not nil.
func (as *aliasState) addHashed(v string, x uint32, e *keyEntry) {
	as.count++
	b := bloomBit(x)
	as.keys[b>>6] |= 1 << (b & 63)
	if e != nil {
		if e.alias.field >= 0 {
			as.considerAlias(e.alias, v)
		}
		if e.hot >= 0 {
			as.addHot(e.hot, v)
		}
	}
}

// maxHotVals is the number of hot key values an aliasState holds.
const maxHotVals = 16

// addHot records the value of the hot key hotKeys[h], newly added.
func (as *aliasState) addHot(h int, v string) {
	if as.hotN == maxHotVals {
		as.hotFull = true
		return
	}
	as.hotSet |= 1 << h
	as.hotIdx[h] = as.hotN
	as.hotVal[as.hotN] = v
	as.hotN++
}

// setHot records the new value of the hot key hotKeys[h], overwritten.
func (as *aliasState) setHot(h int, v string) {
	if as.hotSet&(1<<h) != 0 {
		as.hotVal[as.hotIdx[h]] = v
	}
}

// hotVals reports whether the hot values cover every hot key in the
// map (the tracking covers the map and no hot key was left out).
func (f fieldView) hotVals() bool {
	return f.tracked() && !f.as.hotFull
}

// fieldView reads Fields with the Bloom filter of the keys added so far:
// a key the filter proves absent costs no map lookup. The filter is used
// only while it covers every key (as.count equals the map's size: every
// insertion went through add); otherwise the map is asked.
type fieldView struct {
	m  *fieldSet
	as *aliasState
}

// tracked reports whether the tracking covers every key of the map.
func (f fieldView) tracked() bool {
	return f.as != nil && !f.as.noView && f.as.count == f.m.len()
}

// absent reports whether k is certainly not in the map.
func (f fieldView) absent(k string) bool {
	if !f.tracked() {
		return false
	}
	b := keyBit(k)
	return f.as.keys[b>>6]&(1<<(b&63)) == 0
}

// get returns the value of k, "" when absent.
func (f fieldView) get(k string) string {
	v, _ := f.lookup(k)
	return v
}

// lookup returns the value of k and whether it is present: a hot key
// from the tracked values, a key the filter proves absent without a
// map lookup.
func (f fieldView) lookup(k string) (string, bool) {
	if f.tracked() {
		if b := keyBit(k); f.as.keys[b>>6]&(1<<(b&63)) == 0 {
			return "", false
		}
		if h := hotOf(k); h >= 0 && !f.as.hotFull {
			if f.as.hotSet&(1<<h) == 0 {
				return "", false
			}
			return f.as.hotVal[f.as.hotIdx[h]], true
		}
	}
	return f.m.get(k)
}

// hot returns the value of the hot key hotKeys[h] and whether it is
// present: without a lookup while the tracking covers the map.
func (f fieldView) hot(h int) (string, bool) {
	if f.hotVals() {
		if f.as.hotSet&(1<<h) == 0 {
			return "", false
		}
		return f.as.hotVal[f.as.hotIdx[h]], true
	}
	return f.m.get(hotKeys[h])
}

// hotGet returns the value of the hot key hotKeys[h], "" when absent.
func (f fieldView) hotGet(h int) string {
	v, _ := f.hot(h)
	return v
}

// keyList is a list of keys in order of preference, with the hot index
// of each key (-1 for a key that is not hot) and the bits of its hot
// keys: a list whose keys are all hot and absent costs one test.
type keyList struct {
	keys   []string
	hot    []int
	mask   uint64
	allHot bool
}

// newKeyList returns the keyList of keys.
func newKeyList(keys ...string) *keyList {
	l := &keyList{keys: keys, allHot: true}
	for _, k := range keys {
		h := hotOf(k)
		l.hot = append(l.hot, h)
		if h < 0 {
			l.allHot = false
		} else {
			l.mask |= 1 << h
		}
	}
	return l
}

// absentIn reports whether no key of l is in f: certainly, without a
// lookup (false when it cannot tell).
func (l *keyList) absentIn(f fieldView) bool {
	return l.allHot && f.hotVals() && f.as.hotSet&l.mask == 0
}

// getAt returns the value of l.keys[i], "" when absent.
func (f fieldView) getAt(l *keyList, i int) string {
	if h := l.hot[i]; h >= 0 {
		return f.hotGet(h)
	}
	return f.get(l.keys[i])
}

// firstOf is first(l.keys, norm), reading hot keys without lookups.
func (f fieldView) firstOf(l *keyList, norm func(string) (string, bool)) string {
	if !l.allHot || !f.hotVals() {
		return f.first(l.keys, norm)
	}
	set := f.as.hotSet
	if set&l.mask == 0 {
		return ""
	}
	for _, h := range l.hot {
		if set&(1<<h) != 0 {
			if n, ok := norm(trimSpace(f.as.hotVal[f.as.hotIdx[h]])); ok {
				return n
			}
		}
	}
	return ""
}

// first returns the normalized value of the first key whose value
// normalizes successfully, or "".
func (f fieldView) first(keys []string, norm func(string) (string, bool)) string {
	for _, k := range keys {
		if v, ok := f.lookup(k); ok {
			if n, ok := norm(trimSpace(v)); ok {
				return n
			}
		}
	}
	return ""
}

// setField sets k to v in fields (a new key at the end, see fieldSet)
// and tracks it in as (one index probe says whether k was new).
//
// A known key (an alias or hot key) is stored as the parser's constant
// string, not as the caller's (usually a substring of the record): one
// pointer into the heap less for the garbage collector's write barrier,
// and the key is hashed once for the map's tracking.
func setField(fields *fieldSet, as *aliasState, k, v string) {
	x := keyHash(k)
	e := knownKey(k, x)
	if e != nil {
		k = e.key
	}
	added := fields.set(k, v)
	switch {
	case as == nil:
	case !added:
		as.overwritten()
		if e != nil && e.hot >= 0 {
			as.setHot(e.hot, v)
		}
	default:
		as.addHashed(v, x, e)
	}
}

// addField adds k with v to fields unless k is set, and tracks it in as.
// Like setField it stores known keys as constants.
func addField(fields *fieldSet, as *aliasState, k, v string) {
	x := keyHash(k)
	e := knownKey(k, x)
	if e != nil {
		k = e.key
	}
	if !fields.add(k, v) {
		return
	}
	if as != nil {
		as.addHashed(v, x, e)
	}
}

// overwritten records that a tracked key was overwritten, which makes the
// tracked mapping stale. A nil state ignores it.
func (as *aliasState) overwritten() {
	if as != nil {
		as.broken = true
	}
}

// consider applies the alias rule to one key/value: the best-preferred
// alias with a valid value wins, whatever the order keys come in.
func (as *aliasState) consider(k, v string) {
	if a, ok := aliasOf(k); ok {
		as.considerAlias(a, v)
	}
}

// considerAlias applies the alias rule to a value of alias a.
func (as *aliasState) considerAlias(a aliasRef, v string) {
	if as.found[a.field] != "" && int(as.pref[a.field]) <= a.pref {
		return
	}
	tv := trimSpace(v)
	if n, ok := normalizers[a.field](tv); ok {
		as.found[a.field], as.pref[a.field] = n, int8(a.pref)
		if a.field == fOperation {
			as.opRaw, as.opNorm = tv, n
		}
	}
}

// mapFields fills the Event fields of the well-known keys that the format
// parser left empty, then the Kind when it is unset. For each field the
// first alias with a valid value wins; invalid values (an IP that does not
// parse, a port outside 1-65535) stay only in Fields. as, when usable,
// already holds the mapping.
func mapFields(ev *event.Event, f *fieldSet, as *aliasState) {
	if f.len() > 0 {
		if as == nil || !as.valid || as.broken || as.count != f.len() {
			as = &aliasState{}
			for k, v := range f.pairs {
				as.consider(k, v)
			}
		}
		found := &as.found
		setStr(&ev.SrcIP, found[fSrcIP])
		setStr(&ev.DstIP, found[fDstIP])
		if ev.SrcPort == 0 {
			ev.SrcPort = port(found[fSrcPort])
		}
		if ev.DstPort == 0 {
			ev.DstPort = port(found[fDstPort])
		}
		setStr(&ev.SrcMAC, found[fSrcMAC])
		setStr(&ev.DstMAC, found[fDstMAC])
		setStr(&ev.Proto, found[fProto])
		setStr(&ev.AppProto, found[fAppProto])
		setStr(&ev.Operation, found[fOperation])
		setStr(&ev.User, found[fUser])
		setStr(&ev.Action, found[fAction])
		setStr(&ev.Outcome, found[fOutcome])
		setStr(&ev.Category, found[fCategory])
		setStr(&ev.Session, found[fSession])
		if ev.BytesOut == 0 {
			ev.BytesOut = count(found[fBytesOut])
		}
		if ev.BytesIn == 0 {
			ev.BytesIn = count(found[fBytesIn])
		}
	}
	if ev.Kind != "" {
		return
	}
	switch {
	case ev.Category == CategoryAuthentication:
		ev.Kind = event.KindAuth
	case ev.SrcIP != "" && ev.DstIP != "":
		ev.Kind = event.KindFlow
	default:
		ev.Kind = event.KindLog
	}
}

func setStr(dst *string, v string) {
	if *dst == "" && v != "" { // no store (and write barrier) for nothing
		*dst = v
	}
}

func keep(v string) (string, bool) { return v, v != "" }

func lower(v string) (string, bool) { return lowerKnown(v), v != "" }

// knownLower are common values of lower-cased fields (protocols, actions,
// categories); lowerKnown returns these constants instead of allocating.
var knownLower = func() map[string]string {
	m := map[string]string{}
	for _, v := range []string{
		"tcp", "udp", "icmp", "modbus", "enip", "cip", "dnp3", "s7comm", "iec104", "bacnet", "opcua", "profinet",
		"http", "https", "dns", "tls", "ssh", "rdp", "smb", "ftp", "telnet", "snmp", "ntp", "vnc",
		"allow", "deny", "accept", "drop", "dropped", "blocked", "allowed", "alert", "authentication", "network",
	} {
		m[v] = v
		m[strings.ToUpper(v)] = v
		m[strings.ToUpper(v[:1])+v[1:]] = v
	}
	return m
}()

// knownLowerTable is knownLower as an internTable.
var knownLowerTable = newInternTable(knownLower)

// lowerKnown lower-cases v without allocating for the knownLower values
// and without a lookup for an ASCII value that has no upper case.
func lowerKnown(v string) string {
	lowerASCII := true
	for i := 0; i < len(v) && lowerASCII; i++ {
		c := v[i]
		lowerASCII = c < utf8.RuneSelf && (c < 'A' || c > 'Z')
	}
	if lowerASCII {
		return v
	}
	if l, ok := knownLowerTable.get(v); ok {
		return l
	}
	return strings.ToLower(v)
}

func parseIP(v string) (string, bool) {
	if canonicalIPv4(v) {
		return v, true
	}
	a, err := netip.ParseAddr(v)
	if err != nil {
		return "", false
	}
	if a.Is4() {
		return v, true // ParseAddr accepts only the canonical dotted form
	}
	return a.Unmap().String(), true
}

// canonicalIPv4 reports whether v is a dotted-quad IPv4 address as
// netip.ParseAddr accepts it (four decimal fields 0-255 without leading
// zeros), without its general parsing; false sends v to ParseAddr.
// FuzzParseIP compares parseIP, and so this, with ParseAddr.
func canonicalIPv4(v string) bool {
	if len(v) < 7 || len(v) > 15 {
		return false
	}
	i := 0
	for part := 0; part < 4; part++ {
		if part > 0 {
			if i >= len(v) || v[i] != '.' {
				return false
			}
			i++
		}
		// One to three digits, no leading zero, at most 255.
		if i >= len(v) {
			return false
		}
		d := v[i] - '0'
		if d > 9 {
			return false
		}
		i++
		if d == 0 {
			continue // a single 0: the field ends here
		}
		n := uint(d)
		if i < len(v) {
			if d := v[i] - '0'; d <= 9 {
				n = n*10 + uint(d)
				i++
				if i < len(v) {
					if d := v[i] - '0'; d <= 9 {
						n = n*10 + uint(d)
						i++
					}
				}
			}
		}
		if n > 255 {
			return false
		}
	}
	return i == len(v)
}

// digits returns the value of v when it is 1 to 18 ASCII digits (no
// sign): the common case of strconv's general parsing, which then
// gives the same value.
func digits(v string) (int64, bool) {
	if len(v) == 0 || len(v) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(v); i++ {
		d := v[i] - '0'
		if d > 9 {
			return 0, false
		}
		n = n*10 + int64(d)
	}
	return n, true
}

func parsePort(v string) (string, bool) {
	if n, ok := digits(v); ok && v[0] != '0' {
		if n > 65535 {
			return "", false
		}
		return v, true // canonical: no leading zeros
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 65535 {
		return "", false
	}
	if v[0] >= '1' && v[0] <= '9' {
		return v, true // already canonical
	}
	return strconv.Itoa(n), true
}

func port(v string) int {
	if n, ok := digits(v); ok {
		return int(n)
	}
	if v == "" {
		return 0
	}
	n, _ := strconv.Atoi(v) // validated by parsePort
	return n
}

// parseProto lowercases a protocol name and names the common IANA numbers.
func parseProto(v string) (string, bool) {
	switch v {
	case "":
		return "", false
	case "6":
		return "tcp", true
	case "17":
		return "udp", true
	case "1":
		return "icmp", true
	case "58":
		return "ipv6-icmp", true
	}
	return lowerKnown(v), true
}

// parseOutcome normalizes an outcome to success, failure or unknown.
func parseOutcome(v string) (string, bool) {
	switch strings.ToLower(v) {
	case "":
		return "", false
	case "success", "succeeded", "successful", "succeed", "ok", "pass", "passed":
		return "success", true
	case "failure", "failed", "fail", "error", "denied", "rejected":
		return "failure", true
	}
	return "unknown", true
}

// parseOp normalizes an explicit operation value (see normalizeOp).
func parseOp(v string) (string, bool) {
	n := normalizeOp(v)
	return n, n != ""
}

// parseMAC normalizes a 48-bit MAC address (aa:bb:cc:dd:ee:ff,
// aa-bb-cc-dd-ee-ff or aabb.ccdd.eeff, any case) to lower-case colon form.
func parseMAC(v string) (string, bool) {
	if len(v) < 12 {
		return "", false
	}
	if len(v) == 17 {
		sep := v[2]
		if sep != ':' && sep != '-' {
			return "", false
		}
		canonical := sep == ':'
		for i := 0; i < 17; i++ {
			c := v[i]
			if i%3 == 2 {
				if c != sep {
					return "", false
				}
				continue
			}
			switch {
			case c >= '0' && c <= '9' || c >= 'a' && c <= 'f':
			case c >= 'A' && c <= 'F':
				canonical = false
			default:
				return "", false
			}
		}
		if canonical {
			return v, true
		}
	}
	hw, err := net.ParseMAC(v)
	if err != nil || len(hw) != 6 {
		return "", false
	}
	return hw.String(), true
}

// parseCount validates a non-negative byte count.
func parseCount(v string) (string, bool) {
	if _, ok := digits(v); ok {
		return v, true
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return "", false
	}
	return v, true
}

func count(v string) int64 {
	if n, ok := digits(v); ok {
		return n
	}
	if v == "" {
		return 0
	}
	n, _ := strconv.ParseInt(v, 10, 64) // validated by parseCount
	return n
}
