package chstore

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/c981/c981/services/shared/event"
)

// Table names.
const (
	TableEvents      = "events"
	TableAlerts      = "alerts"
	TableIncidents   = "incidents"
	TableActions     = "actions"
	TableDeadLetters = "dead_letters"
)

// EventColumns are the events columns in the order EventRow fills them.
var EventColumns = []string{
	"id", "site", "time", "time_ms", "received_at", "received_ms",
	"source", "format", "transport", "peer", "host", "app", "proc_id", "msg_id",
	"facility", "severity", "message", "kind", "category", "action", "outcome", "user",
	"src_ip", "dst_ip", "src_port", "dst_port", "proto", "app_proto", "operation",
	FieldsJSONColumn, "raw",
	"src_known", "src_asset", "src_role", "src_zone", "src_zone_kind", "src_purdue", "src_safety",
	"dst_known", "dst_asset", "dst_role", "dst_zone", "dst_zone_kind", "dst_purdue", "dst_sl_t", "dst_criticality", "dst_safety",
	"flow_cross_zone", "flow_allowed", "flow_conduit", "flow_violation",
	"maint_active", "maint_window", "model_version",
	"peer_identity", "time_raw", "vendor", "product", "signature_id", "signature", "event_code", "techniques",
	"src_mac", "dst_mac", "bytes_out", "bytes_in", "session",
	"flow_new_pair", "flow_purdue_delta", "flow_safety_involved", "maint_work_order",
	"src_asset_name", "src_sl_t", "src_criticality", "dst_asset_name", "flow_id",
	"maint_allowed_ops", "maint_allowed_sources", "maint_allowed_users",
	StoredMSColumn,
}

// AlertColumns are the alerts columns in the order AlertRow fills them.
var AlertColumns = []string{
	"id", "site", "time", "time_ms", "created_at", "rule_id", "rule_title", "severity",
	"techniques", "incident_key", "incident_id", "event_ids", "summary",
	"src_ip", "src_asset", "src_zone", "dst_ip", "dst_asset", "dst_role", "dst_zone", "dst_safety",
	"fields.key", "fields.value",
	"created_ms", StoredMSColumn,
}

// IncidentColumns are the incidents columns in the order IncidentRow fills them.
var IncidentColumns = []string{
	"id", "version", "site", "key", "title", "severity", "status",
	"opened_at", "opened_at_ms", "first_seen", "first_seen_ms", "last_seen", "last_seen_ms", "updated_at",
	"alert_count", "alert_ids", "rule_ids", "techniques", "assets", "zones",
	"target_ip", "target_asset", "target_role", "target_zone", "target_zone_kind",
	"target_purdue", "target_sl_t", "target_criticality", "target_safety", "maint_active",
	"risk", "source_ip", "source_asset", "source_role", "source_zone", "source_zone_kind", "source_purdue",
	"updated_ms", StoredMSColumn,
}

// StoredMSColumn is the events, alerts and incidents column (migration
// 0007) holding the Unix milliseconds at which the store's writer sent the
// insert that stored the row. EventRow, AlertRow and IncidentRow fill it
// with 0 (unknown); the writer overwrites it just before every insert
// attempt (SetStoredMS).
const StoredMSColumn = "stored_ms"

// SetStoredMS sets column col of every row to the Unix milliseconds of t
// (one boxed value shared by all rows: no allocation per row), and the
// stored time of every EventRef row. col < 0 leaves the rows unchanged.
func SetStoredMS(rows [][]any, col int, t time.Time) {
	if col < 0 {
		return
	}
	var v any = t.UnixMilli()
	for _, r := range rows {
		if isRef(r) {
			r[refStored] = v
			continue
		}
		r[col] = v
	}
}

// unknownStored is the stored_ms of a row not yet inserted by the writer.
var unknownStored any = int64(0)

// ActionColumns are the actions columns in the order ActionRows fills them.
var ActionColumns = []string{
	"plan_id", "incident_id", "incident_version", "site", "playbook_id", "playbook_title",
	"created_at", "created_ms", "step_index", "step_id", "kind", "action", "class",
	"audience", "text", "decision", "reason", "approvers",
	"automatic", "quorum", "timeout_s",
}

// DeadLetterColumns are the dead_letters columns in the order DeadLetterRow fills them.
var DeadLetterColumns = []string{
	"id", "time", "time_ms", "stage", "site", "source", "reason", "payload", "position",
}

// InsertQuery returns "INSERT INTO table (`a`, `b`, ...)" with the explicit
// column list PrepareBatch needs.
func InsertQuery(table string, columns []string) string {
	var b strings.Builder
	b.WriteString("INSERT INTO ")
	b.WriteString(quoteIdent(table))
	b.WriteString(" (")
	for i, c := range columns {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(quoteIdent(c))
	}
	b.WriteString(")")
	return b.String()
}

// ErrInvalidRow marks a record that cannot be stored as it is (a contract
// violation the server would reject or silently corrupt).
var ErrInvalidRow = errors.New("invalid row")

// rowErrors collects the problems of one record.
type rowErrors []string

func (r *rowErrors) add(format string, args ...any) { *r = append(*r, fmt.Sprintf(format, args...)) }

func (r rowErrors) err(kind, id string) error {
	if len(r) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s %q: %s", ErrInvalidRow, kind, id, strings.Join(r, "; "))
}

// ZeroUUID is stored for optional UUID references that are empty.
const ZeroUUID = "00000000-0000-0000-0000-000000000000"

// ValidUUID reports whether s is a UUID in canonical 8-4-4-4-12 hex form.
func ValidUUID(s string) bool {
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return false
	}
	ok := uint8(1)
	for _, i := range uuidHexAt {
		ok &= isHex[s[i]]
	}
	return ok == 1
}

// uuidHexAt are the positions of the hex digits of a canonical UUID.
var uuidHexAt = [32]uint8{
	0, 1, 2, 3, 4, 5, 6, 7,
	9, 10, 11, 12,
	14, 15, 16, 17,
	19, 20, 21, 22,
	24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35,
}

// isHex is 1 for the bytes 0-9, a-f and A-F, 0 for the others.
var isHex = func() (t [256]uint8) {
	for _, r := range "0123456789abcdefABCDEF" {
		t[r] = 1
	}
	return t
}()

func (r *rowErrors) uuid(col, s string, optional bool) string {
	if s == "" && optional {
		return ZeroUUID
	}
	if !ValidUUID(s) {
		r.add("%s %q is not a UUID", col, s)
		return ZeroUUID
	}
	return strings.ToLower(s)
}

func (r *rowErrors) uint16(col string, v int) uint16 {
	if v < 0 || v > math.MaxUint16 {
		r.add("%s %d out of range 0..65535", col, v)
		return 0
	}
	return uint16(v)
}

func (r *rowErrors) uint8(col string, v int) uint8 {
	if v < 0 || v > math.MaxUint8 {
		r.add("%s %d out of range 0..255", col, v)
		return 0
	}
	return uint8(v)
}

func (r *rowErrors) int8(col string, v int) int8 {
	if v < math.MinInt8 || v > math.MaxInt8 {
		r.add("%s %d out of range -128..127", col, v)
		return 0
	}
	return int8(v)
}

func (r *rowErrors) uint32(col string, v int) uint32 {
	if v < 0 || int64(v) > math.MaxUint32 {
		r.add("%s %d out of range 0..4294967295", col, v)
		return 0
	}
	return uint32(v)
}

func (r *rowErrors) uint64(col string, v int64) uint64 {
	if v < 0 {
		r.add("%s %d is negative", col, v)
		return 0
	}
	return uint64(v)
}

func (r *rowErrors) enum(col, v string, allowed ...string) string {
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	r.add("%s %q is not one of %s", col, v, strings.Join(allowed, ", "))
	return allowed[0]
}

func (r *rowErrors) float32(col string, v float64) float32 {
	if math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) > math.MaxFloat32 {
		r.add("%s %v is not a finite Float32", col, v)
		return 0
	}
	return float32(v)
}

// DateTime bounds: ClickHouse DateTime is an unsigned 32-bit Unix time.
var (
	minDateTime = time.Unix(0, 0).UTC()
	maxDateTime = time.Unix(math.MaxUint32, 0).UTC()
)

// DateTime splits t into the DateTime (UTC, whole seconds) and millisecond
// values of a time column pair. Times outside the DateTime range (before
// 1970, after 2106, or the zero time) are clamped to its bounds so that a
// device with a wrong clock does not lose its record; the raw record keeps
// the original text.
func DateTime(t time.Time) (time.Time, uint16) {
	s, ms := unixDateTime(t)
	return time.Unix(s, 0).UTC(), ms
}

// NestedKV returns the keys of m sorted and the matching values: the
// `x.key` and `x.value` arrays of a Nested(key String, value String) column.
// A nil or empty map gives two empty (non-nil) arrays.
func NestedKV(m map[string]string) (keys, values []string) {
	buf := make([]string, 2*len(m)) // one allocation for both arrays
	keys, values = buf[:0:len(m)], buf[len(m):]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for i, k := range keys {
		values[i] = m[k]
	}
	return keys, values
}

// emptyStrings is an empty Array(String) value, boxed once: EventRow
// returns it for every empty array instead of boxing a new slice header.
var emptyStrings any = []string{}

// strsAny is strs boxed, sharing emptyStrings for empty arrays.
func strsAny(s []string) any {
	if len(s) == 0 {
		return emptyStrings
	}
	return s
}

func strs(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func b8(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

var (
	severities = []string{event.SevInfo, event.SevLow, event.SevMedium, event.SevHigh, event.SevCritical}
	statuses   = []string{event.StatusNew, event.StatusAcknowledged, event.StatusInvestigating, event.StatusContained, event.StatusResolved, event.StatusClosed}
	classes    = []string{event.ClassPassive, event.ClassBoundary, event.ClassIntrusive}
	decisions  = []string{event.DecisionAllowed, event.DecisionNeedsApproval, event.DecisionForbidden}
)

// EventRow maps an event onto EventColumns. It returns an error wrapping
// ErrInvalidRow when the event cannot be stored (id not a UUID, port or
// facility out of range, ...).
//
// String columns are returned as pointers into e (*string), which the
// driver appends like strings: boxing a pointer allocates nothing, and the
// store maps millions of events. The row therefore aliases e, which must
// not change until the row is inserted. CheckEvent repeats its checks, and
// eventColumns its conversions (InsertEvents, EventRef): keep them in step.
func EventRow(e *event.Event) ([]any, error) {
	var r rowErrors
	var id any = r.uuid("id", e.ID, false)
	if id == e.ID {
		id = &e.ID // already canonical: no copy
	}
	t, tms := DateTime(e.Time)
	rt, rms := DateTime(e.ReceivedAt)
	var fields any = fieldsJSON(e)
	row := []any{
		id, &e.Site, t, tms, rt, rms,
		&e.Source, &e.Format, &e.Transport, &e.Peer, &e.Host, &e.App, &e.ProcID, &e.MsgID,
		r.int8("facility", e.Facility), r.int8("severity", e.Severity), &e.Message, &e.Kind, &e.Category, &e.Action, &e.Outcome, &e.User,
		&e.SrcIP, &e.DstIP, r.uint16("src_port", e.SrcPort), r.uint16("dst_port", e.DstPort), &e.Proto, &e.AppProto, &e.Operation,
		fields, &e.Raw,
		b8(e.Src.Known), &e.Src.AssetID, &e.Src.Role, &e.Src.Zone, &e.Src.ZoneKind, r.float32("src_purdue", e.Src.Purdue), b8(e.Src.Safety),
		b8(e.Dst.Known), &e.Dst.AssetID, &e.Dst.Role, &e.Dst.Zone, &e.Dst.ZoneKind, r.float32("dst_purdue", e.Dst.Purdue), r.uint8("dst_sl_t", e.Dst.SLT), &e.Dst.Criticality, b8(e.Dst.Safety),
		b8(e.Flow.CrossZone), b8(e.Flow.Allowed), &e.Flow.Conduit, &e.Flow.Violation,
		b8(e.Maint.Active), &e.Maint.WindowID, r.uint32("model_version", e.ModelVersion),
		&e.PeerIdentity, &e.TimeRaw, &e.Vendor, &e.Product, &e.SignatureID, &e.Signature, &e.EventCode, strsAny(e.Techniques),
		&e.SrcMAC, &e.DstMAC, r.uint64("bytes_out", e.BytesOut), r.uint64("bytes_in", e.BytesIn), &e.Session,
		b8(e.Flow.NewPair), r.float32("flow_purdue_delta", e.Flow.PurdueDelta), b8(e.Flow.SafetyInvolved), &e.Maint.WorkOrder,
		&e.Src.AssetName, r.uint8("src_sl_t", e.Src.SLT), &e.Src.Criticality, &e.Dst.AssetName, &e.Flow.FlowID,
		strsAny(e.Maint.AllowedOps), strsAny(e.Maint.AllowedSources), strsAny(e.Maint.AllowedUsers),
		unknownStored,
	}
	if err := r.err("event", e.ID); err != nil {
		return nil, err
	}
	return row, nil
}

// AlertRow maps an alert onto AlertColumns. An empty IncidentID is stored
// as ZeroUUID.
func AlertRow(a *event.Alert) ([]any, error) {
	var r rowErrors
	id := r.uuid("id", a.ID, false)
	t, tms := DateTime(a.Time)
	ct, cms := DateTime(a.CreatedAt)
	keys, vals := NestedKV(a.Fields)
	row := []any{
		id, a.Site, t, tms, ct, a.RuleID, a.RuleTitle, r.enum("severity", a.Severity, severities...),
		strs(a.Techniques), a.IncidentKey, r.uuid("incident_id", a.IncidentID, true), strs(a.EventIDs), a.Summary,
		a.Src.IP, a.Src.AssetID, a.Src.Zone, a.Dst.IP, a.Dst.AssetID, a.Dst.Role, a.Dst.Zone, b8(a.Dst.Safety),
		keys, vals,
		cms, unknownStored,
	}
	if err := r.err("alert", a.ID); err != nil {
		return nil, err
	}
	return row, nil
}

// alertCount is the number of alerts of an incident: AlertCount (AlertIDs
// keeps only the first and last ids), or for a version written before
// AlertCount existed the length of AlertIDs (it held every id then).
func alertCount(in *event.Incident) int {
	if in.AlertCount > 0 {
		return in.AlertCount
	}
	return len(in.AlertIDs)
}

// IncidentRow maps an incident version onto IncidentColumns.
func IncidentRow(in *event.Incident) ([]any, error) {
	var r rowErrors
	id := r.uuid("id", in.ID, false)
	oa, oms := DateTime(in.OpenedAt)
	fs, fms := DateTime(in.FirstSeen)
	ls, lms := DateTime(in.LastSeen)
	ut, ums := DateTime(in.UpdatedAt)
	row := []any{
		id, in.Version, in.Site, in.Key, in.Title, r.enum("severity", in.Severity, severities...), r.enum("status", in.Status, statuses...),
		oa, oms, fs, fms, ls, lms, ut,
		r.uint32("alert_count", alertCount(in)), strs(in.AlertIDs), strs(in.RuleIDs), strs(in.Techniques), strs(in.Assets), strs(in.Zones),
		in.Target.IP, in.Target.AssetID, in.Target.Role, in.Target.Zone, in.Target.ZoneKind,
		r.float32("target_purdue", in.Target.Purdue), r.uint8("target_sl_t", in.Target.SLT), in.Target.Criticality, b8(in.Target.Safety), b8(in.MaintActive),
		r.uint8("risk", in.Risk), in.Source.IP, in.Source.AssetID, in.Source.Role, in.Source.Zone, in.Source.ZoneKind, r.float32("source_purdue", in.Source.Purdue),
		ums, unknownStored,
	}
	if err := r.err("incident", in.ID); err != nil {
		return nil, err
	}
	return row, nil
}

// ActionRows maps a response plan onto ActionColumns, one row per step (a
// plan without steps gives no rows). Any invalid step rejects the plan.
func ActionRows(p *event.Plan) ([][]any, error) {
	var r rowErrors
	planID := r.uuid("plan_id", p.ID, false)
	incID := r.uuid("incident_id", p.IncidentID, false)
	ct, cms := DateTime(p.CreatedAt)
	rows := make([][]any, 0, len(p.Steps))
	for i := range p.Steps {
		s := &p.Steps[i]
		rows = append(rows, []any{
			planID, incID, p.IncidentVersion, p.Site, p.PlaybookID, p.PlaybookTitle,
			ct, cms, r.uint16(fmt.Sprintf("steps[%d].index", i), s.Index), s.ID, s.Kind, s.Action,
			r.enum(fmt.Sprintf("steps[%d].class", i), s.Class, classes...),
			s.Audience, s.Text, r.enum(fmt.Sprintf("steps[%d].decision", i), s.Decision, decisions...), s.Reason, strs(s.Approvers),
			b8(s.Automatic), r.uint8(fmt.Sprintf("steps[%d].quorum", i), s.Quorum), r.uint32(fmt.Sprintf("steps[%d].timeout_s", i), s.TimeoutSeconds),
		})
	}
	if err := r.err("plan", p.ID); err != nil {
		return nil, err
	}
	return rows, nil
}

// DeadLetterRow maps a dead letter onto DeadLetterColumns. It never fails:
// a dead letter must always be storable, so an id that is not a UUID is
// replaced by one derived from the record and an empty stage is stored as
// "unknown".
func DeadLetterRow(d *event.DeadLetter) []any {
	id := strings.ToLower(d.ID)
	if !ValidUUID(id) {
		id = event.NewID("dead-letter", d.ID, d.Stage, d.Position, d.Reason, d.Payload)
	}
	stage := d.Stage
	if stage == "" {
		stage = "unknown"
	}
	t, tms := DateTime(d.Time)
	return []any{id, t, tms, stage, d.Site, d.Source, d.Reason, d.Payload, d.Position}
}
