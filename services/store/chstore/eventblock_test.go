package chstore

import (
	"bytes"
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/c981/c981/services/shared/event"
)

// blockEvents are the events of the InsertEvents tests: the testdata
// events, generated ones, and variants of both (an upper-case id, no
// fields, techniques and maintenance lists, times outside the DateTime
// range, large byte counts).
func blockEvents(t testing.TB) []*event.Event {
	t.Helper()
	var out []*event.Event
	r := loadRecords(t)
	for i := range r.Events {
		out = append(out, &r.Events[i])
	}
	gen := benchEvents(2500)
	for i := range gen {
		e := &gen[i]
		switch i % 5 {
		case 1:
			e.ID = string(bytes.ToUpper([]byte(e.ID)))
		case 2:
			e.Fields = nil
			e.Techniques = []string{"T0855", "T0831"}
		case 3:
			e.Maint = event.Maint{Active: true, WindowID: "mw-1", AllowedOps: []string{"write"}, AllowedSources: []string{"10.20.2.11", "10.20.2.12"}, AllowedUsers: []string{"eng"}}
			e.BytesOut, e.BytesIn = math.MaxInt64, 1<<40
		case 4:
			e.Time, e.ReceivedAt = time.Time{}, time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
		}
		out = append(out, e)
	}
	return out
}

// TestInsertEventsColumns checks that InsertEvents' columns encode to the
// bytes Insert sends for the EventRow rows of the same events (and so to
// those of the driver's Batch.Append, TestBlockAppender).
func TestInsertEventsColumns(t *testing.T) {
	conn := migrated(t)
	ctx := context.Background()
	evs := blockEvents(t)
	stored := time.Date(2026, 11, 26, 18, 0, 0, 123e6, time.UTC)
	rows := make([][]any, len(evs))
	for i, e := range evs {
		row, err := EventRow(e)
		if err != nil {
			t.Fatal(err)
		}
		rows[i] = row
	}
	SetStoredMS(rows, indexOf(EventColumns, StoredMSColumn), stored)
	query := InsertQuery(TableEvents, EventColumns)
	want, err := conn.PrepareBatch(ctx, query)
	if err != nil {
		t.Fatal(err)
	}
	if i, err := newBlockAppender(want.Columns()).append(rows); err != nil {
		t.Fatalf("row %d: %v", i, err)
	}
	wantCols := encodeColumns(want)
	_ = want.Abort()

	got, err := conn.PrepareBatch(ctx, query)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = got.Abort() }()
	if !eventColumnsMatch(got.Columns()) {
		t.Fatal("the events columns of the server do not match eventColumns: InsertEvents would always take the row path")
	}
	blk := eventBlock{storedMS: stored.UnixMilli()}
	for start := 0; start < len(evs); start += InsertBlockRows {
		if err := blk.append(got.Columns(), evs[start:min(start+InsertBlockRows, len(evs))]); err != nil {
			t.Fatal(err)
		}
	}
	for i, c := range encodeColumns(got) {
		if !bytes.Equal(c, wantCols[i]) {
			t.Errorf("column %s: %d bytes differ from Insert's %d", EventColumns[i], len(c), len(wantCols[i]))
		}
	}
}

// hashEvents is the number of events stored through conn and a hash of
// all their columns, row by row (18.16 hashes no UUID: its text).
func hashEvents(t *testing.T, conn driver.Conn) (n, hash uint64) {
	t.Helper()
	hashed := make([]string, len(EventColumns))
	for i, c := range EventColumns {
		hashed[i] = "`" + c + "`"
		if c == "id" {
			hashed[i] = "toString(id)"
		}
	}
	q := "SELECT count(), sum(cityHash64(" + strings.Join(hashed, ", ") + ")) FROM events"
	if err := conn.QueryRow(context.Background(), q).Scan(&n, &hash); err != nil {
		t.Fatal(err)
	}
	return n, hash
}

// TestInsertEvents stores the same events with Insert (EventRow rows),
// InsertEvents, Insert of EventRef rows, of a mix of both kinds of row,
// and InsertEvents into a table whose column types changed (the row by
// row fallback): the rows stored are the same. An invalid event rejects
// the insert before anything is sent.
func TestInsertEvents(t *testing.T) {
	ctx := context.Background()
	stored := time.Date(2026, 11, 26, 18, 0, 0, 0, time.UTC)
	storedCol := indexOf(EventColumns, StoredMSColumn)
	evs := blockEvents(t)
	mapped := func(mapper func(*event.Event) ([]any, error)) [][]any {
		rows := make([][]any, len(evs))
		for i, e := range evs {
			row, err := mapper(e)
			if err != nil {
				t.Fatal(err)
			}
			rows[i] = row
		}
		SetStoredMS(rows, storedCol, stored)
		return rows
	}
	want := migrated(t)
	if err := Insert(ctx, want, TableEvents, EventColumns, mapped(EventRow)); err != nil {
		t.Fatal(err)
	}
	wantN, wantHash := hashEvents(t, want)
	if wantN != uint64(len(evs)) {
		t.Fatalf("Insert stored %d rows; want %d", wantN, len(evs))
	}
	tests := []struct {
		name  string
		alter string // applied to the table first
		store func(conn driver.Conn) error
	}{
		{"InsertEvents", "", func(conn driver.Conn) error { return InsertEvents(ctx, conn, evs, stored) }},
		{"Insert of EventRef rows", "", func(conn driver.Conn) error {
			return Insert(ctx, conn, TableEvents, EventColumns, mapped(EventRef))
		}},
		{"Insert of mixed rows", "", func(conn driver.Conn) error {
			rows, full := mapped(EventRef), mapped(EventRow)
			for i := 0; i < len(rows); i += 3 {
				rows[i] = full[i]
			}
			return Insert(ctx, conn, TableEvents, EventColumns, rows)
		}},
		{"changed column type", "ALTER TABLE events MODIFY COLUMN dst_port UInt32", func(conn driver.Conn) error {
			return InsertEvents(ctx, conn, evs, stored)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			conn := migrated(t)
			if tc.alter != "" {
				if err := conn.Exec(ctx, tc.alter); err != nil {
					t.Fatal(err)
				}
			}
			if err := tc.store(conn); err != nil {
				t.Fatal(err)
			}
			if n, hash := hashEvents(t, conn); n != wantN || hash != wantHash && tc.alter == "" {
				t.Errorf("stored %d rows (hash %x); Insert of EventRow rows %d (hash %x)", n, hash, wantN, wantHash)
			}
			if tc.alter != "" {
				if got := countRows(t, conn, "SELECT count() FROM events WHERE dst_port = 502"); got != countRows(t, want, "SELECT count() FROM events WHERE dst_port = 502") {
					t.Errorf("%d rows with dst_port 502; want Insert's", got)
				}
			}
		})
	}
	t.Run("invalid event", func(t *testing.T) {
		conn := migrated(t)
		bad := InsertBlockRows + 5
		e := *evs[bad]
		e.DstPort = 70000
		withBad := slices.Clone(evs)
		withBad[bad] = &e
		rows := mapped(EventRef)
		rows[bad][0] = eventRef{&e} // as if e had changed after EventRef
		for name, err := range map[string]error{
			"InsertEvents":  InsertEvents(ctx, conn, withBad, stored),
			"EventRef rows": Insert(ctx, conn, TableEvents, EventColumns, rows),
		} {
			var ae *AppendError
			if !errors.As(err, &ae) || ae.Index != bad || !IsBadData(err) || !errors.Is(err, ErrInvalidRow) {
				t.Errorf("%s: err = %v; want an AppendError for event %d", name, err, bad)
			}
		}
		if n := countRows(t, conn, "SELECT count() FROM events"); n != 0 {
			t.Errorf("%d rows stored; want 0", n)
		}
		if _, err := EventRef(&e); err == nil || err.Error() != CheckEvent(&e).Error() {
			t.Errorf("EventRef error %v; want CheckEvent's", err)
		}
	})
}

// TestCheckEvent checks that CheckEvent returns EventRow's error.
func TestCheckEvent(t *testing.T) {
	base := loadRecords(t).Events[0]
	tests := []struct {
		name   string
		mutate func(e *event.Event)
	}{
		{"valid", func(e *event.Event) {}},
		{"id", func(e *event.Event) { e.ID = "ev-1" }},
		{"ports and facility", func(e *event.Event) { e.SrcPort, e.DstPort, e.Facility = -1, 70000, 300 }},
		{"severity", func(e *event.Event) { e.Severity = -200 }},
		{"purdue", func(e *event.Event) { e.Src.Purdue, e.Dst.Purdue, e.Flow.PurdueDelta = math.NaN(), math.Inf(1), 1e40 }},
		{"levels", func(e *event.Event) { e.Src.SLT, e.Dst.SLT = 256, -1 }},
		{"counts", func(e *event.Event) { e.ModelVersion, e.BytesOut, e.BytesIn = -1, -2, -3 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := base
			tc.mutate(&e)
			_, want := EventRow(&e)
			got := CheckEvent(&e)
			if (got == nil) != (want == nil) || got != nil && got.Error() != want.Error() {
				t.Errorf("CheckEvent = %v; EventRow's error %v", got, want)
			}
		})
	}
}

// TestSetStoredMSRefs checks that SetStoredMS sets the stored time of
// EventRef rows and of EventRow rows alike.
func TestSetStoredMSRefs(t *testing.T) {
	e := loadRecords(t).Events[0]
	ref, err := EventRef(&e)
	if err != nil {
		t.Fatal(err)
	}
	full, err := EventRow(&e)
	if err != nil {
		t.Fatal(err)
	}
	at := time.UnixMilli(1764180000123)
	SetStoredMS([][]any{ref, full}, storedIndex, at)
	if ref[refStored] != at.UnixMilli() || full[storedIndex] != at.UnixMilli() {
		t.Errorf("stored times %v (EventRef row) and %v (EventRow row); want %d", ref[refStored], full[storedIndex], at.UnixMilli())
	}
	if ref[0] != (eventRef{&e}) {
		t.Errorf("EventRef row's event overwritten: %v", ref[0])
	}
}
