package chstore

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/c981/c981/services/shared/event"
)

func TestCutoff(t *testing.T) {
	now := time.Date(2026, 11, 26, 10, 30, 0, 0, time.FixedZone("CET", 3600))
	tests := []struct {
		days int
		want string
	}{
		{0, "2026-11-26"},
		{1, "2026-11-25"},
		{30, "2026-10-27"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			if got := Cutoff(now, tc.days).Format(time.DateOnly); got != tc.want {
				t.Errorf("Cutoff(now, %d) = %s; want %s", tc.days, got, tc.want)
			}
		})
	}
}

func TestRetentionValidate(t *testing.T) {
	tests := []struct {
		name string
		r    Retention
		want string
	}{
		{"ok", Retention{TableEvents: 30, TableDeadLetters: 0}, ""},
		{"unknown table", Retention{"schema_migrations": 3}, "retention.schema_migrations: unknown table"},
		{"negative", Retention{TableAlerts: -1}, "retention.alerts: -1 days is negative"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.r.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v; want %q", err, tc.want)
			}
		})
	}
}

// TestRetention back-dates events and dead letters over five days and
// checks which day partitions a retention run drops on the real server.
func TestRetention(t *testing.T) {
	conn := testConn(t)
	ctx := context.Background()
	if err := Migrate(ctx, conn, migrationsFS()); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	evs := benchEvents(50)
	var evRows, dlRows, gramRows [][]any
	for i := range evs {
		day := i % 5 // 0 = today, 4 = four days ago
		evs[i].Time = now.AddDate(0, 0, -day).Add(-time.Duration(i) * time.Minute)
		row, err := EventRow(&evs[i])
		if err != nil {
			t.Fatal(err)
		}
		evRows = append(evRows, row)
		for _, k := range AppendGrams(nil, evs[i].Raw) {
			gramRows = append(gramRows, GramRow(k, evs[i].Site, evs[i].Time, 1))
		}
		dl := event.DeadLetter{ID: event.NewID("dl", evs[i].ID), Time: evs[i].Time, Stage: "ingest", Reason: "test"}
		dlRows = append(dlRows, DeadLetterRow(&dl))
	}
	if err := Insert(ctx, conn, TableEvents, EventColumns, evRows); err != nil {
		t.Fatal(err)
	}
	// The store's writer indexes the events it stores (event_grams).
	if err := Insert(ctx, conn, TableEventGrams, GramColumns, gramRows); err != nil {
		t.Fatal(err)
	}
	if err := Insert(ctx, conn, TableDeadLetters, DeadLetterColumns, dlRows); err != nil {
		t.Fatal(err)
	}

	r := Retention{TableEvents: 2, TableDeadLetters: 3, TableAlerts: 0}
	expired, err := Expired(ctx, conn, r, now)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range expired {
		got = append(got, p.Table+"/"+p.Day.Format(time.DateOnly)+"/"+p.ID)
		if p.Table != TableEventGrams && p.Rows != 10 {
			t.Errorf("%s %s: %d rows; want 10", p.Table, p.ID, p.Rows)
		}
	}
	// The text-search index of events expires with events.
	want := "dead_letters/2026-11-22/20261122 event_grams/2026-11-22/20261122 event_grams/2026-11-23/20261123 events/2026-11-22/20261122 events/2026-11-23/20261123"
	if strings.Join(got, " ") != want {
		t.Fatalf("expired = %s\nwant      %s", strings.Join(got, " "), want)
	}
	dropped, err := EnforceRetention(ctx, conn, r, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(dropped) != 5 {
		t.Errorf("dropped %d partitions; want 5", len(dropped))
	}
	tests := []struct {
		query string
		want  uint64
	}{
		{"SELECT count() FROM events", 30},
		{"SELECT count() FROM events WHERE toDate(time) < '2026-11-24'", 0},
		{"SELECT toUInt64(min(toDate(time)) = toDate('2026-11-24')) FROM events", 1},
		{"SELECT count() FROM dead_letters", 40},
		{"SELECT count() FROM dead_letters WHERE toDate(time) = '2026-11-22'", 0},
		{"SELECT count() FROM event_grams WHERE toDate(hour) < '2026-11-24'", 0},
		{"SELECT toUInt64(count() > 0) FROM event_grams WHERE toDate(hour) = '2026-11-24'", 1},
	}
	for _, tc := range tests {
		if got := countRows(t, conn, tc.query); got != tc.want {
			t.Errorf("%s = %d; want %d", tc.query, got, tc.want)
		}
	}
	again, err := EnforceRetention(ctx, conn, r, now)
	if err != nil || len(again) != 0 {
		t.Errorf("second run dropped %v (err %v); want nothing", again, err)
	}
	// Dropping a partition that is already gone is not an error.
	if err := DropPartition(ctx, conn, expired[0]); err != nil {
		t.Errorf("drop again: %v", err)
	}
}

func TestRetentionRefuses(t *testing.T) {
	conn := testConn(t)
	ctx := context.Background()
	if err := Migrate(ctx, conn, migrationsFS()); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		run  func() error
		want string
	}{
		{"not partitioned by day", func() error { _, err := Partitions(ctx, conn, []string{MigrationsTable}); return err }, "is partitioned by \"\", not by day"},
		{"missing table", func() error { _, err := Partitions(ctx, conn, []string{"nope"}); return err }, "table nope does not exist"},
		{"unknown table", func() error { return DropPartition(ctx, conn, Partition{Table: "system.parts", ID: "20261126"}) }, "not a C-981 table"},
		{"bad partition id", func() error { return DropPartition(ctx, conn, Partition{Table: TableEvents, ID: "2026' OR 1"}) }, "is not a YYYYMMDD day"},
		{"invalid retention", func() error { _, err := Expired(ctx, conn, Retention{TableEvents: -3}, time.Now()); return err }, "negative"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.run()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v; want %q", err, tc.want)
			}
		})
	}
}

func TestRetentionDays(t *testing.T) {
	r := Retention{TableEvents: 7, TableAlerts: 30}
	tests := []struct {
		table string
		want  int
	}{
		{TableEvents, 7},
		{TableEventGrams, 7},
		{TableAlerts, 30},
		{TableIncidents, 0},
	}
	for _, tc := range tests {
		t.Run(tc.table, func(t *testing.T) {
			if got := r.Days(tc.table); got != tc.want {
				t.Errorf("Days(%s) = %d; want %d", tc.table, got, tc.want)
			}
		})
	}
}
