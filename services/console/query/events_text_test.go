package query

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/c981/c981/services/console/internal/fixture"
	"github.com/c981/c981/services/shared/event"
)

func TestTextAnchors(t *testing.T) {
	x70 := strings.Repeat("x", 70)
	tests := []struct {
		text string
		want []anchor
	}{
		{"modbus", []anchor{{token: "modbus", infix: true}}},       // one word: somewhere inside a token
		{"Modbus write", []anchor{{token: "write", prefix: true}}}, // a later word anchors better
		{"abc", nil}, // too short for an infix lookup
		{"plc101-x", []anchor{{token: "plc101", infix: true}}}, // "x" is too short a prefix
		{x70, nil}, // may lie beyond the indexed 64 bytes
		{"SEQ=4242", []anchor{{token: "4242", prefix: true}}},
		{"OP=PROGRAM_DOWNLOAD", []anchor{{token: "download", prefix: true}, {token: "program"}}},
		{"=abc ", []anchor{{token: "abc"}}},
		{"é4242", nil},                                       // after a non-ASCII byte
		{"x=4242é", []anchor{{token: "4242", prefix: true}}}, // before one: a prefix
		{"\u212Aabc=1", nil},                                 // Kelvin sign: not folded to k; "1" is too short a prefix
		{"\u212Aabc=123", []anchor{{token: "123", prefix: true}}},
		{"a " + x70, []anchor{{token: x70[:64], prefix: true}}}, // longer than the index keeps
		{"a bb ccc dddd eeeee bb", []anchor{{token: "eeeee"}, {token: "dddd"}, {token: "ccc"}}},
		{"' OR 1=1 --", []anchor{{token: "or"}, {token: "1"}}},
		{"", nil},
	}
	for _, tc := range tests {
		t.Run(tc.text, func(t *testing.T) {
			got := textAnchors(tc.text)
			if len(got) == 0 && len(tc.want) == 0 {
				return
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("textAnchors(%q) = %v; want %v", tc.text, got, tc.want)
			}
		})
	}
}

// TestTextSearchIndex checks on the real server that a text search
// narrowed by event_tokens returns exactly what the substring definition
// of EventFilter.Text selects: events spread over many hours and two
// sites, texts that match inside longer tokens, across case, in the
// message only, nowhere, and words so common that the index is not used.
func TestTextSearchIndex(t *testing.T) {
	conn := fixture.Open(t)
	ctx := context.Background()
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	raws := []string{
		"fw: action=allow op=read seq=%d",
		"fw: action=deny op=PROGRAM_DOWNLOAD seq=%d user=eng",
		"plc: mode change to STOP by xseq=%d",
		"fw: wörld seq=%d4242",
	}
	var evs []event.Event
	for i := range 400 {
		site := fixture.Site
		if i%7 == 0 {
			site = "other-plant"
		}
		raw := fmt.Sprintf(raws[i%len(raws)], i)
		msg := raw
		if i%50 == 0 {
			raw, msg = "<134>header only", "rare-word-in-message Zebra42 seq="+fmt.Sprint(i)
		}
		if i == 123 {
			// A token longer than the index keeps (64 bytes), with a
			// word only beyond its indexed prefix.
			raw, msg = "blob="+strings.Repeat("q", 66)+"longtailword", ""
		}
		ts := base.Add(time.Duration(i) * 97 * time.Minute) // ~27 days, many hours
		evs = append(evs, event.Event{
			ID: event.NewID("text", fmt.Sprint(i)), Site: site, Time: ts, ReceivedAt: ts,
			Source: "syslog-udp", Kind: event.KindFlow, Raw: raw, Message: msg,
		})
	}
	if err := fixture.Load(ctx, conn, fixture.Dataset{Events: evs}); err != nil {
		t.Fatal(err)
	}
	db, err := New(conn, Options{})
	if err != nil {
		t.Fatal(err)
	}
	match := func(f EventFilter) []string {
		var sel []event.Event
		q := strings.ToLower(f.Text)
		for _, e := range evs {
			if f.Site != "" && e.Site != f.Site {
				continue
			}
			if !f.Since.IsZero() && e.Time.Before(f.Since) || !f.Until.IsZero() && !e.Time.Before(f.Until) {
				continue
			}
			if strings.Contains(strings.ToLower(e.Raw), q) || strings.Contains(strings.ToLower(e.Message), q) {
				sel = append(sel, e)
			}
		}
		slices.SortFunc(sel, func(a, b event.Event) int { return b.Time.Compare(a.Time) })
		ids := make([]string, len(sel))
		for i, e := range sel {
			ids[i] = e.ID
		}
		return ids
	}
	tests := []struct {
		name  string
		f     EventFilter
		index bool // the index narrows the search to a few hour ranges
	}{
		{"rare number, also inside xseq", EventFilter{Site: fixture.Site, Text: "SEQ=122"}, true},
		{"exact token in a quarter of the hours", EventFilter{Site: fixture.Site, Text: "=eng"}, false},
		{"exact token in the middle", EventFilter{Site: fixture.Site, Text: " user=eng"}, false},
		{"rare exact token", EventFilter{Site: fixture.Site, Text: " zebra42 "}, true},
		{"message only, mixed case", EventFilter{Site: fixture.Site, Text: "in-message zEBRA4"}, true},
		{"prefix of a longer token", EventFilter{Text: "seq=3034"}, true},
		{"after a non-ASCII letter", EventFilter{Site: fixture.Site, Text: "rld seq=714"}, true},
		{"nowhere", EventFilter{Site: fixture.Site, Text: "op=nosuchop"}, true},
		{"common words: windows only", EventFilter{Site: fixture.Site, Text: "action=allow op=read", Limit: 500}, false},
		{"single word inside tokens: infix lookup", EventFilter{Site: fixture.Site, Text: "ebra4"}, true},
		{"single short word: substring scan", EventFilter{Site: fixture.Site, Text: "bra"}, false},
		{"single word beyond a long token's indexed prefix", EventFilter{Site: fixture.Site, Text: "tailword"}, true},
		{"time bounded", EventFilter{Site: fixture.Site, Text: "by xseq=1", Since: base.Add(24 * time.Hour), Until: base.Add(10 * 24 * time.Hour)}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ranges, ok, err := db.textRanges(ctx, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			if ok != tc.index {
				t.Errorf("index used = %v (%d ranges); want %v", ok, len(ranges), tc.index)
			}
			want := match(tc.f)
			if len(want) == 0 && tc.name != "nowhere" {
				t.Fatal("the test data has no match for this text")
			}
			if ok && len(want) > 0 && len(ranges) == 0 {
				t.Fatal("the index found no hour for a text that matches")
			}
			var got []string
			f := tc.f
			for {
				page, next, err := db.SearchEvents(ctx, f)
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range page {
					got = append(got, e.ID)
				}
				if next == "" {
					break
				}
				f.After = next
			}
			if !slices.Equal(got, want) {
				t.Errorf("got %d events %v\nwant %d %v", len(got), got, len(want), want)
			}
		})
	}
}

// indexTokens mirrors migration 0005's tokenization of a raw line:
// lower() (ASCII), runs of [a-z0-9], cut to 64 bytes.
func indexTokens(s string) []string {
	var out []string
	b := []byte(s)
	for i := 0; i < len(b); {
		c := b[i] | 0x20
		if !(c >= 'a' && c <= 'z' || b[i] >= '0' && b[i] <= '9') {
			i++
			continue
		}
		j := i
		var tok []byte
		for j < len(b) {
			c := b[j]
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			if !isTokenByte(c) {
				break
			}
			tok = append(tok, c)
			j++
		}
		out = append(out, string(tok[:min(len(tok), maxTokenLen)]))
		i = j
	}
	return out
}

// FuzzTextAnchors checks that the index never loses a match: for any text
// and any line containing it, every anchor of the text is a token of the
// line (or, for a prefix anchor, the start of one).
func FuzzTextAnchors(f *testing.F) {
	for _, s := range []string{"SEQ=4242", "OP=PROGRAM_DOWNLOAD", "é4242", "x=4242é", "\u212Aabc=1", "a " + strings.Repeat("x", 70), "' OR 1=1 --"} {
		f.Add("<134>fw: x", s, " tail")
	}
	f.Fuzz(func(t *testing.T, before, text, after string) {
		line := before + text + after
		toks := indexTokens(line)
		for _, a := range textAnchors(text) {
			if a.token == "" || len(a.token) > maxTokenLen || strings.Trim(a.token, "abcdefghijklmnopqrstuvwxyz0123456789") != "" {
				t.Fatalf("anchor %+v of %q is not a token", a, text)
			}
			found := false
			for _, tok := range toks {
				if tok == a.token || a.prefix && strings.HasPrefix(tok, a.token) {
					found = true
					break
				}
			}
			if !found {
				t.Fatalf("anchor %+v of %q not among the tokens %q of %q", a, text, toks, line)
			}
		}
	})
}
