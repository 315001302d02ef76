package syslog

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/c981/c981/services/shared/event"
)

// addGoldenSeeds adds every golden input whose name starts with one of
// prefixes ("" for all) to the seed corpus; testdata/fuzz/<Fuzz name>
// (the nasty inputs and any crasher found) is added by go test itself.
func addGoldenSeeds(f *testing.F, prefixes ...string) {
	files, err := filepath.Glob(filepath.Join("testdata", "parse", "*.input"))
	if err != nil {
		f.Fatal(err)
	}
	for _, file := range files {
		name := filepath.Base(file)
		match := false
		for _, p := range prefixes {
			match = match || strings.HasPrefix(name, p)
		}
		if !match {
			continue
		}
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		if len(b) <= 4096 {
			f.Add(b)
		}
	}
}

// fuzzParsers returns parsers for formats with the fuzz settings.
func fuzzParsers(f *testing.F, formats ...Format) []*Parser {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		f.Fatal(err)
	}
	var ps []*Parser
	for _, format := range formats {
		ps = append(ps, NewParser(Options{
			Format: format, Site: "demo-plant", Source: "fuzz", Transport: "tcp",
			Location: berlin, Now: func() time.Time { return now }, MaxBytes: 1024,
		}))
	}
	return ps
}

// checkContract parses raw with every parser and fails on any result
// that breaks the parser's contract.
func checkContract(t *testing.T, parsers []*Parser, raw []byte) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
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
		if f := Format(ev.Format); f == FormatAuto || !f.Valid() || f == "" {
			t.Fatalf("format %q", ev.Format)
		}
		if p.opts.Format != FormatAuto && ev.Format != string(p.opts.Format) {
			t.Fatalf("forced %s parsed as %s", p.opts.Format, ev.Format)
		}
		if ev.Facility < -1 || ev.Facility > 23 || ev.Severity < -1 || ev.Severity > 7 {
			t.Fatalf("facility %d severity %d", ev.Facility, ev.Severity)
		}
		if ev.Time.IsZero() || ev.Time.Location() != time.UTC || ev.ReceivedAt.Location() != time.UTC {
			t.Fatalf("time %v received %v", ev.Time, ev.ReceivedAt)
		}
		switch ev.Kind {
		case event.KindLog, event.KindAuth, event.KindAlert:
		case event.KindFlow:
			if ev.SrcIP == "" || ev.DstIP == "" {
				t.Fatalf("flow without endpoints: %+v", ev)
			}
		default:
			t.Fatalf("kind %q", ev.Kind)
		}
		if ev.SrcPort < 0 || ev.SrcPort > 65535 || ev.DstPort < 0 || ev.DstPort > 65535 || ev.BytesIn < 0 || ev.BytesOut < 0 {
			t.Fatalf("ports %d %d bytes %d %d", ev.SrcPort, ev.DstPort, ev.BytesOut, ev.BytesIn)
		}
		for _, s := range []string{ev.Host, ev.App, ev.ProcID, ev.MsgID, ev.Message, ev.User, ev.Action, ev.Vendor,
			ev.Product, ev.Signature, ev.SignatureID, ev.Operation, ev.TimeRaw, ev.Session, ev.EventCode} {
			if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
				t.Fatalf("invalid UTF-8 or NUL in %q", s)
			}
		}
		for _, tech := range ev.Techniques {
			if !isTechnique(tech) {
				t.Fatalf("technique %q", tech)
			}
		}
		if len(ev.Fields) > MaxFields {
			t.Fatalf("%d fields", len(ev.Fields))
		}
		for k, v := range ev.Fields {
			if k == "" || !utf8.ValidString(k) || !utf8.ValidString(v) {
				t.Fatalf("bad field %q=%q", k, v)
			}
		}
	}
}

// FuzzParse checks that no input makes Parse panic and that every result
// keeps the parser's contract, for auto-detection and every forced
// format. The seed corpus is testdata/fuzz/FuzzParse plus every golden
// input.
func FuzzParse(f *testing.F) {
	addGoldenSeeds(f, "")
	parsers := fuzzParsers(f, Formats...)
	untracked := fuzzParsers(f, Formats...)
	for _, p := range untracked {
		p.noAliasTracking = true
	}
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, raw []byte) {
		checkContract(t, parsers, raw)
		// The alias mapping tracked while parsing equals the one
		// computed by iterating Fields.
		for i, p := range parsers {
			a, errA := p.Parse(raw, "id", "peer", now)
			b, errB := untracked[i].Parse(raw, "id", "peer", now)
			aj, _ := json.Marshal(a)
			bj, _ := json.Marshal(b)
			if (errA == nil) != (errB == nil) || string(aj) != string(bj) {
				t.Fatalf("tracked and iterated alias mapping differ for %q:\n%s\n%s", raw, aj, bj)
			}
		}
	})
}

// FuzzCEF fuzzes the CEF parser (header and extension, bare and in a
// syslog envelope).
func FuzzCEF(f *testing.F) {
	addGoldenSeeds(f, "cef_")
	parsers := fuzzParsers(f, FormatAuto, FormatCEF)
	f.Fuzz(func(t *testing.T, raw []byte) { checkContract(t, parsers, raw) })
}

// FuzzLEEF fuzzes the LEEF 1.0/2.0 parser.
func FuzzLEEF(f *testing.F) {
	addGoldenSeeds(f, "leef")
	parsers := fuzzParsers(f, FormatAuto, FormatLEEF)
	f.Fuzz(func(t *testing.T, raw []byte) { checkContract(t, parsers, raw) })
}

// FuzzJSONFormats fuzzes the EVE, Zeek and generic JSON mappings.
func FuzzJSONFormats(f *testing.F) {
	addGoldenSeeds(f, "eve_", "zeek_", "json_")
	parsers := fuzzParsers(f, FormatAuto, FormatEVE, FormatZeek, FormatJSON)
	f.Fuzz(func(t *testing.T, raw []byte) { checkContract(t, parsers, raw) })
}

// FuzzKV fuzzes the key=value firewall parser.
func FuzzKV(f *testing.F) {
	addGoldenSeeds(f, "kv_", "quoted_values", "invalid_values")
	parsers := fuzzParsers(f, FormatAuto, FormatKV)
	f.Fuzz(func(t *testing.T, raw []byte) { checkContract(t, parsers, raw) })
}

// FuzzFlattenJSON checks the JSON scanner against encoding/json: it
// accepts exactly the documents encoding/json accepts as one object
// (within the depth limit), and every string leaf matches.
func FuzzFlattenJSON(f *testing.F) {
	addGoldenSeeds(f, "eve_", "zeek_", "json_")
	for _, s := range []string{`{}`, `{"a":[1,{"b":null}],"c":"\u00e9\ud83d\ude00"}`, `{"a":1}x`, `{"a":"\ud800"}`, `{"a":-0.5e+3}`, `[1]`, `{"a":01}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		leafSet := newFieldSet(nil)
		err := flattenJSON(string(data), leafSet, nil)
		leaves := asMap(leafSet)
		var obj map[string]any
		stdErr := json.Unmarshal(data, &obj)
		if stdErr == nil && obj == nil {
			stdErr = errors.New("null is not an object")
		}
		if err == nil && stdErr != nil {
			t.Fatalf("flattenJSON accepted %q, encoding/json: %v", data, stdErr)
		}
		if err != nil && stdErr == nil && !strings.Contains(err.Error(), "nested deeper") {
			t.Fatalf("flattenJSON rejected valid %q: %v", data, err)
		}
		if err != nil || !utf8.Valid(data) {
			return
		}
		for k, v := range obj {
			if s, ok := v.(string); ok && !strings.ContainsRune(k, '.') && strings.IndexByte(s, 0) < 0 {
				if got, ok := leaves[k]; ok && got != strings.ToValidUTF8(s, "\uFFFD") {
					t.Fatalf("key %q: got %q, encoding/json %q", k, got, s)
				}
			}
		}
	})
}
