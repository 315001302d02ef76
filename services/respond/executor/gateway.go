package executor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/c981/c981/services/respond/constraint"
	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/shared/event"
	"github.com/c981/c981/services/shared/site"
)

// GatewaySubject is the request subject of a site's local gateway.
func GatewaySubject(site string) string { return "c981.gateway." + bus.Token(site) }

// GatewayReply is the gateway's answer.
type GatewayReply struct {
	// Applied is true when the action was applied (false on dry run or
	// refusal).
	Applied bool `json:"applied"`
	// Refused is true when the gateway's own constraint check failed.
	Refused bool `json:"refused"`
	// Duplicate is true when the gateway had already applied this key.
	Duplicate bool `json:"duplicate"`
	// Reason explains the answer.
	Reason string `json:"reason"`
}

// GatewayClient sends boundary actions to the site-local gateway.
type GatewayClient struct {
	nc      *nats.Conn
	timeout time.Duration
}

// NewGatewayClient returns a gateway executor over nc; timeout bounds one
// request (10s when 0).
func NewGatewayClient(nc *nats.Conn, timeout time.Duration) (*GatewayClient, error) {
	if nc == nil {
		return nil, errors.New("gateway: a NATS connection is required")
	}
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	return &GatewayClient{nc: nc, timeout: timeout}, nil
}

// Name implements Executor.
func (g *GatewayClient) Name() string { return "gateway" }

// Execute implements Executor: a request to c981.gateway.<site>. The
// gateway applies nothing on a dry run.
func (g *GatewayClient) Execute(ctx context.Context, job Job) (Result, error) {
	if a, _ := constraint.Lookup(job.Step.Action); a.Class != event.ClassBoundary {
		return Result{}, fmt.Errorf("gateway: %s is not a boundary action", job.Step.Action)
	}
	body, err := json.Marshal(job)
	if err != nil {
		return Result{}, fmt.Errorf("gateway: encode: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, g.timeout)
	defer cancel()
	msg, err := g.nc.RequestWithContext(ctx, GatewaySubject(job.Site), body)
	if err != nil {
		return Result{}, fmt.Errorf("gateway %s: %w", GatewaySubject(job.Site), err)
	}
	var rep GatewayReply
	if err := json.Unmarshal(msg.Data, &rep); err != nil {
		return Result{}, fmt.Errorf("gateway: bad reply: %w", err)
	}
	if rep.Refused {
		return Result{}, fmt.Errorf("gateway refused: %s", rep.Reason)
	}
	return Result{Detail: "gateway: " + rep.Reason}, nil
}

// Applier applies a boundary action at the site (firewall API, remote
// access gateway API).
type Applier func(ctx context.Context, job Job) error

// Gateway is the site-local handler of boundary actions. It re-checks
// every request with the constraint engine - the action must be a boundary
// action, automatic and allowed for the request's context - remembers the
// keys it applied, and applies nothing on a dry run.
//
// With a site model the gateway does not trust the request's context: it
// derives the target's and source's zone kind, Purdue level, safety flag
// and the asset's response constraints from its own copy of the model by
// IP address. The applied keys are remembered in memory (the central
// runner's KV store is the durable guard).
type Gateway struct {
	site  string
	apply Applier
	model *site.Model
	mu    sync.Mutex
	done  map[string]bool
}

// NewGateway returns the gateway of site; model may be nil (then the
// request's context is re-checked as sent).
func NewGateway(site string, model *site.Model, apply Applier) *Gateway {
	return &Gateway{site: site, apply: apply, model: model, done: map[string]bool{}}
}

// localContext derives the constraint context from the gateway's model.
func (g *Gateway) localContext(job Job) constraint.Context {
	if g.model == nil {
		return job.Context
	}
	c := constraint.Context{Purdue: -1, SourcePurdue: -1, ZoneKind: "unknown", SourceZoneKind: "unknown", MaintActive: job.Context.MaintActive}
	c.Role, c.ZoneKind, c.Safety, c.Purdue, c.SLT, c.ForbiddenActions, c.AssetApprovers = g.lookup(job.TargetIP)
	_, c.SourceZoneKind, _, c.SourcePurdue, _, _, _ = g.lookup(job.SourceIP)
	return c
}

// lookup returns what the model says about ip.
func (g *Gateway) lookup(ip string) (role, zoneKind string, safety bool, purdue float64, slt int, forbidden, approvers []string) {
	role, zoneKind, purdue = "unknown", "unknown", -1
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return
	}
	zid, ok := g.model.ZoneOf(addr)
	if !ok {
		return
	}
	for _, z := range g.model.Zones {
		if z.ID == zid {
			zoneKind, safety, slt = z.Kind, z.Safety, z.SecurityLevel.Target
			if z.PurdueLevel != nil {
				purdue = *z.PurdueLevel
			}
		}
	}
	for _, a := range g.model.Assets {
		if slices.Contains(a.IPs, ip) {
			role = a.Role
			safety = safety || a.Safety
			if a.PurdueLevel != nil {
				purdue = *a.PurdueLevel
			}
			forbidden, approvers = a.Response.ForbiddenActions, a.Response.Approvers
		}
	}
	return
}

// Subscribe serves requests on c981.gateway.<site> until the subscription
// is drained.
func (g *Gateway) Subscribe(nc *nats.Conn) (*nats.Subscription, error) {
	return nc.Subscribe(GatewaySubject(g.site), func(m *nats.Msg) {
		rep := g.Handle(context.Background(), m.Data)
		data, _ := json.Marshal(rep)
		_ = m.Respond(data)
	})
}

// Handle decides and applies one request.
func (g *Gateway) Handle(ctx context.Context, data []byte) GatewayReply {
	var job Job
	if err := json.Unmarshal(data, &job); err != nil {
		return GatewayReply{Refused: true, Reason: "undecodable request: " + err.Error()}
	}
	if job.Site != g.site {
		return GatewayReply{Refused: true, Reason: fmt.Sprintf("request for site %q at the gateway of %q", job.Site, g.site)}
	}
	a, ok := constraint.Lookup(job.Step.Action)
	if !ok || a.Class != event.ClassBoundary {
		return GatewayReply{Refused: true, Reason: fmt.Sprintf("%q is not a boundary action; the gateway applies only boundary actions", job.Step.Action)}
	}
	d := constraint.Decide(constraint.Step{Kind: constraint.KindAction, Action: a, Automatic: true}, g.localContext(job))
	if d.Decision != event.DecisionAllowed {
		return GatewayReply{Refused: true, Reason: "constraint re-check: " + d.Decision + ": " + d.Reason}
	}
	if job.Key == "" {
		return GatewayReply{Refused: true, Reason: "no idempotency key"}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.done[job.Key] {
		return GatewayReply{Duplicate: true, Reason: "already applied"}
	}
	if job.DryRun {
		return GatewayReply{Reason: "dry run: would apply " + a.Name}
	}
	if err := g.apply(ctx, job); err != nil {
		return GatewayReply{Refused: true, Reason: "apply failed: " + err.Error()}
	}
	g.done[job.Key] = true
	return GatewayReply{Applied: true, Reason: "applied " + a.Name}
}
