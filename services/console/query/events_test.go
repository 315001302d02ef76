package query_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/c981/c981/services/console/internal/fixture"
	"github.com/c981/c981/services/console/query"
	"github.com/c981/c981/services/shared/event"
)

var (
	searchBase = time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	zones      = []string{"demo-plant/enterprise", "demo-plant/dmz", "demo-plant/supervisory", "demo-plant/control", "demo-plant/safety"}
	users      = []string{"", "", "operator", "engineer", "admin"}
	operations = []string{"", "read", "write", "program_download"}
)

// searchEvent is the i-th event of a deterministic synthetic dataset: flows
// between the zones of the demo plant every 7 seconds (from searchBase on,
// with varying milliseconds), some of them crossing zones without a
// conduit.
func searchEvent(site string, i int) event.Event {
	src, dst := i%5, (i/5)%5
	srcIP, dstIP := fmt.Sprintf("10.20.%d.%d", src, 10+i%7), fmt.Sprintf("10.20.%d.%d", dst, 10+i%11)
	ts := searchBase.Add(time.Duration(i)*7*time.Second + time.Duration(i%1000)*time.Millisecond)
	op := operations[i%len(operations)]
	raw := fmt.Sprintf("<134>fw: action=allow src=%s dst=%s op=%s seq=%d", srcIP, dstIP, op, i)
	cross := src != dst
	allowed := !cross || (src+1 == dst)
	conduit := ""
	if cross && allowed {
		conduit = zones[src][len("demo-plant/"):] + "-" + zones[dst][len("demo-plant/"):]
	}
	return event.Event{
		ID: event.NewID("search", site, fmt.Sprint(i)), Site: site, Time: ts, ReceivedAt: ts.Add(100 * time.Millisecond),
		Source: "syslog-udp", Host: "fw-01", App: "fw", Severity: i % 8, Message: raw[9:], Kind: event.KindFlow,
		User: users[i%len(users)], SrcIP: srcIP, DstIP: dstIP, Operation: op, Raw: raw,
		Src:  event.Endpoint{IP: srcIP, Known: true, AssetID: fmt.Sprintf("demo-plant/asset-%d-%d", src, i%7), Zone: zones[src]},
		Dst:  event.Endpoint{IP: dstIP, Known: true, AssetID: fmt.Sprintf("demo-plant/asset-%d-%d", dst, i%11), Zone: zones[dst]},
		Flow: event.Flow{CrossZone: cross, Allowed: allowed, Conduit: conduit},
	}
}

// searchDB loads n synthetic events of fixture.Site (the first 10 of them
// twice, as after a re-inserted batch) plus 5 of another site, and indexes
// their text.
func searchDB(t testing.TB, n int) (*query.DB, []event.Event, driver.Conn) {
	t.Helper()
	conn := fixture.Open(t)
	evs := make([]event.Event, n)
	for i := range evs {
		evs[i] = searchEvent(fixture.Site, i)
	}
	ctx := context.Background()
	other := make([]event.Event, 5)
	for i := range other {
		other[i] = searchEvent("other-plant", i)
	}
	for _, d := range [][]event.Event{evs, evs[:min(10, n)], other} {
		if err := fixture.Load(ctx, conn, fixture.Dataset{Events: d}); err != nil {
			t.Fatal(err)
		}
	}
	// The store's writer would have indexed their text.
	query.IndexEvents(t, conn)
	db, err := query.New(conn, query.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return db, evs, conn
}

// expected returns the ids of evs matching keep, newest first.
func expected(evs []event.Event, keep func(e event.Event) bool) []string {
	var sel []event.Event
	for _, e := range evs {
		if keep(e) {
			sel = append(sel, e)
		}
	}
	sort.Slice(sel, func(i, j int) bool {
		if !sel[i].Time.Equal(sel[j].Time) {
			return sel[i].Time.After(sel[j].Time)
		}
		return uuidLess(sel[j].ID, sel[i].ID)
	})
	out := make([]string, len(sel))
	for i, e := range sel {
		out[i] = e.ID
	}
	return out
}

// uuidLess orders UUIDs as ClickHouse does: as a UInt128 whose high 64
// bits are the last 8 bytes of the text form, so the second half of the hex
// text compares first.
func uuidLess(a, b string) bool {
	ha, hb := strings.ReplaceAll(a, "-", ""), strings.ReplaceAll(b, "-", "")
	return ha[16:] < hb[16:] || ha[16:] == hb[16:] && ha[:16] < hb[:16]
}

// all pages through f and returns the ids in order.
func all(t *testing.T, db *query.DB, f query.EventFilter) []string {
	t.Helper()
	var out []string
	for range 1000 {
		page, next, err := db.SearchEvents(context.Background(), f)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page {
			out = append(out, e.ID)
		}
		if next == "" {
			return out
		}
		f.After = next
	}
	t.Fatal("more than 1000 pages")
	return nil
}

func TestSearchEvents(t *testing.T) {
	db, evs, _ := searchDB(t, 400)
	since := searchBase.Add(10 * time.Minute).Add(500 * time.Millisecond)
	until := searchBase.Add(30 * time.Minute)
	tests := []struct {
		name   string
		filter query.EventFilter
		keep   func(e event.Event) bool
	}{
		{"site", query.EventFilter{Site: fixture.Site}, func(event.Event) bool { return true }},
		{"time window to the millisecond", query.EventFilter{Site: fixture.Site, Since: since, Until: until},
			func(e event.Event) bool { return !e.Time.Before(since) && e.Time.Before(until) }},
		{"zone either side", query.EventFilter{Site: fixture.Site, Zone: zones[3]},
			func(e event.Event) bool { return e.Src.Zone == zones[3] || e.Dst.Zone == zones[3] }},
		{"asset", query.EventFilter{Site: fixture.Site, Asset: "demo-plant/asset-2-3"},
			func(e event.Event) bool {
				return e.Src.AssetID == "demo-plant/asset-2-3" || e.Dst.AssetID == "demo-plant/asset-2-3"
			}},
		{"ip", query.EventFilter{Site: fixture.Site, IP: "10.20.1.12"},
			func(e event.Event) bool { return e.SrcIP == "10.20.1.12" || e.DstIP == "10.20.1.12" }},
		{"user and operation", query.EventFilter{Site: fixture.Site, User: "engineer", Operation: "write"},
			func(e event.Event) bool { return e.User == "engineer" && e.Operation == "write" }},
		{"text case-insensitive", query.EventFilter{Site: fixture.Site, Text: "OP=PROGRAM_download SEQ=1"},
			func(e event.Event) bool { return strings.Contains(e.Raw, "op=program_download seq=1") }},
		{"text that looks like SQL", query.EventFilter{Site: fixture.Site, Text: "' OR 1=1 --"},
			func(event.Event) bool { return false }},
		{"all sites", query.EventFilter{Operation: "read", Limit: 7},
			func(e event.Event) bool { return e.Operation == "read" }},
		{"sites scope both", query.EventFilter{Sites: []string{fixture.Site, "other-plant"}, Operation: "read", Limit: 7},
			func(e event.Event) bool { return e.Operation == "read" }},
		{"sites scope one", query.EventFilter{Sites: []string{"other-plant"}},
			func(e event.Event) bool { return e.Site == "other-plant" }},
		{"sites scope none", query.EventFilter{Sites: []string{}},
			func(event.Event) bool { return false }},
		{"sites scope and site outside it", query.EventFilter{Site: fixture.Site, Sites: []string{"other-plant"}},
			func(event.Event) bool { return false }},
	}
	everything := append(slices.Clone(evs), func() []event.Event {
		o := make([]event.Event, 5)
		for i := range o {
			o[i] = searchEvent("other-plant", i)
		}
		return o
	}()...)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			source := evs
			if tc.filter.Site == "" {
				source = everything
			}
			want := expected(source, tc.keep)
			f := tc.filter
			if f.Limit == 0 {
				f.Limit = 13 // several pages
			}
			got := all(t, db, f)
			if !slices.Equal(got, want) {
				t.Errorf("got %d ids, want %d\ngot  %.5q...\nwant %.5q...", len(got), len(want), got, want)
			}
		})
	}
	t.Run("event round trip", func(t *testing.T) {
		page, _, err := db.SearchEvents(context.Background(), query.EventFilter{Site: fixture.Site, Limit: 1})
		if err != nil || len(page) != 1 {
			t.Fatalf("page %v, err %v", page, err)
		}
		want := evs[len(evs)-1]
		got := page[0]
		if got.ID != want.ID || !got.Time.Equal(want.Time) || got.Raw != want.Raw || got.Dst.Zone != want.Dst.Zone || got.Flow.Allowed != want.Flow.Allowed || got.User != want.User {
			t.Errorf("got %+v\nwant %+v", got, want)
		}
	})
}

func TestSearchEventsInvalid(t *testing.T) {
	db, _, _ := searchDB(t, 1)
	long := strings.Repeat("x", query.MaxTextLen+1)
	tests := []struct {
		name   string
		filter query.EventFilter
		param  string
	}{
		{"until before since", query.EventFilter{Since: searchBase, Until: searchBase.Add(-time.Second)}, "until"},
		{"limit", query.EventFilter{Limit: query.MaxLimit + 1}, "limit"},
		{"cursor of incidents", query.EventFilter{After: query.Cursor{LastSeenMs: 1, ID: event.NewID("x")}.Encode()}, "cursor"},
		{"garbage cursor", query.EventFilter{After: "e1.!!!"}, "cursor"},
		{"long text", query.EventFilter{Text: long}, "q"},
		{"invalid utf-8 zone", query.EventFilter{Zone: "\xff"}, "zone"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := db.SearchEvents(context.Background(), tc.filter)
			var bad query.InvalidParams
			if !errors.As(err, &bad) || bad[0].Param != tc.param {
				t.Fatalf("err = %v; want InvalidParams for %s", err, tc.param)
			}
		})
	}
}

func TestEventCursor(t *testing.T) {
	c := query.EventCursor{TimeMs: 1764151200123, ID: event.NewID("c")}
	got, err := query.DecodeEventCursor(c.Encode())
	if err != nil || got != c {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	for _, bad := range []string{"", "e1.", "i1.MTIz", "e1." + strings.Repeat("A", 200), "e1.LTF8eA"} {
		if _, err := query.DecodeEventCursor(bad); err == nil {
			t.Errorf("DecodeEventCursor(%q) accepted", bad)
		}
	}
}

func TestCountEvents(t *testing.T) {
	db, evs, _ := searchDB(t, 1200) // 1200 x 7 s: a bit over two hours
	got, err := db.CountEvents(context.Background(), query.StatsFilter{Site: fixture.Site, Limit: query.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	type key struct {
		hour     time.Time
		zone     string
		severity int
	}
	want := map[key]uint64{}
	for _, e := range evs {
		want[key{e.Time.Truncate(time.Hour), e.Dst.Zone, e.Severity}]++
	}
	if len(got) != len(want) {
		t.Fatalf("%d counts; want %d", len(got), len(want))
	}
	for i, c := range got {
		if w := want[key{c.Hour, c.Zone, c.Severity}]; c.Events != w {
			t.Errorf("%v %s sev %d: %d events; want %d (the duplicated rows count once)", c.Hour, c.Zone, c.Severity, c.Events, w)
		}
		if i > 0 && (c.Hour.After(got[i-1].Hour) || c.Hour.Equal(got[i-1].Hour) && c.Events > got[i-1].Events) {
			t.Errorf("row %d out of order: %+v after %+v", i, c, got[i-1])
		}
	}
	limited, err := db.CountEvents(context.Background(), query.StatsFilter{Site: fixture.Site, Since: searchBase.Add(time.Hour), Until: searchBase.Add(2 * time.Hour), Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(limited) != 3 || !limited[0].Hour.Equal(searchBase.Add(time.Hour)) {
		t.Errorf("limited = %+v", limited)
	}
}

func TestTopTalkers(t *testing.T) {
	db, evs, _ := searchDB(t, 600)
	got, err := db.TopTalkers(context.Background(), query.StatsFilter{Site: fixture.Site})
	if err != nil {
		t.Fatal(err)
	}
	type pair struct{ src, dst string }
	type agg struct {
		events, violations uint64
		ips                map[string]bool
		conduits           map[string]bool
	}
	want := map[pair]*agg{}
	for _, e := range evs {
		if !e.Flow.CrossZone {
			continue
		}
		p := pair{e.Src.Zone, e.Dst.Zone}
		a := want[p]
		if a == nil {
			a = &agg{ips: map[string]bool{}, conduits: map[string]bool{}}
			want[p] = a
		}
		a.events++
		if !e.Flow.Allowed {
			a.violations++
		}
		a.ips[e.SrcIP+">"+e.DstIP] = true
		if e.Flow.Conduit != "" {
			a.conduits[e.Flow.Conduit] = true
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%d pairs; want %d", len(got), len(want))
	}
	for i, tk := range got {
		w := want[pair{tk.SrcZone, tk.DstZone}]
		if w == nil {
			t.Fatalf("unexpected pair %s -> %s", tk.SrcZone, tk.DstZone)
		}
		if tk.Events != w.events || tk.Violations != w.violations || tk.Pairs != uint64(len(w.ips)) || len(tk.Conduits) != len(w.conduits) {
			t.Errorf("%s -> %s: %d events, %d violations, %d pairs, conduits %v; want %d, %d, %d, %d conduits",
				tk.SrcZone, tk.DstZone, tk.Events, tk.Violations, tk.Pairs, tk.Conduits, w.events, w.violations, len(w.ips), len(w.conduits))
		}
		if i > 0 && tk.Events > got[i-1].Events {
			t.Errorf("pair %d out of order", i)
		}
	}
	if _, err := db.TopTalkers(context.Background(), query.StatsFilter{Limit: -1}); err == nil {
		t.Error("negative limit accepted")
	}
}

func TestStatsSitesScope(t *testing.T) {
	db, _, _ := searchDB(t, 120)
	ctx := context.Background()
	bySite, err := db.CountEvents(ctx, query.StatsFilter{Site: fixture.Site, Limit: query.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		sites []string
		want  int // rows: -1 means as many as the Site filter gives
	}{
		{"own site", []string{fixture.Site}, -1},
		{"own and unknown site", []string{fixture.Site, "nowhere"}, -1},
		{"unknown site", []string{"nowhere"}, 0},
		{"no sites", []string{}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := tc.want
			if want < 0 {
				want = len(bySite)
			}
			counts, err := db.CountEvents(ctx, query.StatsFilter{Sites: tc.sites, Limit: query.MaxLimit})
			if err != nil {
				t.Fatal(err)
			}
			if len(counts) != want {
				t.Errorf("CountEvents: %d rows, want %d", len(counts), want)
			}
			talkers, err := db.TopTalkers(ctx, query.StatsFilter{Sites: tc.sites})
			if err != nil {
				t.Fatal(err)
			}
			if want == 0 && len(talkers) != 0 {
				t.Errorf("TopTalkers: %d rows, want none", len(talkers))
			}
			if want > 0 && len(talkers) == 0 {
				t.Error("TopTalkers: no rows, want some")
			}
		})
	}
}
