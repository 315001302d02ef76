package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/shared/event"
	"github.com/c981/c981/services/store/chstore"
)

var (
	incidentID = event.NewID("incident", "demo-plant/plc-102")
	planID     = event.NewID("plan", incidentID, "2")
)

func demoAlert() event.Alert {
	ev := demoEvent(0, 1)
	return event.Alert{
		ID: event.NewID("ot-modbus-write", ev.ID), Time: ev.Time, CreatedAt: ev.ReceivedAt.Add(time.Millisecond),
		Site: site, RuleID: "ot-modbus-write", RuleTitle: "Modbus write to a PLC", Severity: event.SevHigh,
		Techniques: []string{"T0855"}, IncidentKey: "demo-plant/plc-102", IncidentID: incidentID,
		EventIDs: []string{ev.ID}, Summary: "hmi-01 wrote to plc-102", Src: ev.Src, Dst: ev.Dst,
		Fields: map[string]string{"op": "write"},
	}
}

// demoIncident returns a version of the demo incident. Every later version moves
// FirstSeen a day earlier (an out-of-order alert), into another day than
// OpenedAt, which stays the same.
func demoIncident(version uint64, status string) event.Incident {
	a := demoAlert()
	return event.Incident{
		ID: incidentID, Version: version, Site: site, Key: a.IncidentKey, Title: "Writes to plc-102",
		Severity: event.SevHigh, Status: status, OpenedAt: a.Time,
		FirstSeen: a.Time.Add(-time.Duration(version-1) * 24 * time.Hour), LastSeen: a.Time.Add(time.Duration(version) * time.Second),
		UpdatedAt: a.CreatedAt.Add(time.Duration(version) * time.Second),
		AlertIDs:  []string{a.ID}, RuleIDs: []string{a.RuleID}, Techniques: a.Techniques,
		Assets: []string{"demo-plant/hmi-01", "demo-plant/plc-102"}, Zones: []string{"demo-plant/control", "demo-plant/supervisory"},
		Target: a.Dst,
	}
}

func demoPlan() event.Plan {
	return event.Plan{
		ID: planID, IncidentID: incidentID, IncidentVersion: 2, Site: site,
		PlaybookID: "unauthorized-plc-change", PlaybookTitle: "Unauthorized PLC change",
		CreatedAt: time.Date(2026, 11, 26, 10, 5, 0, 0, time.UTC),
		Steps: []event.Step{
			{Index: 0, ID: "notify", Kind: "notify", Class: event.ClassPassive, Text: "Inform the shift supervisor", Decision: event.DecisionAllowed, Reason: "passive"},
			{Index: 1, ID: "block", Kind: "action", Action: "block_host", Class: event.ClassBoundary, Text: "Block hmi-01 at fw-cell-01", Decision: event.DecisionNeedsApproval, Reason: "critical zone", Approvers: []string{"ot-engineer"}},
			{Index: 2, ID: "stop", Kind: "action", Action: "plc_stop", Class: event.ClassIntrusive, Text: "Stop plc-102", Decision: event.DecisionForbidden, Reason: "intrusive on a controller"},
		},
	}
}

func TestStoreAllTables(t *testing.T) {
	e := newEnv(t)
	js := e.bus.JS
	evs := demoEvents(0, 5)
	publish(t, js, bus.EventsSubject(site), "ev-1", evs[:3])
	publish(t, js, bus.EventsSubject(site), "ev-2", evs[3:])
	publish(t, js, bus.AlertsSubject(site), "al-1", []event.Alert{demoAlert()})
	publish(t, js, bus.IncidentsSubject(site), "inc-1", []event.Incident{demoIncident(1, event.StatusNew)})
	publish(t, js, bus.IncidentsSubject(site), "inc-2", []event.Incident{demoIncident(2, event.StatusInvestigating)})
	publish(t, js, bus.ActionsSubject(site), "plan-1", []event.Plan{demoPlan()})
	dl := event.DeadLetter{ID: event.NewID("dl", "1"), Time: time.Date(2026, 11, 26, 10, 0, 3, 0, time.UTC), Stage: bus.StageIngest, Site: site, Source: "syslog-udp", Reason: "parse: missing priority", Payload: "garbage", Position: "udp 10.20.2.11:514"}
	if err := bus.DeadLetter(context.Background(), js, bus.StageIngest, []event.DeadLetter{dl}); err != nil {
		t.Fatal(err)
	}

	before := time.Now().UnixMilli()
	r := e.start(t, e.config(e.addr), nil, nil, nil)
	e.waitDrained(t, 30*time.Second)
	after := time.Now().UnixMilli()
	stored := "stored_ms BETWEEN ? AND ?"

	tests := []struct {
		name  string
		query string
		args  []any
		want  uint64
	}{
		{"events", "SELECT count() FROM events FINAL", nil, 5},
		{"event enrichment", "SELECT count() FROM events FINAL WHERE id = ? AND dst_zone = 'demo-plant/control' AND dst_sl_t = 3 AND flow_allowed = 1 AND visitParamHas(fields_json, 'op') AND empty(fields.key)", []any{evs[4].ID}, 1},
		{"event millis", "SELECT count() FROM events FINAL WHERE id = ? AND time_ms = 2 AND received_ms = 152", []any{evs[2].ID}, 1},
		{"alerts", "SELECT count() FROM alerts FINAL WHERE severity = 'high' AND incident_id = toUUID(?)", []any{incidentID}, 1},
		{"incident latest version", "SELECT count() FROM incidents FINAL WHERE version = 2 AND status = 'investigating'", nil, 1},
		{"incident versions collapse", "SELECT count() FROM incidents FINAL", nil, 1},
		{"incident first_seen moved a day before opened_at", "SELECT count() FROM incidents FINAL WHERE opened_at = toDateTime(?) AND toDate(first_seen) < toDate(opened_at)", []any{demoAlert().Time.Unix()}, 1},
		{"action steps", "SELECT count() FROM actions FINAL WHERE plan_id = toUUID(?)", []any{planID}, 3},
		{"forbidden step", "SELECT count() FROM actions FINAL WHERE decision = 'forbidden' AND class = 'intrusive' AND step_index = 2", nil, 1},
		{"dead letters", "SELECT count() FROM dead_letters FINAL WHERE stage = 'ingest' AND reason = 'parse: missing priority'", nil, 1},
		{"nothing else dead-lettered", "SELECT count() FROM dead_letters FINAL", nil, 1},
		{"events stored time", "SELECT count() FROM events FINAL WHERE " + stored, []any{before, after}, 5},
		{"alert stored time", "SELECT count() FROM alerts FINAL WHERE " + stored, []any{before, after}, 1},
		{"alert creation millis", "SELECT count() FROM alerts FINAL WHERE created_at = toDateTime(?) AND created_ms = ?",
			[]any{demoAlert().CreatedAt.Unix(), demoAlert().CreatedAt.Nanosecond() / 1e6}, 1},
		{"incident stored time", "SELECT count() FROM incidents FINAL WHERE " + stored, []any{before, after}, 1},
		{"incident update millis", "SELECT count() FROM incidents FINAL WHERE updated_ms = ?", []any{demoIncident(2, "").UpdatedAt.Nanosecond() / 1e6}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := e.count(t, tc.query, tc.args...); got != tc.want {
				t.Errorf("%s = %d; want %d", tc.query, got, tc.want)
			}
		})
	}
	// Merges (and retention, which drops day partitions) work within one
	// partition only: the versions collapse on disk because they share the
	// opened_at partition although first_seen moved to another day.
	t.Run("incident versions merge", func(t *testing.T) {
		if err := e.conn.Exec(context.Background(), "OPTIMIZE TABLE incidents FINAL"); err != nil {
			t.Fatal(err)
		}
		if got := e.count(t, "SELECT count() FROM incidents"); got != 1 {
			t.Errorf("incidents has %d rows after OPTIMIZE FINAL; want 1", got)
		}
	})
	m := r.svc.m
	for table, want := range map[string]float64{chstore.TableEvents: 5, chstore.TableAlerts: 1, chstore.TableIncidents: 2, chstore.TableActions: 3, chstore.TableDeadLetters: 1} {
		if got := counter(m.rows.WithLabelValues(table)); got != want {
			t.Errorf("rows_inserted_total{table=%s} = %v; want %v", table, got, want)
		}
	}
	if err := r.svc.Health(); err != nil {
		t.Errorf("Health() = %v; want nil", err)
	}
}

func TestBadDataIsDeadLettered(t *testing.T) {
	e := newEnv(t)
	js := e.bus.JS
	// A stricter events table: the server rejects rows whose user is
	// "operator-x" (CANNOT_PARSE_TEXT while computing the column), which
	// only bisection can isolate.
	migs := migrationsWith(t, map[string]string{
		"9000_strict.sql": "ALTER TABLE events ADD COLUMN strict_user UInt32 MATERIALIZED toUInt32(if(user = 'operator-x', 'not-a-number', '1'))",
	})
	var want []string
	for b := range 4 {
		evs := demoEvents(b, 25)
		if b == 1 {
			evs[7].User = "operator-x"
		}
		if b == 3 {
			evs[24].User = "operator-x"
			evs[3].ID = "not-a-uuid" // invalid record
		}
		for _, ev := range evs {
			if ev.User == "" && ev.ID != "not-a-uuid" {
				want = append(want, ev.ID)
			}
		}
		publish(t, js, bus.EventsSubject(site), fmt.Sprintf("bad-%d", b), evs)
	}
	publishRaw(t, js, bus.EventsSubject(site), "poison", []byte("\xc1 this is not msgpack"))
	publish(t, js, bus.AlertsSubject(site), "bad-alert", []event.Alert{func() event.Alert { a := demoAlert(); a.Severity = "urgent"; return a }()})

	cfg := e.config(e.addr)
	cfg.BatchWait = 500 * time.Millisecond // all four messages in one batch
	r := e.start(t, cfg, nil, migs, nil)
	e.waitDrained(t, 30*time.Second)

	if got := e.count(t, "SELECT count() FROM events FINAL"); got != uint64(len(want)) {
		t.Errorf("events stored = %d; want %d", got, len(want))
	}
	if got := e.count(t, "SELECT uniqExact(id) FROM events FINAL WHERE has(?, toString(id))", want); got != uint64(len(want)) {
		t.Errorf("good events stored = %d; want %d", got, len(want))
	}
	tests := []struct {
		name, where string
		want        uint64
	}{
		{"rejected rows", "reason LIKE 'clickhouse rejected row for events:%Cannot parse string%' AND payload LIKE '%operator-x%'", 2},
		{"invalid record", "reason LIKE 'store events:%id \"not-a-uuid\" is not a UUID%' AND position = 'C981_EVENTS seq 4 record 3'", 1},
		{"poison message", "reason LIKE 'decode C981_EVENTS seq 5 for table events:%' AND payload LIKE '%this is not msgpack'", 1},
		{"invalid alert", "reason LIKE 'store alerts:%severity \"urgent\"%' AND site = 'demo-plant' AND stage = 'store'", 1},
		{"all", "1", 5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := e.count(t, "SELECT count() FROM dead_letters FINAL WHERE "+tc.where); got != tc.want {
				t.Errorf("dead letters where %s = %d; want %d", tc.where, got, tc.want)
			}
		})
	}
	m := r.svc.m
	for reason, want := range map[string]float64{reasonRejected: 2, reasonInvalid: 1, reasonPoison: 1} {
		if got := counter(m.deadLetters.WithLabelValues(chstore.TableEvents, reason)); got != want {
			t.Errorf("dead_lettered_rows_total{events,%s} = %v; want %v", reason, got, want)
		}
	}
}

// TestKillAndRestart stops the store mid-stream, by cancellation and by a
// crash between insert and acknowledgement, restarts it and checks that
// every event is stored exactly once.
func TestKillAndRestart(t *testing.T) {
	const batches, perBatch = 50, 200
	tests := []struct {
		name string
		// firstRun runs the store until it is stopped; it returns once the
		// first run is over.
		firstRun func(t *testing.T, e *env, cfg Config)
	}{
		{"cancel mid-stream", func(t *testing.T, e *env, cfg Config) {
			// Slow flushes so that the cancel lands mid-stream.
			r := e.start(t, cfg, nil, nil, func(string) error { time.Sleep(300 * time.Millisecond); return nil })
			eventually(t, 30*time.Second, func() (bool, string) {
				n := counter(r.svc.m.messages.WithLabelValues(chstore.TableEvents))
				return n >= 5, fmt.Sprintf("%v messages acknowledged", n)
			})
			r.stop(t)
		}},
		{"crash after insert before ack", func(t *testing.T, e *env, cfg Config) {
			var flushes atomic.Int32
			crash := errors.New("simulated crash after insert")
			r := e.start(t, cfg, nil, nil, func(table string) error {
				if table == chstore.TableEvents && flushes.Add(1) == 3 {
					return crash
				}
				return nil
			})
			select {
			case err := <-r.done:
				close(r.done)
				if !errors.Is(err, crash) {
					t.Fatalf("Run = %v; want the simulated crash", err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("the store did not crash")
			}
			_, ackPending, _ := e.consumerState(t)
			if ackPending == 0 {
				t.Fatal("no message left unacknowledged by the crash")
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			for b := range batches {
				publish(t, e.bus.JS, bus.EventsSubject(site), fmt.Sprintf("events-%d", b), demoEvents(b, perBatch))
			}
			// A replayed upstream batch under a new message id: same events.
			publish(t, e.bus.JS, bus.EventsSubject(site), "events-replay", demoEvents(7, perBatch))
			cfg := e.config(e.addr)
			cfg.BatchRows = 1000

			tc.firstRun(t, e, cfg)
			first := e.count(t, "SELECT count() FROM events FINAL")
			if first == 0 || first >= batches*perBatch {
				t.Fatalf("first run stored %d events; want a part of %d", first, batches*perBatch)
			}

			e.start(t, cfg, nil, nil, nil)
			e.waitDrained(t, 60*time.Second)
			if got := e.count(t, "SELECT count() FROM events FINAL"); got != batches*perBatch {
				t.Errorf("count() FINAL = %d; want %d", got, batches*perBatch)
			}
			if got := e.count(t, "SELECT uniqExact(id) FROM events"); got != batches*perBatch {
				t.Errorf("uniqExact(id) = %d; want %d", got, batches*perBatch)
			}
			if got := e.count(t, "SELECT count() FROM dead_letters"); got != 0 {
				t.Errorf("%d dead letters; want 0", got)
			}
		})
	}
}

func TestClickHouseUnavailable(t *testing.T) {
	e := newEnv(t)
	js := e.bus.JS
	px := newProxy(t, e.addr, false)
	cfg := e.config(px.addr())

	// Down at start: the store keeps retrying to connect; nothing is taken.
	for b := range 5 {
		publish(t, js, bus.EventsSubject(site), fmt.Sprintf("down-%d", b), demoEvents(b, 100))
	}
	r := e.start(t, cfg, nil, nil, nil)
	time.Sleep(time.Second)
	if p, a, _ := e.consumerState(t); p != 5 || a != 0 {
		t.Fatalf("while down at start: %d undelivered, %d unacknowledged; want 5, 0", p, a)
	}
	if err := r.svc.Health(); err == nil {
		t.Error("Health() = nil while ClickHouse is unreachable at start")
	}

	px.setUp(true)
	e.waitDrained(t, 30*time.Second)
	if got := e.count(t, "SELECT count() FROM events FINAL"); got != 500 {
		t.Fatalf("after recovery: %d events; want 500", got)
	}

	// Down while running: the batch is held unacknowledged and kept alive
	// past AckWait (no redelivery) while inserts are retried.
	px.setUp(false)
	for b := 5; b < 10; b++ {
		publish(t, js, bus.EventsSubject(site), fmt.Sprintf("down-%d", b), demoEvents(b, 100))
	}
	retries := counter(r.svc.m.retries.WithLabelValues(chstore.TableEvents))
	eventually(t, 10*time.Second, func() (bool, string) {
		_, a, _ := e.consumerState(t)
		n := counter(r.svc.m.retries.WithLabelValues(chstore.TableEvents))
		return a == 5 && n > retries+2, fmt.Sprintf("%d unacknowledged, %v retries", a, n-retries)
	})
	time.Sleep(2 * cfg.AckWait)
	// Past AckWait, a competing pull on the same durable consumer would get
	// the batch unless InProgress kept it leased to the store.
	cons, err := js.Consumer(context.Background(), bus.StreamEvents, bus.ConsumerStoreEvents)
	if err != nil {
		t.Fatal(err)
	}
	mb, err := cons.Fetch(10, jetstream.FetchMaxWait(500*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	stolen := 0
	for msg := range mb.Messages() {
		stolen++
		_ = msg.Nak()
	}
	if stolen != 0 {
		t.Fatalf("while down: a competing fetch got %d held messages; InProgress should keep them leased", stolen)
	}
	if _, a, _ := e.consumerState(t); a != 5 {
		t.Fatalf("while down: %d unacknowledged; want 5", a)
	}
	if err := r.svc.Health(); err == nil {
		t.Error("Health() = nil while ClickHouse is down")
	}
	if got := counter(r.svc.m.unacked.WithLabelValues(chstore.TableEvents)); got != 5 {
		t.Errorf("unacked_messages = %v; want 5", got)
	}

	px.setUp(true)
	e.waitDrained(t, 30*time.Second)
	if got := e.count(t, "SELECT count() FROM events FINAL"); got != 1000 {
		t.Errorf("after second recovery: %d events; want 1000", got)
	}
	if got := e.count(t, "SELECT uniqExact(id) FROM events"); got != 1000 {
		t.Errorf("uniqExact(id) = %d; want 1000", got)
	}
	if err := r.svc.Health(); err != nil {
		t.Errorf("Health() = %v after recovery", err)
	}
}

func TestRunRefusesNewerSchema(t *testing.T) {
	e := newEnv(t)
	newer := migrationsWith(t, map[string]string{"9999_future.sql": "CREATE TABLE IF NOT EXISTS future (x UInt8) ENGINE = MergeTree() ORDER BY x"})
	if err := chstore.Migrate(context.Background(), e.conn, newer); err != nil {
		t.Fatal(err)
	}
	svc, err := New(e.config(e.addr), Deps{JS: e.bus.JS, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = svc.Run(ctx)
	if !errors.Is(err, chstore.ErrNewerSchema) || !strings.Contains(err.Error(), "9999_future") {
		t.Fatalf("Run = %v; want ErrNewerSchema naming 9999_future", err)
	}
}
