package chstore

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func auditRecord(seq uint64) AuditRecord {
	return AuditRecord{
		ID: "5f0c4a3e-9b1d-8c2e-a4f6-0123456789ab", Site: "demo-plant", Seq: seq,
		Time:  time.Date(2026, 11, 26, 10, 0, 0, 123456789, time.UTC),
		Actor: "c981/respond", Kind: "decision", What: "pb/s1 (notify)", Why: "passive", Result: "automatic",
		IncidentID: "inc", IncidentVersion: 3, PlanID: "plan", StepID: "s1",
		InputsHash: strings.Repeat("a", 64), PrevHash: strings.Repeat("0", 64), Hash: strings.Repeat("b", 64),
	}
}

func TestAuditRowErrors(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*AuditRecord)
		want   string // substring of the error; "" for a valid record
	}{
		{"valid", func(*AuditRecord) {}, ""},
		{"id not a uuid", func(r *AuditRecord) { r.ID = "x" }, `id "x" is not a UUID`},
		{"no site", func(r *AuditRecord) { r.Site = "" }, "site is empty"},
		{"seq 0", func(r *AuditRecord) { r.Seq = 0 }, "seq is 0"},
		{"time before 1970", func(r *AuditRecord) { r.Time = time.Date(1969, 1, 1, 0, 0, 0, 0, time.UTC) }, "outside ClickHouse DateTime's range"},
		{"short hash", func(r *AuditRecord) { r.Hash = "abc" }, `hash "abc" is not a hex SHA-256`},
		{"upper-case prev_hash", func(r *AuditRecord) { r.PrevHash = strings.Repeat("A", 64) }, "prev_hash"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := auditRecord(1)
			tt.modify(&r)
			row, err := AuditRow(&r)
			if tt.want == "" {
				if err != nil || len(row) != len(AuditColumns) {
					t.Fatalf("AuditRow = %d values, %v; want %d values", len(row), err, len(AuditColumns))
				}
				return
			}
			if !errors.Is(err, ErrInvalidRow) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("AuditRow error = %v; want ErrInvalidRow containing %q", err, tt.want)
			}
		})
	}
}

// TestAuditRoundTrip stores records twice (a redelivery) and reads them back
// exactly, nanoseconds included; FINAL collapses the copies.
func TestAuditRoundTrip(t *testing.T) {
	conn := migrated(t)
	ctx := context.Background()
	want := []AuditRecord{auditRecord(1), auditRecord(2)}
	want[1].ID = "6f0c4a3e-9b1d-8c2e-a4f6-0123456789ab"
	want[1].Time = want[1].Time.Add(1500 * time.Millisecond)
	want[1].ActorRole, want[1].IncidentVersion = "control engineer", 0
	other := auditRecord(1)
	other.Site = "other-plant"
	var rows [][]any
	for _, r := range append(append([]AuditRecord{}, want...), other) {
		row, err := AuditRow(&r)
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, row)
	}
	for range 2 {
		if err := Insert(ctx, conn, TableAudit, AuditColumns, rows); err != nil {
			t.Fatal(err)
		}
	}
	if n := countRows(t, conn, "SELECT count() FROM audit FINAL WHERE site = ?", "demo-plant"); n != 2 {
		t.Errorf("FINAL count = %d, want 2", n)
	}
	if err := conn.Exec(ctx, "OPTIMIZE TABLE audit FINAL"); err != nil {
		t.Fatal(err)
	}
	got, err := ReadAudit(ctx, conn, "demo-plant")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ReadAudit =\n%+v\nwant\n%+v", got, want)
	}
}
