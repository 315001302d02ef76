package syslog

import (
	"testing"
	"time"
)

func BenchmarkParse(b *testing.B) {
	lines := []struct {
		name string
		raw  []byte
	}{
		{"rfc5424", []byte(`<165>1 2026-11-26T10:00:02.123Z ews-01 studio5000 - - [c981@32473 src="10.20.2.21" dst="10.20.1.12" dport="44818" app="enip" op="program_download"] download started`)},
		{"rfc3164", []byte("<134>Nov 26 10:00:01 fw-cell-01 fw: action=allow src=10.20.2.11 dst=10.20.1.11 proto=tcp dport=502 app=modbus op=write")},
	}
	for _, l := range lines {
		b.Run(l.name, func(b *testing.B) {
			p := testParser(b, FormatAuto, time.Time{})
			b.ReportAllocs()
			b.SetBytes(int64(len(l.raw)))
			for b.Loop() {
				if _, err := p.Parse(l.raw, "id", "127.0.0.1:514", receivedAt); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
		})
	}
}
