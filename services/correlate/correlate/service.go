package correlate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/c981/c981/services/correlate/rule"
	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/shared/event"
	"github.com/c981/c981/services/shared/stage"
)

// Config configures the correlate Service.
//
//	correlate:
//	  rules_dir: rules
//	  incident_window: 1h
//	  max_alerts_per_incident: 1000
//	  store: {bucket: C981_CORRELATE_INCIDENTS, replicas: 1, ttl: 168h}
//	  incident_cache: 20000
//	  store_concurrency: 32
//	  state: {bucket: C981_CORRELATE_STATE, replicas: 1, ttl: 168h}
//	  allowed_lateness: 1m
//	  max_keys: 200000
//	  partitions: {count: 1, index: 0}
//	  reload_interval: 10s
//	  ack_wait: 30s
//	  max_ack_pending: 1
//	  retry_delay: 1s
type Config struct {
	// RulesDir holds the *.yaml rule files.
	RulesDir string `yaml:"rules_dir"`
	// IncidentWindow groups alerts of one key into one incident while each
	// arrives within this event-time span of the previous (default 1h).
	IncidentWindow time.Duration `yaml:"incident_window"`
	// MaxAlertsPerIncident bounds one incident's alerts; more open a
	// continuation incident (default 1000).
	MaxAlertsPerIncident int `yaml:"max_alerts_per_incident"`
	// Store configures the incident state bucket.
	Store KVConfig `yaml:"store"`
	// IncidentCache is how many incident keys keep their current incident
	// in memory (CachedStore), so that updating one costs a write and no
	// read (default 20000).
	IncidentCache int `yaml:"incident_cache"`
	// StoreConcurrency bounds the incident keys of one message written to
	// the store at once (default 32).
	StoreConcurrency int `yaml:"store_concurrency"`
	// State configures the checkpoint bucket of window, sequence and
	// absence state.
	State StateConfig `yaml:"state"`
	// AllowedLateness is how far behind its site's highest event time an
	// event may arrive and still update windows (default 1m).
	AllowedLateness time.Duration `yaml:"allowed_lateness"`
	// MaxKeys bounds the live keys of each stateful rule without its own
	// max_keys (default 200000).
	MaxKeys int `yaml:"max_keys"`
	// Partitions spreads the sites across correlator replicas.
	Partitions PartitionConfig `yaml:"partitions"`
	// ReloadInterval is how often the rules directory is checked for
	// changes; changed rules are reloaded keeping the state of unchanged
	// stateful rules (default 10s; negative disables reloading).
	ReloadInterval time.Duration `yaml:"reload_interval"`
	// AckWait is the consumer's acknowledgement deadline (default 30s).
	AckWait time.Duration `yaml:"ack_wait"`
	// MaxAckPending bounds unacknowledged messages (default 1). With 1 the
	// server delivers the next message only after the previous one was
	// acknowledged, and a message that is redelivered (after a crash, a
	// lost acknowledgement or a transient failure) comes back before any
	// later one: windows and sequences see the events in stream order in
	// every run, so a restart or a redelivery raises exactly the alerts of
	// an uninterrupted run. More than 1 pipelines deliveries but gives that
	// up: after a redelivery stateful rules may see events in another
	// order (and replay detection skips an older message applied after a
	// newer one), so their alerts may differ from an uninterrupted run.
	MaxAckPending int `yaml:"max_ack_pending"`
	// RetryDelay is the redelivery delay after a transient failure (default 1s).
	RetryDelay time.Duration `yaml:"retry_delay"`
}

// PartitionConfig assigns this replica its share of the sites: a site
// belongs to replica FNV-1a(site) mod Count. Each replica has its own
// durable consumer (correlate-p<index>of<count>) reading every event
// message and correlating the events of its sites only; state, incidents
// and alerts of different sites never interact, so Count replicas raise
// the same alerts as one.
type PartitionConfig struct {
	// Count is the number of replicas (default 1: no partitioning).
	Count int `yaml:"count"`
	// Index is this replica's partition, 0..Count-1.
	Index int `yaml:"index"`
}

// Owns reports whether site belongs to this replica.
func (p PartitionConfig) Owns(site string) bool {
	if p.Count <= 1 {
		return true
	}
	h := uint32(2166136261)
	for i := 0; i < len(site); i++ {
		h ^= uint32(site[i])
		h *= 16777619
	}
	return int(h%uint32(p.Count)) == p.Index
}

// consumer is the replica's durable consumer name.
func (p PartitionConfig) consumer() string {
	if p.Count <= 1 {
		return bus.ConsumerCorrelate
	}
	return fmt.Sprintf("%s-p%dof%d", bus.ConsumerCorrelate, p.Index, p.Count)
}

// suffix distinguishes the replicas' output message ids for an input
// message holding events of several sites.
func (p PartitionConfig) suffix(s string) string {
	if p.Count <= 1 {
		return s
	}
	return s + ".p" + strconv.Itoa(p.Index)
}

// DefaultConfig returns the defaults applied to zero Config fields.
func DefaultConfig() Config {
	return Config{
		RulesDir:             "rules",
		IncidentWindow:       DefaultIncidentWindow,
		MaxAlertsPerIncident: DefaultMaxAlerts,
		Store:                KVConfig{Bucket: DefaultBucket, Replicas: 1, TTL: 7 * 24 * time.Hour},
		IncidentCache:        DefaultIncidentCache,
		StoreConcurrency:     DefaultStoreConcurrency,
		State:                StateConfig{Bucket: DefaultStateBucket, Replicas: 1, TTL: 7 * 24 * time.Hour},
		AllowedLateness:      DefaultAllowedLateness,
		MaxKeys:              DefaultMaxKeys,
		ReloadInterval:       10 * time.Second,
		AckWait:              30 * time.Second,
		MaxAckPending:        1,
		RetryDelay:           time.Second,
	}
}

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	d := DefaultConfig()
	if c.RulesDir == "" {
		c.RulesDir = d.RulesDir
	}
	if c.IncidentWindow == 0 {
		c.IncidentWindow = d.IncidentWindow
	}
	if c.MaxAlertsPerIncident == 0 {
		c.MaxAlertsPerIncident = d.MaxAlertsPerIncident
	}
	if c.Store.Bucket == "" {
		c.Store.Bucket = d.Store.Bucket
	}
	if c.Store.Replicas == 0 {
		c.Store.Replicas = d.Store.Replicas
	}
	if c.Store.TTL == 0 {
		c.Store.TTL = d.Store.TTL
	}
	if c.IncidentCache == 0 {
		c.IncidentCache = d.IncidentCache
	}
	if c.StoreConcurrency == 0 {
		c.StoreConcurrency = d.StoreConcurrency
	}
	if c.State.Bucket == "" {
		c.State.Bucket = d.State.Bucket
	}
	if c.State.Replicas == 0 {
		c.State.Replicas = d.State.Replicas
	}
	if c.State.TTL == 0 {
		c.State.TTL = d.State.TTL
	}
	if c.AllowedLateness == 0 {
		c.AllowedLateness = d.AllowedLateness
	}
	if c.MaxKeys == 0 {
		c.MaxKeys = d.MaxKeys
	}
	if c.Partitions.Count == 0 {
		c.Partitions.Count = 1
	}
	if c.ReloadInterval == 0 {
		c.ReloadInterval = d.ReloadInterval
	}
	if c.AckWait == 0 {
		c.AckWait = d.AckWait
	}
	if c.MaxAckPending == 0 {
		c.MaxAckPending = d.MaxAckPending
	}
	if c.RetryDelay == 0 {
		c.RetryDelay = d.RetryDelay
	}
	return c
}

// Validate reports configuration errors.
func (c Config) Validate() error {
	var errs []error
	if c.RulesDir == "" {
		errs = append(errs, errors.New("rules_dir is required"))
	}
	if c.IncidentWindow <= 0 {
		errs = append(errs, fmt.Errorf("incident_window %s must be positive", c.IncidentWindow))
	}
	if c.MaxAlertsPerIncident < 1 {
		errs = append(errs, fmt.Errorf("max_alerts_per_incident %d must be positive", c.MaxAlertsPerIncident))
	}
	if c.Store.TTL <= c.IncidentWindow {
		errs = append(errs, fmt.Errorf("store.ttl %s must exceed incident_window %s", c.Store.TTL, c.IncidentWindow))
	}
	if c.Store.Replicas < 1 || c.Store.Replicas > 5 {
		errs = append(errs, fmt.Errorf("store.replicas %d must be 1..5", c.Store.Replicas))
	}
	if c.IncidentCache < 1 {
		errs = append(errs, fmt.Errorf("incident_cache %d must be positive", c.IncidentCache))
	}
	if c.StoreConcurrency < 1 || c.StoreConcurrency > 1024 {
		errs = append(errs, fmt.Errorf("store_concurrency %d must be 1..1024", c.StoreConcurrency))
	}
	if c.State.Replicas < 1 || c.State.Replicas > 5 {
		errs = append(errs, fmt.Errorf("state.replicas %d must be 1..5", c.State.Replicas))
	}
	if c.AllowedLateness < 0 {
		errs = append(errs, fmt.Errorf("allowed_lateness %s must not be negative", c.AllowedLateness))
	}
	if c.MaxKeys < 1 {
		errs = append(errs, fmt.Errorf("max_keys %d must be positive", c.MaxKeys))
	}
	if c.Partitions.Count < 1 || c.Partitions.Index < 0 || c.Partitions.Index >= c.Partitions.Count {
		errs = append(errs, fmt.Errorf("partitions: index %d must be in 0..count-1 (count %d)", c.Partitions.Index, c.Partitions.Count))
	}
	if c.AckWait <= 0 || c.MaxAckPending <= 0 || c.RetryDelay <= 0 {
		errs = append(errs, errors.New("ack_wait, max_ack_pending and retry_delay must be positive"))
	}
	if len(errs) > 0 {
		return fmt.Errorf("correlate config: %w", errors.Join(errs...))
	}
	return nil
}

// Deps are the stage's collaborators (see package stage).
type Deps = stage.Deps

// Service consumes enriched events from C981_EVENTS (durable consumer
// bus.ConsumerCorrelate), correlates them and publishes alerts and incident
// versions before acknowledging each message.
type Service struct {
	cfg     Config
	js      jetstream.JetStream
	log     *slog.Logger
	rules   atomic.Pointer[rule.Set]
	metrics *Metrics
}

// New loads the rules and prepares the service; Run starts it.
func New(cfg Config, deps Deps) (*Service, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.JS == nil {
		return nil, errors.New("correlate: Deps.JS is required")
	}
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	rules, err := rule.LoadDir(cfg.RulesDir)
	if err != nil {
		return nil, fmt.Errorf("correlate: %w", err)
	}
	m, err := NewMetrics(deps.Registry)
	if err != nil {
		return nil, fmt.Errorf("correlate: %w", err)
	}
	s := &Service{cfg: cfg, js: deps.JS, log: deps.Logger.With("stage", bus.StageCorrelate), metrics: m}
	s.rules.Store(rules)
	return s, nil
}

// Rules returns the rule set in use.
func (s *Service) Rules() *rule.Set { return s.rules.Load() }

// watchRules reloads the rules into engine whenever the *.yaml files of
// the rules directory change, until ctx ends. A pack that fails to load is
// logged and counted; the running rules stay in use.
func (s *Service) watchRules(ctx context.Context, engine *Engine) {
	if s.cfg.ReloadInterval < 0 {
		return
	}
	last, _ := dirStamp(s.cfg.RulesDir)
	t := time.NewTicker(s.cfg.ReloadInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		stamp, err := dirStamp(s.cfg.RulesDir)
		if err != nil || stamp == last {
			continue
		}
		last = stamp
		set, err := rule.LoadDir(s.cfg.RulesDir)
		if err != nil {
			s.metrics.Reloads.WithLabelValues("error").Inc()
			s.log.Error("rules changed but do not load; keeping the running rules", "dir", s.cfg.RulesDir, "err", err)
			continue
		}
		kept, dropped := engine.Reload(set)
		s.rules.Store(set)
		s.metrics.Reloads.WithLabelValues("ok").Inc()
		s.log.Info("rules reloaded", "rules", len(set.Enabled()), "stateful_kept", kept, "stateful_dropped", dropped)
	}
}

// dirStamp summarises the names, sizes and modification times of the rule
// files of dir.
func dirStamp(dir string) (string, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return "", err
	}
	sort.Strings(paths)
	var b strings.Builder
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "%s %d %d\n", p, fi.Size(), fi.ModTime().UnixNano())
	}
	return b.String(), nil
}

// Run opens the incident store and the durable consumer and processes
// messages until ctx ends; it then returns nil. Setup failures are
// returned.
func (s *Service) Run(ctx context.Context) error {
	kv, err := NewKVStore(ctx, s.js, s.cfg.Store)
	if err != nil {
		return fmt.Errorf("correlate: %w", err)
	}
	store := NewCachedStore(kv, s.cfg.IncidentCache, s.metrics)
	engine := NewEngine(s.Rules(), store, EngineOptions{
		Window: s.cfg.IncidentWindow, MaxAlerts: s.cfg.MaxAlertsPerIncident, Metrics: s.metrics, Logger: s.log,
		AllowedLateness: s.cfg.AllowedLateness, MaxKeys: s.cfg.MaxKeys, StoreConcurrency: s.cfg.StoreConcurrency,
	})
	state, err := NewStateStore(ctx, s.js, s.cfg.State)
	if err != nil {
		return fmt.Errorf("correlate: %w", err)
	}
	restored, err := state.Load(ctx, engine, s.cfg.Partitions.Owns)
	if err != nil {
		return fmt.Errorf("correlate: %w", err)
	}
	name := s.cfg.Partitions.consumer()
	cons, err := s.js.CreateOrUpdateConsumer(ctx, bus.StreamEvents,
		bus.ConsumerConfig(name, s.cfg.MaxAckPending, s.cfg.AckWait))
	if err != nil {
		return fmt.Errorf("correlate: consumer %s: %w", name, err)
	}
	go s.watchRules(ctx, engine)
	s.log.Info("correlator running", "rules", len(s.Rules().Enabled()), "incident_window", s.cfg.IncidentWindow,
		"bucket", s.cfg.Store.Bucket, "state_bucket", s.cfg.State.Bucket, "restored_keys", restored)
	return bus.Consume(ctx, s.js, cons, func(ctx context.Context, msg jetstream.Msg) error {
		return s.handle(ctx, engine, state, msg)
	}, bus.ConsumeOptions{
		Stage:      bus.StageCorrelate,
		Logger:     s.log,
		RetryDelay: s.cfg.RetryDelay,
		OnPoison:   func(jetstream.Msg, error) { s.metrics.PoisonMessages.Inc() },
	})
}

// handle processes one message of enriched events. It returns nil only
// after every output (dead letters, alerts, incident versions) was
// acknowledged by JetStream and the window state it changed was
// checkpointed: outputs first, so that a restart from the checkpoint never
// misses an alert; the message's stream sequence makes its replay
// idempotent (see Engine.ProcessAt).
func (s *Service) handle(ctx context.Context, engine *Engine, state *StateStore, msg jetstream.Msg) error {
	start := time.Now()
	evs, err := event.UnmarshalEvents(msg.Data())
	if err != nil {
		return bus.Poison(fmt.Errorf("decode events: %w", err))
	}
	valid := make([]event.Event, 0, len(evs))
	var dls []event.DeadLetter
	pos := position(msg)
	for i := range evs {
		if !s.cfg.Partitions.Owns(evs[i].Site) {
			continue // another replica's site
		}
		if err := ValidateEvent(&evs[i]); err != nil {
			s.metrics.InvalidEvents.Inc()
			dls = append(dls, deadLetter(&evs[i], pos, i, err))
			continue
		}
		valid = append(valid, evs[i])
	}
	if err := bus.DeadLetter(ctx, s.js, bus.StageCorrelate, dls); err != nil {
		return fmt.Errorf("dead-letter invalid events: %w", err)
	}
	var seq uint64
	if md, err := msg.Metadata(); err == nil {
		seq = md.Sequence.Stream
	}
	alerts, incidents, err := engine.ProcessAt(ctx, seq, valid)
	if err != nil {
		return err
	}
	if err := publishBySite(ctx, s.js, msg, s.cfg.Partitions.suffix("alerts"), bus.AlertsSubject, alerts, func(a event.Alert) string { return a.Site }); err != nil {
		return err
	}
	if err := publishBySite(ctx, s.js, msg, s.cfg.Partitions.suffix("incidents"), bus.IncidentsSubject, incidents, func(i event.Incident) string { return i.Site }); err != nil {
		return err
	}
	if err := state.Save(ctx, engine); err != nil {
		return err
	}
	s.metrics.Duration.Observe(time.Since(start).Seconds())
	if len(alerts) > 0 {
		s.log.Debug("correlated", "events", len(valid), "alerts", len(alerts), "incidents", len(incidents), "position", pos)
	}
	return nil
}

// publishBySite publishes records grouped by site, one batch per site, with
// message ids derived from the input message so a redelivery is
// deduplicated. A message normally holds one site; extra sites get the
// site appended to the id suffix.
func publishBySite[T any](ctx context.Context, js jetstream.JetStream, in jetstream.Msg, suffix string,
	subject func(string) string, recs []T, site func(T) string,
) error {
	if len(recs) == 0 {
		return nil
	}
	var order []string
	bySite := map[string][]T{}
	for _, r := range recs {
		st := site(r)
		if _, ok := bySite[st]; !ok {
			order = append(order, st)
		}
		bySite[st] = append(bySite[st], r)
	}
	for i, st := range order {
		id := bus.MsgID(in, suffix)
		if i > 0 {
			id = bus.MsgID(in, suffix+"."+bus.Token(st))
		}
		if err := bus.PublishRecords(ctx, js, subject(st), id, bySite[st]); err != nil {
			return fmt.Errorf("publish %s: %w", suffix, err)
		}
	}
	return nil
}

// position names a message in errors and dead letters.
func position(msg jetstream.Msg) string {
	if md, err := msg.Metadata(); err == nil {
		return md.Stream + " seq " + strconv.FormatUint(md.Sequence.Stream, 10)
	}
	return msg.Subject()
}

// deadLetter records an event that cannot be correlated.
func deadLetter(ev *event.Event, pos string, index int, cause error) event.DeadLetter {
	payload, err := json.Marshal(ev)
	if err != nil {
		payload = []byte(fmt.Sprintf("%+v", *ev))
	}
	p := pos + " record " + strconv.Itoa(index)
	return event.DeadLetter{
		ID:       event.NewID("dlq", bus.StageCorrelate, p),
		Time:     time.Now().UTC(),
		Stage:    bus.StageCorrelate,
		Site:     ev.Site,
		Source:   ev.Source,
		Reason:   cause.Error(),
		Payload:  string(payload),
		Position: p,
	}
}
