package store

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Reasons a row is dead-lettered (label values of dead_lettered_rows_total).
const (
	reasonPoison   = "poison"   // the message could not be decoded
	reasonInvalid  = "invalid"  // the record violates the contract
	reasonRejected = "rejected" // ClickHouse or the driver rejected the row
)

type metrics struct {
	rows        *prometheus.CounterVec
	messages    *prometheus.CounterVec
	batches     *prometheus.CounterVec
	insertDur   *prometheus.HistogramVec
	retries     *prometheus.CounterVec
	splits      *prometheus.CounterVec
	deadLetters *prometheus.CounterVec
	unstorable  *prometheus.CounterVec
	ackFailures *prometheus.CounterVec
	unacked     *prometheus.GaugeVec
	parked      *prometheus.CounterVec
	pending     *prometheus.GaugeVec
	lag         *prometheus.GaugeVec

	retentionParts *prometheus.CounterVec
	retentionRows  *prometheus.CounterVec
	retentionRuns  *prometheus.CounterVec

	gramKeys   *prometheus.CounterVec
	gramHours  prometheus.Gauge
	gramErrors prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "c981_store_rows_inserted_total", Help: "Rows inserted into ClickHouse, per table.",
		}, []string{"table"}),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "c981_store_messages_total", Help: "Bus messages consumed and acknowledged (or terminated), per table.",
		}, []string{"table"}),
		batches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "c981_store_batches_total", Help: "Batches flushed to ClickHouse, per table.",
		}, []string{"table"}),
		insertDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "c981_store_insert_duration_seconds", Help: "Duration of one successful ClickHouse batch insert.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}, []string{"table"}),
		splits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "c981_store_insert_timeout_splits_total", Help: "Inserts that timed out and were retried as two halves (ClickHouse too slow for the block within clickhouse.read_timeout), per table.",
		}, []string{"table"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "c981_store_insert_retries_total", Help: "Insert attempts that failed transiently and were retried.",
		}, []string{"table"}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "c981_store_dead_lettered_rows_total", Help: "Records written to dead_letters instead of their table, per table and reason (poison, invalid, rejected).",
		}, []string{"table", "reason"}),
		unstorable: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "c981_store_unstorable_dead_letters_total", Help: "Dead letters that ClickHouse rejected even in dead_letters; they are logged in full and acknowledged.",
		}, []string{"table"}),
		ackFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "c981_store_ack_failures_total", Help: "Acknowledgements (or terminations) that could not be sent; the message will be redelivered and deduplicated.",
		}, []string{"table"}),
		unacked: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "c981_store_unacked_messages", Help: "Messages held in the batches being gathered or flushed, not yet acknowledged.",
		}, []string{"table"}),
		parked: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "c981_store_parked_subscriptions_total", Help: "Times a writer waited AckWait/3 for its inserts and moved the messages it had pulled ahead into a kept-alive list (ClickHouse slow or down).",
		}, []string{"table"}),
		pending: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "c981_store_consumer_pending_messages", Help: "Messages in the stream not yet delivered to the store consumer (as of the last message received).",
		}, []string{"table"}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "c981_store_lag_seconds", Help: "Age, when acknowledged, of the oldest message of the last batch: from being stored on the bus to being durable in ClickHouse.",
		}, []string{"table"}),
		retentionParts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "c981_store_retention_dropped_partitions_total", Help: "Day partitions dropped by retention, per table.",
		}, []string{"table"}),
		retentionRows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "c981_store_retention_dropped_rows_total", Help: "Rows in the day partitions dropped by retention, per table.",
		}, []string{"table"}),
		retentionRuns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "c981_store_retention_runs_total", Help: "Retention runs, by result (ok, error).",
		}, []string{"result"}),
		gramKeys: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "c981_store_text_index_rows_total", Help: "Rows inserted into the events text-search index (event_grams), by kind: new (keys first written for a site and hour, before the batch is acknowledged) and count (periodic deltas of the events holding keys already written).",
		}, []string{"kind"}),
		gramHours: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "c981_store_text_index_hours", Help: "(site, hour) states whose written text-index keys the events writer remembers.",
		}),
		gramErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "c981_store_text_index_errors_total", Help: "Text-index rows ClickHouse rejected, and count-delta inserts given up at shutdown.",
		}),
	}
	for _, c := range []prometheus.Collector{m.rows, m.messages, m.batches, m.insertDur, m.retries, m.splits, m.deadLetters, m.unstorable, m.ackFailures, m.unacked, m.parked, m.pending, m.lag, m.retentionParts, m.retentionRows, m.retentionRuns, m.gramKeys, m.gramHours, m.gramErrors} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return nil, fmt.Errorf("register store metrics: %w (use one registry per Service)", err)
			}
			return nil, fmt.Errorf("register store metrics: %w", err)
		}
	}
	return m, nil
}
