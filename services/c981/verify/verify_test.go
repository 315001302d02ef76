package verify

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/c981/c981/services/shared/chtest"
	"github.com/c981/c981/services/shared/event"
	"github.com/c981/c981/services/store/chstore"
	"github.com/c981/c981/services/store/store"
)

// base is a whole second, so alert created_at (DateTime) is exact.
var base = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

// loadEvent is an event as the parser stores a loadgen record: run, seq and
// sent in the fields, received latencyMS after sending.
func loadEvent(run string, seq uint64, copyN int, latencyMS int) *event.Event {
	sent := base.Add(time.Duration(seq) * time.Millisecond)
	id := event.NewID("verify-test", run, strconv.FormatUint(seq, 10), strconv.Itoa(copyN))
	return &event.Event{
		ID: id, Site: "plant-a", Time: sent, ReceivedAt: sent.Add(time.Duration(latencyMS) * time.Millisecond),
		Source: "syslog", Format: "rfc5424", Message: "load",
		Fields: map[string]string{"run": run, "seq": strconv.FormatUint(seq, 10), "sent": strconv.FormatInt(sent.UnixNano(), 10)},
	}
}

// open connects to a fresh migrated test database.
func open(t testing.TB) driver.Conn {
	t.Helper()
	addr, db := chtest.Database(t)
	ctx := context.Background()
	conn, err := chstore.Open(ctx, chstore.ConnConfig{Addrs: []string{addr}, Database: db})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	if err := chstore.Migrate(ctx, conn, store.Migrations()); err != nil {
		t.Fatal(err)
	}
	return conn
}

// storedAfterMS is how long after its receipt insertEvents marks an event
// stored (its stored_ms), unless the event's run is "unstored".
const storedAfterMS = 250

func insertEvents(t testing.TB, conn driver.Conn, evs []*event.Event) {
	t.Helper()
	insertRows(t, conn, evs, false)
}

// insertRows stores evs as the store does (legacy false: fields in
// fields_json) or as a store before migration 0009 did (legacy: fields in
// the Nested fields.key and fields.value arrays, fields_json empty).
func insertRows(t testing.TB, conn driver.Conn, evs []*event.Event, legacy bool) {
	t.Helper()
	rows := make([][]any, 0, len(evs))
	cols := chstore.EventColumns
	col := slices.Index(cols, chstore.StoredMSColumn)
	fj := slices.Index(cols, chstore.FieldsJSONColumn)
	if legacy {
		cols = append(slices.Delete(slices.Clone(cols), fj, fj+1), "fields.key", "fields.value")
		col = slices.Index(cols, chstore.StoredMSColumn)
	}
	for _, e := range evs {
		r, err := chstore.EventRow(e)
		if err != nil {
			t.Fatal(err)
		}
		if legacy {
			keys, vals := chstore.NestedKV(e.Fields)
			r = append(slices.Delete(r, fj, fj+1), keys, vals)
		}
		if e.Fields["run"] != "unstored" {
			r[col] = e.ReceivedAt.UnixMilli() + storedAfterMS
		}
		rows = append(rows, r)
	}
	if err := chstore.Insert(context.Background(), conn, chstore.TableEvents, cols, rows); err != nil {
		t.Fatal(err)
	}
}

func TestVerify(t *testing.T) {
	conn := open(t)

	var all []*event.Event
	// clean: 1..10, latency 10*seq ms.
	for s := uint64(1); s <= 10; s++ {
		all = append(all, loadEvent("clean", s, 0, int(s)*10))
	}
	// gaps: 1..20 without 4-6 and 11; 22 were sent.
	for s := uint64(1); s <= 20; s++ {
		if s >= 4 && s <= 6 || s == 11 {
			continue
		}
		all = append(all, loadEvent("gaps", s, 0, 5))
	}
	// dups: 1..8; seq 3 stored twice as the same event (a redelivered
	// batch: duplicate row, collapsed by FINAL), seq 7 as two different
	// events (parsed twice: a real duplicate), seq 8 as three.
	for s := uint64(1); s <= 8; s++ {
		all = append(all, loadEvent("dups", s, 0, 5))
	}
	all = append(all, loadEvent("dups", 3, 0, 5), loadEvent("dups", 7, 1, 5), loadEvent("dups", 8, 1, 5), loadEvent("dups", 8, 2, 5))
	// stray: sequence numbers outside the expected range.
	for _, s := range []uint64{1, 2, 3, 100} {
		all = append(all, loadEvent("stray", s, 0, 5))
	}
	// unstored: stored without a stored time (before migration 0007).
	for s := uint64(1); s <= 3; s++ {
		all = append(all, loadEvent("unstored", s, 0, 5))
	}
	// Neighbours that must not count: another run and an event without fields.
	all = append(all, loadEvent("other", 5, 0, 5), &event.Event{ID: event.NewID("nofields"), Site: "plant-a", Time: base, ReceivedAt: base})
	insertEvents(t, conn, all) // one batch: one part, so raw duplicate rows stay until FINAL
	// mixed: 1..6, the odd ones stored as before migration 0009 (fields in
	// the Nested arrays), the even ones in fields_json; seq 3 also as
	// another event stored the new way (a real duplicate across both kinds
	// of rows).
	var legacy, current []*event.Event
	for s := uint64(1); s <= 6; s++ {
		if s%2 == 1 {
			legacy = append(legacy, loadEvent("mixed", s, 0, 5))
		} else {
			current = append(current, loadEvent("mixed", s, 0, 5))
		}
	}
	current = append(current, loadEvent("mixed", 3, 1, 5))
	insertRows(t, conn, legacy, true)
	insertRows(t, conn, current, false)

	// An alert on clean's seq 9 and 10, created 2.007 s after base: sent
	// times are base+seq ms and receipts 10*seq ms later, so 1997 ms after
	// seq 10 was sent and 1897 ms after it was received; stored 50 ms after
	// its creation.
	a := &event.Alert{
		ID: event.NewID("alert", "clean"), Site: "plant-a", Time: base, CreatedAt: base.Add(2007 * time.Millisecond),
		RuleID: "r1", RuleTitle: "r", Severity: "high", IncidentKey: "k", IncidentID: event.NewID("incident", "clean"),
		EventIDs: []string{all[8].ID, all[9].ID, event.NewID("unrelated")},
	}
	// Two alerts of one incident on gaps' seq 1 (sent base+1 ms, received
	// 5 ms later) and seq 2, created like the first: 2006 and 2005 ms after
	// sending, 2001 and 2000 ms after receipt; and one naming no event of
	// any run, which counts nowhere.
	gapsAlert := func(seq uint64) *event.Alert {
		return &event.Alert{
			ID: event.NewID("alert", "gaps", strconv.FormatUint(seq, 10)), Site: "plant-a", Time: base, CreatedAt: a.CreatedAt,
			RuleID: "r2", RuleTitle: "r", Severity: "high", IncidentKey: "g", IncidentID: event.NewID("incident", "gaps"),
			EventIDs: []string{loadEvent("gaps", seq, 0, 5).ID},
		}
	}
	stray := &event.Alert{ID: event.NewID("alert", "none"), Site: "plant-a", Time: base, CreatedAt: a.CreatedAt,
		RuleID: "r3", RuleTitle: "r", Severity: "low", IncidentKey: "n", IncidentID: event.NewID("incident", "none"),
		EventIDs: []string{event.NewID("unrelated")}}
	var alertRows [][]any
	// An alert on mixed's seq 1, a legacy row: as gaps' seq 1.
	mixedAlert := &event.Alert{
		ID: event.NewID("alert", "mixed"), Site: "plant-a", Time: base, CreatedAt: a.CreatedAt,
		RuleID: "r4", RuleTitle: "r", Severity: "high", IncidentKey: "m", IncidentID: event.NewID("incident", "mixed"),
		EventIDs: []string{legacy[0].ID},
	}
	for _, al := range []*event.Alert{a, gapsAlert(1), gapsAlert(2), stray, mixedAlert} {
		ar, err := chstore.AlertRow(al)
		if err != nil {
			t.Fatal(err)
		}
		chstore.SetStoredMS([][]any{ar}, slices.Index(chstore.AlertColumns, chstore.StoredMSColumn), al.CreatedAt.Add(50*time.Millisecond))
		alertRows = append(alertRows, ar)
	}
	if err := chstore.Insert(context.Background(), conn, chstore.TableAlerts, chstore.AlertColumns, alertRows); err != nil {
		t.Fatal(err)
	}
	gapsAlerts := Report{Alerts: 2, Incidents: 1,
		LatencyIncidentMS:           Latency{P50: 2006, P95: 2006, P99: 2006, Max: 2006, N: 2},
		LatencyReceiptIncidentMS:    Latency{P50: 2001, P95: 2001, P99: 2001, Max: 2001, N: 2},
		LatencyReceiptAlertStoredMS: Latency{P50: 2051, P95: 2051, P99: 2051, Max: 2051, N: 2}}

	tests := []struct {
		name string
		opts Options
		want Report // compared: counts, ranges, receipt latency, alert latency N/max
	}{
		{"clean", Options{Run: "clean"}, Report{Sent: 10, Stored: 10, Alerts: 1, Incidents: 1,
			LatencyMS:                   Latency{P50: 60, P95: 100, P99: 100, Max: 100, N: 10},
			LatencyIncidentMS:           Latency{P50: 1997, P95: 1997, P99: 1997, Max: 1997, N: 1},
			LatencyReceiptIncidentMS:    Latency{P50: 1897, P95: 1897, P99: 1897, Max: 1897, N: 1},
			LatencyReceiptAlertStoredMS: Latency{P50: 1947, P95: 1947, P99: 1947, Max: 1947, N: 1}}},
		{"clean expecting more", Options{Run: "clean", Expect: 12}, Report{Sent: 12, Stored: 10, Missing: 2, Alerts: 1, Incidents: 1,
			MissingRanges:               []Range{{11, 12}},
			LatencyMS:                   Latency{P50: 60, P95: 100, P99: 100, Max: 100, N: 10},
			LatencyIncidentMS:           Latency{P50: 1997, P95: 1997, P99: 1997, Max: 1997, N: 1},
			LatencyReceiptIncidentMS:    Latency{P50: 1897, P95: 1897, P99: 1897, Max: 1897, N: 1},
			LatencyReceiptAlertStoredMS: Latency{P50: 1947, P95: 1947, P99: 1947, Max: 1947, N: 1}}},
		{"gaps", Options{Run: "gaps", Expect: 22}, Report{Sent: 22, Stored: 16, Missing: 6,
			MissingRanges: []Range{{4, 6}, {11, 11}, {21, 22}},
			LatencyMS:     Latency{P50: 5, P95: 5, P99: 5, Max: 5, N: 16},
			Alerts:        gapsAlerts.Alerts, Incidents: gapsAlerts.Incidents, LatencyIncidentMS: gapsAlerts.LatencyIncidentMS,
			LatencyReceiptIncidentMS: gapsAlerts.LatencyReceiptIncidentMS, LatencyReceiptAlertStoredMS: gapsAlerts.LatencyReceiptAlertStoredMS}},
		{"gaps capped ranges", Options{Run: "gaps", Expect: 22, MaxRanges: 2}, Report{Sent: 22, Stored: 16, Missing: 6,
			MissingRanges: []Range{{4, 6}, {11, 11}},
			LatencyMS:     Latency{P50: 5, P95: 5, P99: 5, Max: 5, N: 16},
			Alerts:        gapsAlerts.Alerts, Incidents: gapsAlerts.Incidents, LatencyIncidentMS: gapsAlerts.LatencyIncidentMS,
			LatencyReceiptIncidentMS: gapsAlerts.LatencyReceiptIncidentMS, LatencyReceiptAlertStoredMS: gapsAlerts.LatencyReceiptAlertStoredMS}},
		{"dups", Options{Run: "dups"}, Report{Sent: 8, Stored: 8, Duplicated: 3, DuplicateRows: 1,
			LatencyMS: Latency{P50: 5, P95: 5, P99: 5, Max: 5, N: 11}}},
		{"stray", Options{Run: "stray", Expect: 2}, Report{Sent: 2, Stored: 2, Unexpected: 2,
			LatencyMS: Latency{P50: 5, P95: 5, P99: 5, Max: 5, N: 4}}},
		{"stray from 2", Options{Run: "stray", Expect: 3, First: 2}, Report{Sent: 3, Stored: 2, Missing: 1, Unexpected: 2,
			MissingRanges: []Range{{4, 4}},
			LatencyMS:     Latency{P50: 5, P95: 5, P99: 5, Max: 5, N: 4}}},
		{"unstored", Options{Run: "unstored"}, Report{Sent: 3, Stored: 3,
			LatencyMS: Latency{P50: 5, P95: 5, P99: 5, Max: 5, N: 3}}},
		{"mixed row kinds", Options{Run: "mixed"}, Report{Sent: 6, Stored: 6, Duplicated: 1,
			LatencyMS: Latency{P50: 5, P95: 5, P99: 5, Max: 5, N: 7}, Alerts: 1, Incidents: 1,
			LatencyIncidentMS:           Latency{P50: 2006, P95: 2006, P99: 2006, Max: 2006, N: 1},
			LatencyReceiptIncidentMS:    Latency{P50: 2001, P95: 2001, P99: 2001, Max: 2001, N: 1},
			LatencyReceiptAlertStoredMS: Latency{P50: 2051, P95: 2051, P99: 2051, Max: 2051, N: 1}}},
		{"unknown run", Options{Run: "nope"}, Report{}},
		{"unknown run expected", Options{Run: "nope", Expect: 3}, Report{Sent: 3, Missing: 3, MissingRanges: []Range{{1, 3}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Verify(context.Background(), conn, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			w := tc.want
			if w.MissingRanges == nil {
				w.MissingRanges = []Range{}
			}
			check := func(what string, g, w any) {
				t.Helper()
				if fmt.Sprint(g) != fmt.Sprint(w) {
					t.Errorf("%s = %v, want %v", what, g, w)
				}
			}
			check("sent", got.Sent, w.Sent)
			check("stored", got.Stored, w.Stored)
			check("missing", got.Missing, w.Missing)
			check("missing ranges", got.MissingRanges, w.MissingRanges)
			check("duplicated", got.Duplicated, w.Duplicated)
			check("duplicate rows", got.DuplicateRows, w.DuplicateRows)
			check("unexpected", got.Unexpected, w.Unexpected)
			check("latency", got.LatencyMS, w.LatencyMS)
			check("incident latency", got.LatencyIncidentMS, w.LatencyIncidentMS)
			check("receipt to alert latency", got.LatencyReceiptIncidentMS, w.LatencyReceiptIncidentMS)
			check("receipt to alert stored latency", got.LatencyReceiptAlertStoredMS, w.LatencyReceiptAlertStoredMS)
			check("alerts", got.Alerts, w.Alerts)
			check("incidents", got.Incidents, w.Incidents)
			wantRatio := 0.0
			if w.Stored > 0 {
				wantRatio = float64(w.Alerts) / float64(w.Stored)
			}
			check("alerts per event", got.AlertsPerEvent, wantRatio)
			// Stored latency: one sample per event with a stored time,
			// storedAfterMS after its receipt.
			if tc.opts.Run == "unstored" || w.LatencyMS.N == 0 {
				check("stored latency", got.LatencyStoredMS, Latency{})
				check("receipt to stored latency", got.LatencyReceiptStoredMS, Latency{})
			} else {
				l := w.LatencyMS
				check("stored latency", got.LatencyStoredMS, Latency{P50: l.P50 + storedAfterMS, P95: l.P95 + storedAfterMS, P99: l.P99 + storedAfterMS, Max: l.Max + storedAfterMS, N: l.N})
				check("receipt to stored latency", got.LatencyReceiptStoredMS, Latency{P50: storedAfterMS, P95: storedAfterMS, P99: storedAfterMS, Max: storedAfterMS, N: l.N})
			}
			if w.LatencyMS.N > 1 && w.Stored > 0 {
				if got.Rate <= 0 {
					t.Errorf("rate = %v, want > 0", got.Rate)
				}
			}
			check("ok", got.OK(), w.Missing == 0 && w.Duplicated == 0 && w.DuplicateRows == 0)
		})
	}

	t.Run("rate", func(t *testing.T) {
		got, err := Verify(context.Background(), conn, Options{Run: "clean"})
		if err != nil {
			t.Fatal(err)
		}
		// Receipts at base+11ms .. base+110ms: 9 intervals over 99 ms.
		if want := 9 / 0.099; got.Rate < want*0.999 || got.Rate > want*1.001 {
			t.Errorf("rate = %v, want %v", got.Rate, want)
		}
	})
}

func TestOptionsValidate(t *testing.T) {
	for _, tc := range []struct {
		run string
		ok  bool
	}{{"r1", true}, {"", false}, {"a b", false}, {`a"`, false}, {"a]", false}} {
		t.Run(tc.run, func(t *testing.T) {
			if err := (Options{Run: tc.run}).Validate(); (err == nil) != tc.ok {
				t.Errorf("Validate(%q) = %v, want ok %v", tc.run, err, tc.ok)
			}
		})
	}
}

func TestDistribution(t *testing.T) {
	v := make([]float64, 0, 1000)
	for i := 1000; i >= 1; i-- {
		v = append(v, float64(i))
	}
	got := distribution(v)
	want := Latency{P50: 501, P95: 951, P99: 991, Max: 1000, N: 1000}
	if got != want {
		t.Errorf("distribution = %+v, want %+v", got, want)
	}
	if l := distribution([]float64{-0.01}); math.Signbit(l.P50) || math.Signbit(l.Max) {
		t.Errorf("distribution of -0.01 ms = %+v, want +0 (no -0 in JSON)", l)
	}
	if (distribution(nil) != Latency{}) {
		t.Error("distribution(nil) not empty")
	}
}
