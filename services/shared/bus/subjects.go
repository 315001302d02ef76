package bus

import (
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Stream names.
const (
	StreamRaw       = "C981_RAW"
	StreamEvents    = "C981_EVENTS"
	StreamAlerts    = "C981_ALERTS"
	StreamIncidents = "C981_INCIDENTS"
	StreamActions   = "C981_ACTIONS"
	StreamDLQ       = "C981_DLQ"
	// StreamAudit holds the response audit chains (c981.audit.<site>). The
	// respond stage creates it and owns its configuration (no age limit,
	// deny delete and purge); see services/respond/audit.
	StreamAudit = "C981_AUDIT"
)

// Durable consumer names, one per (stage, stream).
const (
	ConsumerEnrich         = "enrich"
	ConsumerCorrelate      = "correlate"
	ConsumerStoreEvents    = "store-events"
	ConsumerStoreAlerts    = "store-alerts"
	ConsumerStoreIncidents = "store-incidents"
	ConsumerStoreActions   = "store-actions"
	ConsumerStoreDLQ       = "store-dlq"
	ConsumerRespond        = "respond"
)

// Header names used on bus messages.
const (
	// HeaderEncoding names the batch encoding (event.Encoding).
	HeaderEncoding = "C981-Encoding"
	// HeaderCount is the number of records in the batch.
	HeaderCount = "C981-Count"
)

// Stage names used for dead-letter subjects.
const (
	StageIngest    = "ingest"
	StageEnrich    = "enrich"
	StageCorrelate = "correlate"
	StageStore     = "store"
	StageRespond   = "respond"
)

// Token makes s safe as one subject token: dots, spaces, wildcards and
// control characters become '_'; an empty string becomes "_".
func Token(s string) string {
	if s == "" {
		return "_"
	}
	ok := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c == '.' || c == '*' || c == '>' || c >= 0x7f {
			ok = false
			break
		}
	}
	if ok {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c == '.' || c == '*' || c == '>' || c >= 0x7f {
			b.WriteByte('_')
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// RawSubject is the subject for parsed events of one site and source.
func RawSubject(site, source string) string {
	return "c981.raw." + Token(site) + "." + Token(source)
}

// EventsSubject is the subject for enriched events of one site.
func EventsSubject(site string) string { return "c981.events." + Token(site) }

// AlertsSubject is the subject for alerts of one site.
func AlertsSubject(site string) string { return "c981.alerts." + Token(site) }

// IncidentsSubject is the subject for incident versions of one site.
func IncidentsSubject(site string) string { return "c981.incidents." + Token(site) }

// ActionsSubject is the subject for response plans of one site.
func ActionsSubject(site string) string { return "c981.actions." + Token(site) }

// AuditSubject is the response audit subject of one site.
func AuditSubject(site string) string { return "c981.audit." + Token(site) }

// DLQSubject is the dead-letter subject of one stage.
func DLQSubject(stage string) string { return "c981.dlq." + Token(stage) }

// StreamOptions sizes the streams.
type StreamOptions struct {
	// Replicas is the replica count (1 for a single server, 3 in a cluster).
	Replicas int `yaml:"replicas"`
	// MaxAge bounds how long messages are kept (replay horizon).
	MaxAge time.Duration `yaml:"max_age"`
	// MaxBytes bounds each stream; when full, publishers get an error
	// (DiscardNew) rather than old unprocessed data being dropped. 0 = no limit.
	MaxBytes int64 `yaml:"max_bytes"`
	// MaxMsgSize bounds one message (one batch).
	MaxMsgSize int32 `yaml:"max_msg_size"`
	// Duplicates is the Nats-Msg-Id deduplication window.
	Duplicates time.Duration `yaml:"duplicates"`
}

// DefaultStreamOptions are the settings used when none are configured.
func DefaultStreamOptions() StreamOptions {
	return StreamOptions{
		Replicas:   1,
		MaxAge:     7 * 24 * time.Hour,
		MaxBytes:   0,
		MaxMsgSize: 8 << 20,
		Duplicates: 2 * time.Minute,
	}
}

// StreamConfigs returns the configuration of every C-981 stream.
func StreamConfigs(o StreamOptions) []jetstream.StreamConfig {
	mk := func(name, desc string, subjects ...string) jetstream.StreamConfig {
		return jetstream.StreamConfig{
			Name:        name,
			Description: desc,
			Subjects:    subjects,
			Retention:   jetstream.LimitsPolicy,
			Discard:     jetstream.DiscardNew,
			Storage:     jetstream.FileStorage,
			Replicas:    max(o.Replicas, 1),
			MaxAge:      o.MaxAge,
			MaxBytes:    orUnlimited(o.MaxBytes),
			MaxMsgSize:  o.MaxMsgSize,
			Duplicates:  o.Duplicates,
			DenyDelete:  true,
			DenyPurge:   false,
		}
	}
	return []jetstream.StreamConfig{
		mk(StreamRaw, "C-981 parsed events from ingest, per site and source", "c981.raw.>"),
		mk(StreamEvents, "C-981 enriched events, per site", "c981.events.>"),
		mk(StreamAlerts, "C-981 alerts from the correlator, per site", "c981.alerts.>"),
		mk(StreamIncidents, "C-981 incident versions, per site", "c981.incidents.>"),
		mk(StreamActions, "C-981 response plans and action audit records, per site", "c981.actions.>"),
		mk(StreamDLQ, "C-981 dead letters, per stage", "c981.dlq.>"),
	}
}

func orUnlimited(n int64) int64 {
	if n <= 0 {
		return -1
	}
	return n
}

// ConsumerConfig returns the durable pull consumer configuration used by a
// stage. AckWait must exceed the stage's worst processing time for one
// message; MaxAckPending bounds in-flight messages.
func ConsumerConfig(durable string, maxAckPending int, ackWait time.Duration) jetstream.ConsumerConfig {
	if maxAckPending <= 0 {
		maxAckPending = 1000
	}
	if ackWait <= 0 {
		ackWait = 30 * time.Second
	}
	return jetstream.ConsumerConfig{
		Durable:       durable,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       ackWait,
		MaxAckPending: maxAckPending,
		MaxDeliver:    -1,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	}
}
