package syslog

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/c981/c981/services/shared/event"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/parse")

// defaultNow is the reference time of the golden tests (RFC 3164 year
// inference), a day of the demo plant.
var defaultNow = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// receivedAt is the receipt time given to every golden record.
var receivedAt = time.Date(2026, 11, 26, 10, 0, 3, 0, time.UTC)

type parseCase struct {
	name   string
	format Format
	now    time.Time // zero means defaultNow
}

// parseCases lists every testdata/parse/<name>.input; TestParseCasesComplete
// checks that none is forgotten.
var parseCases = []parseCase{
	{name: "rfc5424_demo"},
	{name: "rfc3164_demo"},
	{name: "rfc5424_full"},
	{name: "rfc5424_nil_fields"},
	{name: "rfc5424_offset_body_pairs"},
	{name: "rfc5424_sd_and_body"},
	{name: "rfc3164_pid"},
	{name: "rfc3164_rfc3339_timestamp"},
	{name: "rfc3164_year_previous", now: time.Date(2027, 1, 1, 0, 0, 30, 0, time.UTC)},
	{name: "rfc3164_year_next", now: time.Date(2026, 12, 31, 22, 59, 0, 0, time.UTC)},
	{name: "rfc3164_feb29", now: time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)},
	{name: "rfc3164_dst_summer"},
	{name: "cisco_asa_ip_host"},
	{name: "cisco_asa_no_header"},
	{name: "space_after_pri"},
	{name: "no_pri"},
	{name: "no_pri_no_header"},
	{name: "version_2_is_3164"},
	{name: "empty"},
	{name: "whitespace_only"},
	{name: "only_pri"},
	{name: "empty_pri"},
	{name: "pri_999"},
	{name: "huge_pri"},
	{name: "pri_not_number"},
	{name: "pri_unclosed"},
	{name: "truncated_5424_timestamp"},
	{name: "truncated_5424_after_version"},
	{name: "truncated_5424_no_sd"},
	{name: "bad_5424_timestamp"},
	{name: "bad_sd_space_after_eq"},
	{name: "bad_sd_unclosed"},
	{name: "embedded_nul"},
	{name: "trailing_crlf_nul"},
	{name: "non_utf8_3164"},
	{name: "non_utf8_5424_sd"},
	{name: "non_utf8_5424_msg"},
	{name: "invalid_values_stay_in_fields"},
	{name: "quoted_values"},
	{name: "forced_5424_on_3164_line", format: FormatRFC5424},
	{name: "forced_3164_on_5424_line", format: FormatRFC3164},
	{name: "too_long"},
	{name: "rfc3164_no_host"},
	{name: "cisco_asa_year_stamp"},
	{name: "cisco_asa_device_id"},
	{name: "cisco_ios_no_pri"},
	{name: "cef_bare"},
	{name: "cef_syslog_envelope"},
	{name: "cef_5424_envelope"},
	{name: "cef_escapes"},
	{name: "cef_severity_words"},
	{name: "cef_auth"},
	{name: "leef1_tab"},
	{name: "leef2_caret"},
	{name: "leef2_hex"},
	{name: "eve_alert"},
	{name: "eve_modbus"},
	{name: "eve_dnp3"},
	{name: "eve_enip"},
	{name: "eve_flow"},
	{name: "eve_syslog_envelope"},
	{name: "zeek_conn"},
	{name: "zeek_notice"},
	{name: "zeek_modbus"},
	{name: "zeek_dnp3"},
	{name: "zeek_cip"},
	{name: "zeek_s7comm"},
	{name: "kv_fortigate"},
	{name: "kv_fortigate_ips"},
	{name: "json_generic"},
	{name: "json_sensor_techniques"},
}

// golden is what a golden file holds: the event, or the error.
type golden struct {
	Event *event.Event `json:"event,omitempty"`
	Error *goldenError `json:"error,omitempty"`
}

type goldenError struct {
	Reason  Reason `json:"reason"`
	Message string `json:"message"`
}

func testParser(t testing.TB, format Format, now time.Time) *Parser {
	t.Helper()
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatalf("load location: %v", err)
	}
	if now.IsZero() {
		now = defaultNow
	}
	return NewParser(Options{
		Format:    format,
		Site:      "demo-plant",
		Source:    "syslog-test",
		Transport: "udp",
		Location:  berlin,
		Now:       func() time.Time { return now },
	})
}

func TestParseGolden(t *testing.T) {
	for _, tc := range parseCases {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata", "parse", tc.name+".input"))
			if err != nil {
				t.Fatal(err)
			}
			p := testParser(t, tc.format, tc.now)
			ev, err := p.Parse(raw, "id-"+tc.name, "127.0.0.1:40000", receivedAt)
			var g golden
			if err != nil {
				var pe *ParseError
				if !errors.As(err, &pe) {
					t.Fatalf("error %v (%T) is not a *ParseError", err, err)
				}
				if !errors.Is(err, sentinels[pe.Reason]) {
					t.Errorf("errors.Is(err, sentinel of %s) = false", pe.Reason)
				}
				g.Error = &goldenError{Reason: pe.Reason, Message: err.Error()}
			} else {
				if ev.Raw != string(raw) {
					t.Errorf("Raw = %q, want the input", ev.Raw)
				}
				g.Event = &ev
			}
			got, err := json.MarshalIndent(g, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			path := filepath.Join("testdata", "parse", tc.name+".golden.json")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("output differs from %s (go test -update rewrites it)\ngot:\n%s\nwant:\n%s", path, got, want)
			}
		})
	}
}

func TestParseCasesComplete(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "parse", "*.input"))
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, tc := range parseCases {
		listed[tc.name] = true
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".input")
		if !listed[name] {
			t.Errorf("%s is not listed in parseCases", f)
		}
	}
	if len(files) != len(parseCases) {
		t.Errorf("%d input files, %d cases", len(files), len(parseCases))
	}
}

// TestParseFixedFacts checks the demo lines against the fixed facts
// directly, independent of the goldens.
func TestParseFixedFacts(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want event.Event
	}{
		{
			name: "rfc3164 demo line",
			raw:  "<134>Nov 26 10:00:01 fw-cell-01 fw: action=allow src=10.20.2.11 dst=10.20.1.11 proto=tcp dport=502 app=modbus op=write",
			want: event.Event{
				Time: time.Date(2026, 11, 26, 9, 0, 1, 0, time.UTC), TimeRaw: "Nov 26 10:00:01", Format: "rfc3164",
				Host: "fw-cell-01", App: "fw", Facility: 16, Severity: 6, Kind: event.KindFlow,
				Action: "allow", SrcIP: "10.20.2.11", DstIP: "10.20.1.11", DstPort: 502,
				Proto: "tcp", AppProto: "modbus", Operation: "write",
			},
		},
		{
			name: "rfc5424 demo line",
			raw:  `<165>1 2026-11-26T10:00:02.123Z ews-01 studio5000 - - [c981@32473 src="10.20.2.21" dst="10.20.1.12" dport="44818" app="enip" op="program_download"] download started`,
			want: event.Event{
				Time: time.Date(2026, 11, 26, 10, 0, 2, 123e6, time.UTC), TimeRaw: "2026-11-26T10:00:02.123Z", Format: "rfc5424",
				Host: "ews-01", App: "studio5000", Facility: 20, Severity: 5, Kind: event.KindFlow,
				SrcIP: "10.20.2.21", DstIP: "10.20.1.12", DstPort: 44818,
				AppProto: "enip", Operation: "program_download", Message: "download started",
			},
		},
		{
			name: "authentication category makes an auth event",
			raw:  "<38>Nov 26 10:00:01 jump-01 sshd[7]: category=Authentication user=op1 result=failed src=10.10.5.21 dst=172.16.35.10",
			want: event.Event{
				Time: time.Date(2026, 11, 26, 9, 0, 1, 0, time.UTC), TimeRaw: "Nov 26 10:00:01", Format: "rfc3164",
				Host: "jump-01", App: "sshd", ProcID: "7", Facility: 4, Severity: 6, Kind: event.KindAuth,
				Category: "authentication", User: "op1", Outcome: "failure",
				SrcIP: "10.10.5.21", DstIP: "172.16.35.10",
			},
		},
	}
	p := testParser(t, FormatAuto, time.Time{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := p.Parse([]byte(tt.raw), "x", "", receivedAt)
			if err != nil {
				t.Fatal(err)
			}
			got := ev
			got.ID, got.ReceivedAt, got.Site, got.Source, got.Transport, got.Raw, got.Fields = "", time.Time{}, "", "", "", "", nil
			if tt.want.Message == "" {
				got.Message = ""
			}
			gj, _ := json.Marshal(got)
			wj, _ := json.Marshal(tt.want)
			if !bytes.Equal(gj, wj) {
				t.Errorf("got  %s\nwant %s", gj, wj)
			}
		})
	}
}

func TestStampYear(t *testing.T) {
	tests := []struct {
		name  string
		stamp string
		now   time.Time
		want  time.Time
	}{
		{"same year", "Nov 26 10:00:01", time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC), time.Date(2026, 11, 26, 10, 0, 1, 0, time.UTC)},
		{"a day ahead is still this year", "Nov 27 11:00:00", time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC), time.Date(2026, 11, 27, 11, 0, 0, 0, time.UTC)},
		{"more than a day ahead is last year", "Nov 28 12:00:00", time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC), time.Date(2025, 11, 28, 12, 0, 0, 0, time.UTC)},
		{"december seen in january", "Dec 31 23:59:59", time.Date(2027, 1, 1, 0, 0, 10, 0, time.UTC), time.Date(2026, 12, 31, 23, 59, 59, 0, time.UTC)},
		{"january seen in december", "Jan  1 00:00:05", time.Date(2026, 12, 31, 23, 59, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 5, 0, time.UTC)},
		{"feb 29 goes back to a leap year", "Feb 29 08:00:00", time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2024, 2, 29, 8, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := NewParser(Options{Now: func() time.Time { return tt.now }})
			ev, err := p.Parse([]byte("<13>"+tt.stamp+" h a: m"), "x", "", tt.now)
			if err != nil {
				t.Fatal(err)
			}
			if !ev.Time.Equal(tt.want) || ev.Time.Location() != time.UTC {
				t.Errorf("Time = %v, want %v", ev.Time, tt.want)
			}
		})
	}
}

func TestParseMaxBytes(t *testing.T) {
	p := NewParser(Options{MaxBytes: 32})
	if _, err := p.Parse([]byte("<13>Nov 26 10:00:01 h a: 0123456"), "x", "", receivedAt); err != nil {
		t.Fatalf("32-byte record: %v", err)
	}
	_, err := p.Parse([]byte("<13>Nov 26 10:00:01 h a: 01234567"), "x", "", receivedAt)
	if !errors.Is(err, ErrTooLong) || ReasonOf(err) != ReasonTooLong {
		t.Fatalf("33-byte record: err = %v, want too_long", err)
	}
}

func TestParseConcurrent(t *testing.T) {
	p := testParser(t, FormatAuto, time.Time{})
	lines := []string{
		"<134>Nov 26 10:00:01 fw-cell-01 fw: action=allow src=10.20.2.11 dst=10.20.1.11 proto=tcp dport=502 app=modbus op=write",
		`<165>1 2026-11-26T10:00:02.123Z ews-01 studio5000 - - [c981@32473 src="10.20.2.21" dst="10.20.1.12" dport="44818" app="enip" op="program_download"] download started`,
	}
	want := make([]event.Event, len(lines))
	for i, l := range lines {
		ev, err := p.Parse([]byte(l), "x", "", receivedAt)
		if err != nil {
			t.Fatal(err)
		}
		want[i] = ev
	}
	errc := make(chan error, 8)
	for g := range 8 {
		go func() {
			for i := range 500 {
				l := (g + i) % len(lines)
				ev, err := p.Parse([]byte(lines[l]), "x", "", receivedAt)
				if err != nil || ev.DstPort != want[l].DstPort || ev.Message != want[l].Message || ev.Host != want[l].Host {
					errc <- errors.New("concurrent parse differs")
					return
				}
			}
			errc <- nil
		}()
	}
	for range 8 {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
}
