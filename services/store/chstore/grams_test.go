package chstore

import (
	"context"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

// refGrams is the definition of migration 0008's keys, written the slow
// and obvious way: tokens of the lowercased text, then the head and the
// 4-grams of each.
func refGrams(text string) []uint32 {
	var out []uint32
	pack := func(s string) uint32 {
		var k uint32
		for i := range 4 {
			k <<= 8
			if i < len(s) {
				k |= uint32(s[i])
			}
		}
		return k
	}
	lower := []byte(text)
	for i, c := range lower {
		if c >= 'A' && c <= 'Z' {
			lower[i] = c + 'a' - 'A'
		}
	}
	for _, tok := range strings.FieldsFunc(string(lower), func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9')
	}) {
		out = append(out, pack(tok[:min(4, len(tok))])|GramHead)
		for i := 0; i+4 <= len(tok); i++ {
			out = append(out, pack(tok[i:i+4]))
		}
	}
	return out
}

// gramString shows a key as "^abc" (head) or "abcd" (4-gram).
func gramString(k uint32) string {
	var b strings.Builder
	if k&GramHead != 0 {
		b.WriteByte('^')
	}
	for s := 24; s >= 0; s -= 8 {
		if c := byte(k >> s & 0x7f); c != 0 {
			b.WriteByte(c)
		}
	}
	return b.String()
}

func gramStrings(keys []uint32) string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = gramString(k)
	}
	return strings.Join(out, " ")
}

func TestAppendGrams(t *testing.T) {
	tests := []struct {
		name, text, want string
	}{
		{"empty", "", ""},
		{"separators only", " =;\t\xff", ""},
		{"short tokens", "a Bc def", "^a ^bc ^def"},
		{"four bytes", "SEQ=4242", "^seq ^4242 4242"},
		{"long token", "seq=142420", "^seq ^1424 1424 4242 2420"},
		{"underscore and digits", "Program_Download 10:05", "^prog prog rogr ogra gram ^down down ownl wnlo nloa load ^10 ^05"},
		{"non-ASCII separates", "wörld", "^w ^rld"},
		{"repeats kept", "abab abab", "^abab abab ^abab abab"},
		{"token at the end", "x=aaaaa", "^x ^aaaa aaaa aaaa"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := AppendGrams(nil, tc.text)
			if s := gramStrings(got); s != tc.want {
				t.Errorf("AppendGrams(%q) = %s; want %s", tc.text, s, tc.want)
			}
			if ref := refGrams(tc.text); !slices.Equal(got, ref) {
				t.Errorf("AppendGrams(%q) = %s; the reference gives %s", tc.text, gramStrings(got), gramStrings(ref))
			}
		})
	}
}

// FuzzAppendGrams checks AppendGrams against the reference definition, and
// that raw and message concatenated with a space give the keys of both.
func FuzzAppendGrams(f *testing.F) {
	for _, s := range []string{"", "SEQ=4242", "seq=142420 wörld", "a", "abc", "abcd", "\xff\xfeZZZZ9"} {
		f.Add(s, "Program_Download")
	}
	f.Fuzz(func(t *testing.T, raw, msg string) {
		got := AppendGrams(nil, raw)
		if ref := refGrams(raw); !slices.Equal(got, ref) {
			t.Fatalf("AppendGrams(%q) = %s; the reference gives %s", raw, gramStrings(got), gramStrings(ref))
		}
		both := AppendGrams(AppendGrams(nil, raw), msg)
		if ref := refGrams(raw + " " + msg); !slices.Equal(both, ref) {
			t.Fatalf("keys of %q + %q = %s; of the joined text %s", raw, msg, gramStrings(both), gramStrings(ref))
		}
	})
}

// TestEventGramsBackfill applies the migrations before 0008 to a database,
// stores events, then applies 0008 and checks on the real server that its
// SQL backfill writes exactly the keys AppendGrams gives (the contract
// between the SQL, the store's writer and the console), each with its
// occurrences in the distinct tokens of the events, and that the old
// indexes are gone.
func TestEventGramsBackfill(t *testing.T) {
	conn := testConn(t)
	ctx := context.Background()
	all, err := fs.Glob(migrationsFS(), "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	before := fstest.MapFS{}
	for _, name := range all {
		if name >= "0008" {
			continue
		}
		data, err := fs.ReadFile(migrationsFS(), name)
		if err != nil {
			t.Fatal(err)
		}
		before[name] = &fstest.MapFile{Data: data}
	}
	if err := Migrate(ctx, conn, before); err != nil {
		t.Fatal(err)
	}
	evs := benchEvents(4)
	hour := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	evs[0].Time = hour.Add(5 * time.Minute)
	evs[0].Raw = "<134>Nov 26 10:05:00 PLC-101 fw: SEQ=4242 wörld " + strings.Repeat("x", 70)
	evs[0].Message = "Program_Download by ENG ab"
	evs[1].Time = hour.Add(59 * time.Minute)
	evs[1].Raw = "seq=142420 seq=4242"
	evs[1].Message = ""
	evs[2].Time = hour.Add(time.Hour + time.Minute)
	evs[2].Site = "other-site"
	evs[2].Raw = "seq=4242"
	evs[2].Message = "é"
	evs[3].Time = hour.Add(-time.Second)
	evs[3].Raw, evs[3].Message = "", ""
	var rows [][]any
	want := map[string]uint64{}
	for i := range evs {
		row, err := EventRow(&evs[i])
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, row)
		h := evs[i].Time.UTC().Truncate(time.Hour).Format(time.DateTime)
		toks := strings.FieldsFunc(strings.ToLower(evs[i].Raw+" "+evs[i].Message), func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9')
		})
		slices.Sort(toks)
		for _, tok := range slices.Compact(toks) {
			for _, k := range AppendGrams(nil, tok) {
				want[fmt.Sprintf("%s %s %s", evs[i].Site, h, gramString(k))]++
			}
		}
	}
	// The table has no fields_json before 0009.
	fj := indexOf(EventColumns, FieldsJSONColumn)
	cols := slices.Delete(slices.Clone(EventColumns), fj, fj+1)
	for i, r := range rows {
		rows[i] = slices.Delete(r, fj, fj+1)
	}
	if err := Insert(ctx, conn, TableEvents, cols, rows); err != nil {
		t.Fatal(err)
	}
	if err := Migrate(ctx, conn, migrationsFS()); err != nil {
		t.Fatal(err)
	}
	res, err := conn.Query(ctx, "SELECT gram, site, toString(hour), sum(n) FROM event_grams GROUP BY gram, site, hour")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	got := map[string]uint64{}
	for res.Next() {
		var (
			k       uint32
			site, h string
			n       uint64
		)
		if err := res.Scan(&k, &site, &h, &n); err != nil {
			t.Fatal(err)
		}
		got[fmt.Sprintf("%s %s %s", site, h, gramString(k))] = n
	}
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	if len(want) < 30 {
		t.Fatalf("only %d expected keys: the fixture lost its text", len(want))
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("%s: n = %d; want %d", k, got[k], n)
		}
	}
	for k, n := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected key %s (n = %d)", k, n)
		}
	}
	var old uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = currentDatabase() AND name IN ('event_tokens', 'event_suffixes', 'event_tokens_mv', 'event_suffixes_mv')").Scan(&old); err != nil {
		t.Fatal(err)
	}
	if old != 0 {
		t.Errorf("%d tables of migrations 0005/0006 remain", old)
	}
}
