package console

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inFlight prometheus.Gauge

	authFailures *prometheus.CounterVec
	rateLimited  prometheus.Counter
	forbidden    prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "c981_console_http_requests_total",
			Help: "HTTP requests served by the console API, by route pattern and status code.",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "c981_console_http_request_duration_seconds",
			Help:    "Latency of console API requests, by route pattern.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "c981_console_http_in_flight_requests",
			Help: "Console API requests being served.",
		}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "c981_console_auth_failures_total",
			Help: "API requests refused with 401, by reason (missing or invalid token).",
		}, []string{"reason"}),
		rateLimited: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "c981_console_rate_limited_total",
			Help: "API requests refused with 429 by the per-caller rate limit.",
		}),
		forbidden: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "c981_console_forbidden_total",
			Help: "API requests refused with 403 because of the caller's roles.",
		}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.inFlight, m.authFailures, m.rateLimited, m.forbidden} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register console metrics: %w", err)
		}
	}
	return m, nil
}
