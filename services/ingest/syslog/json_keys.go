package syslog

import "strings"

// jsonKeys are the nested keys of the common EVE, Zeek and ECS records
// (the ones the mappers read, and the usual alert and flow leaves),
// interned by internJSONKey: such a key costs no allocation.
var jsonKeys = [...]string{
	"alert.action",
	"alert.gid",
	"alert.rev",
	"alert.signature_id",
	"alert.signature",
	"alert.category",
	"alert.severity",
	"flow.pkts_toserver",
	"flow.pkts_toclient",
	"flow.bytes_toserver",
	"flow.bytes_toclient",
	"flow.start",
	"flow.end",
	"flow.age",
	"flow.state",
	"flow.reason",
	"flow.alerted",
	"netflow.bytes",
	"netflow.pkts",
	"ether.src_mac",
	"ether.dest_mac",
	"modbus.request.function_raw",
	"modbus.request.function_code",
	"modbus.request.transaction_id",
	"modbus.request.protocol_id",
	"modbus.request.unit_id",
	"modbus.request.access_type",
	"modbus.request.category",
	"modbus.response.function_raw",
	"modbus.response.function_code",
	"dnp3.type",
	"dnp3.application.function_code",
	"dnp3.src",
	"dnp3.dst",
	"enip.request.command",
	"enip.request.cip.service",
	"enip.request.cip_service",
	"enip.cip.service",
	"id.orig_h",
	"id.orig_p",
	"id.resp_h",
	"id.resp_p",
	"event.category",
	"event.outcome",
	"event.action",
	"event.kind",
	"event.severity",
	"source.ip",
	"source.port",
	"destination.ip",
	"destination.port",
	"host.name",
	"host.hostname",
	"user.name",
	"log.level",
	"rule.id",
	"rule.name",
	"observer.vendor",
	"observer.product",
}

// jsonKeyTable interns jsonKeys and the nested hot and alias keys
// (alert.metadata.mitre_technique_id.0, id.orig_h, ...).
var jsonKeyTable = func() *internTable {
	m := map[string]string{}
	for _, k := range jsonKeys {
		m[k] = k
	}
	for _, k := range hotKeys {
		if strings.IndexByte(k, '.') >= 0 {
			m[k] = k
		}
	}
	for _, keys := range aliases {
		for _, k := range keys {
			if strings.IndexByte(k, '.') >= 0 {
				m[k] = k
			}
		}
	}
	return newInternTable(m)
}()

// internJSONKey returns the jsonKeys entry equal to b, without
// allocating.
func internJSONKey(b []byte) (string, bool) { return jsonKeyTable.getBytes(b) }
