package correlate

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the correlate stage's Prometheus metrics.
type Metrics struct {
	// Events counts events evaluated against the rules.
	Events prometheus.Counter
	// InvalidEvents counts events rejected before evaluation (dead-lettered).
	InvalidEvents prometheus.Counter
	// PoisonMessages counts bus messages that could not be decoded.
	PoisonMessages prometheus.Counter
	// RuleMatches counts matches per rule.
	RuleMatches *prometheus.CounterVec
	// RuleErrors counts failed rule evaluations per rule.
	RuleErrors *prometheus.CounterVec
	// Alerts counts alerts raised (redeliveries included).
	Alerts prometheus.Counter
	// IncidentVersions counts incident versions written, by change
	// (created, updated).
	IncidentVersions *prometheus.CounterVec
	// StoreConflicts counts incident writes retried after a concurrent change.
	StoreConflicts prometheus.Counter
	// IncidentCache counts current-incident reads by result: hit (served by
	// the CachedStore) or miss (read from the store).
	IncidentCache *prometheus.CounterVec
	// LateEvents counts events older than their site's watermark (only
	// match rules saw them).
	LateEvents prometheus.Counter
	// LiveKeys is the number of live keys per stateful rule.
	LiveKeys *prometheus.GaugeVec
	// Evictions counts live keys evicted because a rule was at its bound.
	Evictions *prometheus.CounterVec
	// Suppressed counts alerts dropped by a rule's dedup window or, for
	// absence rules, by an open maintenance window.
	Suppressed *prometheus.CounterVec
	// Reloads counts rule reloads by result (ok, error).
	Reloads *prometheus.CounterVec
	// Duration observes the processing time of one bus message, from
	// decoding to the acknowledgement of the published results.
	Duration prometheus.Histogram
	// Restarts counts pipeline restarts from the checkpoint, by reason
	// (resume: at start after a predecessor left messages unacknowledged;
	// error: after a failed message; gap: a delivery the service did not
	// see).
	Restarts *prometheus.CounterVec
	// Replayed counts redelivered messages skipped because the service had
	// already applied them.
	Replayed prometheus.Counter
	// ReappliedAlerts counts alerts recognised as already applied to their incident, by how: journal (the key's
	// journal of positions: a redelivered message), alert_id (an id the
	// current incident keeps: the same event under a new position, or
	// twice in one batch) or beyond_journal (older than the
	// key's journal: assigned to the current incident, logged; cannot
	// happen while ReplayDepth is at least the consumer's MaxAckPending).
	ReappliedAlerts *prometheus.CounterVec
}

// NewMetrics creates the metrics and registers them with reg (nil: not
// registered).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		Events: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "c981_correlate_events_total", Help: "Events evaluated against the correlation rules.",
		}),
		InvalidEvents: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "c981_correlate_invalid_events_total", Help: "Events rejected as invalid and dead-lettered.",
		}),
		PoisonMessages: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "c981_correlate_poison_messages_total", Help: "Bus messages that could not be decoded and were dead-lettered.",
		}),
		RuleMatches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "c981_correlate_rule_matches_total", Help: "Rule matches, per rule.",
		}, []string{"rule"}),
		RuleErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "c981_correlate_rule_eval_errors_total", Help: "Failed rule expression evaluations, per rule.",
		}, []string{"rule"}),
		Alerts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "c981_correlate_alerts_total", Help: "Alerts raised.",
		}),
		IncidentVersions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "c981_correlate_incident_versions_total", Help: "Incident versions written, by change (created, updated).",
		}, []string{"change"}),
		StoreConflicts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "c981_correlate_incident_store_conflicts_total", Help: "Incident writes retried because the stored incident changed concurrently.",
		}),
		IncidentCache: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "c981_correlate_incident_cache_total", Help: "Current-incident reads by result: hit (in memory) or miss (read from the incident store).",
		}, []string{"result"}),
		LateEvents: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "c981_correlate_late_events_total", Help: "Events older than their site's watermark (event time minus allowed lateness); windows ignored them.",
		}),
		LiveKeys: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "c981_correlate_live_keys", Help: "Live keys (windows, sequences, absence timers) per stateful rule.",
		}, []string{"rule"}),
		Evictions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "c981_correlate_key_evictions_total", Help: "Live keys evicted because the rule reached its max_keys bound.",
		}, []string{"rule"}),
		Suppressed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "c981_correlate_suppressed_alerts_total", Help: "Alerts suppressed by the rule's dedup window or an open maintenance window, per rule.",
		}, []string{"rule"}),
		Reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "c981_correlate_rule_reloads_total", Help: "Rule directory reloads, by result (ok, error: the running rules stay).",
		}, []string{"result"}),
		Duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "c981_correlate_message_duration_seconds",
			Help:    "Time to process one bus message of events, including publishing its alerts and incidents.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		Restarts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "c981_correlate_pipeline_restarts_total", Help: "Restarts of the message pipeline from the checkpoint (consumer reset to the first unacknowledged message), by reason.",
		}, []string{"reason"}),
		Replayed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "c981_correlate_redeliveries_skipped_total", Help: "Redelivered messages skipped because they were already applied (acknowledged once their first delivery's effects are durable).",
		}),
		ReappliedAlerts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "c981_correlate_reapplied_alerts_total", Help: "Alerts recognised as already applied to their incident, by how (journal: a redelivered message; alert_id: an alert id the incident keeps; beyond_journal: older than the key's journal).",
		}, []string{"how"}),
	}
	for _, h := range []string{reappliedJournal, reappliedAlertID, reappliedBeyond} {
		m.ReappliedAlerts.WithLabelValues(h)
	}
	for _, r := range []string{restartResume, restartError, restartGap} {
		m.Restarts.WithLabelValues(r)
	}
	m.IncidentVersions.WithLabelValues(changeCreated)
	m.IncidentVersions.WithLabelValues(changeUpdated)
	m.IncidentCache.WithLabelValues("hit")
	m.IncidentCache.WithLabelValues("miss")
	m.Reloads.WithLabelValues("ok")
	m.Reloads.WithLabelValues("error")
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.Events, m.InvalidEvents, m.PoisonMessages, m.RuleMatches, m.RuleErrors,
		m.Alerts, m.IncidentVersions, m.StoreConflicts, m.IncidentCache, m.LateEvents, m.LiveKeys, m.Evictions, m.Suppressed, m.Reloads, m.Duration, m.Restarts, m.Replayed, m.ReappliedAlerts} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register correlate metrics: %w", err)
		}
	}
	return m, nil
}

const (
	changeCreated = "created"
	changeUpdated = "updated"
)

// ReappliedAlerts labels.
const (
	reappliedJournal = "journal"
	reappliedAlertID = "alert_id"
	reappliedBeyond  = "beyond_journal"
)
