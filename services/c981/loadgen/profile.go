package loadgen

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// Profiles of generated records.
const (
	// ProfilePlant is a plant's routine traffic — Modbus polls and reads
	// on the conduits the demo plant (deploy/demo/site.yaml) allows,
	// historian replication, remote-desktop hops, successful logons,
	// traffic inside one zone — with a configurable share of suspicious
	// records that the OT rule pack (rules/) alerts on.
	ProfilePlant = "plant"
	// ProfileStress is the original load: every record an OT operation
	// from a rotating set (many of them writes, program downloads and mode
	// changes from hosts that are not inventoried), so nearly every record
	// raises alerts. Its records are Line's, byte for byte.
	ProfileStress = "stress"
)

// DefaultSuspicious is the share of suspicious records of the plant
// profile that c981 loadgen sends by default: one in a thousand.
const DefaultSuspicious = 0.001

// ValidProfile reports whether p is one of the profiles above.
func ValidProfile(p string) bool { return p == ProfilePlant || p == ProfileStress }

// Generator builds the records of one profile. The record of a sequence
// number is a pure function of the run id, the sequence number, the format
// and the send time: a resent record is identical. A Generator is safe for
// concurrent use.
type Generator struct {
	profile string
	// threshold: a record is suspicious when its first draw is below it.
	threshold uint64
	all       bool // every record is suspicious (share 1)
}

// NewGenerator returns the generator of profile (plant or stress) with
// suspicious, the share (0..1) of suspicious plant records; stress ignores
// it.
func NewGenerator(profile string, suspicious float64) (*Generator, error) {
	if !ValidProfile(profile) {
		return nil, fmt.Errorf("loadgen: profile %q must be plant or stress", profile)
	}
	if !(suspicious >= 0 && suspicious <= 1) { // also rejects NaN
		return nil, fmt.Errorf("loadgen: suspicious share %v must be between 0 and 1", suspicious)
	}
	g := &Generator{profile: profile, all: suspicious == 1}
	if !g.all {
		g.threshold = uint64(math.Ldexp(suspicious, 64)) // < 2^64 for a share < 1
	}
	return g, nil
}

// IsSuspicious reports whether the record of run and seq is one of the
// plant profile's suspicious records (always false for stress).
func (g *Generator) IsSuspicious(run string, seq uint64) bool {
	return g.profile == ProfilePlant && g.suspicious(seed(run, seq))
}

// seed is the first draw of the record of run and seq.
func seed(run string, seq uint64) uint64 { return mix64(fnv64a(run) ^ mix64(seq)) }

// suspicious reports whether a record whose first draw is x is suspicious.
func (g *Generator) suspicious(x uint64) bool { return g.all || x < g.threshold }

// Line appends the record (without a line terminator) of run and seq in
// format to dst and returns it, as the package function Line does for the
// stress profile. Plant records are 230-330 bytes (with a 20-character run
// id), about 300 on average like the stress records.
func (g *Generator) Line(dst []byte, format, run string, seq uint64, sent time.Time) []byte {
	if g.profile == ProfileStress {
		return Line(dst, format, run, seq, sent)
	}
	if format == FormatMix {
		format = [...]string{FormatRFC5424, FormatRFC3164, FormatCEF}[seq%3]
	}
	d := g.draw(run, seq)
	return d.append(dst, format, run, seq, sent)
}

// A template is one kind of plant record: who talks to whom, how, and how
// the reporting device logs it.
type template struct {
	// name identifies the template in tests and the policy field.
	name string
	// weight is the relative frequency among the routine templates or
	// among the suspicious ones.
	weight int
	// host and app are the reporting device and its syslog app name.
	host, app string
	// pri is the syslog priority; cefSev the CEF severity (0-10).
	pri, cefSev int
	// srcs and dsts are the candidate addresses, drawn uniformly.
	srcs, dsts []string
	// proto, dport and appProto describe the connection; op is the OT
	// operation ("" for none); action the firewall verdict.
	proto    string
	dport    int
	appProto string
	op       string
	action   string
	// category, outcome and users make an authentication record.
	category, outcome string
	users             []string
	// sigID and name are the CEF signature id and event name; msg is the
	// free text of every format.
	sigID, cefName, msg string
}

// Addresses of the demo plant's assets (deploy/demo/site.yaml).
var (
	ipHMIs        = []string{"10.20.2.11", "10.20.2.12"}               // hmi-01, hmi-02
	ipSCADA       = "10.20.2.31"                                       // scada-01
	ipEWS         = "10.20.2.21"                                       // ews-01
	ipPLCs        = []string{"10.20.1.11", "10.20.1.12", "10.20.1.13"} // plc-101..103
	ipControllers = []string{"10.20.1.11", "10.20.1.12", "10.20.1.13", "10.20.1.21", "10.20.1.31"}
	ipSIS         = []string{"10.20.9.5", "10.20.9.6"} // sis-01, sis-02
	ipHist        = "10.20.3.10"                       // hist-01
	ipHistMirror  = "172.16.35.20"                     // hist-mirror-01
	ipJump        = "172.16.35.10"                     // jump-01
	ipOffice      = "10.10.5.21"                       // ws-office-01
	ipDCOT        = "10.20.3.5"                        // dc-ot-01
	ipWSUS        = "10.20.3.20"                       // wsus-01
	// Not inventoried: a device on the supervisory LAN and an office
	// address outside the inventory.
	ipRogue       = "10.20.2.66"
	ipOfficeGuest = "10.10.5.99"
)

// routine are the plant's everyday records; none of them matches a rule of
// the OT rule pack: every flow is inside one zone or allowed by a conduit
// flow of the demo site, every source is inventoried, operations are reads,
// logons succeed, and no source polls ten or more controllers (OT-008).
var routine = []template{
	{name: "hmi-poll", weight: 620, host: "fw-cell-01", app: "fw", pri: 134, cefSev: 1,
		srcs: append(append([]string{}, ipHMIs...), ipSCADA), dsts: ipControllers,
		proto: "tcp", dport: 502, appProto: "modbus", op: "read", action: "allow",
		sigID: "modbus-read", cefName: "Modbus read holding registers", msg: "Modbus read holding registers 40001-40032, poll cycle"},
	{name: "sis-status", weight: 100, host: "fw-cell-01", app: "fw", pri: 134, cefSev: 1,
		srcs: ipPLCs, dsts: ipSIS,
		proto: "tcp", dport: 502, appProto: "modbus", op: "read", action: "allow",
		sigID: "modbus-read", cefName: "Modbus read input registers", msg: "Modbus read input registers, SIS status"},
	{name: "ews-read", weight: 50, host: "fw-cell-01", app: "fw", pri: 134, cefSev: 1,
		srcs: []string{ipEWS}, dsts: ipControllers[:4],
		proto: "tcp", dport: 44818, appProto: "enip", op: "read", action: "allow",
		sigID: "cip-read", cefName: "CIP Read_Tag", msg: "CIP Read_Tag, online monitoring of controller tags"},
	{name: "scada-hist", weight: 70, host: "scada-01", app: "historian-link", pri: 134, cefSev: 1,
		srcs: []string{ipSCADA}, dsts: []string{ipHist},
		proto: "tcp", dport: 5450, appProto: "historian", action: "allow",
		sigID: "historian-batch", cefName: "Historian batch sent", msg: "historian replication batch sent, 1000 tags"},
	{name: "hist-repl", weight: 50, host: "fw-idmz-01", app: "fw", pri: 134, cefSev: 1,
		srcs: []string{ipHist}, dsts: []string{ipHistMirror},
		proto: "tcp", dport: 5450, appProto: "historian", action: "allow",
		sigID: "historian-mirror", cefName: "Historian mirror session", msg: "historian mirror session to the industrial DMZ"},
	{name: "rdp-jump", weight: 25, host: "fw-idmz-01", app: "fw", pri: 134, cefSev: 1,
		srcs: []string{ipOffice}, dsts: []string{ipJump},
		proto: "tcp", dport: 3389, appProto: "rdp", action: "allow",
		sigID: "rdp-session", cefName: "Remote desktop session", msg: "remote desktop session to the jump host"},
	{name: "rdp-ews", weight: 25, host: "fw-idmz-01", app: "fw", pri: 134, cefSev: 1,
		srcs: []string{ipJump}, dsts: []string{ipEWS},
		proto: "tcp", dport: 3389, appProto: "rdp", action: "allow",
		sigID: "rdp-session", cefName: "Remote desktop session", msg: "remote desktop session to the engineering workstation"},
	{name: "logon", weight: 30, host: "jump-01", app: "sshd", pri: 86, cefSev: 1,
		srcs: []string{ipOffice}, dsts: []string{ipJump},
		proto: "tcp", dport: 22, appProto: "ssh", action: "allow",
		category: "authentication", outcome: "success", users: []string{"op.meyer", "op.schulz", "eng.schmidt", "eng.novak"},
		sigID: "logon-success", cefName: "Accepted publickey", msg: "Accepted publickey"},
	{name: "kerberos", weight: 30, host: "dc-ot-01", app: "kdc", pri: 134, cefSev: 1,
		srcs: []string{ipHist, ipWSUS}, dsts: []string{ipDCOT},
		proto: "tcp", dport: 88, appProto: "kerberos", action: "allow",
		sigID: "kerberos-tgs", cefName: "Kerberos service ticket", msg: "Kerberos service ticket issued"},
}

// suspicious are the records the OT rule pack alerts on (the rules each
// one matches, whatever the time, are in the comment).
var suspicious = []template{
	// OT-006 (no conduit flow) + OT-007 (write from an unauthorized host).
	{name: "office-write", weight: 1, host: "fw-cell-01", app: "fw", pri: 132, cefSev: 7,
		srcs: []string{ipOffice}, dsts: ipPLCs,
		proto: "tcp", dport: 502, appProto: "modbus", op: "write", action: "allow",
		sigID: "modbus-write", cefName: "Modbus write single register", msg: "Modbus write single register"},
	// OT-001 (download from a non-EWS host) + OT-006.
	{name: "hmi-download", weight: 1, host: "fw-cell-01", app: "fw", pri: 132, cefSev: 8,
		srcs: ipHMIs, dsts: ipPLCs,
		proto: "tcp", dport: 44818, appProto: "enip", op: "program_download", action: "allow",
		sigID: "cip-download", cefName: "CIP program download", msg: "CIP program download started"},
	// OT-002 (no window allows mode changes) + OT-006.
	{name: "mode-change", weight: 1, host: "fw-cell-01", app: "fw", pri: 132, cefSev: 8,
		srcs: []string{ipEWS}, dsts: ipPLCs,
		proto: "tcp", dport: 44818, appProto: "enip", op: "mode_change", action: "allow",
		sigID: "cip-mode", cefName: "CIP controller mode change", msg: "CIP controller mode change RUN to PROGRAM"},
	// OT-006: the corporate LAN has no conduit to the operations zone.
	{name: "no-conduit", weight: 1, host: "fw-idmz-01", app: "fw", pri: 132, cefSev: 6,
		srcs: []string{ipOffice}, dsts: []string{ipHist, ipDCOT},
		proto: "tcp", dport: 445, appProto: "smb", action: "deny",
		sigID: "conn-deny", cefName: "Connection denied", msg: "SMB connection attempt denied"},
	// OT-005 (unknown device) + OT-006, and OT-008 once ten controller
	// addresses were probed within five minutes.
	{name: "scan", weight: 1, host: "fw-cell-01", app: "fw", pri: 132, cefSev: 6,
		srcs: []string{ipRogue}, dsts: controlNet(),
		proto: "tcp", dport: 502, appProto: "modbus", action: "deny",
		sigID: "conn-deny", cefName: "Connection denied", msg: "connection attempt denied"},
	// OT-003 (write to a safety system) + OT-006 + OT-007.
	{name: "sis-write", weight: 1, host: "fw-cell-01", app: "fw", pri: 130, cefSev: 10,
		srcs: []string{ipEWS}, dsts: ipSIS,
		proto: "tcp", dport: 502, appProto: "modbus", op: "write", action: "allow",
		sigID: "modbus-write", cefName: "Modbus write to safety controller", msg: "Modbus write single coil"},
	// OT-020: failed login to the jump host.
	{name: "failed-logon", weight: 1, host: "jump-01", app: "sshd", pri: 84, cefSev: 5,
		srcs: []string{ipOfficeGuest}, dsts: []string{ipJump},
		proto: "tcp", dport: 22, appProto: "ssh", action: "deny",
		category: "authentication", outcome: "failure", users: []string{"admin", "administrator", "root"},
		sigID: "logon-failure", cefName: "Failed password", msg: "Failed password"},
}

// controlNet returns the addresses 10.20.1.1-254 of the control zone.
func controlNet() []string {
	out := make([]string, 254)
	for i := range out {
		out[i] = "10.20.1." + strconv.Itoa(i+1)
	}
	return out
}

// cumulative weights of routine and suspicious, for drawing.
var routineCum, suspiciousCum = cumulative(routine), cumulative(suspicious)

func cumulative(ts []template) []uint64 {
	out := make([]uint64, len(ts))
	var sum uint64
	for i, t := range ts {
		sum += uint64(t.weight)
		out[i] = sum
	}
	return out
}

// pick returns the index whose cumulative weight range holds h.
func pick(cum []uint64, h uint64) int {
	r := h % cum[len(cum)-1]
	for i, c := range cum {
		if r < c {
			return i
		}
	}
	return len(cum) - 1
}

// drawn is what a record of the plant profile is made of.
type drawn struct {
	t              *template
	suspicious     bool
	src, dst, user string
	sport          int
}

// draw decides the record of run and seq from a hash of both: independent
// 64-bit draws (splitmix64) for suspicious or not, the template, the
// addresses, the user and the source port.
func (g *Generator) draw(run string, seq uint64) drawn {
	x := seed(run, seq)
	var d drawn
	d.suspicious = g.suspicious(x)
	x = mix64(x)
	if d.suspicious {
		d.t = &suspicious[pick(suspiciousCum, x)]
	} else {
		d.t = &routine[pick(routineCum, x)]
	}
	x = mix64(x)
	d.src = d.t.srcs[x%uint64(len(d.t.srcs))]
	x = mix64(x)
	d.dst = d.t.dsts[x%uint64(len(d.t.dsts))]
	x = mix64(x)
	if len(d.t.users) > 0 {
		d.user = d.t.users[x%uint64(len(d.t.users))]
	}
	x = mix64(x)
	d.sport = 40000 + int(x%20000)
	return d
}

// fnv64a is the 64-bit FNV-1a hash of s.
func fnv64a(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// mix64 is splitmix64's finalizer: a bijection that spreads every input
// bit over the output.
func mix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// pairs appends " key=value" pairs, the value quoted (RFC 5424 SD-PARAMs)
// or not (CEF extensions, key=value syslog messages).
type pairs struct {
	dst    []byte
	quoted bool
}

// key appends " key=" and the opening quote.
func (p *pairs) key(key string) {
	p.dst = append(p.dst, ' ')
	p.dst = append(p.dst, key...)
	p.dst = append(p.dst, '=')
	if p.quoted {
		p.dst = append(p.dst, '"')
	}
}

// end appends the closing quote.
func (p *pairs) end() {
	if p.quoted {
		p.dst = append(p.dst, '"')
	}
}

// str appends one pair with a string value.
func (p *pairs) str(key, v string) {
	p.key(key)
	p.dst = append(p.dst, v...)
	p.end()
}

// num appends one pair with a decimal value.
func (p *pairs) num(key string, v int64) {
	p.key(key)
	p.dst = strconv.AppendInt(p.dst, v, 10)
	p.end()
}

// append writes the record of d in format (not mix).
func (d *drawn) append(dst []byte, format, run string, seq uint64, sent time.Time) []byte {
	t := d.t
	ns := sent.UnixNano()
	dst = append(dst, '<')
	dst = strconv.AppendInt(dst, int64(t.pri), 10)
	dst = append(dst, '>')
	p := pairs{quoted: format == FormatRFC5424}
	switch format {
	case FormatRFC5424:
		dst = append(dst, "1 "...)
		dst = sent.UTC().AppendFormat(dst, "2006-01-02T15:04:05.000000Z")
		dst = append(dst, ' ')
		dst = append(dst, t.host...)
		dst = append(dst, ' ')
		dst = append(dst, t.app...)
		dst = append(dst, " - LOAD [c981load@32473"...)
		p.dst = dst
		p.str("run", run)
		p.num("seq", int64(seq))
		p.num("sent", ns)
		p.dst = append(p.dst, "][c981@32473"...)
		if t.category != "" {
			p.str("category", t.category)
			p.str("outcome", t.outcome)
			p.str("user", d.user)
		}
		p.str("src", d.src)
		p.str("dst", d.dst)
		p.str("proto", t.proto)
		p.num("sport", int64(d.sport))
		p.num("dport", int64(t.dport))
		p.str("app", t.appProto)
		if t.op != "" {
			p.str("op", t.op)
		}
		p.str("action", t.action)
		p.dst = append(p.dst, "] "...)
		p.dst = append(p.dst, t.msg...)
	case FormatCEF:
		dst = sent.UTC().AppendFormat(dst, time.Stamp)
		dst = append(dst, ' ')
		dst = append(dst, t.host...)
		dst = append(dst, " CEF:0|C981|loadgen|1.0|"...)
		dst = append(dst, t.sigID...)
		dst = append(dst, '|')
		dst = append(dst, t.cefName...)
		dst = append(dst, '|')
		dst = strconv.AppendInt(dst, int64(t.cefSev), 10)
		dst = append(dst, "|run="...)
		p.dst = append(dst, run...)
		p.num("seq", int64(seq))
		p.num("sent", ns)
		if t.category != "" {
			p.str("cat", t.category)
			p.str("outcome", t.outcome)
			p.str("suser", d.user)
		}
		p.str("src", d.src)
		p.str("dst", d.dst)
		p.num("spt", int64(d.sport))
		p.num("dpt", int64(t.dport))
		p.str("proto", "TCP")
		p.str("app", t.appProto)
		p.str("act", t.action)
		if t.op != "" {
			p.str("cs1Label", "operation")
			p.str("cs1", t.op)
		}
		p.str("msg", t.msg)
	default: // rfc3164
		dst = sent.UTC().AppendFormat(dst, time.Stamp)
		dst = append(dst, ' ')
		dst = append(dst, t.host...)
		dst = append(dst, ' ')
		dst = append(dst, t.app...)
		dst = append(dst, "[4242]: run="...)
		p.dst = append(dst, run...)
		p.num("seq", int64(seq))
		p.num("sent", ns)
		if t.category != "" {
			p.str("category", t.category)
			p.str("outcome", t.outcome)
			p.str("user", d.user)
		}
		p.str("action", t.action)
		p.str("src", d.src)
		p.str("dst", d.dst)
		p.str("proto", t.proto)
		p.num("sport", int64(d.sport))
		p.num("dport", int64(t.dport))
		p.str("app", t.appProto)
		if t.op != "" {
			p.str("op", t.op)
		}
		p.str("policy", t.name)
		p.str("msg", t.msg)
	}
	return p.dst
}
