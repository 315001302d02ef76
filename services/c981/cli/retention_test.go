package cli

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/c981/c981/services/shared/chtest"
	"github.com/c981/c981/services/shared/event"
	"github.com/c981/c981/services/store/chstore"
	"github.com/c981/c981/services/store/store"
)

// backdated creates a migrated test database holding n events a day on
// each of the days before now (day 0 = now's day).
func backdated(t *testing.T, now time.Time, days, n int) (addr, db string, conn driver.Conn) {
	t.Helper()
	addr, db = chtest.Database(t)
	ctx := context.Background()
	conn, err := chstore.Open(ctx, chstore.ConnConfig{Addrs: []string{addr}, Database: db})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	if err := chstore.Migrate(ctx, conn, store.Migrations()); err != nil {
		t.Fatal(err)
	}
	var rows [][]any
	// The store's writer indexes the events it stores in event_grams (one
	// row per key, site and hour); this test inserts directly.
	grams := map[string][]any{}
	for d := range days {
		for i := range n {
			ev := event.Event{
				ID: event.NewID("retention-test", fmt.Sprint(d, i)), Site: "demo-plant", Time: now.AddDate(0, 0, -d).Add(-time.Duration(i) * time.Second),
				Source: "syslog-udp", Kind: event.KindFlow, SrcIP: "10.20.2.11", DstIP: "10.20.1.12", Raw: "line",
			}
			row, err := chstore.EventRow(&ev)
			if err != nil {
				t.Fatal(err)
			}
			rows = append(rows, row)
			for _, k := range chstore.AppendGrams(nil, ev.Raw) {
				h := ev.Time.UTC().Truncate(time.Hour)
				grams[fmt.Sprint(k, h)] = chstore.GramRow(k, ev.Site, h, 1)
			}
		}
	}
	if err := chstore.Insert(ctx, conn, chstore.TableEvents, chstore.EventColumns, rows); err != nil {
		t.Fatal(err)
	}
	var gramRows [][]any
	for _, r := range grams {
		gramRows = append(gramRows, r)
	}
	if err := chstore.Insert(ctx, conn, chstore.TableEventGrams, chstore.GramColumns, gramRows); err != nil {
		t.Fatal(err)
	}
	return addr, db, conn
}

func TestRetentionCommand(t *testing.T) {
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	addr, db, conn := backdated(t, now, 4, 5)
	count := func() uint64 {
		var n uint64
		if err := conn.QueryRow(context.Background(), "SELECT count() FROM events").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	base := []string{"retention", "--clickhouse", addr, "--database", db, "--now", now.Format(time.RFC3339), "--keep", "events=1", "--keep", "alerts=0"}

	code, out, errOut := run(t, "", append(base, "--dry-run")...)
	if code != 0 {
		t.Fatalf("dry run: exit %d: %s", code, errOut)
	}
	// The events' text-search index (event_grams, one row per key and
	// hour: "line" gives the head ^line and the 4-gram line, in two hours
	// a day) expires with them.
	for _, want := range []string{`(?m)^events\s+2026-11-24\s+5\s`, `(?m)^events\s+2026-11-23\s+5\s`,
		`(?m)^event_grams\s+2026-11-24\s+4\s`, `(?m)^event_grams\s+2026-11-23\s+4\s`,
		`would drop 4 partitions, 18 rows \(retention events=1d, alerts=forever at 2026-11-26T10:00:00Z\)`} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("dry run output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "2026-11-25") {
		t.Errorf("dry run would drop a partition within retention:\n%s", out)
	}
	if n := count(); n != 20 {
		t.Fatalf("dry run changed the table: %d rows; want 20", n)
	}

	code, out, errOut = run(t, "", append(base, "--apply")...)
	if code != 0 {
		t.Fatalf("apply: exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "dropped 4 partitions, 18 rows") {
		t.Errorf("apply output:\n%s", out)
	}
	if n := count(); n != 10 {
		t.Errorf("after apply: %d rows; want 10", n)
	}
	code, out, _ = run(t, "", append(base, "--apply")...)
	if code != 0 || !strings.Contains(out, "dropped 0 partitions") {
		t.Errorf("second apply: exit %d:\n%s", code, out)
	}
}

func TestRetentionCommandErrors(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"both modes", []string{"--dry-run", "--apply"}, 2, "--dry-run and --apply are exclusive"},
		{"bad keep", []string{"--keep", "events"}, 2, `"events": want TABLE=DAYS`},
		{"unknown table", []string{"--keep", "event=3", "--clickhouse", "127.0.0.1:1"}, 1, "retention.event: unknown table"},
		{"bad now", []string{"--now", "yesterday"}, 1, "--now"},
		{"extra argument", []string{"events"}, 2, `unexpected argument "events"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := run(t, "", append([]string{"retention"}, tc.args...)...)
			if code != tc.wantCode || !strings.Contains(errOut, tc.wantErr) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, errOut, tc.wantCode, tc.wantErr)
			}
		})
	}
}
