package chstore

import (
	"context"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

// TestEventTokens checks the text-search index contract of migration 0005
// on the real server: the materialized view indexes every inserted event
// (lowercased ASCII [a-z0-9] runs of raw and message, at most 64 bytes, per
// site and hour), and the migration backfills events stored before it.
func TestEventTokens(t *testing.T) {
	conn := testConn(t)
	ctx := context.Background()
	all, err := fs.Glob(migrationsFS(), "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	before := fstest.MapFS{}
	for _, name := range all {
		if name >= "0005" {
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
	evs := benchEvents(2)
	hour := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	evs[0].Time = hour.Add(5 * time.Minute)
	evs[0].Raw = "<134>Nov 26 10:05:00 PLC-101 fw: SEQ=4242 wörld " + strings.Repeat("x", 70)
	evs[0].Message = "Program_Download by ENG"
	evs[1].Time = hour.Add(time.Hour + time.Minute)
	evs[1].Site = "other-site"
	evs[1].Raw = "seq=4242"
	evs[1].Message = ""
	insert := func(i int) {
		t.Helper()
		row, err := EventRow(&evs[i])
		if err != nil {
			t.Fatal(err)
		}
		// Without stored_ms: the first insert is into the schema before 0007.
		n := len(EventColumns) - 1
		if EventColumns[n] != StoredMSColumn {
			t.Fatalf("last event column is %s, want %s", EventColumns[n], StoredMSColumn)
		}
		if err := Insert(ctx, conn, TableEvents, EventColumns[:n], [][]any{row[:n]}); err != nil {
			t.Fatal(err)
		}
	}
	insert(0) // before 0005: indexed by the backfill
	if err := Migrate(ctx, conn, migrationsFS()); err != nil {
		t.Fatal(err)
	}
	insert(1) // after 0005: indexed by the materialized view
	insert(1) // a re-inserted copy adds nothing new

	rows, err := conn.Query(ctx, "SELECT DISTINCT site, toString(hour), token FROM event_tokens ORDER BY site, token")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[string][]string{}
	for rows.Next() {
		var site, h, tok string
		if err := rows.Scan(&site, &h, &tok); err != nil {
			t.Fatal(err)
		}
		got[site+" "+h] = append(got[site+" "+h], tok)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"other-site 2026-11-26 11:00:00": "4242 seq",
	}
	// "_" separates tokens ("program_download" is "program" and
	// "download"); "ö" too ("wörld" is "w" and "rld"); the 70 x are cut
	// to 64; ":" splits "10:05:00" into "10", "05", "00".
	want[evs[0].Site+" 2026-11-26 10:00:00"] = "00 05 10 101 134 26 4242 by download eng fw nov plc program rld seq w " + strings.Repeat("x", 64)
	if len(got) != len(want) {
		t.Errorf("token groups = %v; want %d groups", got, len(want))
	}
	for k, w := range want {
		if g := strings.Join(got[k], " "); g != w {
			t.Errorf("%s tokens:\n got %s\nwant %s", k, g, w)
		}
	}
}
