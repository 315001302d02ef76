package syslog

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestParseBadInputs feeds malformed records of every format and checks
// that each is rejected with its typed reason and a clear message, and
// that a good record parsed right after it is unaffected.
func TestParseBadInputs(t *testing.T) {
	deep := strings.Repeat(`{"a":`, 40) + "1" + strings.Repeat("}", 40)
	tests := []struct {
		name   string
		format Format
		raw    string
		reason Reason
		detail string // a substring of the error message
	}{
		{"empty", FormatAuto, "", ReasonEmpty, "empty"},
		{"only line terminators", FormatAuto, "\r\n\x00", ReasonEmpty, "empty"},
		{"over the size limit", FormatAuto, "<13>" + strings.Repeat("x", 300), ReasonTooLong, "maximum is 256"},
		{"NUL inside", FormatAuto, "<13>Nov 26 10:00:01 h a: x\x00y", ReasonNUL, "NUL byte at offset 26"},
		{"NUL inside CEF", FormatCEF, "CEF:0|a|b|c|d|e|5|msg=a\x00b", ReasonNUL, "NUL byte"},
		{"PRI out of range", FormatAuto, "<192>Nov 26 10:00:01 h a: x", ReasonBadPRI, "out of range"},
		{"PRI not a number", FormatAuto, "<1a>x", ReasonBadPRI, "not a number"},
		{"PRI unclosed", FormatAuto, "<13 Nov 26", ReasonBadPRI, "closed by '>'"},
		{"nothing after PRI", FormatAuto, "<13>", ReasonTruncated, "nothing after PRI"},
		{"RFC 5424 truncated header", FormatAuto, "<13>1 2026-11-26T10:00:01Z host", ReasonTruncated, "of 7 fields"},
		{"RFC 5424 bad timestamp", FormatAuto, "<13>1 2026-13-45T10:00:01Z h a - - - m", ReasonBadHeader, "malformed RFC 5424 header"},
		{"RFC 5424 bad structured data", FormatAuto, `<13>1 2026-11-26T10:00:01Z h a - - [x a="1" m`, ReasonBadStructuredData, "structured data"},
		{"RFC 5424 duplicate SD-ID", FormatAuto, `<13>1 2026-11-26T10:00:01Z h a - - [x@1 a="1"][x@1 b="2"] m`, ReasonBadStructuredData, "duplicate structured data element id"},
		{"RFC 5424 forced without PRI", FormatRFC5424, "1 2026-11-26T10:00:01Z h a - - - m", ReasonBadPRI, "without PRI"},
		{"CEF truncated header", FormatAuto, "CEF:0|Claroty|CTD|4.9|71|Program download", ReasonBadCEF, "6 of 8 fields"},
		{"CEF unknown version", FormatAuto, "CEF:7|a|b|c|d|e|5|src=1.2.3.4", ReasonBadCEF, `unknown CEF version "7"`},
		{"CEF severity out of range", FormatAuto, "CEF:0|a|b|c|d|e|11|src=1.2.3.4", ReasonBadCEF, `severity "11"`},
		{"CEF severity word", FormatAuto, "CEF:0|a|b|c|d|e|Urgent|src=1.2.3.4", ReasonBadCEF, `severity "Urgent"`},
		{"CEF extension without key", FormatAuto, "CEF:0|a|b|c|d|e|5|just some text", ReasonBadCEF, "does not start with key=value"},
		{"CEF bad rt", FormatAuto, "CEF:0|a|b|c|d|e|5|rt=yesterday src=1.2.3.4", ReasonBadTimestamp, `rt "yesterday"`},
		{"CEF forced on plain syslog", FormatCEF, "<13>Nov 26 10:00:01 h a: hello", ReasonFormatMismatch, "no CEF header"},
		{"LEEF truncated header", FormatAuto, "LEEF:1.0|Nozomi|Guardian|22.6", ReasonBadLEEF, "4 of 6 fields"},
		{"LEEF unknown version", FormatAuto, "LEEF:3.0|a|b|c|d|src=1.2.3.4", ReasonBadLEEF, `unknown LEEF version "3.0"`},
		{"LEEF 2.0 bad delimiter", FormatAuto, "LEEF:2.0|a|b|c|d|xZZ|src=1.2.3.4", ReasonBadLEEF, "delimiter"},
		{"LEEF attribute without =", FormatAuto, "LEEF:1.0|a|b|c|d|garbage\tsrc=1.2.3.4", ReasonBadLEEF, `"garbage" is not key=value`},
		{"LEEF sev out of range", FormatAuto, "LEEF:1.0|a|b|c|d|sev=42", ReasonBadLEEF, `sev "42"`},
		{"LEEF devTime not matching format", FormatAuto, "LEEF:2.0|a|b|c|d|^|devTimeFormat=yyyy-MM-dd^devTime=Nov 26", ReasonBadTimestamp, "devTime"},
		{"LEEF forced on CEF", FormatLEEF, "CEF:0|a|b|c|d|e|5|src=1.2.3.4", ReasonFormatMismatch, "no LEEF header"},
		{"JSON truncated", FormatAuto, `{"timestamp":"2026-11-26T10:00:00Z","event_type":"alert"`, ReasonBadJSON, "unterminated object"},
		{"JSON trailing garbage", FormatAuto, `{"a":1} {"b":2}`, ReasonBadJSON, "data after the JSON object"},
		{"JSON bad escape", FormatAuto, `{"a":"\q"}`, ReasonBadJSON, "invalid escape"},
		{"JSON control character", FormatAuto, "{\"a\":\"x\ty\"}", ReasonBadJSON, "control character"},
		{"JSON too deep", FormatAuto, deep, ReasonBadJSON, "nested deeper than 32"},
		{"JSON bad number", FormatAuto, `{"a":01}`, ReasonBadJSON, "expected ',' or '}'"},
		{"EVE bad timestamp", FormatAuto, `{"timestamp":"yesterday","event_type":"alert"}`, ReasonBadTimestamp, `"yesterday" is not an EVE timestamp`},
		{"EVE forced without event_type", FormatEVE, `{"timestamp":"2026-11-26T10:00:00Z"}`, ReasonFormatMismatch, "without event_type"},
		{"EVE forced on text", FormatEVE, "<13>Nov 26 10:00:01 h a: not json", ReasonFormatMismatch, "not a JSON object"},
		{"Zeek bad ts", FormatAuto, `{"ts":-5,"uid":"C1","id.orig_h":"10.0.0.1"}`, ReasonBadTimestamp, "ts"},
		{"Zeek forced without ts", FormatZeek, `{"uid":"C1"}`, ReasonFormatMismatch, "without ts"},
		{"JSON forced on text", FormatJSON, "plain text", ReasonFormatMismatch, "not a JSON object"},
		{"KV forced without pairs", FormatKV, "<13>Nov 26 10:00:01 h a: no pairs here", ReasonFormatMismatch, "no key=value pairs"},
		{"KV bad date", FormatAuto, "date=2026-13-40 time=10:00:00 devname=fw", ReasonBadTimestamp, "date/time"},
	}
	good := []byte("<134>Nov 26 10:00:01 fw-cell-01 fw: action=allow src=10.20.2.11 dst=10.20.1.11 proto=tcp dport=502 app=modbus op=write")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := NewParser(Options{Format: tt.format, MaxBytes: 256, Now: func() time.Time { return defaultNow }})
			ev, err := p.Parse([]byte(tt.raw), "id", "peer", receivedAt)
			if err == nil {
				t.Fatalf("accepted as %s: %+v", ev.Format, ev)
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v (%T) is not a *ParseError", err, err)
			}
			if pe.Reason != tt.reason || !errors.Is(err, sentinels[tt.reason]) || ReasonOf(err) != tt.reason {
				t.Errorf("reason = %s, want %s (%v)", pe.Reason, tt.reason, err)
			}
			if !strings.HasPrefix(err.Error(), string(tt.reason)+": ") || !strings.Contains(err.Error(), tt.detail) {
				t.Errorf("message %q, want %q prefix and %q", err.Error(), tt.reason, tt.detail)
			}
			// The same parser (a fresh one for forced formats, which the
			// good record does not match) still parses a good record.
			gp := p
			if tt.format != FormatAuto {
				gp = NewParser(Options{Format: FormatAuto, Now: func() time.Time { return defaultNow }})
			}
			if ev, err := gp.Parse(good, "id", "peer", receivedAt); err != nil || ev.DstPort != 502 || ev.Operation != "write" {
				t.Errorf("good record after it: %v %+v", err, ev)
			}
		})
	}
	if len(tests) < 25 {
		t.Errorf("%d bad inputs, the issue asks for at least 25", len(tests))
	}
}
