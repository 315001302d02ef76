package loadgen

import (
	"testing"
	"time"

	"github.com/c981/c981/services/ingest/syslog"
)

// TestLineRoundTrip checks that every format carries run and seq in a way
// Seq reads back, that the ingest parser accepts it, and that records have
// the realistic size.
func TestLineRoundTrip(t *testing.T) {
	sent := time.Date(2026, 11, 26, 10, 0, 1, 123456000, time.UTC)
	p := syslog.NewParser(syslog.Options{Site: "s", Source: "l", Transport: "tcp"})
	for _, format := range []string{FormatRFC5424, FormatRFC3164, FormatCEF, FormatMix} {
		t.Run(format, func(t *testing.T) {
			for _, seq := range []uint64{1, 2, 3, 99, 1 << 40} {
				line := Line(nil, format, "run-7", seq, sent)
				run, got, ok := Seq(line)
				if !ok || run != "run-7" || got != seq {
					t.Fatalf("Seq(%q) = %q %d %v", line, run, got, ok)
				}
				if n := len(line); n < 200 || n > 400 {
					t.Errorf("record is %d bytes, want about 300: %s", n, line)
				}
				ev, err := p.Parse(line, "id", "peer", sent)
				if err != nil {
					t.Fatalf("ingest parser rejects %q: %v", line, err)
				}
				if ev.Host == "" || ev.Severity < 0 {
					t.Errorf("parsed event lacks host or severity: %+v", ev)
				}
			}
		})
	}
}

func TestSeqRejects(t *testing.T) {
	for _, raw := range []string{"", "<13>x run=a", "<13>x seq=1", "<13>x xrun=a seq=1", `<13>x run="a seq=1`, "<13>x run=a seq=x"} {
		if run, seq, ok := Seq([]byte(raw)); ok {
			t.Errorf("Seq(%q) = %q %d, want not ok", raw, run, seq)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	good := Config{Addr: "127.0.0.1:1", Proto: ProtoTCP, Format: FormatMix, Count: 1, RunID: "r1"}
	tests := []struct {
		name   string
		mutate func(*Config)
		ok     bool
	}{
		{"good", func(*Config) {}, true},
		{"duration only", func(c *Config) { c.Count, c.Duration = 0, time.Second }, true},
		{"no addr", func(c *Config) { c.Addr = "" }, false},
		{"bad proto", func(c *Config) { c.Proto = "sctp" }, false},
		{"bad format", func(c *Config) { c.Format = "leef" }, false},
		{"bad framing", func(c *Config) { c.Framing = "nul" }, false},
		{"negative rate", func(c *Config) { c.Rate = -1 }, false},
		{"no end", func(c *Config) { c.Count = 0 }, false},
		{"no run id", func(c *Config) { c.RunID = "" }, false},
		{"run id with quote", func(c *Config) { c.RunID = `a"b` }, false},
		{"run id with space", func(c *Config) { c.RunID = "a b" }, false},
		{"stress profile", func(c *Config) { c.Profile = ProfileStress }, true},
		{"plant profile all suspicious", func(c *Config) { c.Profile, c.Suspicious = ProfilePlant, 1 }, true},
		{"bad profile", func(c *Config) { c.Profile = "office" }, false},
		{"negative suspicious share", func(c *Config) { c.Suspicious = -0.01 }, false},
		{"suspicious share over 1", func(c *Config) { c.Suspicious = 1.01 }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good
			tt.mutate(&c)
			if err := c.Validate(); (err == nil) != tt.ok {
				t.Errorf("Validate() = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

func BenchmarkLine(b *testing.B) {
	buf := make([]byte, 0, 512)
	now := time.Now()
	var seq uint64
	b.ReportAllocs()
	for b.Loop() {
		seq++
		buf = Line(buf[:0], FormatMix, "bench", seq, now)
	}
	b.ReportMetric(float64(seq)/b.Elapsed().Seconds(), "lines/s")
}
