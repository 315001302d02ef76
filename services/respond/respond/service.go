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

	"github.com/c981/c981/services/respond/audit"
	"github.com/c981/c981/services/respond/constraint"
	"github.com/c981/c981/services/respond/executor"
	"github.com/c981/c981/services/respond/playbook"
	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/shared/event"
	"github.com/c981/c981/services/shared/site"
	"github.com/c981/c981/services/shared/stage"
)

// Config configures the respond stage.
//
//	respond:
//	  playbooks_dir: playbooks    # directory of *.yaml playbook files
//	  sites: [deploy/demo/site.yaml]  # optional: asset response constraints
//	  ack_wait: 30s               # redelivery after this long without an ack
//	  max_ack_pending: 256        # incident messages in flight
//	  retry_delay: 1s             # redelivery delay after a transient error
//	  renotify: 15m               # re-notify open approval requests this often
//	  replicas: 1                 # copies of C981_AUDIT and respond's KV buckets (3 in a cluster)
//	  planned_cache: 50000        # incidents whose last planned version is remembered
type Config struct {
	// PlaybooksDir is the directory of *.yaml playbook files.
	PlaybooksDir string `yaml:"playbooks_dir"`
	// Sites are optional site model files whose assets' response
	// constraints (forbidden actions, extra approvers) the constraint
	// engine applies.
	Sites []string `yaml:"sites"`
	// AckWait is how long JetStream waits for an ack before redelivering.
	AckWait time.Duration `yaml:"ack_wait"`
	// MaxAckPending bounds the unacknowledged messages in flight.
	MaxAckPending int `yaml:"max_ack_pending"`
	// RetryDelay is the redelivery delay after a transient error.
	RetryDelay time.Duration `yaml:"retry_delay"`
	// Audit appends a decision record for every plan step (and an action
	// record for every executed step) to the per-site hash chain in the
	// C981_AUDIT stream.
	Audit bool `yaml:"audit"`
	// Execute configures the executors of allowed automatic steps; nil
	// executes nothing (plans only).
	Execute *ExecuteConfig `yaml:"execute"`
	// Renotify is how often a step still waiting for approval (or timed
	// out) is notified again (default DefaultRenotify).
	Renotify time.Duration `yaml:"renotify"`
	// Replicas is the number of copies respond keeps of the streams it
	// owns: the audit chains (C981_AUDIT), the approvals bucket and the
	// executors' idempotency bucket; 0 means 1, a cluster uses 3 like
	// streams.replicas.
	Replicas int `yaml:"replicas"`
	// PlannedCache is how many incidents keep, in memory, the fingerprint
	// of the plan inputs of their last planned version, so that a newer
	// version changing none of them is not planned again (see planned;
	// default DefaultPlannedCache).
	PlannedCache int `yaml:"planned_cache"`
}

// ExecuteConfig configures the executors.
//
//	execute:
//	  dry_run: true                 # do everything but the effect
//	  notify:  {url: https://hooks.example.com/notify, secret_env: C981_NOTIFY_SECRET, allowed_hosts: [hooks.example.com]}
//	  ticket:  {url: https://itsm.example.com/api/c981, secret_env: C981_TICKET_SECRET, allowed_hosts: [itsm.example.com]}
//	  gateway: true                 # boundary actions via NATS to c981.gateway.<site>
//	  gateway_timeout: 10s
type ExecuteConfig struct {
	// DryRun makes every executor do everything but its effect.
	DryRun bool `yaml:"dry_run"`
	// Notify receives notify steps; Ticket open_ticket and
	// open_isms_incident steps.
	Notify *executor.WebhookConfig `yaml:"notify"`
	Ticket *executor.WebhookConfig `yaml:"ticket"`
	// Gateway sends boundary actions to the site-local gateway.
	Gateway        bool          `yaml:"gateway"`
	GatewayTimeout time.Duration `yaml:"gateway_timeout"`
}

// runner builds the executor runner of the configuration.
func (c *ExecuteConfig) runner(ctx context.Context, js jetstream.JetStream, replicas int) (*executor.Runner, error) {
	by := map[string]executor.Executor{}
	if c.Notify != nil {
		cfg := c.Notify.ResolveSecret()
		if cfg.Name == "" {
			cfg.Name = "notify"
		}
		w, err := executor.NewWebhook(cfg)
		if err != nil {
			return nil, err
		}
		by[constraint.ActNotify] = w
	}
	if c.Ticket != nil {
		cfg := c.Ticket.ResolveSecret()
		if cfg.Name == "" {
			cfg.Name = "ticket"
		}
		w, err := executor.NewWebhook(cfg)
		if err != nil {
			return nil, err
		}
		by[constraint.ActOpenTicket] = w
		by[constraint.ActOpenISMSIncident] = w
	}
	if c.Gateway {
		g, err := executor.NewGatewayClient(js.Conn(), c.GatewayTimeout)
		if err != nil {
			return nil, err
		}
		for _, a := range constraint.Actions() {
			if a.Class == event.ClassBoundary {
				by[a.Name] = g
			}
		}
	}
	kv, err := executor.EnsureBucket(ctx, js, 0, replicas)
	if err != nil {
		return nil, err
	}
	return executor.NewRunner(kv, by, c.DryRun)
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
	if c.Renotify == 0 {
		c.Renotify = DefaultRenotify
	}
	if c.PlannedCache == 0 {
		c.PlannedCache = DefaultPlannedCache
	}
	return c
}

// Validate checks the configuration.
func (c Config) Validate() error {
	var errs []error
	if c.PlaybooksDir == "" {
		errs = append(errs, errors.New("respond: playbooks_dir is required"))
	}
	if c.AckWait < 0 || c.RetryDelay < 0 || c.MaxAckPending < 0 || c.Renotify < 0 || c.PlannedCache < 0 {
		errs = append(errs, errors.New("respond: ack_wait, retry_delay, max_ack_pending, renotify and planned_cache must not be negative"))
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
	audit   *audit.Log       // nil unless cfg.Audit
	runner  *executor.Runner // nil unless cfg.Execute
	// planned remembers the plan inputs of the last version planned per
	// incident.
	planned *planned
	// approvals is the bus.KVApprovals bucket of approval requests.
	approvals jetstream.KeyValue
	// now is the clock (tests set a fake one).
	now func() time.Time
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
	var models []*site.Model
	for _, f := range cfg.Sites {
		m, err := site.Load(f)
		if err != nil {
			return nil, fmt.Errorf("respond: %w", err)
		}
		models = append(models, m)
	}
	reg := deps.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("respond: %w", err)
	}
	pl := newPlanned(set, cfg.PlannedCache)
	log.Info("playbooks loaded", "dir", cfg.PlaybooksDir, "count", set.Len(), "site_models", len(models),
		"volatile_fields_read", pl.volatileRead())
	return &Service{cfg: cfg, js: deps.JS, log: log, planner: NewPlanner(set, log).WithSites(models...), m: m, planned: pl,
		now: func() time.Time { return time.Now().UTC() }}, nil
}

// open creates the audit stream, the approvals bucket and the executors'
// idempotency bucket.
func (s *Service) open(ctx context.Context) error {
	if s.approvals == nil {
		kv, err := EnsureApprovalsBucket(ctx, s.js, s.cfg.Replicas)
		if err != nil {
			return err
		}
		s.approvals = kv
	}
	if s.cfg.Audit && s.audit == nil {
		l, err := audit.OpenLog(ctx, s.js, s.cfg.Replicas)
		if err != nil {
			return err
		}
		s.audit = l
	}
	if s.cfg.Execute != nil && s.runner == nil {
		r, err := s.cfg.Execute.runner(ctx, s.js, s.cfg.Replicas)
		if err != nil {
			return fmt.Errorf("execute: %w", err)
		}
		s.runner = r
	}
	return nil
}

// Planner returns the service's planner.
func (s *Service) Planner() *Planner { return s.planner }

// Run consumes C981_INCIDENTS with the durable respond consumer and
// C981_APPROVALS with respond-approvals, and renotifies open approval
// requests every Config.Renotify, until ctx ends, then returns nil. Each
// message is acknowledged only after its effects (plans, approval
// requests, audit records, executions, dead letters) are durable.
func (s *Service) Run(ctx context.Context) error {
	if err := s.open(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("respond: %w", err)
	}
	cons, err := s.js.CreateOrUpdateConsumer(ctx, bus.StreamIncidents,
		bus.ConsumerConfig(bus.ConsumerRespond, s.cfg.MaxAckPending, s.cfg.AckWait))
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("respond: consumer %s: %w", bus.ConsumerRespond, err)
	}
	acons, err := s.js.CreateOrUpdateConsumer(ctx, bus.StreamApprovals,
		bus.ConsumerConfig(bus.ConsumerRespondApprovals, s.cfg.MaxAckPending, s.cfg.AckWait))
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("respond: consumer %s: %w", bus.ConsumerRespondApprovals, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 3)
	go func() {
		errc <- bus.Consume(ctx, s.js, cons, s.handle, bus.ConsumeOptions{
			Stage:      bus.StageRespond,
			Logger:     s.log,
			RetryDelay: s.cfg.RetryDelay,
			OnPoison: func(jetstream.Msg, error) {
				s.m.poison.Inc()
			},
		})
	}()
	go func() {
		errc <- bus.Consume(ctx, s.js, acons, s.handleApprovals, bus.ConsumeOptions{
			Stage:      bus.StageRespond,
			Logger:     s.log.With("consumer", bus.ConsumerRespondApprovals),
			RetryDelay: s.cfg.RetryDelay,
			OnPoison: func(jetstream.Msg, error) {
				s.m.poison.Inc()
			},
		})
	}()
	go func() { errc <- s.renotifyLoop(ctx) }()
	var first error
	for range 3 {
		if err := <-errc; err != nil && first == nil {
			first = fmt.Errorf("respond: %w", err)
			cancel()
		}
	}
	return first
}

// renotifyLoop runs Renotify every Config.Renotify until ctx ends; a
// failed round is logged and retried at the next tick.
func (s *Service) renotifyLoop(ctx context.Context) error {
	t := time.NewTicker(s.cfg.Renotify)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		n, err := s.Renotify(ctx)
		if err != nil && ctx.Err() == nil {
			s.log.Warn("renotify approval requests", "sent", n, "err", err)
		}
	}
}

// siteBatch holds the plans for one site in one input message.
type siteBatch struct {
	site  string
	plans []event.Plan
	incs  []*event.Incident // incs[i] is the incident of plans[i]
}

// handle plans every incident of one message. Undecodable messages are
// poison; invalid incidents are dead-lettered one by one while their
// neighbours are planned.
func (s *Service) handle(ctx context.Context, msg jetstream.Msg) error {
	var incs []event.Incident
	if err := event.Unmarshal(msg.Data(), &incs); err != nil {
		return bus.Poison(fmt.Errorf("decode incidents: %w", err))
	}
	now := s.now()
	var (
		dls       []event.DeadLetter
		batches   []siteBatch
		valid     int
		unchanged int
		evalErr   int
		remember  []plannedVersion
		ids       []string
	)
	for i := range incs {
		inc := &incs[i]
		if err := validateIncident(inc); err != nil {
			dls = append(dls, deadLetter(msg, i, inc, err, now))
			continue
		}
		fp := s.planned.inputs(inc)
		if s.planned.unchanged(inc, fp) {
			unchanged++
			continue
		}
		valid++
		plans, err := s.planner.PlanErr(*inc, now)
		if err != nil {
			evalErr++
			s.log.Warn("playbook evaluation failed", "incident", inc.ID, "version", inc.Version, "err", err)
		} else {
			remember = append(remember, plannedVersion{version: inc.Version, inputs: fp})
			ids = append(ids, inc.ID)
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
		for range plans {
			batches[j].incs = append(batches[j].incs, inc)
		}
	}
	if err := bus.DeadLetter(ctx, s.js, bus.StageRespond, dls); err != nil {
		return fmt.Errorf("dead-letter invalid incidents: %w", err)
	}
	for _, b := range batches {
		// The approval requests exist before anyone can see the plans.
		superseded, err := s.openRequests(ctx, b, now)
		if err != nil {
			return err
		}
		if err := s.appendAudit(ctx, b.site, superseded); err != nil {
			return err
		}
		suffix := "plans"
		if len(batches) > 1 {
			suffix = "plans." + bus.Token(b.site)
		}
		if err := bus.PublishRecords(ctx, s.js, bus.ActionsSubject(b.site), bus.MsgID(msg, suffix), b.plans); err != nil {
			return fmt.Errorf("publish plans: %w", err)
		}
		if err := s.auditAndExecute(ctx, b, now); err != nil {
			return err
		}
	}
	// Durable now: later versions with the same plan inputs are skipped.
	for i, r := range remember {
		s.planned.remember(ids[i], r.version, r.inputs)
	}
	s.m.incidents.WithLabelValues("planned").Add(float64(valid))
	s.m.incidents.WithLabelValues("unchanged").Add(float64(unchanged))
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

// auditAndExecute appends the decision records of a site's plans, runs
// their allowed automatic steps and appends the action records. A
// redelivered message repeats none of it: records carry deterministic ids
// (deduplicated by the stream) and steps idempotency keys.
func (s *Service) auditAndExecute(ctx context.Context, b siteBatch, now time.Time) error {
	if s.audit == nil && s.runner == nil {
		return nil
	}
	var recs []audit.Record
	for i, p := range b.plans {
		if s.audit != nil {
			d, err := audit.Decisions(*b.incs[i], p, now)
			if err != nil {
				return err
			}
			recs = append(recs, d...)
		}
		if s.runner == nil {
			continue
		}
		outs, err := s.runner.Run(ctx, p, s.planner.Context(b.incs[i]), *b.incs[i])
		if err != nil {
			return fmt.Errorf("execute plan %s: %w", p.ID, err)
		}
		for _, o := range outs {
			s.m.executed.WithLabelValues(o.Status).Inc()
		}
		if s.audit != nil {
			a, err := audit.Actions(p, outs)
			if err != nil {
				return err
			}
			recs = append(recs, a...)
		}
	}
	if s.audit != nil && len(recs) > 0 {
		if _, err := s.audit.Append(ctx, b.site, recs); err != nil {
			return fmt.Errorf("audit: %w", err)
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
