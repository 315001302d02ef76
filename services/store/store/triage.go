package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/shared/event"
	"github.com/c981/c981/services/store/chstore"
)

// Tables of the triage audit (schemas/clickhouse/0004_triage.sql).
const (
	// TableTriage holds one row per stored triage revision
	// (ReplacingMergeTree(version): FINAL gives the current state).
	TableTriage = "incident_triage"
	// TableIncidentChanges holds one row per event.TriageChange.
	TableIncidentChanges = "incident_changes"
)

// TriageColumns are the incident_triage columns in the order triageRow
// fills them.
var TriageColumns = []string{
	"site", "incident_id", "version", "status", "assignee", "updated_at", "updated_ms", "updated_by",
	"classification", "category", "significant",
	"became_aware_at", "early_warning_at", "notification_at", "final_report_at",
	"impact_confidentiality", "impact_integrity", "impact_availability", "impact_safety", "impact_operations",
	"lessons_learned", "evidence", "note_count", "doc",
}

// ChangeColumns are the incident_changes columns in the order changeRows
// fills them.
var ChangeColumns = []string{"site", "incident_id", "version", "at", "at_ms", "actor", "role", "field", "from_value", "to_value"}

// kvOperation is the header JetStream KV sets on delete and purge markers.
const kvOperation = "KV-Operation"

// triagePrefix is the subject prefix of the triage bucket's keys.
const triagePrefix = "$KV." + bus.KVTriage + "."

// runTriage persists the triage bucket (bus.KVTriage) into ClickHouse: every
// revision of a key becomes an incident_triage row and its change history
// incident_changes rows. It waits for the bucket's stream to exist (the
// console creates it on its first write; a pipeline may create it earlier
// with bus.EnsureBuckets) and acknowledges a revision
// only after both inserts succeeded; a revision that can never be stored is
// dead-lettered with the reason. It returns when ctx ends.
func (s *Service) runTriage(ctx context.Context, conn driver.Conn) error {
	t := table{name: TableTriage, stream: bus.KVTriageStream, durable: bus.ConsumerStoreTriage, waitStream: true}
	cons := s.awaitConsumer(ctx, t)
	if cons == nil { // ctx ended
		return nil
	}
	log := s.log.With("table", TableTriage)
	h := func(ctx context.Context, msg jetstream.Msg) error {
		err := s.storeTriage(ctx, conn, msg)
		if err == nil {
			s.m.messages.WithLabelValues(TableTriage).Inc()
		}
		return err
	}
	err := bus.Consume(ctx, s.deps.JS, cons, h, bus.ConsumeOptions{
		Stage: bus.StageStore, Logger: log, RetryDelay: s.cfg.RetryMin,
		OnPoison: func(jetstream.Msg, error) {
			s.m.deadLetters.WithLabelValues(TableTriage, reasonInvalid).Inc()
		},
	})
	if err != nil {
		return fmt.Errorf("store %s: %w", TableTriage, err)
	}
	return nil
}

// storeTriage inserts one KV revision. Delete and purge markers carry no
// state and are acknowledged without a row. A value that is not a valid
// event.Triage, or that ClickHouse's driver cannot convert, is poison; any
// other insert error is returned for a redelivery.
func (s *Service) storeTriage(ctx context.Context, conn driver.Conn, msg jetstream.Msg) error {
	if op := msg.Headers().Get(kvOperation); op == "DEL" || op == "PURGE" {
		return nil
	}
	key := strings.TrimPrefix(msg.Subject(), triagePrefix)
	tr, err := decodeTriage(key, msg.Data())
	if err != nil {
		return bus.Poison(err)
	}
	row, err := triageRow(&tr, msg.Data())
	if err != nil {
		return bus.Poison(err)
	}
	changes := changeRows(&tr)
	// Changes first: a crash after them and before the state row leaves the
	// audit complete, and the redelivery replaces both (same keys).
	for _, ins := range []struct {
		table   string
		columns []string
		rows    [][]any
	}{{TableIncidentChanges, ChangeColumns, changes}, {TableTriage, TriageColumns, [][]any{row}}} {
		start := time.Now()
		if err := chstore.Insert(ctx, conn, ins.table, ins.columns, ins.rows); err != nil {
			if _, ok := errors.AsType[*chstore.AppendError](err); ok {
				return bus.Poison(fmt.Errorf("triage of incident %s version %d: %w", tr.IncidentID, tr.Version, err))
			}
			s.m.retries.WithLabelValues(ins.table).Inc()
			s.setHealth(TableTriage, err)
			return fmt.Errorf("triage of incident %s version %d: %w", tr.IncidentID, tr.Version, err)
		}
		s.m.insertDur.WithLabelValues(ins.table).Observe(time.Since(start).Seconds())
		s.m.rows.WithLabelValues(ins.table).Add(float64(len(ins.rows)))
	}
	s.setHealth(TableTriage, nil)
	return nil
}

// decodeTriage parses a triage value stored under key and checks the
// contract: the incident id equals the key, a site, a version of at least 1
// and a known status.
func decodeTriage(key string, data []byte) (event.Triage, error) {
	var tr event.Triage
	if err := json.Unmarshal(data, &tr); err != nil {
		return tr, fmt.Errorf("triage %s: %w", key, err)
	}
	var bad []string
	if tr.IncidentID == "" || tr.IncidentID != key {
		bad = append(bad, fmt.Sprintf("incident_id %q does not match the key %q", tr.IncidentID, key))
	}
	if tr.Site == "" {
		bad = append(bad, "site is empty")
	}
	if tr.Version == 0 {
		bad = append(bad, "version is 0 (a stored triage has at least one change)")
	}
	if event.StatusRank(tr.Status) < 0 {
		bad = append(bad, fmt.Sprintf("unknown status %q", tr.Status))
	}
	if len(bad) > 0 {
		return tr, fmt.Errorf("triage %s: %s", key, strings.Join(bad, "; "))
	}
	return tr, nil
}

// dateTime converts t to what a DateTime column stores (UTC seconds) and
// its milliseconds; a time outside DateTime's range is an error.
func dateTime(name string, t time.Time) (time.Time, uint16, error) {
	t = t.UTC()
	if t.Unix() < 0 || t.Unix() > 1<<32-1 {
		return time.Time{}, 0, fmt.Errorf("%s %s is outside ClickHouse DateTime's range", name, t.Format(time.RFC3339Nano))
	}
	return t.Truncate(time.Second), uint16(t.Nanosecond() / int(time.Millisecond)), nil
}

// nullableTime converts an optional time for a Nullable(DateTime) column.
func nullableTime(name string, t *time.Time) (*time.Time, error) {
	if t == nil {
		return nil, nil
	}
	v, _, err := dateTime(name, *t)
	if err != nil {
		return nil, err
	}
	return &v, nil
}

// triageRow maps one triage revision to its incident_triage row; doc is the
// value as stored (kept verbatim in the doc column).
func triageRow(tr *event.Triage, doc []byte) ([]any, error) {
	updated, updatedMs, err := dateTime("updated_at", tr.UpdatedAt)
	if err != nil {
		return nil, fmt.Errorf("triage %s: %w", tr.IncidentID, err)
	}
	is := tr.ISMS
	var times [4]*time.Time
	for i, f := range []struct {
		name string
		t    *time.Time
	}{{"became_aware_at", is.BecameAwareAt}, {"early_warning_at", is.EarlyWarningAt}, {"notification_at", is.NotificationAt}, {"final_report_at", is.FinalReportAt}} {
		if times[i], err = nullableTime(f.name, f.t); err != nil {
			return nil, fmt.Errorf("triage %s: %w", tr.IncidentID, err)
		}
	}
	evidence := is.Evidence
	if evidence == nil {
		evidence = []string{}
	}
	significant := uint8(0)
	if is.Significant {
		significant = 1
	}
	return []any{
		tr.Site, tr.IncidentID, tr.Version, tr.Status, tr.Assignee, updated, updatedMs, tr.UpdatedBy,
		is.Classification, is.Category, significant,
		times[0], times[1], times[2], times[3],
		is.Impact.Confidentiality, is.Impact.Integrity, is.Impact.Availability, is.Impact.Safety, is.Impact.Operations,
		is.LessonsLearned, evidence, uint32(len(tr.Notes)), string(doc),
	}, nil
}

// changeRows maps the triage's whole change history to incident_changes
// rows. Every revision carries the full history, and the table collapses
// identical (site, incident_id, version, field) rows, so revisions the
// consumer never saw (the bucket keeps a bounded number per key) lose no
// change. A change whose time is outside DateTime's range is stored at the
// epoch rather than dropping the audit record.
func changeRows(tr *event.Triage) [][]any {
	rows := make([][]any, 0, len(tr.History))
	for _, c := range tr.History {
		at, ms, err := dateTime("at", c.At)
		if err != nil {
			at, ms = time.Unix(0, 0).UTC(), 0
		}
		rows = append(rows, []any{tr.Site, tr.IncidentID, c.Version, at, ms, c.Actor, c.Role, c.Field, c.From, c.To})
	}
	return rows
}
