package store

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/c981/c981/services/store/chstore"
)

// denseGrams is the reference of appendGramCodes: dense of every key of
// chstore.AppendGrams.
func denseGrams(text string) []uint32 {
	keys := chstore.AppendGrams(nil, text)
	out := make([]uint32, len(keys))
	for i, k := range keys {
		out[i] = dense(k)
	}
	return out
}

// checkGramCodes fails t unless appendGramCodes gives denseGrams' codes
// for text and keyOf maps each back to AppendGrams' key.
func checkGramCodes(t *testing.T, text string) {
	t.Helper()
	got, want := appendGramCodes([]uint32{7}, text)[1:], denseGrams(text)
	if !slices.Equal(got, want) {
		t.Fatalf("appendGramCodes(%q) = %v; want %v", text, got, want)
	}
	for i, k := range chstore.AppendGrams(nil, text) {
		if back := keyOf(got[i]); back != k {
			t.Fatalf("keyOf(%d) = %08x; want %08x (key %d of %q)", got[i], back, k, i, text)
		}
	}
}

// TestAppendGramCodes checks appendGramCodes and keyOf against
// chstore.AppendGrams and dense.
func TestAppendGramCodes(t *testing.T) {
	tests := []struct{ name, text string }{
		{"empty", ""},
		{"separators only", " =-,./[]"},
		{"one byte", "a"},
		{"two bytes", "Z9"},
		{"three bytes", "ops"},
		{"four bytes", "op42"},
		{"long token", "abcdefghijklmnopqrstuvwxyz0123456789"},
		{"mixed case", "PROGRAM Download OB12"},
		{"syslog line", "<134>Nov 26 10:00:01 fw-cell-01 fw: action=allow src=10.20.2.11 dst=10.20.1.12 op=write"},
		{"structured data", `<134>1 2026-11-26T10:00:00.000000Z ews-01 engineering 4711 AUDIT [c981@32473 user="eng1"] operator session`},
		{"non-ASCII", "Störung Ventil\xffzu ÄÖÜ"},
		{"trailing short token", "write ok"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { checkGramCodes(t, tc.text) })
	}
	t.Run("every byte in every position", func(t *testing.T) {
		for c := 0; c < 256; c++ {
			for _, tmpl := range []string{"#", "#bcde", "a#cde", "ab#de", "abc#e", "abcd#", "abcdefg#"} {
				checkGramCodes(t, strings.Replace(tmpl, "#", string([]byte{byte(c)}), 1))
			}
		}
	})
}

// FuzzAppendGramCodes checks appendGramCodes and keyOf against
// chstore.AppendGrams and dense on any text.
func FuzzAppendGramCodes(f *testing.F) {
	f.Add("<134>Nov 26 10:00:01 fw-cell-01 fw: action=allow")
	f.Add("a bc def ghij klmno")
	f.Fuzz(func(t *testing.T, text string) { checkGramCodes(t, text) })
}

// BenchmarkAppendGramCodes measures appendGramCodes on the raw lines of
// load-generator events (about 330 bytes each), the bulk of the text
// index's CPU per event; it reports bytes/s (SetBytes) and events/s.
func BenchmarkAppendGramCodes(b *testing.B) {
	start := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	texts := make([]string, 1024)
	size := 0
	for i := range texts {
		texts[i] = loadEvent(uint64(i), start.Add(time.Duration(i)*time.Millisecond)).Raw
		size += len(texts[i])
	}
	b.SetBytes(int64(size / len(texts)))
	b.ReportAllocs()
	var codes []uint32
	n := 0
	for b.Loop() {
		codes = appendGramCodes(codes[:0], texts[n%len(texts)])
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}

// dense returns the code of key in [0, gramSpace): the reference
// appendGramCodes computes while scanning.
func dense(key uint32) uint32 {
	d := gramCode[byte(key>>24)&0x7f]
	d = d*37 + gramCode[byte(key>>16)]
	d = d*37 + gramCode[byte(key>>8)]
	d = d*37 + gramCode[byte(key)]
	return d + key>>31*(37*37*37*37)
}
