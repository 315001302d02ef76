package zone

import (
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/gaissmai/bart"

	"github.com/c981/c981/services/shared/event"
	"github.com/c981/c981/services/shared/site"
)

// Context values of an address that no zone contains.
const (
	// UnknownZone is the Zone of an address outside every zone CIDR.
	UnknownZone = "unknown"
	// UnknownRole is the Role of an address that is not an inventoried asset.
	UnknownRole = "unknown"
	// UnknownPurdue is the Purdue level of an address outside every zone.
	UnknownPurdue = -1
)

// Index is the lookup structure of one site model. It is immutable after New
// and safe for concurrent use.
type Index struct {
	site    string
	version int

	zones  map[string]*zoneEntry
	table  bart.Table[*zoneEntry]
	byIP   map[netip.Addr]*assetEntry
	byID   map[string]*assetEntry
	conds  map[[2]string][]*site.Conduit
	mwByAs map[string][]*window
	mwByZn map[string][]*window
}

type zoneEntry struct {
	zone *site.Zone
	ep   event.Endpoint // context of an uninventoried address in the zone
}

type assetEntry struct {
	asset *site.Asset
	ep    event.Endpoint // context of the asset, IP left empty
}

type window struct {
	order      int
	w          *site.MaintenanceWindow
	start, end time.Time
	ops        []string
}

// New validates m and builds its index. The index keeps pointers into m, which
// must not be modified afterwards.
func New(m *site.Model) (*Index, error) {
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("site model %s: %w", m.Site.ID, err)
	}
	ix := &Index{
		site:    m.Site.ID,
		version: m.Version,
		zones:   make(map[string]*zoneEntry, len(m.Zones)),
		byIP:    make(map[netip.Addr]*assetEntry, len(m.Assets)),
		byID:    make(map[string]*assetEntry, len(m.Assets)),
		conds:   make(map[[2]string][]*site.Conduit, len(m.Conduits)),
		mwByAs:  map[string][]*window{},
		mwByZn:  map[string][]*window{},
	}
	for i := range m.Zones {
		z := &m.Zones[i]
		ze := &zoneEntry{zone: z, ep: event.Endpoint{
			Role:        UnknownRole,
			Zone:        z.ID,
			ZoneKind:    z.Kind,
			Purdue:      *z.PurdueLevel,
			SLT:         z.SecurityLevel.Target,
			Criticality: z.Criticality,
			Safety:      z.Safety,
		}}
		ix.zones[z.ID] = ze
		for _, c := range z.CIDRs {
			// Validate guarantees the prefix parses and is masked.
			ix.table.Insert(netip.MustParsePrefix(c), ze)
		}
	}
	for i := range m.Assets {
		a := &m.Assets[i]
		ze := ix.zones[m.AssetZone(a)]
		ep := ze.ep
		ep.Known = true
		ep.AssetID = a.ID
		ep.AssetName = a.Name
		if ep.AssetName == "" {
			ep.AssetName = a.ID
		}
		ep.Role = a.Role
		if a.PurdueLevel != nil {
			ep.Purdue = *a.PurdueLevel
		}
		if a.Criticality != "" {
			ep.Criticality = a.Criticality
		}
		ep.Safety = a.Safety || ze.zone.Safety
		ae := &assetEntry{asset: a, ep: ep}
		ix.byID[a.ID] = ae
		for _, s := range a.IPs {
			ix.byIP[netip.MustParseAddr(s).Unmap()] = ae
		}
	}
	for i := range m.Conduits {
		c := &m.Conduits[i]
		k := pairKey(c.Between[0], c.Between[1])
		ix.conds[k] = append(ix.conds[k], c)
	}
	for i := range m.MaintenanceWindows {
		w := &m.MaintenanceWindows[i]
		start, end, err := w.Interval()
		if err != nil {
			return nil, fmt.Errorf("site model %s: %w", m.Site.ID, err)
		}
		win := &window{order: i, w: w, start: start, end: end, ops: slices.Clip(w.AllowedOperations)}
		for _, a := range w.Scope.Assets {
			ix.mwByAs[a] = append(ix.mwByAs[a], win)
		}
		for _, z := range w.Scope.Zones {
			ix.mwByZn[z] = append(ix.mwByZn[z], win)
		}
	}
	return ix, nil
}

func pairKey(a, b string) [2]string {
	if a > b {
		a, b = b, a
	}
	return [2]string{a, b}
}

// Site returns the site id of the model.
func (ix *Index) Site() string { return ix.site }

// Version returns the model version.
func (ix *Index) Version() int { return ix.version }

// AssetByIP returns the asset that owns ip (exact match).
func (ix *Index) AssetByIP(ip netip.Addr) (*site.Asset, bool) {
	ae, ok := ix.byIP[ip.Unmap()]
	if !ok {
		return nil, false
	}
	return ae.asset, true
}

// ZoneByIP returns the zone whose CIDR is the longest prefix containing ip.
func (ix *Index) ZoneByIP(ip netip.Addr) (*site.Zone, bool) {
	ze, ok := ix.table.Lookup(ip.Unmap())
	if !ok {
		return nil, false
	}
	return ze.zone, true
}

// AssetEndpoint returns the endpoint context of the asset with the given id
// (IP left empty).
func (ix *Index) AssetEndpoint(id string) (event.Endpoint, bool) {
	ae, ok := ix.byID[id]
	if !ok {
		return event.Endpoint{}, false
	}
	return ae.ep, true
}

// Unknown returns the context of an address that no site model describes:
// zone and role "unknown", Purdue -1, not known.
func Unknown(ip string) event.Endpoint {
	return event.Endpoint{IP: ip, Role: UnknownRole, Zone: UnknownZone, Purdue: UnknownPurdue}
}

// Endpoint returns the context of the address ip (text form). An inventoried
// asset gets its full context; an address inside a zone CIDR gets the zone's
// context with Known false and role "unknown"; anything else, including an
// empty or unparsable address, gets Unknown(ip).
func (ix *Index) Endpoint(ip string) event.Endpoint {
	if ip == "" {
		return Unknown(ip)
	}
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return Unknown(ip)
	}
	addr = addr.Unmap()
	if ae, ok := ix.byIP[addr]; ok {
		ep := ae.ep
		ep.IP = ip
		return ep
	}
	if ze, ok := ix.table.Lookup(addr); ok {
		ep := ze.ep
		ep.IP = ip
		return ep
	}
	return Unknown(ip)
}

// HasZone reports whether ep lies in a zone of a site model.
func HasZone(ep event.Endpoint) bool { return ep.Zone != "" && ep.Zone != UnknownZone }

// Maintenance returns the maintenance context of the destination dst at time
// at: the first open window (in model order) covering dst's asset or zone,
// preferring one that allows op when op is set. End is exclusive.
func (ix *Index) Maintenance(dst event.Endpoint, at time.Time, op string) event.Maint {
	w := ix.openWindow(dst, at, op)
	if w == nil {
		return event.Maint{}
	}
	return event.Maint{Active: true, WindowID: w.w.ID, AllowedOps: w.ops}
}

func (ix *Index) openWindow(dst event.Endpoint, at time.Time, op string) *window {
	if !HasZone(dst) || len(ix.mwByAs)+len(ix.mwByZn) == 0 {
		return nil
	}
	var best *window
	bestAllows := false
	consider := func(ws []*window) {
		for _, w := range ws {
			if at.Before(w.start) || !at.Before(w.end) {
				continue
			}
			allows := op != "" && slices.Contains(w.ops, op)
			if best == nil || (allows && !bestAllows) || (allows == bestAllows && w.order < best.order) {
				best, bestAllows = w, allows
			}
		}
	}
	if dst.AssetID != "" {
		consider(ix.mwByAs[dst.AssetID])
	}
	consider(ix.mwByZn[dst.Zone])
	return best
}
