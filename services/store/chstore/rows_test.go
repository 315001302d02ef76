package chstore

import (
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/c981/c981/services/shared/event"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// records is the content of testdata/records.json.
type records struct {
	Events      []event.Event      `json:"events"`
	Alerts      []event.Alert      `json:"alerts"`
	Incidents   []event.Incident   `json:"incidents"`
	Plans       []event.Plan       `json:"plans"`
	DeadLetters []event.DeadLetter `json:"dead_letters"`
}

func loadRecords(t testing.TB) records {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "records.json"))
	if err != nil {
		t.Fatal(err)
	}
	var r records
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatalf("testdata/records.json: %v", err)
	}
	return r
}

// named pairs every value of a row with its column name.
func named(t testing.TB, cols []string, row []any) map[string]any {
	t.Helper()
	if len(cols) != len(row) {
		t.Fatalf("row has %d values for %d columns", len(row), len(cols))
	}
	m := make(map[string]any, len(cols))
	for i, c := range cols {
		m[c] = row[i]
	}
	return m
}

// mappedRows maps every record of testdata/records.json, by table.
func mappedRows(t testing.TB, r records) map[string][][]any {
	t.Helper()
	out := map[string][][]any{}
	for i := range r.Events {
		row, err := EventRow(&r.Events[i])
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		out[TableEvents] = append(out[TableEvents], row)
	}
	for i := range r.Alerts {
		row, err := AlertRow(&r.Alerts[i])
		if err != nil {
			t.Fatalf("alert %d: %v", i, err)
		}
		out[TableAlerts] = append(out[TableAlerts], row)
	}
	for i := range r.Incidents {
		row, err := IncidentRow(&r.Incidents[i])
		if err != nil {
			t.Fatalf("incident %d: %v", i, err)
		}
		out[TableIncidents] = append(out[TableIncidents], row)
	}
	for i := range r.Plans {
		rows, err := ActionRows(&r.Plans[i])
		if err != nil {
			t.Fatalf("plan %d: %v", i, err)
		}
		out[TableActions] = append(out[TableActions], rows...)
	}
	for i := range r.DeadLetters {
		out[TableDeadLetters] = append(out[TableDeadLetters], DeadLetterRow(&r.DeadLetters[i]))
	}
	return out
}

var tableColumns = map[string][]string{
	TableEvents:      EventColumns,
	TableAlerts:      AlertColumns,
	TableIncidents:   IncidentColumns,
	TableActions:     ActionColumns,
	TableDeadLetters: DeadLetterColumns,
}

func TestRowsGolden(t *testing.T) {
	rows := mappedRows(t, loadRecords(t))
	for _, table := range []string{TableEvents, TableAlerts, TableIncidents, TableActions, TableDeadLetters} {
		t.Run(table, func(t *testing.T) {
			var docs []map[string]any
			for _, row := range rows[table] {
				docs = append(docs, named(t, tableColumns[table], row))
			}
			got, err := json.MarshalIndent(docs, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden := filepath.Join("testdata", table+".golden.json")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if string(got) != string(want) {
				t.Errorf("%s rows differ from %s (go test -update rewrites it):\n%s", table, golden, got)
			}
		})
	}
}

func TestRowErrors(t *testing.T) {
	r := loadRecords(t)
	tests := []struct {
		name string
		run  func() error
		want string
	}{
		{"event id not a uuid", func() error { e := r.Events[0]; e.ID = "ev-1"; _, err := EventRow(&e); return err }, `id "ev-1" is not a UUID`},
		{"event empty id", func() error { e := r.Events[0]; e.ID = ""; _, err := EventRow(&e); return err }, `id "" is not a UUID`},
		{"event port", func() error { e := r.Events[0]; e.DstPort = 70000; _, err := EventRow(&e); return err }, "dst_port 70000 out of range"},
		{"event negative port", func() error { e := r.Events[0]; e.SrcPort = -2; _, err := EventRow(&e); return err }, "src_port -2 out of range"},
		{"event facility", func() error { e := r.Events[0]; e.Facility = 300; _, err := EventRow(&e); return err }, "facility 300 out of range"},
		{"event model version", func() error { e := r.Events[0]; e.ModelVersion = -1; _, err := EventRow(&e); return err }, "model_version -1 out of range"},
		{"event sl_t", func() error { e := r.Events[0]; e.Dst.SLT = 256; _, err := EventRow(&e); return err }, "dst_sl_t 256 out of range"},
		{"alert severity", func() error { a := r.Alerts[0]; a.Severity = "urgent"; _, err := AlertRow(&a); return err }, `severity "urgent" is not one of info, low, medium, high, critical`},
		{"alert incident id", func() error { a := r.Alerts[0]; a.IncidentID = "inc-1"; _, err := AlertRow(&a); return err }, `incident_id "inc-1" is not a UUID`},
		{"incident status", func() error { i := r.Incidents[0]; i.Status = "open"; _, err := IncidentRow(&i); return err }, `status "open" is not one of`},
		{"incident two problems", func() error { i := r.Incidents[0]; i.ID = "x"; i.Severity = ""; _, err := IncidentRow(&i); return err }, `id "x" is not a UUID; severity "" is not one of`},
		{"plan step class", func() error {
			p := r.Plans[0]
			p.Steps = append([]event.Step(nil), p.Steps...)
			p.Steps[2].Class = "destructive"
			_, err := ActionRows(&p)
			return err
		}, `steps[2].class "destructive" is not one of passive, boundary, intrusive`},
		{"plan step decision", func() error {
			p := r.Plans[0]
			p.Steps = append([]event.Step(nil), p.Steps...)
			p.Steps[0].Decision = "maybe"
			_, err := ActionRows(&p)
			return err
		}, `steps[0].decision "maybe" is not one of`},
		{"plan incident id", func() error { p := r.Plans[0]; p.IncidentID = ""; _, err := ActionRows(&p); return err }, `incident_id "" is not a UUID`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.run()
			if err == nil {
				t.Fatal("want an error, got nil")
			}
			if !errors.Is(err, ErrInvalidRow) {
				t.Errorf("error %v does not wrap ErrInvalidRow", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func TestEmptyPlanHasNoRows(t *testing.T) {
	p := loadRecords(t).Plans[0]
	p.Steps = nil
	rows, err := ActionRows(&p)
	if err != nil || len(rows) != 0 {
		t.Fatalf("ActionRows(no steps) = %d rows, %v; want 0, nil", len(rows), err)
	}
}

func TestDateTime(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skipf("no tzdata: %v", err)
	}
	tests := []struct {
		name   string
		in     time.Time
		want   string
		wantMs uint16
	}{
		{"utc millis", time.Date(2026, 11, 26, 10, 0, 2, 123_456_789, time.UTC), "2026-11-26T10:00:02Z", 123},
		{"local zone converted", time.Date(2026, 11, 26, 11, 0, 2, 999_000_000, berlin), "2026-11-26T10:00:02Z", 999},
		{"zero time clamped", time.Time{}, "1970-01-01T00:00:00Z", 0},
		{"before epoch clamped", time.Date(1969, 12, 31, 23, 59, 59, 500_000_000, time.UTC), "1970-01-01T00:00:00Z", 0},
		{"after 2106 clamped", time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC), "2106-02-07T06:28:15Z", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ms := DateTime(tc.in)
			if got.Format(time.RFC3339Nano) != tc.want || ms != tc.wantMs {
				t.Errorf("DateTime(%v) = %s, %d; want %s, %d", tc.in, got.Format(time.RFC3339Nano), ms, tc.want, tc.wantMs)
			}
		})
	}
}

func TestNestedKV(t *testing.T) {
	tests := []struct {
		name       string
		in         map[string]string
		keys, vals string
	}{
		{"nil", nil, "", ""},
		{"sorted by key", map[string]string{"op": "write", "dport": "502", "app": "modbus"}, "app,dport,op", "modbus,502,write"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k, v := NestedKV(tc.in)
			if k == nil || v == nil {
				t.Fatal("NestedKV returned a nil slice; the driver needs empty arrays")
			}
			if strings.Join(k, ",") != tc.keys || strings.Join(v, ",") != tc.vals {
				t.Errorf("NestedKV = %v %v; want %s %s", k, v, tc.keys, tc.vals)
			}
		})
	}
}

func TestInsertQuery(t *testing.T) {
	got := InsertQuery("events", []string{"id", "fields.key", "user"})
	want := "INSERT INTO `events` (`id`, `fields.key`, `user`)"
	if got != want {
		t.Errorf("InsertQuery = %q; want %q", got, want)
	}
}
