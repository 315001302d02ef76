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

	"github.com/nats-io/nats.go"
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
//	  max_alerts_per_incident: 0
//	  store: {bucket: C981_CORRELATE_INCIDENTS, replicas: 1, ttl: 168h}
//	  incident_cache: 20000
//	  store_concurrency: 32
//	  state: {bucket: C981_CORRELATE_STATE, replicas: 1, ttl: 168h}
//	  allowed_lateness: 1m
//	  max_keys: 200000
//	  partitions: {count: 1, index: 0}
//	  reload_interval: 10s
//	  ack_wait: 30s
//	  max_ack_pending: 64
//	  pull_max_bytes: 33554432
//	  retry_delay: 1s
type Config struct {
	// RulesDir holds the *.yaml rule files.
	RulesDir string `yaml:"rules_dir"`
	// IncidentWindow groups alerts of one key into one incident while each
	// arrives within this event-time span of the previous (default 1h).
	IncidentWindow time.Duration `yaml:"incident_window"`
	// MaxAlertsPerIncident, when positive, bounds one incident's alerts;
	// more open a continuation incident. 0 (the default) does not bound
	// them: an incident keeps KeptAlertIDs alert ids and counts them all,
	// so its versions and store value stay the same size.
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
	// AckWait is the consumer's acknowledgement deadline (default 30s). It
	// no longer bounds the stall of a restart (the consumer is reset to the
	// first unacknowledged message at start); it must exceed the time a
	// message waits in the pipeline (MaxAckPending messages).
	AckWait time.Duration `yaml:"ack_wait"`
	// MaxAckPending bounds the messages in the pipeline: delivered, being
	// applied or waiting for their outputs and checkpoint to be durable
	// (default 64). Any value keeps the determinism of stream order: the
	// service applies deliveries in order, skips a redelivered message it
	// already applied, and after a crash or a failed message resets the
	// consumer to the first message whose effects are not durable, so a
	// restart or a retry raises exactly the alerts of an uninterrupted run.
	// 1 makes every message wait for the previous one's acknowledgement
	// (no pipelining).
	MaxAckPending int `yaml:"max_ack_pending"`
	// PullMaxBytes bounds each pull of enriched batches from the server
	// (see bus.PullBudget; default bus.DefaultPullMaxBytes, at least
	// bus.MinPullBytes, one message of the streams' size limit): with
	// MaxAckPending, which bounds their number, it bounds what the stage
	// buffers under a backlog (64 batches of ~1.2 MB were ~80 MB).
	PullMaxBytes int `yaml:"pull_max_bytes"`
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

// DefaultMaxAckPending is the default of Config.MaxAckPending.
const DefaultMaxAckPending = 64

// DefaultConfig returns the defaults applied to zero Config fields.
func DefaultConfig() Config {
	return Config{
		RulesDir:         "rules",
		IncidentWindow:   DefaultIncidentWindow,
		Store:            KVConfig{Bucket: DefaultBucket, Replicas: 1, TTL: 7 * 24 * time.Hour},
		IncidentCache:    DefaultIncidentCache,
		StoreConcurrency: DefaultStoreConcurrency,
		State:            StateConfig{Bucket: DefaultStateBucket, Replicas: 1, TTL: 7 * 24 * time.Hour},
		AllowedLateness:  DefaultAllowedLateness,
		MaxKeys:          DefaultMaxKeys,
		ReloadInterval:   10 * time.Second,
		AckWait:          30 * time.Second,
		MaxAckPending:    DefaultMaxAckPending,
		PullMaxBytes:     bus.DefaultPullMaxBytes,
		RetryDelay:       time.Second,
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
	if c.PullMaxBytes == 0 {
		c.PullMaxBytes = d.PullMaxBytes
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
	if c.MaxAlertsPerIncident < 0 {
		errs = append(errs, fmt.Errorf("max_alerts_per_incident %d must not be negative", c.MaxAlertsPerIncident))
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
	if c.MaxAckPending > 10000 {
		errs = append(errs, fmt.Errorf("max_ack_pending %d must be at most 10000", c.MaxAckPending))
	}
	if c.PullMaxBytes < bus.MinPullBytes {
		errs = append(errs, fmt.Errorf("pull_max_bytes %d must be at least %d (one message of the streams' 8 MiB limit)", c.PullMaxBytes, bus.MinPullBytes))
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
	// evbuf is the apply stage's decoding buffer (see decode); its first
	// evlen events may hold strings of the last message decoded.
	evbuf []event.Event
	evlen int
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
	// The apply stage flushes the incidents of a group of messages at once
	// (see apply).
	store.SetDeferred(true)
	engine := NewEngine(s.Rules(), store, EngineOptions{
		Window: s.cfg.IncidentWindow, MaxAlerts: s.cfg.MaxAlertsPerIncident, Metrics: s.metrics, Logger: s.log,
		AllowedLateness: s.cfg.AllowedLateness, MaxKeys: s.cfg.MaxKeys, StoreConcurrency: s.cfg.StoreConcurrency,
		// Only the messages in flight (at most MaxAckPending past the ack
		// floor) can be redelivered after they were applied.
		ReplayDepth: s.cfg.MaxAckPending,
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
	info, err := cons.Info(ctx)
	if err != nil {
		return fmt.Errorf("correlate: consumer %s: %w", name, err)
	}
	maxDeliver := info.Config.MaxDeliver
	// Everything up to the ack floor is durable. Messages a predecessor
	// left unacknowledged would come back only after AckWait and after
	// later ones: the consumer is reset to the first of them instead.
	applied, expect := info.AckFloor.Stream, info.Delivered.Consumer+1
	reason := ""
	if info.NumAckPending > 0 {
		reason = restartResume
	}
	go s.watchRules(ctx, engine)
	s.log.Info("correlator running", "rules", len(s.Rules().Enabled()), "incident_window", s.cfg.IncidentWindow,
		"bucket", s.cfg.Store.Bucket, "state_bucket", s.cfg.State.Bucket, "restored_keys", restored,
		"ack_floor", applied, "unacknowledged", info.NumAckPending, "max_ack_pending", s.cfg.MaxAckPending)
	attempts := map[uint64]int{}
	for {
		if reason != "" {
			if err := s.reset(ctx, name, applied+1, reason); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				// At start a refused reset (a NATS user without the
				// permission, a server before 2.14) is a setup error:
				// consuming without it would apply later messages first.
				if reason == restartResume {
					return fmt.Errorf("correlate: %w", err)
				}
				s.log.Error("reset consumer; retrying", "consumer", name, "err", err)
				if !sleep(ctx, s.cfg.RetryDelay) {
					return nil
				}
				continue
			}
			expect = 1
		}
		committed, perr := s.runPipeline(ctx, cons, engine, store, state, applied, expect)
		applied = max(applied, committed)
		if ctx.Err() != nil {
			return nil
		}
		if perr == nil { // the iterator closed under a live service
			perr = &pipelineError{reason: restartError, err: errors.New("the consumer's message iterator closed")}
		}
		reason = perr.reason
		if perr.msg != nil {
			if s.finalAttempt(ctx, attempts, maxDeliver, perr) {
				applied = perr.seq
			}
		} else {
			s.log.Warn("restarting the pipeline from the checkpoint", "reason", perr.reason, "err", perr)
		}
		if !sleep(ctx, s.cfg.RetryDelay) {
			return nil
		}
		// The engine may hold the state of messages after the last one
		// committed: start again from the checkpoint.
		for {
			engine.resetState()
			if _, err := state.Load(ctx, engine, s.cfg.Partitions.Owns); err == nil {
				break
			} else if ctx.Err() != nil {
				return nil
			} else {
				s.log.Error("reload the checkpoint; retrying", "err", err)
			}
			if !sleep(ctx, s.cfg.RetryDelay) {
				return nil
			}
		}
	}
}

// reset makes the consumer deliver again from stream sequence seq, at once
// and in order: the messages after the last durable one that are pending
// (delivered to a predecessor, or to this process before a failure).
func (s *Service) reset(ctx context.Context, name string, seq uint64, reason string) error {
	if _, err := s.js.ResetConsumerToSequence(ctx, bus.StreamEvents, name, seq); err != nil {
		return fmt.Errorf("reset consumer %s to sequence %d (the correlator's NATS user needs $JS.API.CONSUMER.RESET.%s.%s): %w",
			name, seq, bus.StreamEvents, name, err)
	}
	s.metrics.Restarts.WithLabelValues(reason).Inc()
	s.log.Info("consumer reset to the first unacknowledged message", "consumer", name, "seq", seq, "reason", reason)
	return nil
}

// finalAttempt counts a failure of the message perr names; on the
// consumer's MaxDeliver-th consecutive failure the message is dead-lettered
// with the reason and terminated, and finalAttempt reports true: the
// pipeline then resumes after it, so a message that always fails does not
// block the stream.
func (s *Service) finalAttempt(ctx context.Context, attempts map[uint64]int, maxDeliver int, perr *pipelineError) bool {
	for seq := range attempts {
		if seq != perr.seq {
			delete(attempts, seq)
		}
	}
	attempts[perr.seq]++
	n := attempts[perr.seq]
	if maxDeliver <= 0 || n < maxDeliver {
		s.log.Warn("message failed; the pipeline restarts from it", "seq", perr.seq, "attempt", n, "err", perr.err)
		return false
	}
	cause := fmt.Errorf("failed on attempt %d of at most %d: %w", n, maxDeliver, perr.err)
	if err := deadLetterMessage(ctx, s.js, perr.msg, cause); err != nil {
		s.log.Error("dead-letter a message that failed on its final attempt; will retry", "seq", perr.seq, "err", err)
		return false
	}
	if err := perr.msg.Term(); err != nil {
		s.log.Warn("term", "seq", perr.seq, "err", err)
	}
	delete(attempts, perr.seq)
	s.log.Error("message failed on its final attempt; dead-lettered", "seq", perr.seq, "err", cause)
	return true
}

// sleep waits d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// encodeBySite encodes records grouped by site, one message per site, with
// message ids derived from the input message so that a replay is
// deduplicated, and appends the messages to out. A message normally holds
// one site; extra sites get the site appended to the id suffix.
func encodeBySite[T any](in jetstream.Msg, suffix string, subject func(string) string, recs []T, site func(T) string, out []*nats.Msg) ([]*nats.Msg, error) {
	if len(recs) == 0 {
		return out, nil
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
		data, err := event.Marshal(bySite[st])
		if err != nil {
			return out, fmt.Errorf("encode %s %s: %w", suffix, id, err)
		}
		msg := &nats.Msg{Subject: subject(st), Data: data, Header: nats.Header{}}
		msg.Header.Set(bus.HeaderEncoding, event.Encoding)
		msg.Header.Set(bus.HeaderCount, strconv.Itoa(len(bySite[st])))
		msg.Header.Set(jetstream.MsgIDHeader, id)
		out = append(out, msg)
	}
	return out, nil
}

// publishAll starts publishing msgs (their message ids are in their
// headers) and appends the publications' futures to futures.
func publishAll(js jetstream.JetStream, msgs []*nats.Msg, futures []jetstream.PubAckFuture) ([]jetstream.PubAckFuture, error) {
	for _, m := range msgs {
		f, err := js.PublishMsgAsync(m)
		if err != nil {
			return futures, fmt.Errorf("publish %s %s: %w", m.Subject, m.Header.Get(jetstream.MsgIDHeader), err)
		}
		futures = append(futures, f)
	}
	return futures, nil
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
	// The payload has the event's fields: the encoder writes Fields, not
	// the raw form the service's decoder leaves them in.
	ev.DecodeFields()
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
