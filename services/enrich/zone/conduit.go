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
	srcZ, dstZ := HasZone(src), HasZone(dst)
	switch {
	case !srcZ && !dstZ:
		return event.Flow{Violation: fmt.Sprintf("neither %s nor %s is in a zone of site %s", orNone(src.IP), orNone(dst.IP), ix.site)}
	case !srcZ:
		return event.Flow{CrossZone: true, Violation: fmt.Sprintf("source %s is in no zone of site %s", orNone(src.IP), ix.site)}
	case !dstZ:
		return event.Flow{CrossZone: true, Violation: fmt.Sprintf("destination %s is in no zone of site %s", orNone(dst.IP), ix.site)}
	case src.Zone == dst.Zone:
		return event.Flow{Allowed: true}
	}
	conds := ix.conds[pairKey(src.Zone, dst.Zone)]
	if len(conds) == 0 {
		return event.Flow{CrossZone: true, Violation: "no conduit between " + src.Zone + " and " + dst.Zone}
	}
	best := verdict{stage: -1}
	for _, cd := range conds {
		for i := range cd.Flows {
			v := ix.evalFlow(cd, &cd.Flows[i], src, dst, c)
			if v.stage == stageAllowed {
				return event.Flow{CrossZone: true, Allowed: true, Conduit: cd.ID, FlowID: cd.Flows[i].ID}
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

type verdict struct {
	stage   int
	conduit *site.Conduit
	flow    *site.Flow
	window  *window // open window that does not allow the operation
}

func (ix *Index) evalFlow(cd *site.Conduit, f *site.Flow, src, dst event.Endpoint, c Conn) verdict {
	v := verdict{conduit: cd, flow: f}
	if f.Src.Zone != src.Zone || f.Dst.Zone != dst.Zone {
		return v
	}
	v.stage = stageSrc
	if !endMatches(&f.Src, src) {
		return v
	}
	v.stage = stageDst
	if !endMatches(&f.Dst, dst) {
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
		w := ix.openWindow(dst, c.Time, c.Operation)
		if w == nil || !slices.Contains(w.ops, c.Operation) {
			v.window = w
			return v
		}
	}
	v.stage = stageAllowed
	return v
}

// endMatches reports whether ep is selected by fe (its zone already matched):
// any address when fe names no roles or assets, else an inventoried asset
// with one of the roles or one of the asset ids.
func endMatches(fe *site.FlowEnd, ep event.Endpoint) bool {
	if len(fe.Roles) == 0 && len(fe.Assets) == 0 {
		return true
	}
	return ep.Known && (slices.Contains(fe.Roles, ep.Role) || slices.Contains(fe.Assets, ep.AssetID))
}

func (v verdict) reason(src, dst event.Endpoint, c Conn) string {
	cd := v.conduit.ID
	switch v.stage {
	case stageDirection:
		if v.conduit.Unidirectional && src.Zone == v.conduit.Between[1] {
			return fmt.Sprintf("conduit %s is unidirectional from %s to %s", cd, v.conduit.Between[0], v.conduit.Between[1])
		}
		return fmt.Sprintf("conduit %s allows no flow from %s to %s", cd, src.Zone, dst.Zone)
	case stageSrc:
		return fmt.Sprintf("conduit %s does not allow source %s", cd, describe(src))
	case stageDst:
		return fmt.Sprintf("conduit %s does not allow destination %s", cd, describe(dst))
	case stagePort:
		return fmt.Sprintf("conduit %s does not allow %s", cd, describeConn(c))
	case stageProtocol:
		return fmt.Sprintf("conduit %s does not allow protocol %s on %s", cd, c.AppProto, describeConn(c))
	case stageOperation:
		return fmt.Sprintf("conduit %s does not allow operation %s", cd, c.Operation)
	case stageMaintenance:
		if v.window != nil {
			return fmt.Sprintf("operation %s is not allowed by open maintenance window %s", c.Operation, v.window.w.ID)
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
