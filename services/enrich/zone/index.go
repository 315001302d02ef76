package zone

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
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
	model   *site.Model
	loc     *time.Location

	zones   map[string]*zoneEntry
	table   bart.Table[*zoneEntry]
	classes []class                    // asset contexts, see class
	assets  []assetEntry               // in model order
	byIPv4  v4Table                    // IPv4 (and IPv4-mapped) addresses
	names   string                     // id and name arena of byIPv4 (nameRef)
	long    [][2]string                // ids and names too long for the arena
	byIP    map[netip.Addr]*assetEntry // IPv6 addresses
	keys    keyHash
	byID    posIndex               // asset id
	byMAC   posIndex               // hardware address
	byHost  posIndex               // lower-case host name
	conds   map[uint64][]*cconduit // by zonePair of the zone indexes
	nzones  int
	// dir lists, at si*nzones+di, the flows from zone index si to zone
	// index di in conduit and flow order: the candidates of an allowed
	// verdict, so the hot path needs no map lookup and skips the flows of
	// the other direction.
	dir     [][]dflow
	windows map[string]*window
	mwByAs  map[string][]*window
	mwByZn  map[string][]*window
	mwByZi  [][]*window // mwByZn by zone index
}

type zoneEntry struct {
	idx  int32 // position in the model's zones
	zone *site.Zone
	ep   event.Endpoint // context of an uninventoried address in the zone
}

// assetEntry is an asset of the index: its model entry and its context
// class.
type assetEntry struct {
	asset *site.Asset
	cls   int32 // index in Index.classes
	mw    bool  // maintenance windows name the asset in their scope
}

// assetName is the name of an asset: its name, or its id when the model
// gives none.
func assetName(a *site.Asset) string {
	if a.Name == "" {
		return a.ID
	}
	return a.Name
}

// class is the endpoint context that the assets with the same zone, role,
// Purdue level, criticality and safety flag share: their context minus the
// asset id, name and IP. A site has few classes, so resolving an asset
// copies its context from memory the CPU caches hold and reads only its id
// and name from the asset's own v4Table slot.
type class struct {
	ref ref
	ep  event.Endpoint // Known, Role, Zone, ZoneKind, Purdue, SLT, Criticality, Safety
}

type classKey struct {
	zone        int32
	role        string
	purdue      float64
	criticality string
	safety      bool
}

// fill writes the context of the asset into ep (IP left as is) and returns
// its ref.
func (ix *Index) fill(ep *event.Endpoint, ae *assetEntry) ref {
	c := &ix.classes[ae.cls]
	ip := ep.IP
	*ep = c.ep
	ep.IP = ip
	ep.AssetID = ae.asset.ID
	ep.AssetName = assetName(ae.asset)
	r := c.ref
	r.noAssetMW = !ae.mw
	return r
}

type window struct {
	order   int
	w       *site.MaintenanceWindow
	sched   site.Schedule
	ops     []string
	sources []string
	users   []string
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
		model:   m,
		loc:     m.Location(),
		zones:   make(map[string]*zoneEntry, len(m.Zones)),
		assets:  make([]assetEntry, len(m.Assets)),
		byIPv4:  newV4Table(len(m.Assets)),
		byIP:    map[netip.Addr]*assetEntry{},
		keys:    newKeyHash(),
		conds:   make(map[uint64][]*cconduit, len(m.Conduits)),
		windows: make(map[string]*window, len(m.MaintenanceWindows)),
		mwByAs:  map[string][]*window{},
		mwByZn:  map[string][]*window{},
	}
	for i := range m.Zones {
		z := &m.Zones[i]
		ze := &zoneEntry{idx: int32(i), zone: z, ep: event.Endpoint{
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
	ix.mwByZi = make([][]*window, len(m.Zones))
	for i := range m.MaintenanceWindows {
		w := &m.MaintenanceWindows[i]
		sched, err := w.Schedule(ix.loc)
		if err != nil {
			return nil, fmt.Errorf("site model %s: %w", m.Site.ID, err)
		}
		win := &window{order: i, w: w, sched: sched, ops: slices.Clip(w.AllowedOperations),
			sources: slices.Clip(w.AllowedSources), users: slices.Clip(w.AllowedUsers)}
		ix.windows[w.ID] = win
		for _, a := range w.Scope.Assets {
			ix.mwByAs[a] = append(ix.mwByAs[a], win)
		}
		for _, z := range w.Scope.Zones {
			ix.mwByZn[z] = append(ix.mwByZn[z], win)
			zi := ix.zones[z].idx // Validate guarantees the zone exists
			ix.mwByZi[zi] = append(ix.mwByZi[zi], win)
		}
	}
	classes := map[classKey]int32{}
	arena := newNameArena(m.Assets)
	nmac, nhost := 0, 0
	for i := range m.Assets {
		a := &m.Assets[i]
		nmac += len(a.MACs)
		nhost += len(a.Hostnames)
		if a.Hostname != "" {
			nhost++
		}
	}
	ix.byID, ix.byMAC, ix.byHost = newPosIndex(len(m.Assets)), newPosIndex(nmac), newPosIndex(nhost)
	for i := range m.Assets {
		a := &m.Assets[i]
		var ze *zoneEntry
		if a.Zone != "" {
			ze = ix.zones[a.Zone]
		} else {
			// Validate guarantees the first IP parses and lies in a zone.
			ze, _ = ix.table.Lookup(netip.MustParseAddr(a.IPs[0]).Unmap())
		}
		ep := ze.ep
		ep.Known = true
		ep.Role = a.Role
		if a.PurdueLevel != nil {
			ep.Purdue = *a.PurdueLevel
		}
		if a.Criticality != "" {
			ep.Criticality = a.Criticality
		}
		ep.Safety = a.Safety || ze.zone.Safety
		k := classKey{zone: ze.idx, role: ep.Role, purdue: ep.Purdue, criticality: ep.Criticality, safety: ep.Safety}
		cls, ok := classes[k]
		if !ok {
			cls = int32(len(ix.classes))
			classes[k] = cls
			ix.classes = append(ix.classes, class{ref: ref{zone: ze.idx, role: roleBit(a.Role)}, ep: ep})
		}
		mw := len(ix.mwByAs[a.ID]) > 0
		ix.assets[i] = assetEntry{asset: a, cls: cls, mw: mw}
		ae := &ix.assets[i]
		ix.byID.put(ix.keys.str(a.ID), i, func(p int) bool { return m.Assets[p].ID == a.ID })
		var nr nameRef
		named := false
		for _, s := range a.IPs {
			ip := netip.MustParseAddr(s).Unmap()
			if ip.Is4() {
				if !named {
					nr, named = arena.add(a.ID, a.Name), true
				}
				ix.byIPv4.put(v4(ip), int(cls), mw, nr)
			} else {
				ix.byIP[ip] = ae
			}
		}
		for _, s := range a.MACs {
			if mac, ok := parseMAC(s); ok {
				ix.byMAC.put(ix.keys.mac(mac), i, func(p int) bool { return hasMAC(&m.Assets[p], mac) })
			}
		}
		if a.Hostname != "" {
			ix.putHost(i, a.Hostname)
		}
		for _, h := range a.Hostnames {
			ix.putHost(i, h)
		}
	}
	for i := range m.Conduits {
		c := &m.Conduits[i]
		cc := &cconduit{c: c, flows: make([]cflow, len(c.Flows))}
		for j := range c.Flows {
			f := &c.Flows[j]
			cc.flows[j] = cflow{f: f, src: ix.zones[f.Src.Zone].idx, dst: ix.zones[f.Dst.Zone].idx,
				srcRoles: roleBits(f.Src.Roles), dstRoles: roleBits(f.Dst.Roles)}
		}
		k := zonePair(ix.zones[c.Between[0]].idx, ix.zones[c.Between[1]].idx)
		ix.conds[k] = append(ix.conds[k], cc)
	}
	ix.names, ix.long = arena.done()
	ix.nzones = len(m.Zones)
	ix.dir = make([][]dflow, ix.nzones*ix.nzones)
	for i := range m.Conduits {
		// Same order as check's walk over ix.conds: conduits in model order.
		cc := ix.conds[zonePair(ix.zones[m.Conduits[i].Between[0]].idx, ix.zones[m.Conduits[i].Between[1]].idx)]
		for _, cd := range cc {
			if cd.c != &m.Conduits[i] {
				continue
			}
			for j := range cd.flows {
				cf := &cd.flows[j]
				k := int(cf.src)*ix.nzones + int(cf.dst)
				ix.dir[k] = append(ix.dir[k], newDflow(cd, cf))
			}
		}
	}
	return ix, nil
}

// dflow is a flow of a conduit, an entry of Index.dir, with what the
// allowed verdict needs of it copied in, so that the hot path reads one
// small record per candidate flow instead of following pointers into the
// model (see allows).
type dflow struct {
	cd *cconduit
	cf *cflow
	// anySrc and anyDst: the flow end names no roles or assets.
	anySrc, anyDst     bool
	srcRoles, dstRoles uint64
	srcAssets          []string
	dstAssets          []string
	transport          string
	ports              []int
	protocol           string
	allow              []string // allowed operations; empty allows any
	requireMW          []string // operations that need a maintenance window
	conduit, id        string
}

func newDflow(cd *cconduit, cf *cflow) dflow {
	f := cf.f
	return dflow{
		cd: cd, cf: cf,
		anySrc:   len(f.Src.Roles) == 0 && len(f.Src.Assets) == 0,
		anyDst:   len(f.Dst.Roles) == 0 && len(f.Dst.Assets) == 0,
		srcRoles: cf.srcRoles, dstRoles: cf.dstRoles,
		srcAssets: f.Src.Assets, dstAssets: f.Dst.Assets,
		transport: f.Transport, ports: f.Ports, protocol: f.Protocol,
		allow: f.Operations.Allow, requireMW: f.Operations.RequireMaintenanceWindow,
		conduit: cd.c.ID, id: f.ID,
	}
}

// cconduit is a conduit with its flows' zones resolved to zone indexes.
type cconduit struct {
	c     *site.Conduit
	flows []cflow
}

type cflow struct {
	f                  *site.Flow
	src, dst           int32  // zone indexes
	srcRoles, dstRoles uint64 // role bits (roleBit) of the flow ends
}

// roleBit is the bit of an asset role in a role set: 1<<its position in
// site.Roles (0 for a role not in the list, which validation rejects; the
// list has fewer than 64 roles, see TestRoleBits).
func roleBit(role string) uint64 {
	for i, r := range site.Roles {
		if r == role {
			return 1 << i
		}
	}
	return 0
}

func roleBits(roles []string) uint64 {
	var bits uint64
	for _, r := range roles {
		bits |= roleBit(r)
	}
	return bits
}

// zonePair is the unordered map key of two zone indexes.
func zonePair(a, b int32) uint64 {
	if a > b {
		a, b = b, a
	}
	return uint64(uint32(a))<<32 | uint64(uint32(b))
}

// refOf returns the zone index (-1 when none) and role bit of an endpoint
// context built outside resolve.
func (ix *Index) refOf(ep *event.Endpoint) ref {
	r := ref{zone: -1}
	if HasZone(*ep) {
		if ze, ok := ix.zones[ep.Zone]; ok {
			r.zone = ze.idx
		}
	}
	if ep.Known {
		r.role = roleBit(ep.Role)
	}
	return r
}

// Site returns the site id of the model.
func (ix *Index) Site() string { return ix.site }

// Version returns the model version.
func (ix *Index) Version() int { return ix.version }

func v4(ip netip.Addr) uint32 {
	b := ip.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// assetAt returns the asset owning the unmapped address ip; IPv4 addresses
// use the flat table keyed by the 32-bit address (v4Table).
func (ix *Index) assetAt(ip netip.Addr) (*assetEntry, bool) {
	if ip.Is4() {
		s := ix.byIPv4.get(v4(ip))
		if s == nil {
			return nil, false
		}
		id, _ := ix.slotNames(s.name)
		return ix.assetByID(id)
	}
	ae, ok := ix.byIP[ip]
	return ae, ok
}

// AssetByIP returns the asset that owns ip (exact match).
func (ix *Index) AssetByIP(ip netip.Addr) (*site.Asset, bool) {
	ae, ok := ix.assetAt(ip.Unmap())
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
	ae, ok := ix.assetByID(id)
	if !ok {
		return event.Endpoint{}, false
	}
	var ep event.Endpoint
	ix.fill(&ep, ae)
	return ep, true
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
func (ix *Index) Endpoint(ip string) event.Endpoint { return ix.Resolve(ip, "", "") }

// Resolve returns the context of an endpoint given by its address, hardware
// address and host name (each may be empty). The first exact match wins: the
// asset owning ip, the asset owning mac, then — only when ip is empty — the
// asset with the host name (case-insensitive). Without an asset match, an
// address inside a zone CIDR gets the zone's context with Known false and
// role "unknown"; anything else gets Unknown(ip). The returned IP is ip. It
// does not allocate for IPv4, IPv6, colon-form MACs and lower-case names.
func (ix *Index) Resolve(ip, mac, host string) event.Endpoint {
	var ep event.Endpoint
	ix.resolve(&ep, ip, mac, host)
	return ep
}

// ref is what the conduit and window checks need of a resolved endpoint
// besides its context: its zone index (-1: none), its role as a bit
// (roleBit), and whether its asset is known to be in no maintenance
// window's asset scope (so the windows by asset id need no lookup).
type ref struct {
	zone      int32
	role      uint64
	noAssetMW bool
}

// resolve is Resolve writing the context into ep; it returns the endpoint's
// zone index and role bit.
func (ix *Index) resolve(ep *event.Endpoint, ip, mac, host string) ref {
	var addr netip.Addr
	if a4, ok := parseIPv4(ip); ok {
		// The common case, without building a netip.Addr unless the
		// address is not an asset's.
		if s := ix.byIPv4.get(a4); s != nil {
			return ix.fromSlot(ep, ip, s)
		}
		addr = netip.AddrFrom4([4]byte{byte(a4 >> 24), byte(a4 >> 16), byte(a4 >> 8), byte(a4)})
	} else if ip != "" {
		a, err := netip.ParseAddr(ip)
		if err == nil {
			addr = a.Unmap()
			if ae, ok := ix.assetAt(addr); ok {
				ep.IP = ip
				return ix.fill(ep, ae)
			}
		}
	}
	if mac != "" {
		if hw, ok := parseMAC(mac); ok {
			if ae, ok := ix.assetByMAC(hw); ok {
				ep.IP = ip
				return ix.fill(ep, ae)
			}
		}
	}
	if ip == "" && host != "" {
		if ae, ok := ix.assetByHost(host); ok {
			ep.IP = ""
			return ix.fill(ep, ae)
		}
	}
	if addr.IsValid() {
		if ze, ok := ix.table.Lookup(addr); ok {
			*ep = ze.ep
			ep.IP = ip
			return ref{zone: ze.idx}
		}
	}
	*ep = Unknown(ip)
	return ref{zone: -1}
}

// fromSlot writes the context of the asset of an IPv4 table slot into ep.
func (ix *Index) fromSlot(ep *event.Endpoint, ip string, s *v4Slot) ref {
	c := &ix.classes[s.class()]
	*ep = c.ep
	ep.IP = ip
	ep.AssetID, ep.AssetName = ix.slotNames(s.name)
	r := c.ref
	r.noAssetMW = s.cls&slotMW == 0
	return r
}

// resolveEnds is resolve for both ends of an event (the source may be
// found by host name, see Enrich). When both addresses are IPv4 addresses
// of assets it looks both up before it uses either, so that the two cache
// misses of a large inventory overlap instead of following each other.
func (ix *Index) resolveEnds(src, dst *event.Endpoint, srcIP, srcMAC, srcHost, dstIP, dstMAC string) (sr, dr ref) {
	if a, ok := parseIPv4(srcIP); ok {
		if b, ok := parseIPv4(dstIP); ok {
			sa, sb := ix.byIPv4.get(a), ix.byIPv4.get(b)
			if sa != nil && sb != nil {
				return ix.fromSlot(src, srcIP, sa), ix.fromSlot(dst, dstIP, sb)
			}
		}
	}
	return ix.resolve(src, srcIP, srcMAC, srcHost), ix.resolve(dst, dstIP, dstMAC, "")
}

func (ix *Index) assetByHost(host string) (*assetEntry, bool) {
	key := host
	for i := 0; i < len(host); i++ {
		if c := host[i]; 'A' <= c && c <= 'Z' {
			key = strings.ToLower(host)
			break
		}
	}
	return ix.at(ix.byHost.get(ix.keys.str(key), func(p int) bool { return hasHost(&ix.model.Assets[p], key) }))
}

// putHost indexes the host name h of the asset at position pos.
func (ix *Index) putHost(pos int, h string) {
	key := strings.ToLower(h)
	ix.byHost.put(ix.keys.str(key), pos, func(p int) bool { return hasHost(&ix.model.Assets[p], key) })
}

// assetByID returns the asset with the given id.
func (ix *Index) assetByID(id string) (*assetEntry, bool) {
	return ix.at(ix.byID.get(ix.keys.str(id), func(p int) bool { return ix.model.Assets[p].ID == id }))
}

// assetByMAC returns the asset with the hardware address hw.
func (ix *Index) assetByMAC(hw [6]byte) (*assetEntry, bool) {
	return ix.at(ix.byMAC.get(ix.keys.mac(hw), func(p int) bool { return hasMAC(&ix.model.Assets[p], hw) }))
}

// at returns the asset at position pos, false when pos is -1.
func (ix *Index) at(pos int) (*assetEntry, bool) {
	if pos < 0 {
		return nil, false
	}
	return &ix.assets[pos], true
}

// hasMAC reports whether one of a's MACs is hw.
func hasMAC(a *site.Asset, hw [6]byte) bool {
	for _, s := range a.MACs {
		if m, ok := parseMAC(s); ok && m == hw {
			return true
		}
	}
	return false
}

// hasHost reports whether a has the host name key, compared in lower case
// (the model's host names are ASCII; key is lower case).
func hasHost(a *site.Asset, key string) bool {
	if a.Hostname != "" && lowerEqual(a.Hostname, key) {
		return true
	}
	for _, h := range a.Hostnames {
		if lowerEqual(h, key) {
			return true
		}
	}
	return false
}

// lowerEqual reports whether strings.ToLower(s) == key for an ASCII s.
func lowerEqual(s, key string) bool {
	if len(s) != len(key) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != key[i] {
			return false
		}
	}
	return true
}

// AssetByMAC returns the asset that owns the hardware address mac (colon or
// dash form, any case).
func (ix *Index) AssetByMAC(mac string) (*site.Asset, bool) {
	hw, ok := parseMAC(mac)
	if !ok {
		return nil, false
	}
	ae, ok := ix.assetByMAC(hw)
	if !ok {
		return nil, false
	}
	return ae.asset, true
}

// AssetByHostname returns the asset with the host name (Hostname or one of
// Hostnames, case-insensitive).
func (ix *Index) AssetByHostname(host string) (*site.Asset, bool) {
	ae, ok := ix.assetByHost(host)
	if !ok {
		return nil, false
	}
	return ae.asset, true
}

// parseMAC parses a 48-bit MAC in colon or dash form, any case, without
// allocating.
func parseMAC(s string) ([6]byte, bool) {
	var hw [6]byte
	if len(s) != 17 {
		return hw, false
	}
	for i := range 6 {
		if i > 0 {
			if sep := s[3*i-1]; sep != ':' && sep != '-' {
				return hw, false
			}
		}
		hi, ok1 := unhex(s[3*i])
		lo, ok2 := unhex(s[3*i+1])
		if !ok1 || !ok2 {
			return hw, false
		}
		hw[i] = hi<<4 | lo
	}
	return hw, true
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// HasZone reports whether ep lies in a zone of a site model.
func HasZone(ep event.Endpoint) bool { return ep.Zone != "" && ep.Zone != UnknownZone }

// Maintenance returns the maintenance context of the destination dst at time
// at: the first open window (in model order) covering dst's asset or zone,
// preferring one that allows op when op is set. Start is inclusive, end
// exclusive; recurring windows are evaluated in the site's time zone.
func (ix *Index) Maintenance(dst event.Endpoint, at time.Time, op string) event.Maint {
	w, _ := ix.openWindow(nil, &dst, ix.refOf(&dst), "", at, op)
	return maint(w)
}

// MaintenanceFor is Maintenance for work done by src (asset) and user: among
// the open windows covering dst it prefers, in this order, one that allows
// op, one whose allowed sources admit src and one whose allowed users admit
// user, then model order.
func (ix *Index) MaintenanceFor(src, dst event.Endpoint, user string, at time.Time, op string) event.Maint {
	w, _ := ix.openWindow(&src, &dst, ix.refOf(&dst), user, at, op)
	return maint(w)
}

func maint(w *window) event.Maint {
	if w == nil {
		return event.Maint{}
	}
	return event.Maint{Active: true, WindowID: w.w.ID, AllowedOps: w.ops, WorkOrder: w.w.WorkOrder, AllowedSources: w.sources, AllowedUsers: w.users}
}

// Window fit scores: what an open window permits of the work at hand.
const (
	fitOp     = 4 // allows the operation
	fitSource = 2 // admits the source asset (or lists no sources)
	fitUser   = 1 // admits the user (or lists no users)
	fitAll    = fitOp | fitSource | fitUser
)

// fit scores the window for op by src and user; a nil src ignores who does
// the work.
func (w *window) fit(src *event.Endpoint, user, op string) int {
	f := 0
	if op != "" && slices.Contains(w.ops, op) {
		f |= fitOp
	}
	if src == nil {
		return f | fitSource | fitUser
	}
	if len(w.sources) == 0 || (src.AssetID != "" && slices.Contains(w.sources, src.AssetID)) {
		f |= fitSource
	}
	if len(w.users) == 0 {
		f |= fitUser
	} else if user != "" {
		for _, u := range w.users {
			if strings.EqualFold(u, user) {
				f |= fitUser
				break
			}
		}
	}
	return f
}

// openWindow returns the best open window covering dst (whose ref is dr)
// at time at and its fit (see MaintenanceFor), or nil.
func (ix *Index) openWindow(src, dst *event.Endpoint, dr ref, user string, at time.Time, op string) (*window, int) {
	if !HasZone(*dst) || len(ix.mwByAs)+len(ix.mwByZn) == 0 {
		return nil, 0
	}
	var best *window
	bestFit := -1
	consider := func(ws []*window) {
		for _, w := range ws {
			if _, _, open := w.sched.Open(at); !open {
				continue
			}
			f := w.fit(src, user, op)
			if f > bestFit || (f == bestFit && w.order < best.order) {
				best, bestFit = w, f
			}
		}
	}
	if dst.AssetID != "" && !dr.noAssetMW {
		consider(ix.mwByAs[dst.AssetID])
	}
	if dr.zone >= 0 {
		consider(ix.mwByZi[dr.zone])
	} else {
		consider(ix.mwByZn[dst.Zone]) // an endpoint from elsewhere
	}
	return best, bestFit
}
