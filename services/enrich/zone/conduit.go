package zone

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/c981/c981/services/shared/event"
	"github.com/c981/c981/services/shared/site"
)

// Conn describes the communication whose conduit verdict is asked for.
type Conn struct {
	// Proto is the transport protocol (tcp, udp, icmp); "" when unknown.
	Proto string
	// Port is the destination port; 0 when unknown.
	Port int
	// AppProto is the application protocol (modbus, enip, ...); "" when
	// unknown, which does not contradict a flow's protocol.
	AppProto string
	// Operation is the normalized OT operation; "" when not an OT command.
	Operation string
	// Time is when it happened; maintenance windows are evaluated at it.
	Time time.Time
	// User is the account doing it, "" when unknown; a maintenance window
	// that lists allowed users admits only them.
	User string
}

// Check returns the conduit verdict for a communication initiated by src
// towards dst. Inside one zone it is allowed. Across zones a flow of a
// conduit between the two zones must match: src and dst zones in the flow's
// direction (src initiates; a unidirectional conduit only from its first
// zone), src and dst roles or assets, transport and port, protocol and
// operation, and an open maintenance window for operations that require one.
// Otherwise Allowed is false and Violation gives the reason of the flow that
// came closest to matching.
func (ix *Index) Check(src, dst event.Endpoint, c Conn) event.Flow {
	return ix.check(&src, &dst, ix.refOf(&src), ix.refOf(&dst), &c)
}

// check is Check with the endpoints' zone indexes and role bits.
func (ix *Index) check(src, dst *event.Endpoint, sr, dr ref, c *Conn) event.Flow {
	si, di := sr.zone, dr.zone
	switch {
	case si < 0 && di < 0:
		return event.Flow{Violation: fmt.Sprintf("neither %s nor %s is in a zone of site %s", orNone(src.IP), orNone(dst.IP), ix.site)}
	case si < 0:
		return event.Flow{CrossZone: true, Violation: fmt.Sprintf("source %s is in no zone of site %s", orNone(src.IP), ix.site)}
	case di < 0:
		return event.Flow{CrossZone: true, Violation: fmt.Sprintf("destination %s is in no zone of site %s", orNone(dst.IP), ix.site)}
	case si == di:
		return event.Flow{Allowed: true}
	}
	// Hot path: the first flow from si to di that allows the communication.
	// Flows of the other direction cannot, so skipping them finds the same
	// flow as the walk below.
	ds := ix.dir[int(si)*ix.nzones+int(di)]
	for i := range ds {
		if d := &ds[i]; ix.allows(d, src, dst, sr, dr, c) {
			return event.Flow{CrossZone: true, Allowed: true, Conduit: d.conduit, FlowID: d.id}
		}
	}
	// No flow allows it: find the reason.
	conds := ix.conds[zonePair(si, di)]
	if len(conds) == 0 {
		return event.Flow{CrossZone: true, Violation: "no conduit between " + src.Zone + " and " + dst.Zone}
	}
	best := verdict{stage: -1}
	for _, cd := range conds {
		for i := range cd.flows {
			cf := &cd.flows[i]
			v := ix.evalFlow(cd.c, cf, src, dst, sr, dr, c)
			if v.stage == stageAllowed {
				return event.Flow{CrossZone: true, Allowed: true, Conduit: cd.c.ID, FlowID: cf.f.ID}
			}
			if v.stage > best.stage {
				best = v
			}
		}
	}
	return event.Flow{CrossZone: true, Violation: best.reason(src, dst, c)}
}

// Stages of matching a flow, in order; a verdict records the first failed one.
const (
	stageDirection = iota
	stageSrc
	stageDst
	stagePort
	stageProtocol
	stageOperation
	stageMaintenance
	stageAllowed
)

// Reasons a maintenance window does not cover an operation that requires one.
const (
	mwNone   = iota // no window open
	mwOp            // the open window does not allow the operation
	mwSource        // ... nor admits the source asset
	mwUser          // ... nor the user
)

type verdict struct {
	stage   int
	conduit *site.Conduit
	flow    *site.Flow
	window  *window // open window that does not cover the operation
	mw      int     // why (mwNone, mwOp, mwSource, mwUser)
}

func (ix *Index) evalFlow(cd *site.Conduit, cf *cflow, src, dst *event.Endpoint, sr, dr ref, c *Conn) verdict {
	f := cf.f
	v := verdict{conduit: cd, flow: f}
	if cf.src != sr.zone || cf.dst != dr.zone {
		return v
	}
	v.stage = stageSrc
	if !endMatches(&f.Src, cf.srcRoles, src, sr) {
		return v
	}
	v.stage = stageDst
	if !endMatches(&f.Dst, cf.dstRoles, dst, dr) {
		return v
	}
	v.stage = stagePort
	if c.Proto != "" && !strings.EqualFold(c.Proto, f.Transport) {
		return v
	}
	if len(f.Ports) > 0 && !slices.Contains(f.Ports, c.Port) {
		return v
	}
	v.stage = stageProtocol
	if f.Protocol != "" && c.AppProto != "" && !strings.EqualFold(f.Protocol, c.AppProto) {
		return v
	}
	v.stage = stageOperation
	if c.Operation != "" && len(f.Operations.Allow) > 0 && !slices.Contains(f.Operations.Allow, c.Operation) {
		return v
	}
	v.stage = stageMaintenance
	if c.Operation != "" && slices.Contains(f.Operations.RequireMaintenanceWindow, c.Operation) {
		w, fit := ix.openWindow(src, dst, dr, c.User, c.Time, c.Operation)
		if w == nil || fit != fitAll {
			v.window = w
			switch {
			case w == nil:
				v.mw = mwNone
			case fit&fitOp == 0:
				v.mw = mwOp
			case fit&fitSource == 0:
				v.mw = mwSource
			default:
				v.mw = mwUser
			}
			return v
		}
	}
	v.stage = stageAllowed
	return v
}

// allows reports whether the flow d (whose zones match) allows the
// communication: evalFlow's stageAllowed, decided from d's own copy of the
// flow. An operation that requires a maintenance window is left to
// evalFlow. TestAllowsAgrees checks it against evalFlow.
func (ix *Index) allows(d *dflow, src, dst *event.Endpoint, sr, dr ref, c *Conn) bool {
	if !d.anySrc && !(src.Known && (d.srcRoles&sr.role != 0 || slices.Contains(d.srcAssets, src.AssetID))) {
		return false
	}
	if !d.anyDst && !(dst.Known && (d.dstRoles&dr.role != 0 || slices.Contains(d.dstAssets, dst.AssetID))) {
		return false
	}
	if c.Proto != "" && c.Proto != d.transport && !strings.EqualFold(c.Proto, d.transport) {
		return false
	}
	if len(d.ports) > 0 && !slices.Contains(d.ports, c.Port) {
		return false
	}
	if d.protocol != "" && c.AppProto != "" && c.AppProto != d.protocol && !strings.EqualFold(d.protocol, c.AppProto) {
		return false
	}
	if c.Operation == "" {
		return true
	}
	if len(d.allow) > 0 && !slices.Contains(d.allow, c.Operation) {
		return false
	}
	if len(d.requireMW) > 0 && slices.Contains(d.requireMW, c.Operation) {
		return ix.evalFlow(d.cd.c, d.cf, src, dst, sr, dr, c).stage == stageAllowed
	}
	return true
}

// endMatches reports whether ep is selected by fe (its zone already matched):
// any address when fe names no roles or assets, else an inventoried asset
// with one of the roles or one of the asset ids.
func endMatches(fe *site.FlowEnd, roles uint64, ep *event.Endpoint, r ref) bool {
	if len(fe.Roles) == 0 && len(fe.Assets) == 0 {
		return true
	}
	return ep.Known && (roles&r.role != 0 || slices.Contains(fe.Assets, ep.AssetID))
}

func (v verdict) reason(src, dst *event.Endpoint, c *Conn) string {
	cd := v.conduit.ID
	switch v.stage {
	case stageDirection:
		if v.conduit.Unidirectional && src.Zone == v.conduit.Between[1] {
			return fmt.Sprintf("conduit %s is unidirectional from %s to %s", cd, v.conduit.Between[0], v.conduit.Between[1])
		}
		return fmt.Sprintf("conduit %s allows no flow from %s to %s", cd, src.Zone, dst.Zone)
	case stageSrc:
		return fmt.Sprintf("conduit %s does not allow source %s", cd, describe(*src))
	case stageDst:
		return fmt.Sprintf("conduit %s does not allow destination %s", cd, describe(*dst))
	case stagePort:
		return fmt.Sprintf("conduit %s does not allow %s", cd, describeConn(*c))
	case stageProtocol:
		return fmt.Sprintf("conduit %s does not allow protocol %s on %s", cd, c.AppProto, describeConn(*c))
	case stageOperation:
		return fmt.Sprintf("conduit %s does not allow operation %s", cd, c.Operation)
	case stageMaintenance:
		switch v.mw {
		case mwOp:
			return fmt.Sprintf("operation %s is not allowed by open maintenance window %s", c.Operation, v.window.w.ID)
		case mwSource:
			return fmt.Sprintf("operation %s from %s is not allowed by open maintenance window %s (allowed sources: %s)", c.Operation, describe(*src), v.window.w.ID, strings.Join(v.window.sources, ", "))
		case mwUser:
			user := c.User
			if user == "" {
				user = "(no user)"
			}
			return fmt.Sprintf("operation %s by user %s is not allowed by open maintenance window %s (allowed users: %s)", c.Operation, user, v.window.w.ID, strings.Join(v.window.users, ", "))
		}
		return fmt.Sprintf("operation %s requires an open maintenance window", c.Operation)
	}
	return "no conduit flow matches"
}

func describe(ep event.Endpoint) string {
	if ep.Known {
		return ep.AssetID + " (" + ep.Role + ")"
	}
	return orNone(ep.IP) + " (not an inventoried asset)"
}

func describeConn(c Conn) string {
	switch {
	case c.Proto != "" && c.Port != 0:
		return strings.ToLower(c.Proto) + "/" + strconv.Itoa(c.Port)
	case c.Port != 0:
		return "port " + strconv.Itoa(c.Port)
	case c.Proto != "":
		return strings.ToLower(c.Proto) + " without a port"
	}
	return "a connection without transport or port"
}

func orNone(ip string) string {
	if ip == "" {
		return "(no address)"
	}
	return ip
}
