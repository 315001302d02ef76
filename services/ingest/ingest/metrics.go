package ingest

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Reasons of c981_ingest_dropped_total.
const (
	dropQueueFull = "queue_full" // a UDP record found the queue full
	dropShutdown  = "shutdown"   // ShutdownTimeout passed before it was published
	dropTooLarge  = "too_large"  // one event larger than the bus accepts (dead-lettered)
)

type metrics struct {
	received       *prometheus.CounterVec // listener
	udpDatagrams   *prometheus.CounterVec // listener
	tcpConns       *prometheus.GaugeVec   // listener
	tcpConnsTotal  *prometheus.CounterVec // listener
	tcpRejected    *prometheus.CounterVec // listener
	malformed      *prometheus.CounterVec // listener, reason
	dropped        *prometheus.CounterVec // listener, reason
	published      *prometheus.CounterVec // site, source
	batches        *prometheus.CounterVec // site, source
	publishErrors  *prometheus.CounterVec // subject
	deadLetters    prometheus.Counter
	publishSeconds prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer, queueLen func() float64) (*metrics, error) {
	m := &metrics{
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "c981_ingest_received_lines_total", Help: "Syslog records received, per listener.",
		}, []string{"listener"}),
		udpDatagrams: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "c981_ingest_udp_datagrams_total", Help: "UDP datagrams received, per listener.",
		}, []string{"listener"}),
		tcpConns: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "c981_ingest_tcp_connections", Help: "Open TCP connections, per listener.",
		}, []string{"listener"}),
		tcpConnsTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "c981_ingest_tcp_connections_total", Help: "TCP connections accepted, per listener.",
		}, []string{"listener"}),
		tcpRejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "c981_ingest_tcp_connections_rejected_total", Help: "TCP connections closed at once because max_conns was reached.",
		}, []string{"listener"}),
		malformed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "c981_ingest_malformed_total", Help: "Records that could not be parsed and were dead-lettered, per listener and reason.",
		}, []string{"listener", "reason"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "c981_ingest_dropped_total", Help: "Records lost: UDP records that found the queue full, records still unpublished when the shutdown timeout passed.",
		}, []string{"listener", "reason"}),
		published: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "c981_ingest_published_events_total", Help: "Events published to JetStream (acknowledged), per site and source.",
		}, []string{"site", "source"}),
		batches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "c981_ingest_batches_total", Help: "Event batches published to JetStream, per site and source.",
		}, []string{"site", "source"}),
		publishErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "c981_ingest_publish_errors_total", Help: "Failed publish attempts (retried), per subject.",
		}, []string{"subject"}),
		deadLetters: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "c981_ingest_dead_letters_published_total", Help: "Dead letters published to the ingest DLQ.",
		}),
		publishSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "c981_ingest_publish_duration_seconds", Help: "Time to publish one batch until its acknowledgement.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
	}
	queue := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "c981_ingest_queue_length", Help: "Records waiting in the queue between listeners and publisher.",
	}, queueLen)
	for _, c := range []prometheus.Collector{
		m.received, m.udpDatagrams, m.tcpConns, m.tcpConnsTotal, m.tcpRejected, m.malformed,
		m.dropped, m.published, m.batches, m.publishErrors, m.deadLetters, m.publishSeconds, queue,
	} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register ingest metrics: %w", err)
		}
	}
	return m, nil
}
