package chstore

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// TableAudit is the table of the response audit chains (0003_audit.sql). It
// is append-only and not in Tables: no retention ever drops its partitions.
const TableAudit = "audit"

// AuditRecord is one response audit record as the respond stage publishes it
// on C981_AUDIT (the JSON of services/respond/audit.Record, field for field;
// the store does not depend on the respond module).
type AuditRecord struct {
	ID              string    `json:"id"`
	Site            string    `json:"site"`
	Seq             uint64    `json:"seq"`
	Time            time.Time `json:"time"`
	Actor           string    `json:"actor"`
	ActorRole       string    `json:"actor_role,omitempty"`
	Kind            string    `json:"kind"`
	What            string    `json:"what"`
	Why             string    `json:"why"`
	Result          string    `json:"result"`
	IncidentID      string    `json:"incident_id,omitempty"`
	IncidentVersion uint64    `json:"incident_version,omitempty"`
	PlanID          string    `json:"plan_id,omitempty"`
	StepID          string    `json:"step_id,omitempty"`
	InputsHash      string    `json:"inputs_hash"`
	PrevHash        string    `json:"prev_hash"`
	Hash            string    `json:"hash,omitempty"`
}

// AuditColumns are the audit columns in the order AuditRow fills them.
var AuditColumns = []string{
	"site", "seq", "id", "time", "time_ns", "actor", "actor_role", "kind", "what", "why", "result",
	"incident_id", "incident_version", "plan_id", "step_id", "inputs_hash", "prev_hash", "hash",
}

// AuditRow maps an audit record to its row. The time is stored exactly
// (seconds and nanoseconds) since the record's hash covers it. A record
// without a UUID id, a site, a 1-based seq, a time in DateTime's range or well-formed
// hashes is an ErrInvalidRow.
func AuditRow(r *AuditRecord) ([]any, error) {
	var bad rowErrors
	if !ValidUUID(r.ID) {
		bad.add("id %q is not a UUID", r.ID)
	}
	if r.Site == "" {
		bad.add("site is empty")
	}
	if r.Seq == 0 {
		bad.add("seq is 0 (chains start at 1)")
	}
	t := r.Time.UTC()
	if t.Unix() < 0 || t.After(maxDateTime) {
		bad.add("time %s is outside ClickHouse DateTime's range", r.Time.Format(time.RFC3339Nano))
	}
	for name, h := range map[string]string{"hash": r.Hash, "prev_hash": r.PrevHash} {
		if !hexHash(h) {
			bad.add("%s %q is not a hex SHA-256", name, h)
		}
	}
	if err := bad.err("audit record", r.ID); err != nil {
		return nil, err
	}
	return []any{
		r.Site, r.Seq, r.ID, t.Truncate(time.Second), uint32(t.Nanosecond()), r.Actor, r.ActorRole, r.Kind, r.What, r.Why, r.Result,
		r.IncidentID, r.IncidentVersion, r.PlanID, r.StepID, r.InputsHash, r.PrevHash, r.Hash,
	}, nil
}

func hexHash(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// ReadAudit returns every stored row of site's audit chain in seq order,
// without FINAL: a record inserted twice unchanged (a redelivery not merged
// yet) appears twice, and a modified copy appears beside the original, so
// that the caller sees everything the table holds.
func ReadAudit(ctx context.Context, conn driver.Conn, site string) ([]AuditRecord, error) {
	q := "SELECT " + selectList(AuditColumns) + " FROM " + quoteIdent(TableAudit) + " WHERE site = ? ORDER BY seq, id, hash"
	rows, err := conn.Query(ctx, q, site)
	if err != nil {
		return nil, fmt.Errorf("read audit of %s: %w", site, err)
	}
	defer rows.Close()
	var out []AuditRecord
	for rows.Next() {
		var (
			r  AuditRecord
			t  time.Time
			ns uint32
		)
		if err := rows.Scan(&r.Site, &r.Seq, &r.ID, &t, &ns, &r.Actor, &r.ActorRole, &r.Kind, &r.What, &r.Why, &r.Result,
			&r.IncidentID, &r.IncidentVersion, &r.PlanID, &r.StepID, &r.InputsHash, &r.PrevHash, &r.Hash); err != nil {
			return nil, fmt.Errorf("read audit of %s: %w", site, err)
		}
		r.Time = time.Unix(t.Unix(), int64(ns)).UTC()
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read audit of %s: %w", site, err)
	}
	return out, nil
}

func selectList(cols []string) string {
	s := ""
	for i, c := range cols {
		if i > 0 {
			s += ", "
		}
		s += quoteIdent(c)
	}
	return s
}
