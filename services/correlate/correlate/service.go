package correlate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
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
//	  ack_wait: 30s
//	  max_ack_pending: 1000
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
	// AckWait is the consumer's acknowledgement deadline (default 30s).
	AckWait time.Duration `yaml:"ack_wait"`
	// MaxAckPending bounds unacknowledged messages (default 1000).
	MaxAckPending int `yaml:"max_ack_pending"`
	// RetryDelay is the redelivery delay after a transient failure (default 1s).
	RetryDelay time.Duration `yaml:"retry_delay"`
}

// DefaultConfig returns the defaults applied to zero Config fields.
func DefaultConfig() Config {
	return Config{
		RulesDir:             "rules",
		IncidentWindow:       DefaultIncidentWindow,
		MaxAlertsPerIncident: DefaultMaxAlerts,
		Store:                KVConfig{Bucket: DefaultBucket, Replicas: 1, TTL: 7 * 24 * time.Hour},
		AckWait:              30 * time.Second,
		MaxAckPending:        1000,
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
	rules   *rule.Set
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
	return &Service{cfg: cfg, js: deps.JS, log: deps.Logger.With("stage", bus.StageCorrelate), rules: rules, metrics: m}, nil
}

// Rules returns the loaded rule set.
func (s *Service) Rules() *rule.Set { return s.rules }

// Run opens the incident store and the durable consumer and processes
// messages until ctx ends; it then returns nil. Setup failures are
// returned.
func (s *Service) Run(ctx context.Context) error {
	store, err := NewKVStore(ctx, s.js, s.cfg.Store)
	if err != nil {
		return fmt.Errorf("correlate: %w", err)
	}
	engine := NewEngine(s.rules, store, EngineOptions{
		Window: s.cfg.IncidentWindow, MaxAlerts: s.cfg.MaxAlertsPerIncident, Metrics: s.metrics, Logger: s.log,
	})
	cons, err := s.js.CreateOrUpdateConsumer(ctx, bus.StreamEvents,
		bus.ConsumerConfig(bus.ConsumerCorrelate, s.cfg.MaxAckPending, s.cfg.AckWait))
	if err != nil {
		return fmt.Errorf("correlate: consumer %s: %w", bus.ConsumerCorrelate, err)
	}
	s.log.Info("correlator running", "rules", len(s.rules.Enabled()), "incident_window", s.cfg.IncidentWindow, "bucket", s.cfg.Store.Bucket)
	return bus.Consume(ctx, s.js, cons, func(ctx context.Context, msg jetstream.Msg) error {
		return s.handle(ctx, engine, msg)
	}, bus.ConsumeOptions{
		Stage:      bus.StageCorrelate,
		Logger:     s.log,
		RetryDelay: s.cfg.RetryDelay,
		OnPoison:   func(jetstream.Msg, error) { s.metrics.PoisonMessages.Inc() },
	})
}

// handle processes one message of enriched events. It returns nil only
// after every output (dead letters, alerts, incident versions) was
// acknowledged by JetStream.
func (s *Service) handle(ctx context.Context, engine *Engine, msg jetstream.Msg) error {
	start := time.Now()
	evs, err := event.UnmarshalEvents(msg.Data())
	if err != nil {
		return bus.Poison(fmt.Errorf("decode events: %w", err))
	}
	valid := make([]event.Event, 0, len(evs))
	var dls []event.DeadLetter
	pos := position(msg)
	for i := range evs {
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
	alerts, incidents, err := engine.Process(ctx, valid)
	if err != nil {
		return err
	}
	if err := publishBySite(ctx, s.js, msg, "alerts", bus.AlertsSubject, alerts, func(a event.Alert) string { return a.Site }); err != nil {
		return err
	}
	if err := publishBySite(ctx, s.js, msg, "incidents", bus.IncidentsSubject, incidents, func(i event.Incident) string { return i.Site }); err != nil {
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
