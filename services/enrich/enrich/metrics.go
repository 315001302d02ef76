package enrich

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/c981/c981/services/enrich/zone"
)

type metrics struct {
	batches      prometheus.Counter
	events       prometheus.Counter
	poison       prometheus.Counter
	unknownSite  prometheus.Counter
	unknownIP    *prometheus.CounterVec
	violations   prometheus.Counter
	published    prometheus.Counter
	latency      prometheus.Histogram
	modelVersion *prometheus.GaugeVec
	reloads      prometheus.Counter
	reloadErrors prometheus.Counter
	newPairs     prometheus.Counter
	pairsHeld    prometheus.GaugeFunc
	pairsEvicted prometheus.CounterFunc
}

func newMetrics(reg prometheus.Registerer, pairs *zone.Pairs) (*metrics, error) {
	m := &metrics{
		batches: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "c981_enrich_batches_total",
			Help: "Batches enriched: raw batches consumed from C981_RAW and published, and batches enriched inline for an ingest in the same process (EnrichInline).",
		}),
		events: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "c981_enrich_events_total",
			Help: "Events enriched (from C981_RAW or inline).",
		}),
		poison: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "c981_enrich_poison_total",
			Help: "Raw batches that could not be processed and were dead-lettered.",
		}),
		unknownSite: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "c981_enrich_unknown_site_total",
			Help: "Events whose site has no loaded site model (passed on with the unknown context).",
		}),
		unknownIP: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "c981_enrich_unknown_ip_total",
			Help: "Event addresses that are not inventoried assets, by side (src, dst) and reason (no_zone: outside every zone CIDR; not_inventoried: inside a zone).",
		}, []string{"side", "reason"}),
		violations: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "c981_enrich_conduit_violations_total",
			Help: "Cross-zone events that no conduit flow allows.",
		}),
		published: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "c981_enrich_published_messages_total",
			Help: "Enriched batch messages published to C981_EVENTS.",
		}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "c981_enrich_batch_duration_seconds",
			Help:    "Time to decode, enrich and publish one raw batch from C981_RAW; for a batch enriched inline, the time to enrich it.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		modelVersion: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "c981_enrich_site_model_version",
			Help: "Version of the loaded site model, by site.",
		}, []string{"site"}),
		reloads: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "c981_enrich_site_model_reloads_total",
			Help: "Site model reloads that validated and were swapped in.",
		}),
		reloadErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "c981_enrich_site_model_reload_errors_total",
			Help: "Site model reloads that failed (invalid or unreadable model); the previous model stays in use.",
		}),
		newPairs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "c981_enrich_new_pairs_total",
			Help: "Flows between two endpoints not seen before (new_pair).",
		}),
		pairsHeld: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "c981_enrich_new_pair_memory_pairs",
			Help: "Endpoint pairs remembered for new_pair, over all sites (at most new_pair_capacity per site).",
		}, func() float64 { return float64(pairs.Len()) }),
		pairsEvicted: prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "c981_enrich_new_pair_evictions_total",
			Help: "Endpoint pairs forgotten to keep the new_pair memory bounded (or because their site model was removed); their next flow is marked new again.",
		}, func() float64 { return float64(pairs.Evicted()) }),
	}
	if reg == nil {
		return m, nil
	}
	var errs []error
	for _, c := range []prometheus.Collector{m.batches, m.events, m.poison, m.unknownSite, m.unknownIP, m.violations, m.published, m.latency, m.modelVersion, m.reloads, m.reloadErrors, m.newPairs, m.pairsHeld, m.pairsEvicted} {
		if err := reg.Register(c); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("register enrich metrics: %w", err)
	}
	return m, nil
}
