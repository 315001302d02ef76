package event

//msgp:tag json
//msgp:timezone utc
// Corrupt input must not make the decoder allocate what a header claims:
// no legitimate array or map in an 8 MiB message has 2^18 elements.
//msgp:limit arrays:262144 maps:262144

import (
	"time"
)

// Event kinds: what an event describes.
const (
	KindLog   = "log"   // a plain log line
	KindFlow  = "flow"  // a network connection or session between two endpoints
	KindAlert = "alert" // a detection raised by a sensor
	KindAuth  = "auth"  // an authentication attempt
)

// Event is one normalized record. Ingest fills the fields it can parse;
// enrichment fills Src, Dst, Flow and Maint.
type Event struct {
	// ID is a deterministic UUID assigned once at first receipt (see NewID);
	// it is the idempotency key all the way to ClickHouse.
	ID string `json:"id" expr:"id"`
	// Time is the event time (UTC) taken from the record, or ReceivedAt when
	// the record has none.
	Time time.Time `json:"time" expr:"time"`
	// ReceivedAt is when ingest read the record (UTC).
	ReceivedAt time.Time `json:"received_at" expr:"received_at"`
	// Site is the site id the event belongs to (from the listener's config).
	Site string `json:"site" expr:"site"`
	// Source names the ingest listener or input that produced the event.
	Source string `json:"source" expr:"source"`
	// Format is the detected wire format: rfc5424, rfc3164, cef, leef, json...
	Format string `json:"format" expr:"format"`
	// Transport is how the record arrived: udp, tcp, tls, http, nats, file.
	Transport string `json:"transport" expr:"transport"`
	// Peer is the sender's network address as seen by the listener.
	Peer string `json:"peer,omitempty" expr:"peer"`
	// PeerIdentity is the authenticated identity of the sender (the TLS
	// client certificate's subject or SAN), empty for unauthenticated input.
	PeerIdentity string `json:"peer_identity,omitempty" expr:"peer_identity"`
	// TimeRaw is the record's timestamp exactly as it appeared in the input.
	TimeRaw string `json:"time_raw,omitempty" expr:"time_raw"`

	// Host is the HOSTNAME of the syslog header (as claimed by the sender).
	Host string `json:"host,omitempty" expr:"host"`
	// App is the syslog APP-NAME or TAG.
	App string `json:"app,omitempty" expr:"app"`
	// ProcID is the syslog PROCID.
	ProcID string `json:"proc_id,omitempty" expr:"proc_id"`
	// MsgID is the syslog MSGID.
	MsgID string `json:"msg_id,omitempty" expr:"msg_id"`
	// Facility is the syslog facility (0-23), -1 when absent.
	Facility int `json:"facility" expr:"facility"`
	// Severity is the syslog severity (0 emergency .. 7 debug), -1 when absent.
	Severity int `json:"severity" expr:"severity"`
	// Message is the free-text message part.
	Message string `json:"message,omitempty" expr:"message"`
	// Vendor and Product name the device or sensor that produced the record
	// (CEF/LEEF header, sensor type).
	Vendor  string `json:"vendor,omitempty" expr:"vendor"`
	Product string `json:"product,omitempty" expr:"product"`
	// SignatureID and Signature identify the source's own detection or
	// event class (CEF signature id and name, Suricata signature, Zeek note).
	SignatureID string `json:"signature_id,omitempty" expr:"signature_id"`
	Signature   string `json:"signature,omitempty" expr:"signature"`
	// EventCode is the source's numeric event code (Windows event id 4720, ...).
	EventCode string `json:"event_code,omitempty" expr:"event_code"`
	// Techniques are MITRE ATT&CK ids the source attached to the record.
	Techniques []string `json:"techniques,omitempty" expr:"techniques"`

	// Kind is one of the Kind* constants.
	Kind string `json:"kind" expr:"kind"`
	// Category classifies the activity (authentication, network, process,
	// remote_access, malware, new_asset, ...).
	Category string `json:"category,omitempty" expr:"category"`
	// Action is what happened (allow, deny, login, program_download, ...).
	Action string `json:"action,omitempty" expr:"action"`
	// Outcome is success, failure or unknown.
	Outcome string `json:"outcome,omitempty" expr:"outcome"`
	// User is the account involved, if any.
	User string `json:"user,omitempty" expr:"user"`

	// SrcIP and DstIP are the network endpoints in canonical text form.
	SrcIP string `json:"src_ip,omitempty" expr:"src_ip"`
	DstIP string `json:"dst_ip,omitempty" expr:"dst_ip"`
	// SrcMAC and DstMAC are the hardware addresses, lower-case colon form.
	SrcMAC string `json:"src_mac,omitempty" expr:"src_mac"`
	DstMAC string `json:"dst_mac,omitempty" expr:"dst_mac"`
	// SrcPort and DstPort are transport ports, 0 when unknown.
	SrcPort int `json:"src_port,omitempty" expr:"src_port"`
	DstPort int `json:"dst_port,omitempty" expr:"dst_port"`
	// Proto is the transport protocol: tcp, udp, icmp.
	Proto string `json:"proto,omitempty" expr:"proto"`
	// AppProto is the application protocol: modbus, enip, s7comm, dnp3, rdp...
	AppProto string `json:"app_proto,omitempty" expr:"app_proto"`
	// BytesOut and BytesIn are the bytes sent by the source and by the
	// destination of a flow, 0 when unknown.
	BytesOut int64 `json:"bytes_out,omitempty" expr:"bytes_out"`
	BytesIn  int64 `json:"bytes_in,omitempty" expr:"bytes_in"`
	// Session identifies a remote-access or login session chain, when the
	// source reports one.
	Session string `json:"session,omitempty" expr:"session"`
	// Operation is the normalized OT operation (read, write, program_download,
	// mode_change, firmware_update, ...), empty when not an OT command.
	Operation string `json:"operation,omitempty" expr:"operation"`

	// Fields holds every other key/value the parser extracted (structured
	// data params, key=value pairs). Keys are flat strings.
	Fields map[string]string `json:"fields,omitempty" expr:"fields"`
	// Raw is the original record as received.
	Raw string `json:"raw" expr:"raw"`

	// Src and Dst are the enrichment context of the endpoints.
	Src Endpoint `json:"src" expr:"src"`
	Dst Endpoint `json:"dst" expr:"dst"`
	// Flow says whether a conduit allows the src->dst communication.
	Flow Flow `json:"flow" expr:"flow"`
	// Maint describes the maintenance window covering the destination.
	Maint Maint `json:"maint" expr:"maint"`
	// ModelVersion is the version of the site model used for enrichment.
	ModelVersion int `json:"model_version,omitempty" expr:"model_version"`

	// fieldsRaw, when not nil, holds the MessagePack map of Fields as it
	// was in the message (validated, undecoded): UnmarshalEventsRawFields
	// leaves Fields nil and sets it (see RangeFields). It is no part of
	// any encoding (msgp and compactgen skip unexported fields). It points
	// into a slice allocated once per batch, so that the raw form costs an
	// Event one word, not a slice header, and reflection-based code that
	// sets every string, slice and map of an Event (tests of other
	// stages) leaves it alone.
	fieldsRaw *[]byte
	// fieldsPairs, when not nil, holds the fields as key/value pairs with
	// Fields nil (SetFieldPairs): k0, v0, k1, v1, ..., distinct keys in
	// the order the parser added them. The ingest parser fills it instead
	// of a map, and the compact encoder writes it as the map it stands
	// for, so that a parsed event costs no map on its way to the bus. Like
	// fieldsRaw it is no part of any encoding (compactgen writes it as
	// Fields, see appendStringPairs) and takes an Event one word.
	fieldsPairs *[]string
}

// Endpoint is the zone context of one side of an event.
type Endpoint struct {
	// IP is the endpoint address (copied from the event).
	IP string `json:"ip,omitempty" expr:"ip"`
	// Known is true when the address belongs to an inventoried asset.
	Known bool `json:"known" expr:"known"`
	// AssetID is the asset id, "" when unknown.
	AssetID string `json:"asset_id,omitempty" expr:"asset_id"`
	// AssetName is the human name of the asset.
	AssetName string `json:"asset_name,omitempty" expr:"asset_name"`
	// Role is the asset role (plc, sis, hmi, ews, ...), "unknown" when not inventoried.
	Role string `json:"role,omitempty" expr:"role"`
	// Zone is the zone id, "unknown" when no zone CIDR contains the address.
	Zone string `json:"zone,omitempty" expr:"zone"`
	// ZoneKind is the zone kind (enterprise, dmz, control, safety, ...).
	ZoneKind string `json:"zone_kind,omitempty" expr:"zone_kind"`
	// Purdue is the Purdue level as a decimal; -1 when unknown.
	Purdue float64 `json:"purdue" expr:"purdue"`
	// SLT is the zone's target security level (1-4), 0 when unknown.
	SLT int `json:"sl_t" expr:"sl_t"`
	// Criticality is critical, high, medium or low ("" when unknown).
	Criticality string `json:"criticality,omitempty" expr:"criticality"`
	// Safety is true for safety systems (SIS) and safety zones.
	Safety bool `json:"safety" expr:"safety"`
}

// Flow is the conduit verdict for an event with both endpoints.
type Flow struct {
	// CrossZone is true when source and destination are in different zones.
	CrossZone bool `json:"cross_zone" expr:"cross_zone"`
	// Allowed is true when a conduit flow permits the communication (always
	// true inside one zone).
	Allowed bool `json:"allowed" expr:"allowed"`
	// Conduit is the id of the conduit that allows it, if any.
	Conduit string `json:"conduit,omitempty" expr:"conduit"`
	// FlowID is the id of the matching flow rule inside the conduit.
	FlowID string `json:"flow_id,omitempty" expr:"flow_id"`
	// Violation explains why no conduit allows a cross-zone flow.
	Violation string `json:"violation,omitempty" expr:"violation"`
	// NewPair is true for the first flow seen between the two endpoints
	// since the enrich stage started (or since its pair memory was full).
	NewPair bool `json:"new_pair" expr:"new_pair"`
	// PurdueDelta is the source's Purdue level minus the destination's
	// (positive: traffic going down toward the process); 0 when either is
	// unknown.
	PurdueDelta float64 `json:"purdue_delta" expr:"purdue_delta"`
	// SafetyInvolved is true when either endpoint is a safety system.
	SafetyInvolved bool `json:"safety_involved" expr:"safety_involved"`
}

// Maint is the maintenance-window context at event time.
type Maint struct {
	// Active is true when a window covering the destination is open.
	Active bool `json:"active" expr:"active"`
	// WindowID is the open window's id.
	WindowID string `json:"window_id,omitempty" expr:"window_id"`
	// AllowedOps lists the operations the window allows.
	AllowedOps []string `json:"allowed_ops,omitempty" expr:"allowed_ops"`
	// WorkOrder is the open window's work-order reference.
	WorkOrder string `json:"work_order,omitempty" expr:"work_order"`
	// AllowedSources are the asset ids (or IPs) allowed to do the work.
	AllowedSources []string `json:"allowed_sources,omitempty" expr:"allowed_sources"`
	// AllowedUsers are the accounts allowed to do the work.
	AllowedUsers []string `json:"allowed_users,omitempty" expr:"allowed_users"`
}

// Severity levels for alerts and incidents, lowest first.
const (
	SevInfo     = "info"
	SevLow      = "low"
	SevMedium   = "medium"
	SevHigh     = "high"
	SevCritical = "critical"
)

// SeverityRank orders severities: info 0 .. critical 4; unknown is -1.
func SeverityRank(s string) int {
	switch s {
	case SevInfo:
		return 0
	case SevLow:
		return 1
	case SevMedium:
		return 2
	case SevHigh:
		return 3
	case SevCritical:
		return 4
	}
	return -1
}

// Alert is raised by a rule for one or more events.
type Alert struct {
	// ID is deterministic: NewID("alert", rule id, event id) for match rules.
	ID string `json:"id"`
	// Time is the event time of the triggering event.
	Time time.Time `json:"time"`
	// CreatedAt is when the correlator raised it.
	CreatedAt time.Time `json:"created_at"`
	Site      string    `json:"site"`
	RuleID    string    `json:"rule_id"`
	RuleTitle string    `json:"rule_title"`
	Severity  string    `json:"severity"`
	// Techniques are MITRE ATT&CK for ICS ids (T0843, ...).
	Techniques []string `json:"techniques,omitempty"`
	// IncidentKey groups alerts into one incident.
	IncidentKey string `json:"incident_key"`
	// IncidentID is the incident this alert was assigned to.
	IncidentID string `json:"incident_id"`
	// EventIDs are the contributing events.
	EventIDs []string `json:"event_ids"`
	// Summary is a one-line human description.
	Summary string `json:"summary"`
	// Src and Dst are copied from the triggering event.
	Src Endpoint `json:"src"`
	Dst Endpoint `json:"dst"`
	// Fields are the event fields the rule copies into the alert.
	Fields map[string]string `json:"fields,omitempty"`
}

// Incident statuses in their lifecycle order.
const (
	StatusNew           = "new"
	StatusAcknowledged  = "acknowledged"
	StatusInvestigating = "investigating"
	StatusContained     = "contained"
	StatusResolved      = "resolved"
	StatusClosed        = "closed"
)

// Incident groups alerts that share an incident key. Each change is a new
// version of the same id; the latest version is the current state.
type Incident struct {
	ID      string `json:"id" expr:"id"`
	Version uint64 `json:"version" expr:"version"`
	Site    string `json:"site" expr:"site"`
	Key     string `json:"key" expr:"key"`
	Title   string `json:"title" expr:"title"`
	// Severity is the highest severity of its alerts.
	Severity string `json:"severity" expr:"severity"`
	Status   string `json:"status" expr:"status"`
	// OpenedAt is the event time of the alert that opened the incident. It
	// never changes across versions, so every version of an incident stays
	// in the same ClickHouse partition.
	OpenedAt time.Time `json:"opened_at" expr:"opened_at"`
	// FirstSeen and LastSeen are the event-time bounds of its alerts.
	FirstSeen time.Time `json:"first_seen" expr:"first_seen"`
	LastSeen  time.Time `json:"last_seen" expr:"last_seen"`
	UpdatedAt time.Time `json:"updated_at" expr:"updated_at"`
	// AlertIDs are the ids of the incident's first 50 and its last 50
	// alerts, in the order they joined (all of them while AlertCount is at
	// most 100): an incident version stays the same size however many
	// alerts it has. The alerts table has every alert with its IncidentID.
	AlertIDs []string `json:"alert_ids" expr:"alert_ids"`
	// AlertCount is the number of alerts of the incident (0 in records
	// written before it existed: count AlertIDs then).
	AlertCount int `json:"alert_count,omitempty" expr:"alert_count"`
	// RuleIDs and Techniques accumulate over the incident's life.
	RuleIDs    []string `json:"rule_ids" expr:"rule_ids"`
	Techniques []string `json:"techniques,omitempty" expr:"techniques"`
	// Assets and Zones are the affected asset and zone ids.
	Assets []string `json:"assets,omitempty" expr:"assets"`
	Zones  []string `json:"zones,omitempty" expr:"zones"`
	// Risk (0-100) combines the highest rule severity with the zone context
	// of the target: safety involvement, criticality, SL-T and Purdue level.
	Risk int `json:"risk" expr:"risk"`
	// Source is the zone context of the endpoint that initiated the activity
	// against Target (the other side of the most critical alert).
	Source Endpoint `json:"source" expr:"source"`
	// Target is the zone context of the most critical affected endpoint,
	// the one response playbooks are evaluated against.
	Target Endpoint `json:"target" expr:"target"`
	// MaintActive is true when the target was in an open maintenance window.
	MaintActive bool `json:"maint_active" expr:"maint_active"`
}

// Step decisions of the response constraint engine.
const (
	DecisionAllowed       = "allowed"
	DecisionNeedsApproval = "needs_approval"
	DecisionForbidden     = "forbidden"
)

// Action classes of playbook steps.
const (
	ClassPassive   = "passive"
	ClassBoundary  = "boundary"
	ClassIntrusive = "intrusive"
)

// Plan is the response plan a playbook produced for one incident version.
type Plan struct {
	ID              string    `json:"id"`
	IncidentID      string    `json:"incident_id"`
	IncidentVersion uint64    `json:"incident_version"`
	Site            string    `json:"site"`
	PlaybookID      string    `json:"playbook_id"`
	PlaybookTitle   string    `json:"playbook_title"`
	CreatedAt       time.Time `json:"created_at"`
	Steps           []Step    `json:"steps"`
}

// Step is one playbook step with the constraint engine's decision. Each step
// is also stored as an action audit record.
type Step struct {
	Index    int    `json:"index"`
	ID       string `json:"id"`
	Kind     string `json:"kind"` // guidance, notify, approval, action
	Action   string `json:"action,omitempty"`
	Class    string `json:"class"`
	Audience string `json:"audience,omitempty"`
	Text     string `json:"text"`
	// Automatic is true when the playbook asked for the step to run without
	// a person; Decision says whether that is allowed.
	Automatic bool   `json:"automatic"`
	Decision  string `json:"decision"`
	Reason    string `json:"reason"`
	// Quorum is how many distinct people must approve (0: none).
	Quorum int `json:"quorum,omitempty"`
	// TimeoutSeconds bounds the wait for approval; when it passes, nothing
	// is done to the process and notification continues.
	TimeoutSeconds int `json:"timeout_s,omitempty"`
	// Approvers are the roles whose approval the step needs.
	Approvers []string `json:"approvers,omitempty"`
}

// DeadLetter is a record a stage could not process, with the reason.
type DeadLetter struct {
	ID       string    `json:"id"`
	Time     time.Time `json:"time"`
	Stage    string    `json:"stage"`
	Site     string    `json:"site,omitempty"`
	Source   string    `json:"source,omitempty"`
	Reason   string    `json:"reason"`
	Payload  string    `json:"payload"`
	Position string    `json:"position,omitempty"` // e.g. "line 12" or "udp 10.0.0.1:514"
}
