package enrich

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/c981/c981/services/enrich/zone"
	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/shared/event"
	"github.com/c981/c981/services/shared/site"
	"github.com/c981/c981/services/shared/stage"
)

// Deps are the stage's collaborators (see package stage).
type Deps = stage.Deps

// Service is the enrich stage.
type Service struct {
	cfg   Config
	js    jetstream.JetStream
	log   *slog.Logger
	set   atomic.Pointer[zone.Set] // immutable; swapped whole on reload
	pairs *zone.Pairs
	m     *metrics
	free  *recycler // buffers of the ordered path (ordered.go)

	reloadMu sync.Mutex // serializes reloads
	stamp    string     // fingerprint of the files of the loaded models
}

// New loads and indexes the configured site models. It fails on an invalid
// configuration or site model, naming the file and line.
func New(cfg Config, deps Deps) (*Service, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("enrich config: %w", err)
	}
	if deps.JS == nil {
		return nil, errors.New("enrich: Deps.JS is required")
	}
	log := deps.Logger
	if log == nil {
		log = slog.Default()
	}
	stamp := currentStamp(cfg.Sites)
	set, models, err := loadSet(cfg.Sites)
	if err != nil {
		return nil, fmt.Errorf("enrich: %w", err)
	}
	pairs := zone.NewPairs(cfg.NewPairCapacity)
	met, err := newMetrics(deps.Registry, pairs)
	if err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, js: deps.JS, log: log.With("stage", bus.StageEnrich), pairs: pairs, m: met, stamp: stamp, free: newRecycler(cfg.MaxAckPending)}
	s.set.Store(set)
	s.setVersions(models)
	return s, nil
}

// loadSet loads, validates and indexes the site models of paths.
func loadSet(paths []string) (*zone.Set, []*site.Model, error) {
	models, err := site.LoadAll(paths...)
	if err != nil {
		return nil, nil, fmt.Errorf("load site model: %w", err)
	}
	set, err := zone.NewSet(models...)
	if err != nil {
		return nil, nil, err
	}
	return set, models, nil
}

func (s *Service) setVersions(models []*site.Model) {
	s.m.modelVersion.Reset()
	for _, m := range models {
		s.m.modelVersion.WithLabelValues(m.Site.ID).Set(float64(m.Version))
	}
}

// fingerprint identifies the current state of the site model files: their
// names, sizes and modification times.
func fingerprint(paths []string) (string, error) {
	files, err := site.Files(paths...)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			return "", fmt.Errorf("site model %s: %w", f, err)
		}
		fmt.Fprintf(&b, "%s\x00%d\x00%d\n", f, fi.Size(), fi.ModTime().UnixNano())
	}
	return b.String(), nil
}

// Sites returns the index of the currently loaded site models. The returned
// set is immutable; a reload swaps in a new one.
func (s *Service) Sites() *zone.Set { return s.set.Load() }

// Reload loads the configured site models again and, when every one is
// valid, swaps the new index in atomically: a batch is enriched entirely with
// the old or entirely with the new models. When loading fails the old models
// stay in use, the error is logged, counted in
// c981_enrich_site_model_reload_errors_total and returned.
func (s *Service) Reload() error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	return s.reloadLocked()
}

func (s *Service) reloadLocked() error {
	// The fingerprint is taken before loading: a change during the load
	// shows up as a new fingerprint at the next poll.
	stamp := currentStamp(s.cfg.Sites)
	set, models, err := loadSet(s.cfg.Sites)
	// Remember the state even when it failed, so polling does not retry it
	// until the files change again.
	s.stamp = stamp
	if err != nil {
		s.m.reloadErrors.Inc()
		s.log.Error("site model reload failed; keeping the previous models", "err", err)
		return fmt.Errorf("enrich: reload site models: %w", err)
	}
	s.set.Store(set)
	s.pairs.Retain(set.Sites())
	s.setVersions(models)
	s.m.reloads.Inc()
	s.log.Info("site models reloaded", "sites", set.Sites())
	return nil
}

// currentStamp is the fingerprint of the files, or the error that prevents
// taking it (a missing file), so that a persistent error is one state.
func currentStamp(paths []string) string {
	stamp, err := fingerprint(paths)
	if err != nil {
		return "error: " + err.Error()
	}
	return stamp
}

// reloadIfChanged reloads when the files' fingerprint differs from the one
// last loaded (or last failed).
func (s *Service) reloadIfChanged() {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	if currentStamp(s.cfg.Sites) == s.stamp {
		return
	}
	_ = s.reloadLocked() // logged and counted
}

// watch reloads the models on SIGHUP and, unless disabled, when the files
// change, until ctx ends.
func (s *Service) watch(ctx context.Context) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	var tick <-chan time.Time
	if s.cfg.ReloadInterval > 0 {
		t := time.NewTicker(s.cfg.ReloadInterval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			s.log.Info("SIGHUP: reloading site models")
			_ = s.Reload() // logged and counted
		case <-tick:
			s.reloadIfChanged()
		}
	}
}

// Run creates (or updates) the durable consumer on C981_RAW and enriches
// batches in stream order (see consume) until ctx ends; it then returns
// nil. Meanwhile it reloads the site models on SIGHUP and when their files
// change (see Config.ReloadInterval).
// It returns an error only when the consumer cannot be set up before ctx
// ends.
func (s *Service) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.watch(ctx)
	}()
	defer func() {
		cancel()
		wg.Wait()
	}()
	cons, err := s.consumer(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	s.log.Info("enrich running", "sites", s.Sites().Sites(), "consumer", bus.ConsumerEnrich,
		"window", s.cfg.MaxAckPending, "workers", s.cfg.Workers)
	if err := s.consume(ctx, cons); err != nil {
		return fmt.Errorf("enrich: %w", err)
	}
	return nil
}

// consumer creates or updates the durable consumer, retrying while the
// server is unreachable (startup ordering, leader election).
func (s *Service) consumer(ctx context.Context) (jetstream.Consumer, error) {
	cfg := bus.ConsumerConfig(bus.ConsumerEnrich, s.cfg.MaxAckPending, s.cfg.AckWait)
	backoff := 100 * time.Millisecond
	for {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		cons, err := s.js.CreateOrUpdateConsumer(cctx, bus.StreamRaw, cfg)
		cancel()
		if err == nil {
			return cons, nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("enrich: create consumer %s on %s: %w", bus.ConsumerEnrich, bus.StreamRaw, err)
		}
		s.log.Warn("create consumer; retrying", "stream", bus.StreamRaw, "consumer", bus.ConsumerEnrich, "err", err, "backoff", backoff)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("enrich: create consumer %s on %s: %w", bus.ConsumerEnrich, bus.StreamRaw, ctx.Err())
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// enrichEvents enriches evs in place with set, marks their new pairs (in
// order: the pair memory depends on the order of the flows) and returns
// the batch's counts.
func (s *Service) enrichEvents(set *zone.Set, evs []event.Event) batchStats {
	var st batchStats
	st.events = len(evs)
	found := make([]bool, len(evs))
	set.EnrichBatch(evs, found)
	for i := range evs {
		ev := &evs[i]
		if found[i] {
			s.pairs.Mark(ev)
		} else {
			// No model, no assets: and no pair memory, which stays
			// bounded by the loaded sites.
			st.unknownSite++
			ev.Flow.NewPair = false
		}
		st.count(ev)
	}
	return st
}

// EnrichInline enriches evs in place with the current site models and
// counts them in the stage's metrics, for an ingest in the same process
// that publishes the enriched batch straight to C981_EVENTS instead of
// through C981_RAW and this stage's consumer (the all-in-one run, see
// ingest.Enricher): one stream hop, one encoding and one decoding less
// per event. It is safe for concurrent use: batches enriched concurrently
// mark their new pairs in the order the pair memory sees them, which for
// inline batches is the order of arrival (there is no stream order yet).
// Site model reloads (Run's watch) apply from the next batch on.
func (s *Service) EnrichInline(evs []event.Event) {
	if len(evs) == 0 {
		return
	}
	start := time.Now()
	st := s.enrichEvents(s.set.Load(), evs)
	s.record(st, 0, start)
}

type batchStats struct {
	events         int
	unknownSite    int
	violations     int
	newPairs       int
	noZone         [2]int // src, dst
	notInventoried [2]int
}

func (st *batchStats) count(ev *event.Event) {
	for i, ep := range [2]event.Endpoint{ev.Src, ev.Dst} {
		switch {
		case ep.IP == "" || ep.Known:
		case zone.HasZone(ep):
			st.notInventoried[i]++
		default:
			st.noZone[i]++
		}
	}
	if ev.Flow.CrossZone && !ev.Flow.Allowed {
		st.violations++
	}
	if ev.Flow.NewPair {
		st.newPairs++
	}
}

type siteGroup struct {
	site   string
	events []event.Event
}

// groupBySite splits evs by site in order of first appearance; a batch of
// one site (the normal case) is returned as is.
func groupBySite(evs []event.Event) []siteGroup {
	if len(evs) == 0 {
		return nil
	}
	mixed := false
	for i := range evs {
		if evs[i].Site != evs[0].Site {
			mixed = true
			break
		}
	}
	if !mixed {
		return []siteGroup{{site: evs[0].Site, events: evs}}
	}
	var groups []siteGroup
	idx := map[string]int{}
	for i := range evs {
		j, ok := idx[evs[i].Site]
		if !ok {
			j = len(groups)
			idx[evs[i].Site] = j
			groups = append(groups, siteGroup{site: evs[i].Site})
		}
		groups[j].events = append(groups[j].events, evs[i])
	}
	return groups
}

// publish sends evs as one message, or, when the encoded batch exceeds
// MaxBatchBytes or the server's limit, as halves with ids id:0 and id:1
// (recursively). It returns the number of messages published.
func (s *Service) publish(ctx context.Context, subject, id string, evs []event.Event) (int, error) {
	data, err := event.MarshalEvents(evs)
	if err != nil {
		return 0, bus.Poison(fmt.Errorf("encode enriched batch %s: %w", id, err))
	}
	if len(data) > s.cfg.MaxBatchBytes && len(evs) > 1 {
		return s.publishHalves(ctx, subject, id, evs)
	}
	err = bus.Publish(ctx, s.js, subject, id, len(evs), data)
	if err == nil {
		return 1, nil
	}
	if errors.Is(err, nats.ErrMaxPayload) || errors.Is(err, jetstream.ErrStreamMessageExceedsMaximum) {
		if len(evs) > 1 {
			return s.publishHalves(ctx, subject, id, evs)
		}
		return 0, bus.Poison(fmt.Errorf("event %s: enriched record of %d bytes is too large to publish: %w", evs[0].ID, len(data), err))
	}
	return 0, err
}

func (s *Service) publishHalves(ctx context.Context, subject, id string, evs []event.Event) (int, error) {
	half := len(evs) / 2
	n1, err := s.publish(ctx, subject, id+":0", evs[:half])
	if err != nil {
		return n1, err
	}
	n2, err := s.publish(ctx, subject, id+":1", evs[half:])
	return n1 + n2, err
}
