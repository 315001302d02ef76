package cli

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// TestParseCommandFormats runs c981 parse on one file per format, with
// the format forced and auto-detected: both give the golden events
// (testdata/parse-formats/<format>.golden.jsonl), and the last line of
// each file, a malformed record, is reported on stderr with its reason.
func TestParseCommandFormats(t *testing.T) {
	tests := []struct {
		format  string
		summary string
		reason  string
	}{
		{"rfc5424", "parsed 4 lines: 3 events, 1 errors", ":4: truncated_header"},
		{"rfc3164", "parsed 7 lines: 6 events, 1 errors", ":7: bad_pri"},
		{"cef", "parsed 7 lines: 6 events, 1 errors", ":7: bad_cef: CEF header has 6 of 8 fields"},
		{"leef", "parsed 4 lines: 3 events, 1 errors", `:4: bad_leef: unknown LEEF version "3.0"`},
		{"eve", "parsed 7 lines: 6 events, 1 errors", ":7: bad_json"},
		{"zeek", "parsed 7 lines: 6 events, 1 errors", ":7: bad_timestamp"},
		{"kv", "parsed 3 lines: 2 events, 1 errors", ":3: bad_timestamp"},
		{"json", "parsed 3 lines: 2 events, 1 errors", ":3: bad_json: malformed JSON: invalid escape"},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			input := filepath.Join("testdata", "parse-formats", tt.format+".log")
			var outs [2]string
			for i, format := range []string{tt.format, "auto"} {
				code, out, errs := run(t, "", "parse", "--format", format, "--now", now, "--site-id", "demo-plant", input)
				if code != 0 {
					t.Fatalf("--format %s: exit %d: %s", format, code, errs)
				}
				for _, want := range []string{tt.summary, input + tt.reason} {
					if !strings.Contains(errs, want) {
						t.Errorf("--format %s: stderr lacks %q:\n%s", format, want, errs)
					}
				}
				var lines, events, errors int
				if _, err := fmt.Sscanf(tt.summary, "parsed %d lines: %d events, %d errors", &lines, &events, &errors); err != nil {
					t.Fatal(err)
				}
				if n := strings.Count(out, "\n"); n != events {
					t.Errorf("--format %s: %d events on stdout, want %d", format, n, events)
				}
				outs[i] = out
			}
			if outs[0] != outs[1] {
				t.Errorf("--format %s and auto differ:\n%s", tt.format, firstDiff(outs[0], outs[1]))
			}
			for _, line := range strings.Split(strings.TrimSpace(outs[0]), "\n") {
				if !strings.Contains(line, `"format":"`+tt.format+`"`) {
					t.Errorf("event not parsed as %s: %s", tt.format, line)
				}
			}
			golden(t, filepath.Join("parse-formats", tt.format+".golden.jsonl"), outs[0])
		})
	}
}
