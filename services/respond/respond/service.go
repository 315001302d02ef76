package respond

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/c981/c981/services/respond/playbook"
	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/shared/event"
	"github.com/c981/c981/services/shared/stage"
)

// Config configures the respond stage.
//
//	respond:
//	  playbooks_dir: playbooks    # directory of *.yaml playbook files
//	  ack_wait: 30s               # redelivery after this long without an ack
//	  max_ack_pending: 256        # incident messages in flight
//	  retry_delay: 1s             # redelivery delay after a transient error
type Config struct {
	// PlaybooksDir is the directory of *.yaml playbook files.
	PlaybooksDir string `yaml:"playbooks_dir"`
	// AckWait is how long JetStream waits for an ack before redelivering.
	AckWait time.Duration `yaml:"ack_wait"`
	// MaxAckPending bounds the unacknowledged messages in flight.
	MaxAckPending int `yaml:"max_ack_pending"`
	// RetryDelay is the redelivery delay after a transient error.
	RetryDelay time.Duration `yaml:"retry_delay"`
}

// Default values for unset Config fields.
const (
	DefaultAckWait       = 30 * time.Second
	DefaultMaxAckPending = 256
	DefaultRetryDelay    = time.Second
)

// WithDefaults returns c with unset fields set to their defaults.
func (c Config) WithDefaults() Config {
	if c.AckWait == 0 {
		c.AckWait = DefaultAckWait
	}
	if c.MaxAckPending == 0 {
		c.MaxAckPending = DefaultMaxAckPending
	}
	if c.RetryDelay == 0 {
		c.RetryDelay = DefaultRetryDelay
	}
	return c
}

// Validate checks the configuration.
func (c Config) Validate() error {
	var errs []error
	if c.PlaybooksDir == "" {
		errs = append(errs, errors.New("respond: playbooks_dir is required"))
	}
	if c.AckWait < 0 || c.RetryDelay < 0 || c.MaxAckPending < 0 {
		errs = append(errs, errors.New("respond: ack_wait, retry_delay and max_ack_pending must not be negative"))
	}
	return errors.Join(errs...)
}

// Deps are the stage's collaborators (see package stage).
type Deps = stage.Deps

// Service consumes incident versions and publishes response plans.
type Service struct {
	cfg     Config
	js      jetstream.JetStream
	log     *slog.Logger
	planner *Planner
	m       *metrics
}

// New loads the playbooks and builds the service.
func New(cfg Config, deps Deps) (*Service, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.JS == nil {
		return nil, errors.New("respond: Deps.JS is required")
	}
	log := deps.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("stage", bus.StageRespond)
	set, err := playbook.LoadDir(cfg.PlaybooksDir)
	if err != nil {
		return nil, fmt.Errorf("respond: %w", err)
	}
	reg := deps.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("respond: %w", err)
	}
	log.Info("playbooks loaded", "dir", cfg.PlaybooksDir, "count", set.Len())
	return &Service{cfg: cfg, js: deps.JS, log: log, planner: NewPlanner(set, log), m: m}, nil
}

// Planner returns the service's planner.
func (s *Service) Planner() *Planner { return s.planner }

// Run consumes C981_INCIDENTS with the durable respond consumer until ctx
// ends, then returns nil. Each message is acknowledged only after its plans
// (and the dead letters of its bad incidents) are stored by JetStream.
func (s *Service) Run(ctx context.Context) error {
	cons, err := s.js.CreateOrUpdateConsumer(ctx, bus.StreamIncidents,
		bus.ConsumerConfig(bus.ConsumerRespond, s.cfg.MaxAckPending, s.cfg.AckWait))
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("respond: consumer %s: %w", bus.ConsumerRespond, err)
	}
	return bus.Consume(ctx, s.js, cons, s.handle, bus.ConsumeOptions{
		Stage:      bus.StageRespond,
		Logger:     s.log,
		RetryDelay: s.cfg.RetryDelay,
		OnPoison: func(jetstream.Msg, error) {
			s.m.poison.Inc()
		},
	})
}

// siteBatch holds the plans for one site in one input message.
type siteBatch struct {
	site  string
	plans []event.Plan
}

// handle plans every incident of one message. Undecodable messages are
// poison; invalid incidents are dead-lettered one by one while their
// neighbours are planned.
func (s *Service) handle(ctx context.Context, msg jetstream.Msg) error {
	var incs []event.Incident
	if err := event.Unmarshal(msg.Data(), &incs); err != nil {
		return bus.Poison(fmt.Errorf("decode incidents: %w", err))
	}
	now := time.Now().UTC()
	var (
		dls     []event.DeadLetter
		batches []siteBatch
		valid   int
		evalErr int
	)
	for i := range incs {
		inc := &incs[i]
		if err := validateIncident(inc); err != nil {
			dls = append(dls, deadLetter(msg, i, inc, err, now))
			continue
		}
		valid++
		plans, err := s.planner.PlanErr(*inc, now)
		if err != nil {
			evalErr++
			s.log.Warn("playbook evaluation failed", "incident", inc.ID, "version", inc.Version, "err", err)
		}
		if len(plans) == 0 {
			continue
		}
		j := 0
		for j < len(batches) && batches[j].site != inc.Site {
			j++
		}
		if j == len(batches) {
			batches = append(batches, siteBatch{site: inc.Site})
		}
		batches[j].plans = append(batches[j].plans, plans...)
	}
	if err := bus.DeadLetter(ctx, s.js, bus.StageRespond, dls); err != nil {
		return fmt.Errorf("dead-letter invalid incidents: %w", err)
	}
	for _, b := range batches {
		suffix := "plans"
		if len(batches) > 1 {
			suffix = "plans." + bus.Token(b.site)
		}
		if err := bus.PublishRecords(ctx, s.js, bus.ActionsSubject(b.site), bus.MsgID(msg, suffix), b.plans); err != nil {
			return fmt.Errorf("publish plans: %w", err)
		}
	}
	s.m.incidents.WithLabelValues("planned").Add(float64(valid))
	s.m.incidents.WithLabelValues("invalid").Add(float64(len(dls)))
	s.m.evalErrors.Add(float64(evalErr))
	for _, b := range batches {
		for _, p := range b.plans {
			s.m.plans.WithLabelValues(p.PlaybookID).Inc()
			for _, st := range p.Steps {
				s.m.decisions.WithLabelValues(st.Decision).Inc()
			}
		}
	}
	return nil
}

// validateIncident checks the fields the stage relies on.
func validateIncident(inc *event.Incident) error {
	var errs []error
	if inc.ID == "" {
		errs = append(errs, errors.New("incident id is empty"))
	}
	if inc.Site == "" {
		errs = append(errs, errors.New("incident site is empty"))
	}
	if event.SeverityRank(inc.Severity) < 0 {
		errs = append(errs, fmt.Errorf("incident severity %q is not one of info, low, medium, high, critical", inc.Severity))
	}
	return errors.Join(errs...)
}

func deadLetter(msg jetstream.Msg, i int, inc *event.Incident, cause error, now time.Time) event.DeadLetter {
	pos := msg.Subject()
	if md, err := msg.Metadata(); err == nil {
		pos = md.Stream + " seq " + strconv.FormatUint(md.Sequence.Stream, 10)
	}
	pos += " record " + strconv.Itoa(i)
	payload, err := json.Marshal(inc)
	if err != nil {
		payload = []byte(fmt.Sprintf("%+v", *inc))
	}
	return event.DeadLetter{
		ID:       event.NewID("dlq-record", bus.StageRespond, pos),
		Time:     now,
		Stage:    bus.StageRespond,
		Site:     inc.Site,
		Source:   msg.Subject(),
		Reason:   "invalid incident: " + cause.Error(),
		Payload:  string(payload),
		Position: pos,
	}
}
