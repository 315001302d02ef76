package ingest

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Reasons of c981_ingest_dropped_total.
const (
	dropQueueFull = "queue_full"   // a UDP record found the queue full
	dropShutdown  = "shutdown"     // ShutdownTimeout passed before it was published
	dropTooLarge  = "too_large"    // one event larger than the bus accepts (dead-lettered)
	dropRateLimit = "rate_limited" // a UDP record over its sender's rate_limit
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
	queueBytes     prometheus.GaugeFunc

	parsed             *prometheus.CounterVec // listener
	certReloads        *prometheus.CounterVec // listener, result
	tlsHandshakeErrors *prometheus.CounterVec // listener, reason (not dead-lettered: client went away)
	httpRequests       *prometheus.CounterVec // listener, code
	throttled          *prometheus.CounterVec // listener
	rateLimited        *prometheus.CounterVec // listener, action
	peerRejected       *prometheus.CounterVec // listener
	httpReplayed       *prometheus.CounterVec // listener
}

// kernelDrops exports each UDP listener's kernel drop counter
// (c981_ingest_udp_kernel_drops_total) where the OS exposes it.
type kernelDrops struct {
	s    *Service
	desc *prometheus.Desc
}

func (k kernelDrops) Describe(ch chan<- *prometheus.Desc) { ch <- k.desc }

func (k kernelDrops) Collect(ch chan<- prometheus.Metric) {
	for _, l := range k.s.listeners {
		drops := l.drops.Load()
		if drops == nil {
			continue
		}
		var sum uint64
		var err error
		for _, d := range *drops {
			var n uint64
			if n, err = d.read(); err != nil {
				break // the sockets are closed
			}
			sum += n
		}
		if err == nil {
			ch <- prometheus.MustNewConstMetric(k.desc, prometheus.CounterValue, float64(sum), l.cfg.Name)
		}
	}
}

func newMetrics(reg prometheus.Registerer, queueLen, queueBytes func() float64, extra ...prometheus.Collector) (*metrics, error) {
	m := &metrics{
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "c981_ingest_rate_limited_total", Help: "Records over their sender's rate_limit, per listener and action: delayed (tcp, tls: reading paused), dropped (udp), refused (http: documents answered 429).",
		}, []string{"listener", "action"}),
		peerRejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "c981_ingest_tcp_connections_rejected_per_peer_total", Help: "TCP connections closed at once because their peer IP had max_conns_per_peer connections open.",
		}, []string{"listener"}),
		httpReplayed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "c981_ingest_http_idempotent_requests_total", Help: "HTTP requests with an Idempotency-Key, per listener (a retried one publishes the same ids and message ids, which JetStream deduplicates).",
		}, []string{"listener"}),
		parsed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "c981_ingest_parsed_total", Help: "Records parsed into events, per listener.",
		}, []string{"listener"}),
		certReloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "c981_ingest_tls_cert_reloads_total", Help: "TLS certificate reloads after a file change, per listener and result (ok, error).",
		}, []string{"listener", "result"}),
		tlsHandshakeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "c981_ingest_tls_handshake_errors_total", Help: "TLS handshakes abandoned by the client without sending anything (eof); other failures are dead-lettered.",
		}, []string{"listener", "reason"}),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "c981_ingest_http_requests_total", Help: "HTTP requests to the events input, per listener and status code.",
		}, []string{"listener", "code"}),
		throttled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "c981_ingest_http_throttled_documents_total", Help: "Documents refused with 429 because the queue was full (the sensor retries them).",
		}, []string{"listener"}),
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
			Name: "c981_ingest_malformed_total", Help: "Records dead-lettered, per listener and reason: parse failures and transport failures (framing, oversize, slow client, TLS).",
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
			Name: "c981_ingest_publish_duration_seconds", Help: "Time from a batch being formed to its publish acknowledgement (enrich, encode, pipelined publish).",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
	}
	queue := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "c981_ingest_queue_length", Help: "Records waiting in the queue between listeners and publisher.",
	}, queueLen)
	m.queueBytes = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "c981_ingest_queue_bytes", Help: "Estimated memory of the records waiting in the queue (bounded by queue_bytes).",
	}, queueBytes)
	for _, c := range []prometheus.Collector{
		m.received, m.udpDatagrams, m.tcpConns, m.tcpConnsTotal, m.tcpRejected, m.malformed,
		m.dropped, m.published, m.batches, m.publishErrors, m.deadLetters, m.publishSeconds, queue, m.queueBytes,
		m.parsed, m.certReloads, m.tlsHandshakeErrors, m.httpRequests, m.throttled,
		m.rateLimited, m.peerRejected, m.httpReplayed,
	} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register ingest metrics: %w", err)
		}
	}
	for _, c := range extra {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register ingest metrics: %w", err)
		}
	}
	return m, nil
}
