package syslog

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/c981/c981/services/shared/event"
)

// FuzzFast5424 checks the RFC 5424 fast path against the go-syslog
// machine: whatever fast5424 accepts, the machine accepts with the same
// event and fields.
func FuzzFast5424(f *testing.F) {
	addGoldenSeeds(f, "rfc5424", "bad_", "truncated_5424", "non_utf8_5424", "forced_")
	for _, l := range benchLines {
		f.Add(l.raw)
	}
	for _, s := range []string{
		`<0>1 - - - - - -`, `<01>1 - - - - - -`, `<13>1 2026-02-30T10:00:00Z h a p m -`, `<13>1 2026-11-26T10:00:00.1234567Z h a p m -`,
		`<13>1 2026-11-26T10:00:00+24:00 h a p m -`, `<13>1 - h a p m [a b="\x"]`, `<13>1 - h a p m [a b="1"][a c="2"]`,
		`<13>1 - h a p m [a b="1" b="2"]`, `<13>1 - h a p m [a b="\]\"\\"] m`, `<13>1 - h a p m [a][b] m`, `<13>1 - h a p m -x`,
		"<13>1 - h a p m - \xef\xbb\xbfbom", `<13>1 - h a p m [a@1 b="]"]`, `<13>1 - h a p m [a b=""]`,
	} {
		f.Add([]byte(s))
	}
	p := NewParser(Options{Format: FormatRFC5424})
	f.Fuzz(func(t *testing.T, raw []byte) {
		rec := string(raw)
		if len(rec) == 0 || rec[0] != '<' {
			return
		}
		_, priLen, err := scanPRI(raw)
		if err != nil || priLen == 0 {
			return
		}
		r := record{raw: rec, priLen: priLen}
		var fastEv, slowEv event.Event
		fastFields, slowFields := newFieldSet(nil), newFieldSet(nil)
		if !fast5424(r, &fastEv, fastFields, nil) {
			return
		}
		if err := p.machine5424(r, &slowEv, slowFields, nil); err != nil {
			t.Fatalf("fast path accepted %q, go-syslog: %v", raw, err)
		}
		fastEv.Fields, slowEv.Fields = asMap(fastFields), asMap(slowFields)
		fj, _ := json.Marshal(fastEv)
		sj, _ := json.Marshal(slowEv)
		// TimeRaw is set by the fast path only when a timestamp exists;
		// machine5424 sets it the same way.
		if string(fj) != string(sj) {
			t.Fatalf("fast and go-syslog differ for %q:\nfast %s\nslow %s", raw, fj, sj)
		}
	})
}

// FuzzFast3164 checks the RFC 3164 fast path against the go-syslog
// machine: whatever fast3164 accepts, the machine parses the same.
func FuzzFast3164(f *testing.F) {
	addGoldenSeeds(f, "rfc3164", "cisco", "no_pri", "space_after", "non_utf8_3164", "quoted", "invalid_values")
	for _, l := range benchLines {
		f.Add(l.raw)
	}
	for _, s := range []string{
		"<13>Nov  6 10:00:01 h a: m", "<13>Nov 06 10:00:01 h a: m", "<13>Nov 26 10:00:01.123456 h a[1]: m", "<13>Nov 26 10:00:01.1234567 h a: m",
		"<13>2026-11-26T10:00:01+01:00 h a: m", "<13>Nov 26 10:00:01 a[]: m", "<13>Nov 26 10:00:01 h a: \tm", "<13>Nov 26 10:00:01 h a:  m",
		"<13>Nov 26 10:00:01 h  a: m", "<13>Nov 31 24:00:01 h a: m", "Nov 26 10:00:01 h a: m", "<13>Nov 26 10:00:01 h a: m\x01",
		"<13>Nov 26 10:00:01 h a[1 2]: m", "<13>Nov 26 10:00:01 h a[x]y: m",
	} {
		f.Add([]byte(s))
	}
	p := NewParser(Options{Format: FormatRFC3164, Now: func() time.Time { return defaultNow }})
	f.Fuzz(func(t *testing.T, raw []byte) {
		rec := string(raw)
		if len(rec) == 0 {
			return
		}
		_, priLen, err := scanPRI(raw)
		if err != nil {
			return
		}
		r := record{raw: rec, priLen: priLen}
		var host, app, procID, msg, stamp string
		var ts time.Time
		if !p.fast3164(r, &host, &app, &procID, &msg, &ts, &stamp) {
			return
		}
		var slow event.Event
		p.machine3164(r, &slow)
		if slow.TimeRaw != stamp || !slow.Time.Equal(ts) || slow.Host != host || slow.App != app || slow.ProcID != procID || slow.Message != clean(msg) {
			t.Fatalf("fast and go-syslog differ for %q:\nfast time=%v raw=%q host=%q app=%q pid=%q msg=%q\nslow time=%v raw=%q host=%q app=%q pid=%q msg=%q",
				raw, ts, stamp, host, app, procID, msg, slow.Time, slow.TimeRaw, slow.Host, slow.App, slow.ProcID, slow.Message)
		}
	})
}

// TestAliasOf checks the alias lookup against the aliases table.
func TestAliasOf(t *testing.T) {
	for k, want := range aliasIndex {
		if got, ok := aliasOf(k); !ok || got != want {
			t.Errorf("aliasOf(%q) = %v %v, want %v", k, got, ok, want)
		}
	}
	n := 0
	for _, keys := range aliases {
		n += len(keys)
	}
	if n != len(aliasIndex) {
		t.Errorf("aliases has %d keys, %d distinct: an alias appears twice", n, len(aliasIndex))
	}
	if _, ok := aliasOf("no-such-key"); ok {
		t.Error("aliasOf accepts an unknown key")
	}
}

// FuzzParseRFC3339 checks parseRFC3339 against time.Parse with the
// layout go-syslog uses.
func FuzzParseRFC3339(f *testing.F) {
	for _, s := range []string{"2026-11-26T10:00:02.123Z", "2024-02-29T23:59:59.999999+14:00", "2026-02-29T00:00:00Z",
		"2026-11-26T10:00:02-07:30", "0000-01-01T00:00:00Z", "2026-04-31T10:00:00Z", "2026-11-26T10:00:02.1234567Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseRFC3339(s)
		if !ok {
			return
		}
		want, err := time.Parse("2006-01-02T15:04:05.999999Z07:00", s)
		if err != nil {
			t.Fatalf("parseRFC3339 accepted %q, time.Parse: %v", s, err)
		}
		if !got.Equal(want) || got.Location() != time.UTC {
			t.Fatalf("%q: got %v, time.Parse %v", s, got, want)
		}
	})
}

// FuzzParseStamp checks parseStampFast against time.Parse(time.Stamp),
// and stampYear of its fields against stampTime of the time.
func FuzzParseStamp(f *testing.F) {
	ps := fuzzParsers(f, FormatAuto)
	for _, s := range []string{"Nov 26 10:00:01", "Feb 29 23:59:59.123456", "Feb 30 00:00:00", "Jan  1 00:00:00", "Jan 01 00:00:00.5",
		"Apr 31 12:00:00", "Dec 31 23:59:59.1234567", "Nov  6 09:15:00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseStampFast(s)
		if !ok {
			return
		}
		want, err := time.Parse(time.Stamp, s)
		if err != nil {
			t.Fatalf("parseStampFast accepted %q, time.Parse: %v", s, err)
		}
		if !got.Equal(want) || got.Location() != want.Location() {
			t.Fatalf("%q: got %v, time.Parse %v", s, got, want)
		}
		fields, _ := parseStampFields(s)
		if y, st := ps[0].stampYear(fields), ps[0].stampTime(got); !y.Equal(st) || y.Location() != st.Location() {
			t.Fatalf("%q: stampYear %v, stampTime %v", s, y, st)
		}
	})
}

// TestHotOf checks the hot key lookup against the hotKeys list.
func TestHotOf(t *testing.T) {
	for i, k := range hotKeys {
		if got := hotOf(k); got != i {
			t.Errorf("hotOf(%q) = %d, want %d", k, got, i)
		}
	}
	for _, k := range []string{"", "no-such-key", "alert", "alert.metadata.mitre_technique_id.1", "MSG"} {
		if got := hotOf(k); got != -1 {
			t.Errorf("hotOf(%q) = %d, want -1", k, got)
		}
	}
}

// TestInternJSONKey checks the interning switch against the jsonKeys list.
func TestInternJSONKey(t *testing.T) {
	for _, k := range jsonKeys {
		if got, ok := internJSONKey([]byte(k)); !ok || got != k {
			t.Errorf("internJSONKey(%q) = %q %v", k, got, ok)
		}
	}
	for _, k := range []string{"alert.metadata.mitre_technique_id.0", "id.resp_p", "modbus.request.function_raw"} {
		if got, ok := internJSONKey([]byte(k)); !ok || got != k {
			t.Errorf("internJSONKey(%q) = %q %v (a nested hot or alias key)", k, got, ok)
		}
	}
	for _, k := range []string{"", "alert", "alert.signaturex", "ALERT.ACTION"} {
		if got, ok := internJSONKey([]byte(k)); ok {
			t.Errorf("internJSONKey(%q) = %q, want none", k, got)
		}
	}
	if n := testing.AllocsPerRun(100, func() { internJSONKey([]byte("alert.signature")) }); n != 0 {
		t.Errorf("internJSONKey allocates %v times", n)
	}
}

// TestInternLabelKey checks the interning switch against labelKeys.
func TestInternLabelKey(t *testing.T) {
	keys := labelKeys()
	seen := map[string]bool{}
	for _, k := range keys {
		seen[k] = true
		if got, ok := internLabelKey([]byte(k)); !ok || got != k {
			t.Errorf("internLabelKey(%q) = %q %v", k, got, ok)
		}
	}
	for _, k := range []string{"", "operations", "Operation", "cs1"} {
		if got, ok := internLabelKey([]byte(k)); ok && !seen[k] {
			t.Errorf("internLabelKey(%q) = %q, want none", k, got)
		}
	}
}

// TestInternTable checks the intern tables against their maps.
func TestInternTable(t *testing.T) {
	for name, m := range map[string]map[string]string{"knownLower": knownLower, "opSynonyms": opSynonyms} {
		tab := newInternTable(m)
		for k, want := range m {
			if got, ok := tab.get(k); !ok || got != want {
				t.Errorf("%s: get(%q) = %q %v, want %q", name, k, got, ok, want)
			}
			if _, ok := tab.get(k + "x"); ok != (m[k+"x"] != "") {
				t.Errorf("%s: get(%q) found a missing key", name, k+"x")
			}
		}
		if _, ok := tab.get(""); ok {
			t.Errorf("%s: get(\"\") found a missing key", name)
		}
	}
	if got, _ := knownLowerTable.get("ENIP"); got != "enip" {
		t.Errorf("knownLowerTable.get(ENIP) = %q", got)
	}
}

// TestMonthOf checks the month switch against the months map.
func TestMonthOf(t *testing.T) {
	for name, m := range months {
		if got := monthOf(name); got != m {
			t.Errorf("monthOf(%q) = %v, want %v", name, got, m)
		}
	}
	for _, s := range []string{"", "jan", "JAN", "Ja", "Janu"} {
		if got := monthOf(s); got != 0 {
			t.Errorf("monthOf(%q) = %v, want 0", s, got)
		}
	}
}

// TestLabelTextTable checks that the table of usual label spellings
// holds what normLabelKey computes, that every labelKeys entry is found
// under its spellings, and that labelKey agrees with normLabelKey for
// spellings in and out of the table.
func TestLabelTextTable(t *testing.T) {
	for _, k := range labelKeys() {
		for _, text := range labelSpellings(k) {
			got, ok := labelTextTable.get(text)
			if !ok || got != k || normLabelKey(text) != k {
				t.Errorf("labelTextTable.get(%q) = %q %v, normLabelKey = %q, want %q", text, got, ok, normLabelKey(text), k)
			}
		}
	}
	for _, text := range []string{"Operation", "MITRE Technique", "mitre-technique", "Mitre  Technique", "OT Protocol", "cs1", "", "Ünïcode Label", "Operation ", "technique_"} {
		if got, want := labelKey(text), normLabelKey(text); got != want {
			t.Errorf("labelKey(%q) = %q, want %q", text, got, want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { labelKey("MITRE Technique") }); n != 0 {
		t.Errorf("labelKey allocates %v times", n)
	}
}

func FuzzLabelKey(f *testing.F) {
	for _, s := range []string{"Operation", "MITRE Technique", "a b", "__x__", "É", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := labelKey(s), normLabelKey(s); got != want {
			t.Fatalf("labelKey(%q) = %q, want %q", s, got, want)
		}
	})
}
