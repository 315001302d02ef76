// Package syslog parses one raw log record into a normalized event.Event.
//
// Formats: RFC 5424 and RFC 3164 syslog (with the common 3164 variants:
// no year, RFC 3339 timestamps, missing hostname, Cisco %ASA- tags and
// timestamps with a year), CEF and LEEF 1.0/2.0 (bare or inside a syslog
// envelope), Suricata EVE JSON, Zeek JSON logs (conn, notice, ICSNPP
// modbus/dnp3/cip/enip/s7comm), key=value firewall logs (FortiGate style)
// and generic JSON. FormatAuto detects the format of every record;
// Options.Format forces one. docs/FORMATS.md documents the detection
// order and the field mapping of every format, the severity scale and the
// shared OT operation vocabulary (Event.Operation).
//
// The syslog header grammars are parsed by hand-written fast paths for
// the common well-formed records and by the go-syslog state machines
// (github.com/leodido/go-syslog/v4) for everything else; FuzzFast5424 and
// FuzzFast3164 check that a fast path accepts only what the machine
// accepts, with the same result. On top of the grammars this package adds
// the year of RFC 3164 timestamps, the payload formats, the extraction of
// key=value pairs and structured data into Event.Fields, the mapping of
// well-known keys (src, dst, dport, app, op, user, ...) onto the Event,
// and typed errors whose Reason is a short stable label suitable for
// metrics and dead letters.
//
// RFC 5424 is strict by definition: a record that announces version 1 but
// has a malformed header or structured data is rejected. RFC 3164 is loose by
// definition: a record whose header cannot be parsed is kept, with its whole
// content as the message (RFC 3164 section 4.3.3), so no device's log is lost
// because of a non-standard header. The structured formats (CEF, LEEF, JSON)
// are strict about their own structure and timestamps. In every format the
// PRI must be valid when present, the record must not be empty, too long or
// contain a NUL byte.
//
// Values sliced from the record share the memory of Event.Raw instead of
// being copied, so a parsed event costs few allocations: Raw itself, and
// the Fields map and Techniques array unless the caller recycles them
// with Parser.ParseInto (the ingest batcher gives the storage of published
// events back to the parsers). The scanners skip the plain bytes with
// lookup tables, SIMD byte search (strings.IndexByte) or eight bytes at a
// time, and each has a fuzz target that compares it with the
// byte-by-byte reference it replaced. Compact JSON records (Suricata,
// Zeek) are flattened by a single loop without recursion
// (fastFlattenJSON), anything else by the general recursive flattener;
// FuzzFastFlattenJSON checks that both give the same fields.
//
// A Parser is safe for concurrent use.
package syslog
