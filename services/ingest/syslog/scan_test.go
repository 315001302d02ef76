package syslog

import (
	"bytes"
	"maps"
	"net/netip"
	"strconv"
	"strings"
	"testing"
)

// extractPairsRef is the position-by-position scan that extractPairs
// replaced (it jumps from '=' to '='); FuzzExtractPairs checks that both
// find the same pairs.
func extractPairsRef(s string, fields map[string]string) {
	i := 0
	for i < len(s) && len(fields) < MaxFields {
		if i > 0 && !isSep(s[i-1]) || !isKeyStart(s[i]) {
			i++
			continue
		}
		j := i + 1
		for j < len(s) && isKeyChar(s[j]) {
			j++
		}
		if j >= len(s) || s[j] != '=' {
			i = j
			continue
		}
		key := s[i:j]
		j++ // '='
		var val string
		if j < len(s) && s[j] == '"' {
			val, j = quoted(s, j+1)
		} else {
			k := j
			for k < len(s) && s[k] != ' ' && s[k] != '\t' {
				k++
			}
			e := k
			for e > j && (s[e-1] == ',' || s[e-1] == ';') {
				e--
			}
			val, j = s[j:e], k
		}
		if _, ok := fields[key]; val != "" && !ok {
			fields[key] = val
		}
		i = j
	}
}

// pairSeeds are key=value texts with the edge cases of the key rule.
var pairSeeds = []string{
	"", "=", "==x=1", "a=1", " a=1", "a b=1", "ab=c=d", "a-b=1 -c=2 .d=3 _e=4", "1a=2 b1=3", `msg="a=b c" x=1`,
	`a="x"b=1`, `a="unterminated b=2`, "a=1,b=2;c=3\td=4", "a=,; b=", "k=v k=w", `q="a\"b\\c" r=1`, "x=y=z w",
	"é=1 a=2", "a.b.c=1 a..=2", "=a=b", "a= b=1", "a=\"\" b=2",
}

func TestExtractPairs(t *testing.T) {
	for _, s := range pairSeeds {
		t.Run(s, func(t *testing.T) {
			gotSet, want := newFieldSet(nil), map[string]string{}
			extractPairs(s, gotSet, nil)
			extractPairsRef(s, want)
			got := asMap(gotSet)
			if !maps.Equal(got, want) {
				t.Fatalf("extractPairs(%q) = %v, want %v", s, got, want)
			}
		})
	}
}

func FuzzExtractPairs(f *testing.F) {
	for _, s := range pairSeeds {
		f.Add(s)
	}
	for _, l := range benchLines {
		f.Add(string(l.raw))
	}
	f.Fuzz(func(t *testing.T, s string) {
		gotSet, want := newFieldSet(nil), map[string]string{}
		extractPairs(s, gotSet, nil)
		extractPairsRef(s, want)
		got := asMap(gotSet)
		if !maps.Equal(got, want) {
			t.Fatalf("extractPairs(%q) = %v, want %v", s, got, want)
		}
	})
}

// checkIP compares parseIP with netip.ParseAddr, which it must match.
func checkIP(t *testing.T, v string) {
	got, ok := parseIP(v)
	a, err := netip.ParseAddr(v)
	if ok != (err == nil) {
		t.Fatalf("parseIP(%q) ok = %v, netip.ParseAddr error %v", v, ok, err)
	}
	if ok && got != a.Unmap().String() {
		t.Fatalf("parseIP(%q) = %q, want %q", v, got, a.Unmap().String())
	}
}

var ipSeeds = []string{
	"10.20.1.11", "0.0.0.0", "255.255.255.255", "256.1.1.1", "01.2.3.4", "1.2.3", "1.2.3.4.5", "1.2.3.4.", ".1.2.3.4",
	"1..2.3", "1.2.3.0004", "1.2.3.-4", "::1", "::ffff:10.0.0.1", "fe80::1%eth0", "1.2.3.4 ", "", "1.2.3.999", "100.200.250.255",
}

func TestParseIP(t *testing.T) {
	for _, v := range ipSeeds {
		t.Run(v, func(t *testing.T) { checkIP(t, v) })
	}
}

func FuzzParseIP(f *testing.F) {
	for _, v := range ipSeeds {
		f.Add(v)
	}
	f.Fuzz(checkIP)
}

func TestLowerKnown(t *testing.T) {
	for _, v := range []string{"", "tcp", "TCP", "Tcp", "modbus", "ModBus", "ÉCHO", "échO", "already_lower-1", "X"} {
		want := strings.ToLower(v)
		if got := lowerKnown(v); got != want {
			t.Errorf("lowerKnown(%q) = %q, want %q", v, got, want)
		}
	}
}

// payloadMarkerRef is the search that payloadMarker replaced (one
// strings.Index per marker); FuzzPayloadMarker checks that both agree.
func payloadMarkerRef(body string) (Format, int) {
	head := body[:min(len(body), 256)]
	best, at := Format(""), -1
	for _, m := range [...]struct {
		prefix string
		f      Format
	}{{"CEF:", FormatCEF}, {"LEEF:", FormatLEEF}} {
		for off := 0; off < len(head); {
			i := strings.Index(head[off:], m.prefix)
			if i < 0 {
				break
			}
			i += off
			if (i == 0 || head[i-1] == ' ') && len(body) > i+len(m.prefix) && isDigit(body[i+len(m.prefix)]) {
				if at < 0 || i < at {
					best, at = m.f, i
				}
				break
			}
			off = i + 1
		}
	}
	return best, at
}

var markerSeeds = []string{
	"", "CEF:0|a", "LEEF:1.0|a", "x CEF:0|", "xCEF:0| LEEF:2|", "LEEF:x CEF:1", "CEF:", "CEF:x", " LEEF:2.0|", "a:b:c CEF:0",
	strings.Repeat("a", 252) + " CEF:0", strings.Repeat("a", 251) + " CEF:0", "LEEF:CEF:0", "Nov 26 10:00:01 h CEF:0|x",
}

func TestPayloadMarker(t *testing.T) {
	for _, s := range markerSeeds {
		f, at := payloadMarker(s)
		wf, wat := payloadMarkerRef(s)
		if f != wf || at != wat {
			t.Errorf("payloadMarker(%q) = %q, %d, want %q, %d", s, f, at, wf, wat)
		}
	}
}

func FuzzPayloadMarker(f *testing.F) {
	for _, s := range markerSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, at := payloadMarker(s)
		want, wat := payloadMarkerRef(s)
		if got != want || at != wat {
			t.Fatalf("payloadMarker(%q) = %q, %d, want %q, %d", s, got, at, want, wat)
		}
	})
}

// plainJSONRunRef is the byte-at-a-time scan plainJSONRun speeds up.
func plainJSONRunRef(d string, i int) int {
	for i < len(d) && jsonPlain[d[i]] {
		i++
	}
	return i
}

func FuzzPlainJSONRun(f *testing.F) {
	for _, s := range []string{"", "abcdefgh", "abcdefg\"", "abc\\defghijk", "abcdefgh\x01", "ab\xc3\xa9cdefghij", "\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f", `0123456789abcdef"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for i := 0; i <= len(s); i++ {
			if got, want := plainJSONRun(s, i), plainJSONRunRef(s, i); got != want {
				t.Fatalf("plainJSONRun(%q, %d) = %d, want %d", s, i, got, want)
			}
		}
	})
}

// visibleRef is the byte-at-a-time check visible speeds up.
func visibleRef(s string) bool {
	for i := 0; i < len(s); i++ {
		if invisible[s[i]] {
			return false
		}
	}
	return true
}

func FuzzVisible(f *testing.F) {
	for _, s := range []string{"", "abcdefgh", "abcdefg\x7f", "a\tbcdefghijk", "abcdefgh\x01", "ab\xc3\xa9cdefghij\x00", "\xff\xff\xff\xff\xff\xff\xff\xff\x1f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := visible(s), visibleRef(s); got != want {
			t.Fatalf("visible(%q) = %v, want %v", s, got, want)
		}
	})
}

// cefPairsRef is the space-by-space split that cefPairs replaced;
// FuzzCEFPairs checks that both split alike.
func cefPairsRef(s string) ([]cefPair, bool) {
	var pairs []cefPair
	keyStart, keyEnd := cefKeyAt(s, 0)
	if keyStart != 0 {
		return nil, false
	}
	for keyStart >= 0 {
		valStart := keyEnd + 1
		nextStart, nextEnd := -1, -1
		for i := valStart; i < len(s); i++ {
			if s[i] == ' ' {
				if ks, ke := cefKeyAt(s, i+1); ks >= 0 {
					nextStart, nextEnd = ks, ke
					break
				}
			}
		}
		valEnd := len(s)
		if nextStart >= 0 {
			valEnd = nextStart
		}
		pairs = append(pairs, cefPair{s[keyStart:keyEnd], strings.TrimRight(s[valStart:valEnd], " ")})
		keyStart, keyEnd = nextStart, nextEnd
	}
	return pairs, true
}

var cefPairSeeds = []string{
	"a=1", "a=1 b=2", "a= b=1", "a=x y z b=2", "a=b=c", "a=b=c d=e", "msg=Download of project Line1 to PLC-01", "a=1  b=2  ",
	`a=x\=y b=2`, "a=1 =2 b=3", "a=1 b[0]=2 c.d-e_f=3", "=x", " a=1", "a=1 b", "a=1 b= c=", "a=é b=ü c=1", "a=1\tb=2",
}

func FuzzCEFPairs(f *testing.F) {
	for _, s := range cefPairSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := cefPairs(s, nil)
		want, wantOK := cefPairsRef(s)
		if ok != wantOK || len(got) != len(want) {
			t.Fatalf("cefPairs(%q) = %q %v, want %q %v", s, got, ok, want, wantOK)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("cefPairs(%q) = %q, want %q", s, got, want)
			}
		}
	})
}

func FuzzUnescapedPipe(f *testing.F) {
	for _, s := range []string{"", "|", `\|`, `\\|`, `a\|b|c`, `abc`, `a|b\|c`, `\`, `x\\\|y|`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := unescapedPipe(s), scanUnescapedPipe(s); got != want {
			t.Fatalf("unescapedPipe(%q) = %d, want %d", s, got, want)
		}
	})
}

func FuzzIndexEq(f *testing.F) {
	for _, s := range []string{"", "=", "abcdefgh=", "abcdefg=h", "a=b=c", "\xbd\xbd\xbd\xbd\xbd\xbd\xbd\xbd=", "<<<<<<<<<=", "0123456789abcdef"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for i := 0; i <= len(s); i++ {
			want := strings.IndexByte(s[i:], '=')
			if want >= 0 {
				want += i
			}
			if got := indexEq(s, i); got != want {
				t.Fatalf("indexEq(%q, %d) = %d, want %d", s, i, got, want)
			}
		}
	})
}

// parsePortRef and parseCountRef are the strconv versions of parsePort
// and parseCount (before their digits fast path); FuzzNumbers checks that
// the normalizers and port/count agree with them.
func parsePortRef(v string) (string, bool) {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 65535 {
		return "", false
	}
	return strconv.Itoa(n), true
}

func parseCountRef(v string) (string, bool) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return "", false
	}
	return v, true
}

func FuzzNumbers(f *testing.F) {
	for _, s := range []string{"", "0", "1", "502", "0502", "65535", "65536", "99999999999999999999", "+5", "-0", "-1", "1e3", " 1", "123456789012345678", "1234567890123456789", "9223372036854775808", "٣"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		got, ok := parsePort(v)
		want, wantOK := parsePortRef(v)
		if got != want || ok != wantOK {
			t.Fatalf("parsePort(%q) = %q %v, want %q %v", v, got, ok, want, wantOK)
		}
		if ok {
			if n, _ := strconv.Atoi(v); port(got) != n {
				t.Fatalf("port(%q) = %d, want %d", got, port(got), n)
			}
		}
		got, ok = parseCount(v)
		want, wantOK = parseCountRef(v)
		if got != want || ok != wantOK {
			t.Fatalf("parseCount(%q) = %q %v, want %q %v", v, got, ok, want, wantOK)
		}
		if ok {
			if n, _ := strconv.ParseInt(v, 10, 64); count(got) != n {
				t.Fatalf("count(%q) = %d, want %d", got, count(got), n)
			}
		}
	})
}

// FuzzTrimSpace checks trimSpace and blank against strings.TrimSpace and
// bytes.TrimSpace.
func FuzzTrimSpace(f *testing.F) {
	for _, s := range []string{"", " ", "a", " a ", "\t\r\n\v\f", "\u00a0a\u00a0", " \u0085", "é ", " é", "a b", "\x00", " \xff "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := trimSpace(s), strings.TrimSpace(s); got != want {
			t.Fatalf("trimSpace(%q) = %q, want %q", s, got, want)
		}
		if got, want := blank([]byte(s)), len(bytes.TrimSpace([]byte(s))) == 0; got != want {
			t.Fatalf("blank(%q) = %v, want %v", s, got, want)
		}
	})
}

// cefSeverityRef is cefSeverity before its digits fast path.
func cefSeverityRef(v string) (int, bool) {
	v = strings.TrimSpace(v)
	if n, err := strconv.Atoi(v); err == nil {
		if n < 0 || n > 10 {
			return 0, false
		}
		return tenScaleSeverity(n), true
	}
	return cefSeverityWord(v)
}

func FuzzCEFSeverity(f *testing.F) {
	for _, s := range []string{"", "0", "8", "10", "11", "-1", "+5", " 7 ", "007", "High", "very high", "99999999999999999999", "٣"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		got, ok := cefSeverity(v)
		want, wantOK := cefSeverityRef(v)
		if got != want || ok != wantOK {
			t.Fatalf("cefSeverity(%q) = %d %v, want %d %v", v, got, ok, want, wantOK)
		}
	})
}
