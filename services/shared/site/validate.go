package site

import (
	"fmt"
	"math"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	// Maintenance windows and site time zones must validate the same way on
	// every host, including minimal containers without /usr/share/zoneinfo.
	_ "time/tzdata"

	"github.com/c981/c981/services/shared/config"
)

var (
	siteIDRe   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]*$`)
	localIDRe  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`) // see isName
	protocolRe = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)
	macRe      = regexp.MustCompile(`^[0-9A-Fa-f]{2}([:-][0-9A-Fa-f]{2}){5}$`) // see isMAC
	hostRe     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)            // see isName
	actionRe   = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
)

// isName reports whether s matches localIDRe (and hostRe, the same
// expression): the per-asset checks of a large inventory run without the
// regexp engine. TestMatchers compares them.
func isName(s string) bool {
	if s == "" || !isAlnum(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '.' && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// isMAC reports whether s matches macRe.
func isMAC(s string) bool {
	if len(s) != 17 {
		return false
	}
	for i := 0; i < 17; i++ {
		if i%3 == 2 {
			if s[i] != ':' && s[i] != '-' {
				return false
			}
		} else if !isHex(s[i]) {
			return false
		}
	}
	return true
}

// Validate checks the model's consistency: ids, references, CIDRs, asset
// addresses, conduits, flows, levels and maintenance windows. It returns a
// *ValidationError listing every problem, with YAML paths but no lines (Load
// and Parse report lines).
func (m *Model) Validate() error { return m.validate("", nil) }

// ZoneOf returns the id of the zone whose CIDR is the longest prefix
// containing ip, or false when no zone contains it.
func (m *Model) ZoneOf(ip netip.Addr) (string, bool) {
	ip = ip.Unmap()
	best, bits := "", -1
	for _, z := range m.Zones {
		for _, c := range z.CIDRs {
			p, err := netip.ParsePrefix(c)
			if err != nil || !p.Contains(ip) {
				continue
			}
			if p.Bits() > bits {
				best, bits = z.ID, p.Bits()
			}
		}
	}
	return best, bits >= 0
}

// AssetZone returns the asset's zone id: its Zone field, or the zone
// containing its first IP; "" when neither gives one.
func (m *Model) AssetZone(a *Asset) string {
	if a.Zone != "" {
		return a.Zone
	}
	for _, s := range a.IPs {
		ip, err := netip.ParseAddr(s)
		if err != nil {
			continue
		}
		if z, ok := m.ZoneOf(ip); ok {
			return z
		}
		return ""
	}
	return ""
}

// Interval returns the parsed start and end of the window.
func (w *MaintenanceWindow) Interval() (start, end time.Time, err error) {
	start, err = time.Parse(time.RFC3339, w.Start)
	if err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("maintenance window %s: start %q is not RFC 3339", w.ID, w.Start)
	}
	end, err = time.Parse(time.RFC3339, w.End)
	if err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("maintenance window %s: end %q is not RFC 3339", w.ID, w.End)
	}
	return start, end, nil
}

type validator struct {
	m      *Model
	data   []byte
	issues []Issue
	zones  map[string]*Zone
	// assets are the positions of the assets with valid, unique ids,
	// by id.
	assets map[string]int
	areas  map[string]bool
	// prefixes are the zones' valid CIDRs, parsed, in model order.
	prefixes []zonePrefix
	// cidrs are all parsable CIDRs of all zones, as ZoneOf sees them.
	cidrs []zonePrefix
}

func (v *validator) add(path, format string, args ...any) {
	line := 0
	if v.data != nil {
		// A missing field has no node: fall back to its nearest ancestor.
		for p := path; line == 0 && p != "$"; {
			line = config.Line(v.data, p)
			i := strings.LastIndexAny(p, ".[")
			if i <= 0 {
				break
			}
			p = p[:i]
		}
	}
	v.issues = append(v.issues, Issue{Path: path, Line: line, Message: fmt.Sprintf(format, args...)})
}

func (m *Model) validate(file string, data []byte) error {
	v := &validator{m: m, data: data, zones: map[string]*Zone{}, assets: make(map[string]int, len(m.Assets)), areas: map[string]bool{}}
	v.site()
	v.zoneList()
	for i := range m.Zones {
		for _, c := range m.Zones[i].CIDRs {
			if p, err := netip.ParsePrefix(c); err == nil {
				v.cidrs = append(v.cidrs, zonePrefix{p: p, zone: m.Zones[i].ID, source: c})
			}
		}
	}
	v.assetList()
	v.conduitList()
	v.windowList()
	if len(v.issues) == 0 {
		return nil
	}
	return &ValidationError{File: file, Issues: v.issues}
}

func (v *validator) site() {
	m := v.m
	if m.Version < 1 {
		v.add("$.version", "version must be a positive integer, got %d", m.Version)
	}
	s := m.Site
	switch {
	case s.ID == "":
		v.add("$.site", "site.id is required")
	case !siteIDRe.MatchString(s.ID):
		v.add("$.site.id", "site id %q must match %s", s.ID, siteIDRe)
	}
	if s.Timezone == "" {
		v.add("$.site", "site.timezone is required")
	} else if _, err := time.LoadLocation(s.Timezone); err != nil {
		v.add("$.site.timezone", "site timezone %q is not an IANA time zone", s.Timezone)
	}
	if c := s.NIS2.EntityClass; c != "" && !slices.Contains(EntityClasses, c) {
		v.add("$.site.nis2.entity_class", "nis2 entity_class %q must be one of %s", c, strings.Join(EntityClasses, ", "))
	}
	seen := map[string]int{}
	for i, a := range s.Areas {
		path := fmt.Sprintf("$.site.areas[%d]", i)
		if !v.id(path, "area", a.ID, seen) {
			continue
		}
		seen[a.ID] = i
		v.areas[a.ID] = true
	}
}

// id checks a "<site>/<name>" id and its uniqueness in seen.
func (v *validator) id(path, what, id string, seen map[string]int) bool {
	if id == "" {
		v.add(path, "%s id is required", what)
		return false
	}
	prefix := v.m.Site.ID + "/"
	if v.m.Site.ID != "" && (!strings.HasPrefix(id, prefix) || !isName(id[len(prefix):])) {
		v.add(path+".id", "%s id %q must be %q followed by a name of letters, digits, '.', '_' or '-'", what, id, prefix)
	}
	if first, dup := seen[id]; dup {
		v.add(path+".id", "duplicate %s id %q (first defined at index %d)", what, id, first)
		return false
	}
	return true
}

// assetSubject is the subject of a message about the asset with this id:
// "asset <id>", built only when a message is.
type assetSubject string

// String returns "asset <id>".
func (s assetSubject) String() string { return "asset " + string(s) }

// hasAsset reports whether an asset with a valid id has the id.
func (v *validator) hasAsset(id string) bool {
	_, ok := v.assets[id]
	return ok
}

// idOK reports whether id is a valid, new "<site>/<name>" id: whether id
// would report nothing.
func (v *validator) idOK(id string, seen map[string]int) bool {
	if id == "" {
		return false
	}
	if site := v.m.Site.ID; site != "" && (len(id) <= len(site) || id[len(site)] != '/' || id[:len(site)] != site || !isName(id[len(site)+1:])) {
		return false
	}
	_, dup := seen[id]
	return !dup
}

func (v *validator) purdue(path, what string, p *float64) {
	if p == nil {
		return
	}
	if *p < 0 || *p > 5 || math.Mod(*p*2, 1) != 0 {
		v.add(path+".purdue_level", "%s purdue_level %g is out of range (0 to 5 in steps of 0.5)", what, *p)
	}
}

func (v *validator) criticality(path, what, c string) {
	if c != "" && !slices.Contains(Criticalities, c) {
		v.add(path+".criticality", "%s criticality %q must be one of %s", what, c, strings.Join(Criticalities, ", "))
	}
}

func (v *validator) securityLevel(path, what string, sl SecurityLevel) {
	if sl.Target < 1 || sl.Target > 4 {
		v.add(path+".security_level", "%s security_level.target %d is outside 1-4", what, sl.Target)
	}
	if sl.Achieved != 0 && (sl.Achieved < 1 || sl.Achieved > 4) {
		v.add(path+".security_level.achieved", "%s security_level.achieved %d is outside 1-4", what, sl.Achieved)
	}
}

type zonePrefix struct {
	p      netip.Prefix
	zone   string
	source string
}

func (v *validator) zoneList() {
	seen := map[string]int{}
	for i := range v.m.Zones {
		z := &v.m.Zones[i]
		path := fmt.Sprintf("$.zones[%d]", i)
		if !v.id(path, "zone", z.ID, seen) {
			continue
		}
		seen[z.ID] = i
		v.zones[z.ID] = z
		what := "zone " + z.ID
		if !slices.Contains(ZoneKinds, z.Kind) {
			v.add(path, "%s kind %q must be one of %s", what, z.Kind, strings.Join(ZoneKinds, ", "))
		}
		if z.PurdueLevel == nil {
			v.add(path, "%s purdue_level is required", what)
		}
		v.purdue(path, what, z.PurdueLevel)
		v.securityLevel(path, what, z.SecurityLevel)
		v.criticality(path, what, z.Criticality)
		for j, c := range z.CIDRs {
			cpath := fmt.Sprintf("%s.cidrs[%d]", path, j)
			p, err := netip.ParsePrefix(c)
			if err != nil {
				v.add(cpath, "%s cidr %q is not a valid CIDR", what, c)
				continue
			}
			if p.Masked() != p {
				v.add(cpath, "%s cidr %s has host bits set (network is %s)", what, c, p.Masked())
				continue
			}
			for _, q := range v.prefixes {
				if q.p.Overlaps(p) {
					v.add(cpath, "%s cidr %s overlaps %s of zone %s", what, c, q.source, q.zone)
				}
			}
			v.prefixes = append(v.prefixes, zonePrefix{p: p, zone: z.ID, source: c})
		}
		if z.Area != "" && !v.areas[z.Area] {
			v.add(path+".area", "%s names unknown area %q", what, z.Area)
		}
		for j, vl := range z.VLANs {
			if vl < 1 || vl > 4094 {
				v.add(fmt.Sprintf("%s.vlans[%d]", path, j), "%s vlan %d is outside 1-4094", what, vl)
			}
		}
	}
}

// zoneContains reports whether one of z's CIDRs contains ip.
func (v *validator) zoneContains(z *Zone, ip netip.Addr) bool {
	for _, p := range v.cidrs {
		if p.zone == z.ID && p.p.Contains(ip) {
			return true
		}
	}
	return false
}

// zoneOf is Model.ZoneOf with the CIDRs parsed once.
func (v *validator) zoneOf(ip netip.Addr) (string, bool) {
	best, bits := "", -1
	for _, p := range v.cidrs {
		if p.p.Bits() > bits && p.p.Contains(ip) {
			best, bits = p.zone, p.p.Bits()
		}
	}
	return best, bits >= 0
}

func (v *validator) assetList() {
	n := len(v.m.Assets)
	seen := v.assets
	// Addresses to their assets: IPv4 ones by their 32-bit value, which
	// hashes faster than a netip.Addr.
	ips4 := make(map[uint32]string, n)
	ips := map[netip.Addr]string{}
	macs := make(map[[6]byte]string, n)
	hosts := make(map[string]string, n)
	for i := range v.m.Assets {
		a := &v.m.Assets[i]
		// A large inventory is mostly valid: the path and the subject of
		// a message are built only for a problem.
		path := func(sub string) string { return "$.assets[" + strconv.Itoa(i) + "]" + sub }
		if !v.idOK(a.ID, seen) && !v.id(path(""), "asset", a.ID, seen) {
			continue
		}
		seen[a.ID] = i
		what := assetSubject(a.ID)
		if !slices.Contains(Roles, a.Role) {
			v.add(path(""), "%s role %q must be one of %s", what, a.Role, strings.Join(Roles, ", "))
		}
		if a.PurdueLevel != nil {
			v.purdue(path(""), what.String(), a.PurdueLevel)
		}
		if a.Criticality != "" && !slices.Contains(Criticalities, a.Criticality) {
			v.criticality(path(""), what.String(), a.Criticality)
		}
		var zone *Zone
		if a.Zone != "" {
			zone = v.zones[a.Zone]
			if zone == nil {
				v.add(path(".zone"), "%s names unknown zone %q", what, a.Zone)
			}
		}
		if len(a.IPs) == 0 && a.Zone == "" {
			v.add(path(""), "%s needs ips or a zone", what)
		}
		for j, s := range a.IPs {
			ipath := func() string { return path(".ips[" + strconv.Itoa(j) + "]") }
			ip, err := netip.ParseAddr(s)
			if err != nil || ip.Zone() != "" {
				v.add(ipath(), "%s ip %q is not a valid IP address", what, s)
				continue
			}
			ip = ip.Unmap()
			if ip.Is4() {
				b := ip.As4()
				k := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
				if other, dup := ips4[k]; dup {
					v.add(ipath(), "%s ip %s is already assigned to asset %s", what, ip, other)
				} else {
					ips4[k] = a.ID
				}
			} else if other, dup := ips[ip]; dup {
				v.add(ipath(), "%s ip %s is already assigned to asset %s", what, ip, other)
			} else {
				ips[ip] = a.ID
			}
			switch {
			case zone != nil:
				if !v.zoneContains(zone, ip) {
					v.add(ipath(), "%s ip %s is outside its zone %s (%s)", what, ip, zone.ID, strings.Join(zone.CIDRs, ", "))
				}
			case a.Zone != "":
				// unknown zone already reported
			default:
				zid, ok := v.zoneOf(ip)
				if !ok {
					v.add(ipath(), "%s ip %s is in no zone's CIDRs", what, ip)
					continue
				}
				zone = v.zones[zid]
			}
		}
		for j, s := range a.MACs {
			mpath := func() string { return path(".macs[" + strconv.Itoa(j) + "]") }
			if !isMAC(s) {
				v.add(mpath(), "%s mac %q is not a MAC address like 00:1d:9c:c0:04:9d", what, s)
				continue
			}
			k := macKey(s)
			if other, dup := macs[k]; dup {
				v.add(mpath(), "%s mac %s is already assigned to asset %s", what, NormalizeMAC(s), other)
			} else {
				macs[k] = a.ID
			}
		}
		names := a.Hostnames
		if a.Hostname != "" {
			names = append([]string{a.Hostname}, a.Hostnames...)
		}
		for j, h := range names {
			hpath := func() string {
				if a.Hostname != "" && j == 0 {
					return path(".hostname")
				}
				k := j
				if a.Hostname != "" {
					k--
				}
				return path(fmt.Sprintf(".hostnames[%d]", k))
			}
			if !isName(h) {
				v.add(hpath(), "%s hostname %q must be letters, digits, '-', '_' and '.'", what, h)
				continue
			}
			norm := strings.ToLower(h)
			if other, dup := hosts[norm]; dup {
				if other != a.ID {
					v.add(hpath(), "%s hostname %s is already assigned to asset %s", what, h, other)
				}
			} else {
				hosts[norm] = a.ID
			}
		}
		for j, act := range a.Response.ForbiddenActions {
			if !actionRe.MatchString(act) {
				v.add(path(fmt.Sprintf(".response.forbidden_actions[%d]", j)), "%s forbidden action %q must be lower-case letters, digits and '_'", what, act)
			}
		}
		for j, ap := range a.Response.Approvers {
			if strings.TrimSpace(ap) == "" {
				v.add(path(fmt.Sprintf(".response.approvers[%d]", j)), "%s approver must not be empty", what)
			}
		}
	}
}

// macKey returns the bytes of a MAC address matching isMAC.
func macKey(s string) [6]byte {
	var k [6]byte
	for i := range k {
		k[i] = hexVal(s[3*i])<<4 | hexVal(s[3*i+1])
	}
	return k
}

// hexVal returns the value of a hex digit.
func hexVal(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

// NormalizeMAC returns a MAC address in lower-case colon form
// (00:1d:9c:c0:04:9d); it expects a string matching the model's MAC syntax.
func NormalizeMAC(s string) string {
	return strings.ToLower(strings.ReplaceAll(s, "-", ":"))
}

func (v *validator) conduitList() {
	seen := map[string]int{}
	for i := range v.m.Conduits {
		c := &v.m.Conduits[i]
		path := fmt.Sprintf("$.conduits[%d]", i)
		if !v.id(path, "conduit", c.ID, seen) {
			continue
		}
		seen[c.ID] = i
		what := "conduit " + c.ID
		betweenOK := len(c.Between) == 2
		if !betweenOK {
			v.add(path, "%s between must name exactly 2 zones, got %d", what, len(c.Between))
		}
		for j, z := range c.Between {
			if v.zones[z] == nil {
				v.add(fmt.Sprintf("%s.between[%d]", path, j), "%s names unknown zone %q", what, z)
				betweenOK = false
			}
		}
		if betweenOK && c.Between[0] == c.Between[1] {
			v.add(path+".between", "%s connects zone %s to itself", what, c.Between[0])
			betweenOK = false
		}
		if c.SecurityLevel != nil {
			v.securityLevel(path, what, *c.SecurityLevel)
		}
		for j, e := range c.Enforcement {
			epath := fmt.Sprintf("%s.enforcement[%d]", path, j)
			if !slices.Contains(EnforcementTypes, e.Type) {
				v.add(epath, "%s enforcement type %q must be one of %s", what, e.Type, strings.Join(EnforcementTypes, ", "))
			}
			switch {
			case e.Device == "":
				v.add(epath, "%s enforcement device is required", what)
			case strings.HasPrefix(e.Device, v.m.Site.ID+"/") && !v.hasAsset(e.Device):
				v.add(epath+".device", "%s enforcement device %q is not a known asset", what, e.Device)
			}
		}
		if len(c.Flows) == 0 {
			v.add(path, "%s has no flows", what)
		}
		flows := map[string]int{}
		for j := range c.Flows {
			v.flow(fmt.Sprintf("%s.flows[%d]", path, j), c, betweenOK, &c.Flows[j], j, flows)
		}
	}
}

func (v *validator) flow(path string, c *Conduit, betweenOK bool, f *Flow, idx int, seen map[string]int) {
	what := "conduit " + c.ID + " flow " + f.ID
	switch {
	case f.ID == "":
		v.add(path, "conduit %s flow id is required", c.ID)
		what = fmt.Sprintf("conduit %s flow #%d", c.ID, idx)
	case !localIDRe.MatchString(f.ID):
		v.add(path+".id", "%s: id must consist of letters, digits, '.', '_' or '-'", what)
	default:
		if first, dup := seen[f.ID]; dup {
			v.add(path+".id", "duplicate flow id %q in conduit %s (first defined at index %d)", f.ID, c.ID, first)
		}
		seen[f.ID] = idx
	}
	if betweenOK {
		for _, side := range []struct {
			name string
			end  FlowEnd
		}{{"src", f.Src}, {"dst", f.Dst}} {
			if side.end.Zone != c.Between[0] && side.end.Zone != c.Between[1] {
				v.add(path+"."+side.name, "%s: %s zone %q is not one of the conduit's zones %s, %s", what, side.name, side.end.Zone, c.Between[0], c.Between[1])
			}
		}
		if f.Src.Zone == f.Dst.Zone {
			v.add(path+".dst.zone", "%s: src and dst are both in zone %s", what, f.Src.Zone)
		} else if c.Unidirectional && f.Src.Zone != c.Between[0] {
			v.add(path+".src.zone", "%s: conduit is unidirectional from %s to %s but the flow starts in %s", what, c.Between[0], c.Between[1], f.Src.Zone)
		}
	}
	for _, side := range []struct {
		name string
		end  FlowEnd
	}{{"src", f.Src}, {"dst", f.Dst}} {
		for k, r := range side.end.Roles {
			if !slices.Contains(Roles, r) || r == "unknown" {
				v.add(fmt.Sprintf("%s.%s.roles[%d]", path, side.name, k), "%s: %s role %q must be an asset role other than unknown", what, side.name, r)
			}
		}
		for k, id := range side.end.Assets {
			apath := fmt.Sprintf("%s.%s.assets[%d]", path, side.name, k)
			i, ok := v.assets[id]
			if !ok {
				v.add(apath, "%s: %s names unknown asset %q", what, side.name, id)
				continue
			}
			if z := v.m.AssetZone(&v.m.Assets[i]); z != side.end.Zone {
				v.add(apath, "%s: %s asset %s is in zone %s, not %s", what, side.name, id, z, side.end.Zone)
			}
		}
	}
	if !slices.Contains(Transports, f.Transport) {
		v.add(path, "%s: transport %q must be one of %s", what, f.Transport, strings.Join(Transports, ", "))
	}
	for k, p := range f.Ports {
		if p < 1 || p > 65535 {
			v.add(fmt.Sprintf("%s.ports[%d]", path, k), "%s: port %d is outside 1-65535", what, p)
		}
	}
	if f.Transport == "icmp" && len(f.Ports) > 0 {
		v.add(path+".ports", "%s: icmp flows have no ports", what)
	}
	if f.Protocol != "" && !protocolRe.MatchString(f.Protocol) {
		v.add(path+".protocol", "%s: protocol %q must be lower-case letters, digits, '_' or '-'", what, f.Protocol)
	}
	v.operations(path+".operations.allow", what, f.Operations.Allow)
	v.operations(path+".operations.require_maintenance_window", what, f.Operations.RequireMaintenanceWindow)
	if len(f.Operations.Allow) > 0 {
		for k, op := range f.Operations.RequireMaintenanceWindow {
			if !slices.Contains(f.Operations.Allow, op) {
				v.add(fmt.Sprintf("%s.operations.require_maintenance_window[%d]", path, k), "%s: operation %s requires a maintenance window but is not in operations.allow", what, op)
			}
		}
	}
}

func (v *validator) operations(path, what string, ops []string) {
	for k, op := range ops {
		if !slices.Contains(OperationNames, op) {
			v.add(fmt.Sprintf("%s[%d]", path, k), "%s: unknown operation %q (known: %s)", what, op, strings.Join(OperationNames, ", "))
		}
	}
}

func (v *validator) windowList() {
	seen := map[string]int{}
	for i := range v.m.MaintenanceWindows {
		w := &v.m.MaintenanceWindows[i]
		path := fmt.Sprintf("$.maintenance_windows[%d]", i)
		if w.ID == "" {
			v.add(path, "maintenance window id is required")
			continue
		}
		if !localIDRe.MatchString(w.ID) {
			v.add(path+".id", "maintenance window id %q must consist of letters, digits, '.', '_' or '-'", w.ID)
		}
		if first, dup := seen[w.ID]; dup {
			v.add(path+".id", "duplicate maintenance window id %q (first defined at index %d)", w.ID, first)
			continue
		}
		seen[w.ID] = i
		what := "maintenance window " + w.ID
		switch {
		case w.Recurrence != nil && (w.Start != "" || w.End != ""):
			v.add(path+".recurrence", "%s has both start/end and a recurrence; use one", what)
		case w.Recurrence != nil:
			v.recurrence(path+".recurrence", what, w.Recurrence)
		default:
			start, serr := time.Parse(time.RFC3339, w.Start)
			if serr != nil {
				v.add(path+".start", "%s start %q is not an RFC 3339 time", what, w.Start)
			}
			end, eerr := time.Parse(time.RFC3339, w.End)
			if eerr != nil {
				v.add(path+".end", "%s end %q is not an RFC 3339 time", what, w.End)
			}
			if serr == nil && eerr == nil && !end.After(start) {
				v.add(path+".end", "%s end %s is not after start %s", what, w.End, w.Start)
			}
		}
		if len(w.Scope.Zones) == 0 && len(w.Scope.Assets) == 0 {
			v.add(path, "%s scope names no zones or assets", what)
		}
		for k, z := range w.Scope.Zones {
			if v.zones[z] == nil {
				v.add(fmt.Sprintf("%s.scope.zones[%d]", path, k), "%s names unknown zone %q", what, z)
			}
		}
		for k, a := range w.Scope.Assets {
			if !v.hasAsset(a) {
				v.add(fmt.Sprintf("%s.scope.assets[%d]", path, k), "%s names unknown asset %q", what, a)
			}
		}
		v.operations(path+".allowed_operations", what, w.AllowedOperations)
		for k, a := range w.AllowedSources {
			if !v.hasAsset(a) {
				v.add(fmt.Sprintf("%s.allowed_sources[%d]", path, k), "%s allowed source %q is not a known asset", what, a)
			}
		}
		for k, u := range w.AllowedUsers {
			if strings.TrimSpace(u) == "" {
				v.add(fmt.Sprintf("%s.allowed_users[%d]", path, k), "%s allowed user must not be empty", what)
			}
		}
	}
}

func (v *validator) recurrence(path, what string, r *Recurrence) {
	if len(r.Weekdays) == 0 {
		v.add(path, "%s recurrence.weekdays is required", what)
	}
	for k, d := range r.Weekdays {
		if _, ok := ParseWeekday(d); !ok {
			v.add(fmt.Sprintf("%s.weekdays[%d]", path, k), "%s recurrence weekday %q is not a day name (monday..sunday or mon..sun)", what, d)
		}
	}
	if _, _, err := parseClock(r.Start); err != nil {
		v.add(path+".start", "%s %v", what, err)
	}
	if d, err := time.ParseDuration(r.Duration); err != nil || d <= 0 || d > MaxRecurrenceDuration {
		v.add(path+".duration", "%s recurrence duration %q must be a Go duration above 0 and at most 168h", what, r.Duration)
	}
	from, ferr := parseDate("from", r.From)
	if ferr != nil {
		v.add(path+".from", "%s %v", what, ferr)
	}
	until, uerr := parseDate("until", r.Until)
	if uerr != nil {
		v.add(path+".until", "%s %v", what, uerr)
	}
	if ferr == nil && uerr == nil && from != 0 && until != 0 && until < from {
		v.add(path+".until", "%s recurrence until %s is before from %s", what, r.Until, r.From)
	}
}
