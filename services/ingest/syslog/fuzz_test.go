package syslog

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/c981/c981/services/shared/event"
)

// FuzzParse checks that no input makes Parse panic and that every result
// keeps the parser's contract. The seed corpus is testdata/fuzz/FuzzParse
// (the nasty inputs and any crasher found) plus every golden input.
func FuzzParse(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "parse", "*.input"))
	if err != nil {
		f.Fatal(err)
	}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		if len(b) <= 4096 {
			f.Add(b)
		}
	}
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		f.Fatal(err)
	}
	parsers := []*Parser{}
	for _, format := range []Format{FormatAuto, FormatRFC5424, FormatRFC3164} {
		parsers = append(parsers, NewParser(Options{
			Format: format, Site: "demo-plant", Source: "fuzz", Transport: "tcp",
			Location: berlin, Now: func() time.Time { return now }, MaxBytes: 1024,
		}))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		for _, p := range parsers {
			ev, err := p.Parse(raw, "id", "peer", now)
			if err != nil {
				var pe *ParseError
				if !errors.As(err, &pe) {
					t.Fatalf("error %v (%T) is not a *ParseError", err, err)
				}
				if _, ok := sentinels[pe.Reason]; !ok {
					t.Fatalf("unknown reason %q", pe.Reason)
				}
				continue
			}
			if len(raw) > 1024 {
				t.Fatalf("accepted a %d-byte record over MaxBytes", len(raw))
			}
			if ev.Raw != string(raw) || ev.ID != "id" || ev.Peer != "peer" || ev.Site != "demo-plant" {
				t.Fatalf("identity fields not copied: %+v", ev)
			}
			if ev.Format != string(FormatRFC5424) && ev.Format != string(FormatRFC3164) {
				t.Fatalf("format %q", ev.Format)
			}
			if ev.Facility < -1 || ev.Facility > 23 || ev.Severity < -1 || ev.Severity > 7 || (ev.Facility < 0) != (ev.Severity < 0) {
				t.Fatalf("facility %d severity %d", ev.Facility, ev.Severity)
			}
			if ev.Time.IsZero() || ev.Time.Location() != time.UTC || ev.ReceivedAt.Location() != time.UTC {
				t.Fatalf("time %v received %v", ev.Time, ev.ReceivedAt)
			}
			switch ev.Kind {
			case event.KindLog, event.KindAuth:
			case event.KindFlow:
				if ev.SrcIP == "" || ev.DstIP == "" {
					t.Fatalf("flow without endpoints: %+v", ev)
				}
			default:
				t.Fatalf("kind %q", ev.Kind)
			}
			if ev.SrcPort < 0 || ev.SrcPort > 65535 || ev.DstPort < 0 || ev.DstPort > 65535 {
				t.Fatalf("ports %d %d", ev.SrcPort, ev.DstPort)
			}
			for _, s := range []string{ev.Host, ev.App, ev.ProcID, ev.MsgID, ev.Message, ev.User, ev.Action} {
				if !utf8.ValidString(s) {
					t.Fatalf("invalid UTF-8 in %q", s)
				}
			}
			if len(ev.Fields) > MaxFields {
				t.Fatalf("%d fields", len(ev.Fields))
			}
			for k, v := range ev.Fields {
				if k == "" || !utf8.ValidString(k) || !utf8.ValidString(v) || strings.ContainsRune(k, ' ') {
					t.Fatalf("bad field %q=%q", k, v)
				}
			}
		}
	})
}
