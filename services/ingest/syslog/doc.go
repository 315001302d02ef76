// Package syslog parses one raw syslog record (RFC 5424 or RFC 3164) into a
// normalized event.Event.
//
// The header grammars are parsed by the go-syslog state machines
// (github.com/leodido/go-syslog/v4); this package adds what C-981 needs on
// top of them: format auto-detection, the year of RFC 3164 timestamps, the
// extraction of key=value pairs from the message body and from RFC 5424
// structured data into Event.Fields, the mapping of well-known keys (src,
// dst, dport, app, op, user, ...) onto the Event, and typed errors whose
// Reason is a short stable label suitable for metrics.
//
// RFC 5424 is strict by definition: a record that announces version 1 but
// has a malformed header or structured data is rejected. RFC 3164 is loose by
// definition: a record whose header cannot be parsed is kept, with its whole
// content as the message (RFC 3164 section 4.3.3), so no device's log is lost
// because of a non-standard header. In both formats the PRI must be valid
// when present, the record must not be empty, too long or contain a NUL byte.
//
// A Parser is safe for concurrent use.
package syslog
