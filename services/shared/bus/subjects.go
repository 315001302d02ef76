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
	// MaxBytes bounds each stream but C981_RAW (see RawMaxBytes); when
	// full, publishers get an error (DiscardNew) rather than old unprocessed
	// data being dropped. 0 = no limit.
	MaxBytes int64 `yaml:"max_bytes"`
	// MaxMsgSize bounds one message (one batch).
	MaxMsgSize int32 `yaml:"max_msg_size"`
	// Duplicates is the Nats-Msg-Id deduplication window.
	Duplicates time.Duration `yaml:"duplicates"`
	// RawMaxBytes bounds the raw stream (C981_RAW) instead of MaxBytes:
	// the backlog JetStream holds while enrich is down or slow, after which
	// ingest is refused (DiscardNew) and pushes back on its senders. 0 means
	// DefaultRawMaxBytes; -1 means no limit. JetStream reserves this much
	// file storage when the stream is created.
	RawMaxBytes int64 `yaml:"raw_max_bytes"`
}

// DefaultRawMaxBytes is the default size limit of the raw stream: 8 GiB,
// about 10 million parsed events (~820 bytes each, MessagePack): an enrich
// outage of 100 s at the 100,000 events/s target or 17 minutes at 10,000
// events/s before ingest pushes back (see docs/RELIABILITY.md).
const DefaultRawMaxBytes int64 = 8 << 30

// DefaultStreamOptions are the settings used when none are configured.
func DefaultStreamOptions() StreamOptions {
	return StreamOptions{
		Replicas:   1,
		MaxAge:     7 * 24 * time.Hour,
		MaxBytes:   0,
		MaxMsgSize: 8 << 20,
		Duplicates: 2 * time.Minute,
		// RawMaxBytes is left 0 (DefaultRawMaxBytes) so that a config
		// file that omits it gets the default.
	}
}

// StreamConfigs returns the configuration of every C-981 stream.
func StreamConfigs(o StreamOptions) []jetstream.StreamConfig {
	mk := func(name, desc string, subjects ...string) jetstream.StreamConfig {
		maxBytes := orUnlimited(o.MaxBytes)
		if name == StreamRaw {
			maxBytes = rawMaxBytes(o.RawMaxBytes)
		}
		return jetstream.StreamConfig{
			Name:        name,
			Description: desc,
			Subjects:    subjects,
			Retention:   jetstream.LimitsPolicy,
			Discard:     jetstream.DiscardNew,
			Storage:     jetstream.FileStorage,
			Replicas:    max(o.Replicas, 1),
			MaxAge:      o.MaxAge,
			MaxBytes:    maxBytes,
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
		mk(StreamApprovals, "C-981 approvals and rejections of plan steps, per site", "c981.approvals.>"),
	}
}

func rawMaxBytes(n int64) int64 {
	switch {
	case n == 0:
		return DefaultRawMaxBytes
	case n < 0:
		return -1
	}
	return n
}

func orUnlimited(n int64) int64 {
	if n <= 0 {
		return -1
	}
	return n
}

// DefaultMaxDeliver is the default number of deliveries of one message to
// a durable consumer. bus.Consume dead-letters a message whose handler still
// fails on its final delivery, so a message that fails forever ends in
// C981_DLQ instead of blocking its consumer.
const DefaultMaxDeliver = 10

// ConsumerOption changes a ConsumerConfig default.
type ConsumerOption func(*jetstream.ConsumerConfig)

// WithMaxDeliver sets the consumer's MaxDeliver: n > 0 deliveries at most,
// n < 0 unlimited (for a consumer that never relies on redelivery to give
// up, such as the store, which retries in place), 0 DefaultMaxDeliver.
func WithMaxDeliver(n int) ConsumerOption {
	return func(c *jetstream.ConsumerConfig) {
		switch {
		case n == 0:
			c.MaxDeliver = DefaultMaxDeliver
		case n < 0:
			c.MaxDeliver = -1
		default:
			c.MaxDeliver = n
		}
	}
}

// ConsumerConfig returns the durable pull consumer configuration used by a
// stage. AckWait must exceed the stage's worst processing time for one
// message; MaxAckPending bounds in-flight messages; MaxDeliver is
// DefaultMaxDeliver unless an option changes it.
func ConsumerConfig(durable string, maxAckPending int, ackWait time.Duration, opts ...ConsumerOption) jetstream.ConsumerConfig {
	if maxAckPending <= 0 {
		maxAckPending = 1000
	}
	if ackWait <= 0 {
		ackWait = 30 * time.Second
	}
	c := jetstream.ConsumerConfig{
		Durable:       durable,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       ackWait,
		MaxAckPending: maxAckPending,
		MaxDeliver:    DefaultMaxDeliver,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	}
	for _, o := range opts {
		o(&c)
	}
	return c
}

// StreamApprovals holds the approvals and rejections of plan steps
// (event.Approval, one per message) on ApprovalsSubject: the console
// publishes them for the authenticated approver, the respond stage
// consumes them (ConsumerRespondApprovals).
const StreamApprovals = "C981_APPROVALS"

// ApprovalsSubject is the subject of the approvals of one site's plans.
func ApprovalsSubject(site string) string { return "c981.approvals." + Token(site) }

// ConsumerRespondApprovals is the respond stage's durable consumer on
// StreamApprovals.
const ConsumerRespondApprovals = "respond-approvals"

// KVApprovals is the respond stage's JetStream KV bucket of the approval
// requests of plan steps: per (plan, step) the approvals given so far and
// the request's state (pending, approved, rejected, timed_out,
// superseded). Its stream is "KV_" + KVApprovals.
const KVApprovals = "c981_approvals"

// ConsumerStoreAudit is the store's durable consumer on StreamAudit (the
// response audit chains into ClickHouse).
const ConsumerStoreAudit = "store-audit"
