package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/shared/event"
)

const triageIncident = "6f1c1f7e-3a9b-4c55-9d0e-1a2b3c4d5e6f"

// triageVersions returns the first n revisions of one incident's triage as
// the console writes them: acknowledged by an analyst, then assigned.
func triageVersions(n int) []event.Triage {
	base := time.Date(2026, 11, 26, 10, 0, 0, 123e6, time.UTC)
	tr := event.NewTriage(triageIncident, site)
	var out []event.Triage
	changes := []event.TriageChange{
		{At: base, Actor: "alice", Role: "analyst", Field: "status", From: event.StatusNew, To: event.StatusAcknowledged},
		{At: base.Add(time.Minute), Actor: "alice", Role: "analyst", Field: "assignee", From: "", To: "bob"},
		{At: base.Add(2 * time.Minute), Actor: "bob", Role: "analyst", Field: "note", To: "PLC firmware hash checked"},
	}
	for i := range n {
		c := changes[i]
		c.Version = uint64(i + 1)
		tr.Version = c.Version
		switch c.Field {
		case "status":
			tr.Status = c.To
		case "assignee":
			tr.Assignee = c.To
		case "note":
			tr.Notes = append(tr.Notes, event.Note{At: c.At, Author: c.Actor, Role: c.Role, Text: c.To})
		}
		tr.History = append(append([]event.TriageChange(nil), tr.History...), c)
		tr.UpdatedAt, tr.UpdatedBy = c.At, c.Actor
		out = append(out, tr)
	}
	return out
}

func TestTriageStored(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r := e.start(t, e.config(e.addr), nil, nil, nil)
	// The store waits for the bucket: the pipeline creates it after start.
	time.Sleep(100 * time.Millisecond)
	if err := bus.EnsureBuckets(ctx, e.bus.JS, bus.DefaultStreamOptions()); err != nil {
		t.Fatal(err)
	}
	kv, err := e.bus.JS.KeyValue(ctx, bus.KVTriage)
	if err != nil {
		t.Fatal(err)
	}
	vs := triageVersions(3)
	var rev uint64
	for i, tr := range vs {
		data, err := json.Marshal(tr)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			rev, err = kv.Create(ctx, tr.IncidentID, data)
		} else {
			rev, err = kv.Update(ctx, tr.IncidentID, data, rev)
		}
		if err != nil {
			t.Fatalf("put version %d: %v", tr.Version, err)
		}
	}
	// Bad values: not JSON, and a value whose id is not its key.
	if _, err := kv.Put(ctx, "broken", []byte("{not json")); err != nil {
		t.Fatal(err)
	}
	wrong := vs[0]
	wrong.IncidentID = "another"
	data, _ := json.Marshal(wrong)
	if _, err := kv.Put(ctx, "mismatch", data); err != nil {
		t.Fatal(err)
	}
	// A delete marker is acknowledged without a row.
	if err := kv.Delete(ctx, "mismatch"); err != nil {
		t.Fatal(err)
	}

	eventually(t, 30*time.Second, func() (bool, string) {
		var v uint64
		var n uint64
		if err := e.conn.QueryRow(ctx, "SELECT count(), max(version) FROM incident_triage FINAL WHERE incident_id = ?", triageIncident).Scan(&n, &v); err != nil {
			return false, err.Error()
		}
		return n == 1 && v == 3, fmt.Sprintf("%d rows, version %d", n, v)
	})
	var (
		status, assignee, updatedBy, doc string
		updatedMs                        uint16
		noteCount                        uint32
		updated                          time.Time
		aware                            *time.Time
	)
	if err := e.conn.QueryRow(ctx, "SELECT toString(status), assignee, updated_at, updated_ms, updated_by, note_count, became_aware_at, doc FROM incident_triage FINAL WHERE incident_id = ?", triageIncident).
		Scan(&status, &assignee, &updated, &updatedMs, &updatedBy, &noteCount, &aware, &doc); err != nil {
		t.Fatal(err)
	}
	last := vs[2]
	if status != event.StatusAcknowledged || assignee != "bob" || updatedBy != "bob" || noteCount != 1 || aware != nil ||
		!updated.Add(time.Duration(updatedMs)*time.Millisecond).Equal(last.UpdatedAt) {
		t.Errorf("stored state %s/%s by %s at %s+%dms, %d notes, aware %v; want acknowledged/bob by bob at %s, 1 note, no aware time",
			status, assignee, updatedBy, updated, updatedMs, noteCount, aware, last.UpdatedAt)
	}
	var back event.Triage
	if err := json.Unmarshal([]byte(doc), &back); err != nil || back.Version != 3 || len(back.History) != 3 {
		t.Errorf("doc column = %.80s... (%v), want the version 3 JSON", doc, err)
	}

	// Every change once (each revision re-inserts the history; FINAL collapses).
	eventually(t, 30*time.Second, func() (bool, string) {
		n := e.count(t, "SELECT count() FROM incident_changes FINAL WHERE incident_id = ?", triageIncident)
		return n == 3, fmt.Sprintf("%d changes", n)
	})
	rows, err := e.conn.Query(ctx, "SELECT version, actor, role, field, from_value, to_value FROM incident_changes FINAL WHERE incident_id = ? ORDER BY version", triageIncident)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var (
			v                            uint64
			actor, role, field, from, to string
		)
		if err := rows.Scan(&v, &actor, &role, &field, &from, &to); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%d %s/%s %s %q->%q", v, actor, role, field, from, to))
	}
	rows.Close()
	want := []string{
		`1 alice/analyst status "new"->"acknowledged"`,
		`2 alice/analyst assignee ""->"bob"`,
		`3 bob/analyst note ""->"PLC firmware hash checked"`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("changes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// The two bad values are dead-lettered with their reasons.
	eventually(t, 30*time.Second, func() (bool, string) {
		n := e.count(t, "SELECT count() FROM dead_letters FINAL WHERE stage = 'store' AND position LIKE 'KV_c981_triage%'")
		return n == 2, fmt.Sprintf("%d triage dead letters", n)
	})
	if n := e.count(t, "SELECT count() FROM dead_letters FINAL WHERE position LIKE 'KV_c981_triage%' AND reason LIKE '%does not match the key%'"); n != 1 {
		t.Errorf("%d dead letters name the key mismatch, want 1", n)
	}
	if got := counter(r.svc.m.deadLetters.WithLabelValues(TableTriage, reasonInvalid)); got != 2 {
		t.Errorf("dead-lettered triage values = %g, want 2", got)
	}
	if n := e.count(t, "SELECT count() FROM incident_triage FINAL WHERE incident_id IN ('broken', 'mismatch', 'another')"); n != 0 {
		t.Errorf("%d rows stored for bad values", n)
	}
	// Everything is acknowledged.
	eventually(t, 10*time.Second, func() (bool, string) {
		c, err := e.bus.JS.Consumer(ctx, bus.KVTriageStream, bus.ConsumerStoreTriage)
		if err != nil {
			return false, err.Error()
		}
		info, err := c.Info(ctx)
		if err != nil {
			return false, err.Error()
		}
		return info.NumPending == 0 && info.NumAckPending == 0, fmt.Sprintf("%d pending, %d unacknowledged", info.NumPending, info.NumAckPending)
	})
}

func TestDecodeTriage(t *testing.T) {
	good := triageVersions(1)[0]
	mk := func(f func(*event.Triage)) []byte {
		tr := good
		f(&tr)
		data, err := json.Marshal(tr)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	tests := []struct {
		name    string
		key     string
		data    []byte
		wantErr string
	}{
		{"valid", triageIncident, mk(func(*event.Triage) {}), ""},
		{"not json", triageIncident, []byte("{"), "unexpected end of JSON input"},
		{"key mismatch", "other", mk(func(*event.Triage) {}), `does not match the key "other"`},
		{"no site", triageIncident, mk(func(tr *event.Triage) { tr.Site = "" }), "site is empty"},
		{"version 0", triageIncident, mk(func(tr *event.Triage) { tr.Version = 0 }), "version is 0"},
		{"bad status", triageIncident, mk(func(tr *event.Triage) { tr.Status = "open" }), `unknown status "open"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := decodeTriage(tc.key, tc.data)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("decodeTriage: %v", err)
				}
				if _, err := triageRow(&tr, tc.data); err != nil {
					t.Errorf("triageRow: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("decodeTriage = %v, want error containing %q", err, tc.wantErr)
			}
		})
	}
	// A time outside DateTime's range is not storable.
	tr := good
	early := time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC)
	tr.ISMS.BecameAwareAt = &early
	if _, err := triageRow(&tr, nil); err == nil || !strings.Contains(err.Error(), "became_aware_at") {
		t.Errorf("triageRow with a 1960 time = %v, want a became_aware_at range error", err)
	}
}

// FuzzDecodeTriage: any value decodes to a valid triage row or an error,
// never a panic.
func FuzzDecodeTriage(f *testing.F) {
	for _, tr := range triageVersions(3) {
		data, _ := json.Marshal(tr)
		f.Add(tr.IncidentID, data)
	}
	f.Add("k", []byte(`{"incident_id":"k","site":"s","version":1,"status":"new","updated_at":"0001-01-01T00:00:00Z"}`))
	f.Add("k", []byte(`null`))
	f.Fuzz(func(t *testing.T, key string, data []byte) {
		tr, err := decodeTriage(key, data)
		if err != nil {
			return
		}
		if row, err := triageRow(&tr, data); err == nil && len(row) != len(TriageColumns) {
			t.Fatalf("row has %d values for %d columns", len(row), len(TriageColumns))
		}
		if rows := changeRows(&tr); len(rows) != len(tr.History) {
			t.Fatalf("%d change rows for %d changes", len(rows), len(tr.History))
		}
	})
}

// TestTriageOutage: while ClickHouse is unreachable a triage revision stays
// unacknowledged (retried, health reports it); once ClickHouse is back it
// is stored and acknowledged.
func TestTriageOutage(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := bus.EnsureBuckets(ctx, e.bus.JS, bus.DefaultStreamOptions()); err != nil {
		t.Fatal(err)
	}
	px := newProxy(t, e.addr, true)
	r := e.start(t, e.config(px.addr()), nil, nil, nil)
	kv, err := e.bus.JS.KeyValue(ctx, bus.KVTriage)
	if err != nil {
		t.Fatal(err)
	}
	consumerState := func() (pending uint64, ackPending int, err error) {
		c, err := e.bus.JS.Consumer(ctx, bus.KVTriageStream, bus.ConsumerStoreTriage)
		if err != nil {
			return 0, 0, err
		}
		info, err := c.Info(ctx)
		if err != nil {
			return 0, 0, err
		}
		return info.NumPending, info.NumAckPending, nil
	}
	// The consumer exists once the store runs.
	eventually(t, 20*time.Second, func() (bool, string) {
		_, _, err := consumerState()
		return err == nil, fmt.Sprint(err)
	})
	px.setUp(false)
	tr := triageVersions(1)[0]
	data, _ := json.Marshal(tr)
	if _, err := kv.Create(ctx, tr.IncidentID, data); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, func() (bool, string) {
		retries := counter(r.svc.m.retries.WithLabelValues(TableIncidentChanges))
		return retries >= 2 && r.svc.Health() != nil, fmt.Sprintf("%g retries, health %v", retries, r.svc.Health())
	})
	if p, a, err := consumerState(); err != nil || p+uint64(a) == 0 {
		t.Fatalf("the revision was acknowledged during the outage (%d pending, %d unacknowledged, %v)", p, a, err)
	}
	px.setUp(true)
	eventually(t, 30*time.Second, func() (bool, string) {
		n := e.count(t, "SELECT count() FROM incident_triage FINAL WHERE incident_id = ?", tr.IncidentID)
		p, a, err := consumerState()
		return n == 1 && p == 0 && a == 0 && err == nil, fmt.Sprintf("%d rows, %d pending, %d unacknowledged, %v", n, p, a, err)
	})
	if err := r.svc.Health(); err != nil {
		t.Errorf("Health() = %v after the outage", err)
	}
}
