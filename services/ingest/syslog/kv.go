package syslog

import (
	"strings"
	"time"

	"github.com/c981/c981/services/shared/event"
)

// otProtocols are application protocol names recognized inside firewall
// service/application names ("Modbus_Write.Single.Register" is modbus).
// kvTimeKeys are the keys of a key=value record's epoch time.
var kvTimeKeys = newKeyList("eventtime")

var otProtocols = []struct{ needle, proto string }{
	{"modbus", "modbus"}, {"dnp3", "dnp3"}, {"s7comm", "s7comm"}, {"s7.comm", "s7comm"}, {"s7", "s7comm"},
	{"enip", "enip"}, {"ethernet/ip", "enip"}, {"cip", "enip"}, {"iec104", "iec104"}, {"iec.104", "iec104"},
	{"iec-104", "iec104"}, {"bacnet", "bacnet"}, {"opc", "opcua"}, {"profinet", "profinet"}, {"goose", "goose"}, {"mms", "mms"},
}

// otProtocol finds an OT protocol name in a service or application name.
func otProtocol(name string) string {
	n := strings.ToLower(name)
	for _, p := range otProtocols {
		if strings.HasPrefix(n, p.needle) {
			return p.proto
		}
	}
	return ""
}

// parseKV parses a key=value firewall line (FortiGate style):
//
//	date=2026-11-26 time=10:00:01 devname="FGT-01" devid="FG100F" logid="0000000013" type="traffic" level="notice" srcip=... dstip=... action="accept" ...
//
// The pairs go to Fields; date/time (with tz) or eventtime give the event
// time, devname the host, logid the event code, level the severity,
// attack/attackid the signature (and Kind alert), service/app the OT
// protocol and operation.
func (p *Parser) parseKV(s string, ev *event.Event, fields *fieldSet, as *aliasState) error {
	extractPairs(clean(s), fields, as)
	if fields.len() == 0 {
		return newError(ReasonFormatMismatch, FormatKV, nil, "no key=value pairs in the record")
	}
	ev.Message = ""
	fv := fieldView{fields, as}
	if d, t := fv.get("date"), fv.get("time"); d != "" && t != "" {
		raw := d + " " + t
		loc := p.loc
		if tz := fv.get("tz"); tz != "" {
			if off, err := time.Parse("-0700", strings.Trim(tz, `"`)); err == nil {
				_, secs := off.Zone()
				loc = time.FixedZone(tz, secs)
			}
		}
		tm, err := time.ParseInLocation("2006-01-02 15:04:05", raw, loc)
		if err != nil {
			return newError(ReasonBadTimestamp, FormatKV, nil, "date/time %q is not YYYY-MM-DD hh:mm:ss", raw)
		}
		ev.Time, ev.TimeRaw = tm.UTC(), raw
	} else if err := p.vendorTime(ev, fv, FormatKV, kvTimeKeys); err != nil {
		return err
	}
	if ev.Host == "" {
		ev.Host = fv.first([]string{"devname", "hostname", "host"}, keep)
	}
	if strings.HasPrefix(fv.get("devid"), "FG") {
		ev.Vendor, ev.Product = "Fortinet", "FortiGate"
	}
	ev.EventCode = fv.first([]string{"logid", "eventid", "event_id"}, keep)
	if s := namedSeverity(fv.get("level")); s >= 0 {
		ev.Severity = s
	} else if s := namedSeverity(fv.get("severity")); s >= 0 {
		ev.Severity = s
	}
	if id := fv.get("attackid"); id != "" {
		ev.SignatureID = id
		ev.Signature = fv.get("attack")
		ev.Kind = event.KindAlert
	}
	ev.Message = fv.first([]string{"msg", "message"}, keep)
	for _, k := range []string{"app", "service"} {
		if proto := otProtocol(fv.get(k)); proto != "" {
			ev.AppProto = proto
			ev.Operation = phraseOp(fv.get(k))
			break
		}
	}
	if ev.Operation == "" {
		ev.Operation = phraseOp(ev.Signature)
	}
	if ev.AppProto == "" {
		ev.AppProto = fv.first([]string{"app_proto", "service"}, lower)
	}
	if a := strings.ToLower(fv.get("action")); a == "accept" || a == "pass" || a == "permit" {
		ev.Action = "allow"
	}
	if ev.User == "" {
		ev.User = fv.first([]string{"user", "srcuser", "unauthuser"}, keep)
	}
	if ev.Session == "" {
		ev.Session = fv.first([]string{"sessionid"}, keep)
	}
	return nil
}
