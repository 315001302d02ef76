package syslog

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/c981/c981/services/shared/event"
)

// parseJSON flattens one JSON object into fields and maps it as Suricata
// EVE, Zeek or generic JSON. With FormatAuto the record is EVE when it has
// event_type and timestamp, Zeek when it has ts and uid, id.orig_h or
// _path, generic JSON otherwise; FormatJSON always maps generic JSON.
func (p *Parser) parseJSON(format Format, s string, ev *event.Event, fields *fieldSet, as *aliasState) (Format, error) {
	err := flattenJSON(s, fields, as)
	if err != nil {
		if format == FormatAuto {
			format = FormatJSON
		}
		return format, newError(ReasonBadJSON, format, err, "malformed JSON")
	}
	fv := fieldView{fields, as}
	isEVE := fv.hotGet(hEventType) != "" && fv.hotGet(hTimestamp) != ""
	isZeek := fv.hotGet(hTS) != "" && (fv.get("uid") != "" || fv.get("id.orig_h") != "" || fv.get("_path") != "")
	switch format {
	case FormatEVE:
		if fv.hotGet(hEventType) == "" {
			return format, newError(ReasonFormatMismatch, format, nil, "EVE record without event_type")
		}
		isEVE, isZeek = true, false
	case FormatZeek:
		if fv.hotGet(hTS) == "" {
			return format, newError(ReasonFormatMismatch, format, nil, "Zeek record without ts")
		}
		isEVE, isZeek = false, true
	case FormatJSON:
		isEVE, isZeek = false, false
	}
	// The JSON is the message; the syslog envelope's text, if any, is
	// replaced by the fields.
	ev.Message = ""
	switch {
	case isEVE:
		return FormatEVE, p.mapEVE(ev, fv)
	case isZeek:
		return FormatZeek, p.mapZeek(ev, fv)
	}
	p.mapGenericJSON(ev, fv)
	return FormatJSON, nil
}

// eveTimeLayout is Suricata's timestamp format.
const eveTimeLayout = "2006-01-02T15:04:05.999999999-0700"

// fastEVETime parses the timestamp Suricata writes,
// YYYY-MM-DDThh:mm:ss.ffffff+hhmm (1-9 fraction digits, the fraction
// optional), as time.Parse(eveTimeLayout) does but without its general
// layout machinery, and returns the instant in UTC. Anything else (a
// comma before the fraction, more digits, an RFC 3339 offset with a
// colon, an out-of-range field) returns false for time.Parse to decide;
// FuzzEVETime checks that an accepted value parses to the same instant.
func fastEVETime(s string) (time.Time, bool) {
	if len(s) < 24 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' {
		return time.Time{}, false
	}
	// Digits at 0-3, 5-6, 8-9, 11-12, 14-15, 17-18.
	if !isDigit(s[0]) || !isDigit(s[1]) || !isDigit(s[2]) || !isDigit(s[3]) ||
		!isDigit(s[5]) || !isDigit(s[6]) || !isDigit(s[8]) || !isDigit(s[9]) ||
		!isDigit(s[11]) || !isDigit(s[12]) || !isDigit(s[14]) || !isDigit(s[15]) ||
		!isDigit(s[17]) || !isDigit(s[18]) {
		return time.Time{}, false
	}
	two := func(i int) int { return int(s[i]-'0')*10 + int(s[i+1]-'0') }
	y, mo, d := two(0)*100+two(2), time.Month(two(5)), two(8)
	hh, mm, ss := two(11), two(14), two(17)
	if mo < 1 || mo > 12 || d < 1 || d > daysIn(mo, y) || hh > 23 || mm > 59 || ss > 59 {
		return time.Time{}, false
	}
	i, ns := 19, 0
	if s[i] == '.' {
		j := i + 1
		for j < len(s) && isDigit(s[j]) {
			j++
		}
		digits := j - i - 1
		if digits < 1 || digits > 9 {
			return time.Time{}, false
		}
		for k := i + 1; k < j; k++ {
			ns = ns*10 + int(s[k]-'0')
		}
		for k := digits; k < 9; k++ {
			ns *= 10
		}
		i = j
	}
	if len(s) != i+5 || s[i] != '+' && s[i] != '-' {
		return time.Time{}, false
	}
	if !isDigit(s[i+1]) || !isDigit(s[i+2]) || !isDigit(s[i+3]) || !isDigit(s[i+4]) {
		return time.Time{}, false
	}
	oh, om := two(i+1), two(i+3)
	if oh > 24 || om > 60 {
		return time.Time{}, false
	}
	off := oh*3600 + om*60
	if s[i] == '-' {
		off = -off
	}
	// time.Date in UTC and Add(-off), without their general calendar
	// and overflow work.
	sec := civilDays(y, mo, d)*86400 + int64(hh*3600+mm*60+ss-off)
	return time.Unix(sec, int64(ns)).UTC(), true
}

// civilDays returns the number of days from 1970-01-01 to the date y-m-d
// of the proleptic Gregorian calendar (negative before 1970; the date
// must be valid).
func civilDays(y int, m time.Month, d int) int64 {
	if m <= time.February {
		y--
	}
	era := y
	if era < 0 {
		era -= 399
	}
	era /= 400
	yoe := y - era*400                     // year of era, 0-399
	mp := (int(m) + 9) % 12                // month from March, 0-11
	doy := (153*mp+2)/5 + d - 1            // day of year from March 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy // day of era
	return int64(era)*146097 + int64(doe) - 719468
}

// Keys of EVE byte counts, in order of preference.
var (
	eveBytesOutKeys = newKeyList("flow.bytes_toserver", "netflow.bytes")
	eveBytesInKeys  = newKeyList("flow.bytes_toclient")
)

// mapEVE maps a Suricata EVE record.
func (p *Parser) mapEVE(ev *event.Event, f fieldView) error {
	if ts := f.hotGet(hTimestamp); ts != "" {
		t, ok := fastEVETime(ts)
		if !ok {
			var err error
			if t, err = time.Parse(eveTimeLayout, ts); err != nil {
				if t, err = time.Parse(time.RFC3339Nano, ts); err != nil {
					return newError(ReasonBadTimestamp, FormatEVE, nil, "timestamp %q is not an EVE timestamp", ts)
				}
			}
		}
		ev.Time, ev.TimeRaw = t.UTC(), ts
	}
	ev.Vendor, ev.Product = "OISF", "Suricata"
	setStr(&ev.App, "suricata")
	typ := f.hotGet(hEventType)
	ev.MsgID = typ
	setStr(&ev.Host, f.hotGet(hHost))
	setStr(&ev.Session, f.hotGet(hFlowID))
	setMAC(&ev.SrcMAC, f.hotGet(hEtherSrcMAC))
	setMAC(&ev.DstMAC, f.hotGet(hEtherDestMAC))
	ev.BytesOut = count(f.firstOf(eveBytesOutKeys, parseCount))
	ev.BytesIn = count(f.firstOf(eveBytesInKeys, parseCount))
	if typ == "alert" {
		ev.Kind = event.KindAlert
		ev.SignatureID = f.hotGet(hAlertSignatureID)
		ev.Signature = f.hotGet(hAlertSignature)
		ev.Message = ev.Signature
		ev.Severity = eveSeverity(f.hotGet(hAlertSeverity))
		ev.Action = lowerOrEmpty(f.hotGet(hAlertAction))
		ev.Category = lowerOrEmpty(f.hotGet(hAlertCategory))
	} else if ev.Severity < 0 {
		ev.Severity = SevInfo
	}
	// Suricata puts ATT&CK ids in the rule metadata.
	var kb [64]byte
	for _, key := range [...]struct {
		prefix string
		first  int
	}{
		{"alert.metadata.mitre_technique_id.", hAlertMetadataMitreTechniqueID0},
		{"alert.metadata.mitre_attack_technique_id.", hAlertMetadataMitreAttackTechniqueID0},
	} {
		// The first element's key is a hot key: a record without the
		// list costs no map lookup.
		if _, ok := f.hot(key.first); !ok {
			continue
		}
		for i := 0; i < MaxFields; i++ {
			k := strconv.AppendInt(append(kb[:0], key.prefix...), int64(i), 10)
			v, ok := f.m.getBytes(k)
			if !ok {
				break
			}
			ev.Techniques = appendTechniques(ev.Techniques, v)
		}
	}
	sortStrings(ev.Techniques)
	switch {
	case f.hotGet(hModbusRequestFunctionRaw) != "" || f.hotGet(hModbusRequestFunctionCode) != "":
		ev.AppProto = "modbus"
		if n, err := strconv.Atoi(f.hotGet(hModbusRequestFunctionRaw)); err == nil {
			ev.Operation = modbusOp(n)
		} else {
			ev.Operation = modbusNameOp(f.hotGet(hModbusRequestFunctionCode))
		}
	case f.hotGet(hDnp3Type) != "":
		ev.AppProto = "dnp3"
		if f.hotGet(hDnp3Type) == "request" {
			ev.Operation = dnp3Op(f.hotGet(hDnp3ApplicationFunctionCode))
		}
	case typ == "enip" || f.hotGet(hEnipRequestCommand) != "":
		ev.AppProto = "enip"
		ev.Operation = cipOp(f.first([]string{"enip.request.cip.service", "enip.cip.service", "enip.request.cip_service"}, keep))
	}
	if ev.AppProto == "" && typ != "alert" && typ != "flow" && typ != "netflow" && typ != "stats" && typ != "anomaly" {
		ev.AppProto = typ // dns, http, tls, smb, modbus, ...
	}
	return nil
}

// mapZeek maps a Zeek JSON log record. The log type is _path when
// present, otherwise inferred from the fields.
func (p *Parser) mapZeek(ev *event.Event, f fieldView) error {
	ts := f.get("ts")
	t, ok := zeekTime(ts)
	if !ok {
		return newError(ReasonBadTimestamp, FormatZeek, nil, "ts %q is neither epoch seconds nor RFC 3339", ts)
	}
	ev.Time, ev.TimeRaw = t, ts
	ev.Vendor, ev.Product = "Zeek", "Zeek"
	setStr(&ev.App, "zeek")
	path := zeekPath(f)
	ev.MsgID = path
	setStr(&ev.Session, f.get("uid"))
	sev := SevInfo
	switch path {
	case "conn":
		ev.BytesOut = count(f.first([]string{"orig_bytes"}, parseCount))
		ev.BytesIn = count(f.first([]string{"resp_bytes"}, parseCount))
		if svc := f.get("service"); svc != "" {
			ev.AppProto = strings.ToLower(strings.SplitN(svc, ",", 2)[0])
		}
	case "notice":
		ev.Kind = event.KindAlert
		ev.SignatureID = f.get("note")
		ev.Signature = f.get("msg")
		ev.Message = f.get("msg")
		sev = SevWarning
		setStr(&ev.SrcIP, f.first([]string{"src"}, parseIP))
		setStr(&ev.DstIP, f.first([]string{"dst"}, parseIP))
	case "modbus", "modbus_detailed":
		ev.AppProto = "modbus"
		ev.Operation = modbusNameOp(f.get("func"))
	case "dnp3", "dnp3_control", "dnp3_objects":
		ev.AppProto = "dnp3"
		ev.Operation = dnp3Op(f.first([]string{"fc_request", "function_code"}, keep))
	case "cip", "enip":
		ev.AppProto = "enip"
		ev.Operation = cipOp(f.first([]string{"cip_service", "cip_service_code", "service"}, keep))
	case "s7comm", "s7comm_plus":
		ev.AppProto = "s7comm"
		ev.Operation = s7Op(f.first([]string{"function_name", "function_code"}, keep))
	}
	if ev.Severity < 0 || path == "notice" {
		ev.Severity = sev
	}
	return nil
}

// zeekPath returns the Zeek log type of a record.
func zeekPath(f fieldView) string {
	if p := f.get("_path"); p != "" {
		return p
	}
	has := func(keys ...string) bool {
		for _, k := range keys {
			if _, ok := f.lookup(k); ok {
				return true
			}
		}
		return false
	}
	switch {
	case has("note"):
		return "notice"
	case has("func") && has("tid", "unit", "unit_id"):
		return "modbus"
	case has("fc_request", "fc_reply"):
		return "dnp3"
	case has("cip_service", "cip_service_code"):
		return "cip"
	case has("enip_command", "enip_command_code"):
		return "enip"
	case has("rosctr", "rosctr_code", "rosctr_name"):
		return "s7comm"
	case has("conn_state", "history", "orig_bytes"):
		return "conn"
	}
	return ""
}

// zeekTime parses Zeek's ts: epoch seconds with fractions, or RFC 3339
// (the ISO8601 JSON timestamps option).
func zeekTime(ts string) (time.Time, bool) {
	if ts == "" {
		return time.Time{}, false
	}
	if f, err := strconv.ParseFloat(ts, 64); err == nil {
		if f <= 0 || f > 1e11 || math.IsNaN(f) {
			return time.Time{}, false
		}
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(math.Round(frac*1e6))*1e3).UTC(), true
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	return t.UTC(), err == nil
}

// Keys of generic JSON records (including ECS names), in order of
// preference.
var (
	jsonTimeKeys     = []string{"@timestamp", "timestamp", "time", "eventTime", "event_time", "ts"}
	jsonHostKeys     = []string{"host", "hostname", "host.name", "host.hostname", "computer", "device"}
	jsonMessageKeys  = []string{"message", "msg", "description"}
	jsonSeverityKeys = []string{"severity", "level", "log.level", "syslog_severity"}
	jsonVendorKeys   = []string{"vendor", "observer.vendor", "device_vendor"}
	jsonProductKeys  = []string{"product", "observer.product", "device_product", "sensor"}
	jsonSigIDKeys    = []string{"signature_id", "rule.id", "rule_id", "alert_id", "type_id"}
	jsonSigKeys      = []string{"signature", "rule.name", "rule_name", "alert_name", "name", "title"}
	jsonUserKeys     = []string{"user.name", "username", "user_name"}
	jsonSrcIPKeys    = []string{"source.ip", "src_addr", "ip_src"}
	jsonDstIPKeys    = []string{"destination.ip", "dst_addr", "ip_dst"}
	jsonSrcPortKeys  = []string{"source.port", "port_src"}
	jsonDstPortKeys  = []string{"destination.port", "port_dst"}
)

// mapGenericJSON maps well-known keys of any JSON object; a time that does
// not parse is kept in TimeRaw only.
func (p *Parser) mapGenericJSON(ev *event.Event, f fieldView) {
	for _, k := range jsonTimeKeys {
		v := strings.TrimSpace(f.get(k))
		if v == "" {
			continue
		}
		ev.TimeRaw = v
		if t, ok := p.parseVendorTime(v, ""); ok {
			ev.Time = t
		} else if t, ok := zeekTime(v); ok {
			ev.Time = t
		}
		break
	}
	setStr(&ev.Host, f.first(jsonHostKeys, keep))
	ev.Message = f.first(jsonMessageKeys, keep)
	if v := f.first(jsonSeverityKeys, keep); v != "" {
		if s := namedSeverity(v); s >= 0 {
			ev.Severity = s
		} else if n, err := strconv.Atoi(v); err == nil && n >= 0 && n <= 7 {
			ev.Severity = n
		}
	}
	ev.Vendor = f.first(jsonVendorKeys, keep)
	ev.Product = f.first(jsonProductKeys, keep)
	ev.SignatureID = f.first(jsonSigIDKeys, keep)
	ev.Signature = f.first(jsonSigKeys, keep)
	ev.User = f.first(jsonUserKeys, keep)
	ev.SrcIP = f.first(jsonSrcIPKeys, parseIP)
	ev.DstIP = f.first(jsonDstIPKeys, parseIP)
	ev.SrcPort = port(f.first(jsonSrcPortKeys, parsePort))
	ev.DstPort = port(f.first(jsonDstPortKeys, parsePort))
	ev.Category = f.first([]string{"event.category", "category"}, lower)
	ev.Outcome = f.first([]string{"event.outcome", "outcome"}, parseOutcome)
	ev.Techniques = techniquesFrom(f, ev.Techniques)
	if ev.Operation == "" {
		ev.Operation = f.first(vendorOpKeys, parseOp)
	}
}

// techniquesFrom collects MITRE ATT&CK ids from every field whose key
// mentions a technique (alert.metadata.mitre_technique_id.0,
// threat.technique.id, Technique, TECHNIQUES, ...).
func techniquesFrom(f fieldView, dst []string) []string {
	for k, v := range f.m.pairs {
		if strings.Contains(k, "echnique") || strings.Contains(k, "ECHNIQUE") {
			dst = appendTechniques(dst, v)
		}
	}
	sortStrings(dst)
	return dst
}

func lowerOrEmpty(v string) string { return lowerKnown(strings.TrimSpace(v)) }

// setMAC sets *dst to the normalized MAC v when *dst is empty and v valid.
func setMAC(dst *string, v string) {
	if m, ok := parseMAC(v); ok {
		setStr(dst, m)
	}
}
