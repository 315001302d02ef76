package syslog

import "strings"

// Format is a record format: a syslog envelope (RFC 5424, RFC 3164) or a
// payload format that may arrive bare or inside a syslog envelope.
type Format string

// Formats. FormatAuto detects the format of each record (the order is in
// docs/FORMATS.md and Parser.dispatch).
const (
	FormatAuto    Format = "auto"
	FormatRFC5424 Format = "rfc5424"
	FormatRFC3164 Format = "rfc3164"
	// FormatCEF is ArcSight Common Event Format, bare or in a syslog envelope.
	FormatCEF Format = "cef"
	// FormatLEEF is IBM QRadar Log Event Extended Format 1.0 or 2.0.
	FormatLEEF Format = "leef"
	// FormatEVE is Suricata EVE JSON (alert, flow and protocol records).
	FormatEVE Format = "eve"
	// FormatZeek is a Zeek JSON log record (conn, notice, ICSNPP logs, ...).
	FormatZeek Format = "zeek"
	// FormatKV is a key=value firewall log line (FortiGate style).
	FormatKV Format = "kv"
	// FormatJSON is any other JSON object, flattened into Fields.
	FormatJSON Format = "json"
)

// Formats lists every format a listener can be configured with.
var Formats = []Format{FormatAuto, FormatRFC5424, FormatRFC3164, FormatCEF, FormatLEEF, FormatEVE, FormatZeek, FormatKV, FormatJSON}

// Valid reports whether f is a known format; "" counts as FormatAuto.
func (f Format) Valid() bool {
	if f == "" {
		return true
	}
	for _, g := range Formats {
		if f == g {
			return true
		}
	}
	return false
}

// payloadMarker finds a CEF or LEEF header ("CEF:<digit>",
// "LEEF:<digit>") in the first 256 bytes of a syslog body, at the start or
// after a space. It returns the format and the offset of the header, or ""
// and -1.
//
// It looks at the colons only (few in a syslog header): the first colon
// that ends a valid marker gives the earliest one, since a LEEF marker
// cannot start before a CEF marker whose colon comes first.
func payloadMarker(body string) (Format, int) {
	head := body[:min(len(body), 256)]
	for off := 0; off < len(head); {
		c := strings.IndexByte(head[off:], ':')
		if c < 0 {
			break
		}
		c += off
		off = c + 1
		if c+1 >= len(body) || !isDigit(body[c+1]) {
			continue
		}
		if c >= 3 && head[c-3:c] == "CEF" && (c == 3 || head[c-4] == ' ') {
			return FormatCEF, c - 3
		}
		if c >= 4 && head[c-4:c] == "LEEF" && (c == 4 || head[c-5] == ' ') {
			return FormatLEEF, c - 4
		}
	}
	return "", -1
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// isKVStart reports whether s starts with an identifier directly followed
// by '=' (a bare key=value line such as FortiGate's "date=...").
func isKVStart(s string) bool {
	if len(s) == 0 || !isKeyStart(s[0]) {
		return false
	}
	for i := 1; i < len(s) && i < 64; i++ {
		switch c := s[i]; {
		case c == '=':
			return true
		case !isKeyChar(c):
			return false
		}
	}
	return false
}
