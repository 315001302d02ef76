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
		{x70, []anchor{{token: x70, infix: true}}},             // long words too: through all their 4-grams
		{"SEQ=4242", []anchor{{token: "4242", prefix: true}}},
		{"OP=PROGRAM_DOWNLOAD", []anchor{{token: "download", prefix: true}, {token: "program"}}},
		{"=abc ", []anchor{{token: "abc"}}},
		{"é4242", nil},                                       // after a non-ASCII byte
		{"x=4242é", []anchor{{token: "4242", prefix: true}}}, // before one: a prefix
		{"\u212Aabc=1", nil},                                 // Kelvin sign: not folded to k; "1" is too short a prefix
		{"\u212Aabc=123", []anchor{{token: "123", prefix: true}}},
		{"a " + x70, []anchor{{token: x70, prefix: true}}},
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
// narrowed by the text index (event_grams, filled by migration 0008's
// backfill, whose keys are those the store's writer writes) returns
// exactly what the substring definition of EventFilter.Text selects (in Go
// and by a full scan on the server): events spread over many hours and two
// sites, texts that match inside longer tokens, inside long tokens, at
// token boundaries, across case, in the message only, nowhere, and words
// so common that the index is not used.
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
			// A long token (the old indexes cut tokens at 64 bytes),
			// with a word only beyond its first 64 bytes.
			raw, msg = "blob="+strings.Repeat("q", 66)+"longtailword", ""
		}
		// The word zq7k at the end of a token of exactly 64 bytes,
		// across and beyond byte 64, at token boundaries and inside a
		// token.
		if w, ok := map[int]string{
			200: "blob=" + strings.Repeat("a", 60) + "zq7k",
			201: "blob=" + strings.Repeat("a", 62) + "zq7k",
			202: "blob=" + strings.Repeat("a", 70) + "zq7kb",
			203: "ZQ7K=1 at the start of a token",
			204: "at the end of one: x.zq7K",
			205: "inside: xZq7kx",
		}[i]; ok {
			raw, msg = w, "-"
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
	IndexEvents(t, conn)
	db, err := New(conn, Options{})
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]event.Event{}
	for _, e := range evs {
		byID[e.ID] = e
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
		index bool // the text indexes list the hours that can match
		few   bool // ... and they are few (the text is rare)
	}{
		{"rare number, also inside xseq", EventFilter{Site: fixture.Site, Text: "SEQ=122"}, true, true},
		{"exact token in a quarter of the hours", EventFilter{Site: fixture.Site, Text: "=eng"}, true, false},
		{"exact token in the middle", EventFilter{Site: fixture.Site, Text: " user=eng", Limit: 9}, true, false},
		{"rare exact token", EventFilter{Site: fixture.Site, Text: " zebra42 "}, true, true},
		{"message only, mixed case", EventFilter{Site: fixture.Site, Text: "in-message zEBRA4"}, true, true},
		{"prefix of a longer token", EventFilter{Text: "seq=3034"}, true, true},
		{"after a non-ASCII letter", EventFilter{Site: fixture.Site, Text: "rld seq=714"}, true, true},
		{"nowhere", EventFilter{Site: fixture.Site, Text: "op=nosuchop"}, true, true},
		{"common words", EventFilter{Site: fixture.Site, Text: "action=allow op=read", Limit: 500}, true, false},
		{"single word inside tokens: infix lookup", EventFilter{Site: fixture.Site, Text: "ebra4"}, true, true},
		{"single short word: substring scan", EventFilter{Site: fixture.Site, Text: "bra"}, false, false},
		{"single word beyond 64 bytes of a long token", EventFilter{Site: fixture.Site, Text: "tailword"}, true, true},
		{"single word near byte 64 and at token boundaries", EventFilter{Site: fixture.Site, Text: "zQ7k"}, true, true},
		{"single word in a quarter of the hours, small pages", EventFilter{Site: fixture.Site, Text: "4242", Limit: 7}, true, false},
		{"single word in many hours, every site", EventFilter{Text: "4242"}, true, false},
		{"single word inside numbers", EventFilter{Text: "3424", Limit: 3}, true, false},
		{"time bounded", EventFilter{Site: fixture.Site, Text: "by xseq=1", Since: base.Add(24 * time.Hour), Until: base.Add(10 * 24 * time.Hour)}, true, false},
		{"single word, time bounded", EventFilter{Text: "4242", Since: base.Add(24 * time.Hour), Until: base.Add(10 * 24 * time.Hour), Limit: 4}, true, false},
	}
	far := base.Add(365 * 24 * time.Hour).Unix()
	// The counts are a hint: the backfill's (at least the events holding
	// a key), all 1 (the store's count deltas lost), and doubled (a
	// re-inserted batch) change how many hours are scanned at once, never
	// the results.
	variants := []struct {
		name  string
		exact bool // the bounds are at least the matches
		stmts []string
	}{
		{"backfill counts", true, nil},
		{"counts lost", false, []string{
			"CREATE TABLE grams_one AS event_grams",
			"INSERT INTO grams_one (gram, site, hour, n) SELECT gram, site, hour, toUInt64(1) FROM event_grams GROUP BY gram, site, hour",
			"TRUNCATE TABLE event_grams",
			"INSERT INTO event_grams (gram, site, hour, n) SELECT gram, site, hour, n FROM grams_one",
			"DROP TABLE grams_one",
		}},
		{"counts doubled", true, nil},
	}
	for vi, v := range variants {
		for _, stmt := range v.stmts {
			if err := conn.Exec(ctx, stmt); err != nil {
				t.Fatalf("%s: %v", stmt, err)
			}
		}
		if vi == 2 {
			IndexEvents(t, conn) // the counts again, on top of the 1s
		}
		exact := v.exact
		t.Run(v.name, func(t *testing.T) {
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					hours, ok, err := db.textHours(ctx, tc.f, far)
					if err != nil {
						t.Fatal(err)
					}
					if ok != tc.index {
						t.Errorf("index used = %v (%d hours); want %v", ok, len(hours), tc.index)
					}
					want := match(tc.f)
					if len(want) == 0 && tc.name != "nowhere" {
						t.Fatal("the test data has no match for this text")
					}
					if ok {
						// Every hour of a match is a candidate, and its bound
						// (if any) is at least its number of matches.
						perHour := map[int64]int64{}
						for _, id := range want {
							perHour[byID[id].Time.Truncate(time.Hour).Unix()]++
						}
						for h, n := range perHour {
							i := slices.IndexFunc(hours, func(c candHour) bool { return c.start == h })
							if i < 0 {
								t.Fatalf("the index lists %d hours but not %s, which holds %d matches", len(hours), time.Unix(h, 0).UTC(), n)
							}
							if b := hours[i].bound; exact && b != 0 && b < n {
								t.Errorf("hour %s: bound %d < %d matches", time.Unix(h, 0).UTC(), b, n)
							}
						}
						if tc.few && len(hours) > 2*len(perHour)+2 {
							t.Errorf("the index lists %d hours for a rare text that occurs in %d", len(hours), len(perHour))
						}
					}
					// The exact answer twice: the substring definition in Go and
					// a full scan on the server without the index.
					conds, args := fullScanConds(tc.f)
					scan, err := db.eventKeys(ctx, conds, args, 1_000_000)
					if err != nil {
						t.Fatal(err)
					}
					var scanned []string
					for _, k := range scan {
						scanned = append(scanned, k.id)
					}
					if !slices.Equal(scanned, want) {
						t.Fatalf("full scan: %d events %v\nwant %d %v", len(scanned), scanned, len(want), want)
					}
					var got []string
					f := tc.f
					for {
						page, next, err := db.SearchEvents(ctx, f)
						if err != nil {
							t.Fatal(err)
						}
						if f.Limit > 0 && len(page) > f.Limit {
							t.Fatalf("page of %d events; limit %d", len(page), f.Limit)
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
		})
	}
}

// fullScanConds returns the arguments of eventKeys that select every event
// matching f's site, time bounds and text by a scan of the events table.
func fullScanConds(f EventFilter) ([]string, []any) {
	conds, args := []string{evTextCond}, []any{f.Text, f.Text}
	if f.Site != "" {
		conds, args = append(conds, evSiteCond), append(args, f.Site)
	}
	if !f.Since.IsZero() {
		conds, args = append(conds, evSinceCond), append(args, f.Since.Unix(), f.Since.UnixMilli())
	}
	if !f.Until.IsZero() {
		conds, args = append(conds, evUntilCond), append(args, f.Until.Unix(), f.Until.UnixMilli())
	}
	return conds, args
}

// FuzzTextAnchors checks that the index never loses a match: for any text
// and any line containing it, every key condition of the text's anchors
// (gramConds) holds for some index key of the line.
func FuzzTextAnchors(f *testing.F) {
	for _, s := range []string{"SEQ=4242", "OP=PROGRAM_DOWNLOAD", "é4242", "x=4242é", "\u212Aabc=1", "a " + strings.Repeat("x", 70), "' OR 1=1 --", "=ab", "x=abc"} {
		f.Add("<134>fw: x", s, " tail")
	}
	f.Fuzz(func(t *testing.T, before, text, after string) {
		line := before + text + after
		keys := indexKeys(line)
		anchors := textAnchors(text)
		for _, a := range anchors {
			if a.token == "" || strings.Trim(a.token, "abcdefghijklmnopqrstuvwxyz0123456789") != "" {
				t.Fatalf("anchor %+v of %q is not a token", a, text)
			}
		}
		for _, c := range gramConds(anchors) {
			if !slices.ContainsFunc(keys, func(k uint32) bool { return k >= c.lo && k < c.hi }) {
				t.Fatalf("condition [%08x, %08x) of %q (anchors %+v) holds for no key of %q", c.lo, c.hi, text, anchors, line)
			}
		}
	})
}

func TestGramConds(t *testing.T) {
	h := func(s string) uint32 { return packGram(s) | gramHead }
	g := func(s string) gramCond { return gramCond{packGram(s), packGram(s) + 1} }
	tests := []struct {
		text string
		want []gramCond
	}{
		{"4242", []gramCond{g("4242")}},
		{"modbus", []gramCond{g("modb"), g("odbu"), g("dbus")}},
		{"SEQ=4242", []gramCond{{h("4242"), h("4242") + 1}, g("4242")}},
		{"seq=42424", []gramCond{{h("4242"), h("4242") + 1}, g("4242"), g("2424")}},
		{"=ab ", []gramCond{{h("ab"), h("ab") + 1}}},
		{"x=abc", []gramCond{{h("abc"), h("abc") + 0x100}}},
		{"abc", nil},
		{"a " + strings.Repeat("x", 70), []gramCond{{h("xxxx"), h("xxxx") + 1}, g("xxxx")}},
	}
	for _, tc := range tests {
		t.Run(tc.text, func(t *testing.T) {
			if got := gramConds(textAnchors(tc.text)); !slices.Equal(got, tc.want) {
				t.Errorf("gramConds(%q) = %x; want %x", tc.text, got, tc.want)
			}
		})
	}
	long := gramConds(textAnchors("x abcdefghijklmnopqrstuvwxyz"))
	if len(long) != maxGramConds {
		t.Errorf("%d conditions for a 26-byte word; want %d", len(long), maxGramConds)
	}
}

func TestHourRanges(t *testing.T) {
	const h = 3600
	hours := func(starts ...int64) []candHour {
		out := make([]candHour, len(starts))
		for i, s := range starts {
			out[i] = candHour{start: s * h}
		}
		return out
	}
	many := make([]int64, 0, 2*maxScanRanges)
	for i := 2*maxScanRanges - 1; i >= 0; i-- {
		many = append(many, int64(2*i)) // every other hour, newest first
	}
	tests := []struct {
		name  string
		hours []candHour
		below int64
		want  []hourRange
	}{
		{"none", nil, 100 * h, nil},
		{"one hour", hours(5), 100 * h, []hourRange{{5 * h, 6 * h}}},
		{"adjacent hours merge", hours(7, 6, 5, 2), 100 * h, []hourRange{{2 * h, 3 * h}, {5 * h, 8 * h}}},
		{"the newest is cut at below", hours(7, 6, 2), 7*h + 1800, []hourRange{{2 * h, 3 * h}, {6 * h, 7*h + 1800}}},
		{"too many ranges span them all", hours(many...), 1000 * h, []hourRange{{0, int64(4*maxScanRanges-1) * h}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := hourRanges(tc.hours, tc.below); !slices.Equal(got, tc.want) {
				t.Errorf("hourRanges = %v; want %v", got, tc.want)
			}
		})
	}
}

func TestBatchHours(t *testing.T) {
	bounded := func(bounds ...int64) []candHour {
		out := make([]candHour, len(bounds))
		for i, b := range bounds {
			out[i] = candHour{start: int64(100-i) * 3600, bound: b}
		}
		return out
	}
	tests := []struct {
		name          string
		hours         []candHour
		scanned, want int
		n             int
	}{
		{"unbounded: one hour first", bounded(0, 0, 0, 0), 0, 51, 1},
		{"unbounded: then as many as before", bounded(0, 0, 0, 0, 0, 0), 3, 51, 3},
		{"bounded: the hours the page needs", bounded(3, 3, 3, 3, 3, 3), 0, 7, 3},
		{"bounded: one hour holds them", bounded(60, 3, 3), 0, 51, 1},
		{"bounded: at least as many as before", bounded(60, 3, 3, 3, 3), 2, 5, 2},
		{"bounded: all when they fall short", bounded(1, 1), 0, 51, 2},
		{"none", nil, 0, 51, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if n := batchHours(tc.hours, tc.scanned, tc.want); n != tc.n {
				t.Errorf("batchHours = %d; want %d", n, tc.n)
			}
		})
	}
}
