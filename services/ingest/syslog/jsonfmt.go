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
func (p *Parser) parseJSON(format Format, s string, ev *event.Event, fields map[string]string, as *aliasState) (Format, error) {
	err := flattenJSON(s, fields, as)
	if err != nil {
		if format == FormatAuto {
			format = FormatJSON
		}
		return format, newError(ReasonBadJSON, format, err, "malformed JSON")
	}
	isEVE := fields["event_type"] != "" && fields["timestamp"] != ""
	isZeek := fields["ts"] != "" && (fields["uid"] != "" || fields["id.orig_h"] != "" || fields["_path"] != "")
	switch format {
	case FormatEVE:
		if fields["event_type"] == "" {
			return format, newError(ReasonFormatMismatch, format, nil, "EVE record without event_type")
		}
		isEVE, isZeek = true, false
	case FormatZeek:
		if fields["ts"] == "" {
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
		return FormatEVE, p.mapEVE(ev, fields)
	case isZeek:
		return FormatZeek, p.mapZeek(ev, fields)
	}
	p.mapGenericJSON(ev, fields)
	return FormatJSON, nil
}

// eveTimeLayout is Suricata's timestamp format.
const eveTimeLayout = "2006-01-02T15:04:05.999999999-0700"

// mapEVE maps a Suricata EVE record.
func (p *Parser) mapEVE(ev *event.Event, f map[string]string) error {
	if ts := f["timestamp"]; ts != "" {
		t, err := time.Parse(eveTimeLayout, ts)
		if err != nil {
			if t, err = time.Parse(time.RFC3339Nano, ts); err != nil {
				return newError(ReasonBadTimestamp, FormatEVE, nil, "timestamp %q is not an EVE timestamp", ts)
			}
		}
		ev.Time, ev.TimeRaw = t.UTC(), ts
	}
	ev.Vendor, ev.Product = "OISF", "Suricata"
	setStr(&ev.App, "suricata")
	typ := f["event_type"]
	ev.MsgID = typ
	setStr(&ev.Host, f["host"])
	setStr(&ev.Session, f["flow_id"])
	setMAC(&ev.SrcMAC, f["ether.src_mac"])
	setMAC(&ev.DstMAC, f["ether.dest_mac"])
	ev.BytesOut = count(first(f, []string{"flow.bytes_toserver", "netflow.bytes"}, parseCount))
	ev.BytesIn = count(first(f, []string{"flow.bytes_toclient"}, parseCount))
	if typ == "alert" {
		ev.Kind = event.KindAlert
		ev.SignatureID = f["alert.signature_id"]
		ev.Signature = f["alert.signature"]
		ev.Message = ev.Signature
		ev.Severity = eveSeverity(f["alert.severity"])
		ev.Action = lowerOrEmpty(f["alert.action"])
		ev.Category = lowerOrEmpty(f["alert.category"])
	} else if ev.Severity < 0 {
		ev.Severity = SevInfo
	}
	// Suricata puts ATT&CK ids in the rule metadata.
	var kb [64]byte
	for _, key := range []string{"alert.metadata.mitre_technique_id.", "alert.metadata.mitre_attack_technique_id."} {
		for i := 0; i < MaxFields; i++ {
			k := strconv.AppendInt(append(kb[:0], key...), int64(i), 10)
			v, ok := f[string(k)]
			if !ok {
				break
			}
			ev.Techniques = appendTechniques(ev.Techniques, v)
		}
	}
	sortStrings(ev.Techniques)
	switch {
	case f["modbus.request.function_raw"] != "" || f["modbus.request.function_code"] != "":
		ev.AppProto = "modbus"
		if n, err := strconv.Atoi(f["modbus.request.function_raw"]); err == nil {
			ev.Operation = modbusOp(n)
		} else {
			ev.Operation = modbusNameOp(f["modbus.request.function_code"])
		}
	case f["dnp3.type"] != "":
		ev.AppProto = "dnp3"
		if f["dnp3.type"] == "request" {
			ev.Operation = dnp3Op(f["dnp3.application.function_code"])
		}
	case typ == "enip" || f["enip.request.command"] != "":
		ev.AppProto = "enip"
		ev.Operation = cipOp(first(f, []string{"enip.request.cip.service", "enip.cip.service", "enip.request.cip_service"}, keep))
	}
	if ev.AppProto == "" && typ != "alert" && typ != "flow" && typ != "netflow" && typ != "stats" && typ != "anomaly" {
		ev.AppProto = typ // dns, http, tls, smb, modbus, ...
	}
	return nil
}

// mapZeek maps a Zeek JSON log record. The log type is _path when
// present, otherwise inferred from the fields.
func (p *Parser) mapZeek(ev *event.Event, f map[string]string) error {
	ts := f["ts"]
	t, ok := zeekTime(ts)
	if !ok {
		return newError(ReasonBadTimestamp, FormatZeek, nil, "ts %q is neither epoch seconds nor RFC 3339", ts)
	}
	ev.Time, ev.TimeRaw = t, ts
	ev.Vendor, ev.Product = "Zeek", "Zeek"
	setStr(&ev.App, "zeek")
	path := zeekPath(f)
	ev.MsgID = path
	setStr(&ev.Session, f["uid"])
	sev := SevInfo
	switch path {
	case "conn":
		ev.BytesOut = count(first(f, []string{"orig_bytes"}, parseCount))
		ev.BytesIn = count(first(f, []string{"resp_bytes"}, parseCount))
		if svc := f["service"]; svc != "" {
			ev.AppProto = strings.ToLower(strings.SplitN(svc, ",", 2)[0])
		}
	case "notice":
		ev.Kind = event.KindAlert
		ev.SignatureID = f["note"]
		ev.Signature = f["msg"]
		ev.Message = f["msg"]
		sev = SevWarning
		setStr(&ev.SrcIP, first(f, []string{"src"}, parseIP))
		setStr(&ev.DstIP, first(f, []string{"dst"}, parseIP))
	case "modbus", "modbus_detailed":
		ev.AppProto = "modbus"
		ev.Operation = modbusNameOp(f["func"])
	case "dnp3", "dnp3_control", "dnp3_objects":
		ev.AppProto = "dnp3"
		ev.Operation = dnp3Op(first(f, []string{"fc_request", "function_code"}, keep))
	case "cip", "enip":
		ev.AppProto = "enip"
		ev.Operation = cipOp(first(f, []string{"cip_service", "cip_service_code", "service"}, keep))
	case "s7comm", "s7comm_plus":
		ev.AppProto = "s7comm"
		ev.Operation = s7Op(first(f, []string{"function_name", "function_code"}, keep))
	}
	if ev.Severity < 0 || path == "notice" {
		ev.Severity = sev
	}
	return nil
}

// zeekPath returns the Zeek log type of a record.
func zeekPath(f map[string]string) string {
	if p := f["_path"]; p != "" {
		return p
	}
	has := func(keys ...string) bool {
		for _, k := range keys {
			if _, ok := f[k]; ok {
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
func (p *Parser) mapGenericJSON(ev *event.Event, f map[string]string) {
	for _, k := range jsonTimeKeys {
		v := strings.TrimSpace(f[k])
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
	setStr(&ev.Host, first(f, jsonHostKeys, keep))
	ev.Message = first(f, jsonMessageKeys, keep)
	if v := first(f, jsonSeverityKeys, keep); v != "" {
		if s := namedSeverity(v); s >= 0 {
			ev.Severity = s
		} else if n, err := strconv.Atoi(v); err == nil && n >= 0 && n <= 7 {
			ev.Severity = n
		}
	}
	ev.Vendor = first(f, jsonVendorKeys, keep)
	ev.Product = first(f, jsonProductKeys, keep)
	ev.SignatureID = first(f, jsonSigIDKeys, keep)
	ev.Signature = first(f, jsonSigKeys, keep)
	ev.User = first(f, jsonUserKeys, keep)
	ev.SrcIP = first(f, jsonSrcIPKeys, parseIP)
	ev.DstIP = first(f, jsonDstIPKeys, parseIP)
	ev.SrcPort = port(first(f, jsonSrcPortKeys, parsePort))
	ev.DstPort = port(first(f, jsonDstPortKeys, parsePort))
	ev.Category = first(f, []string{"event.category", "category"}, lower)
	ev.Outcome = first(f, []string{"event.outcome", "outcome"}, parseOutcome)
	ev.Techniques = techniquesFrom(f, ev.Techniques)
	if ev.Operation == "" {
		ev.Operation = first(f, vendorOpKeys, parseOp)
	}
}

// techniquesFrom collects MITRE ATT&CK ids from every field whose key
// mentions a technique (alert.metadata.mitre_technique_id.0,
// threat.technique.id, Technique, TECHNIQUES, ...).
func techniquesFrom(f map[string]string, dst []string) []string {
	for k, v := range f {
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
