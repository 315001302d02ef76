package ingest

import (
	"fmt"
	"testing"
	"time"

	"github.com/c981/c981/services/ingest/syslog"
	"github.com/c981/c981/services/shared/event"
)

// plantLines are records of `c981 loadgen --profile plant --format mix`
// (the load of the end-to-end benchmark): RFC 3164 key=value, CEF and
// RFC 5424 with structured data, in the generator's rotation. %d is the
// sequence number, so that no two records of a batch are alike.
var plantLines = []string{
	`<134>Nov 26 10:00:00 scada-01 historian-link[4242]: run=bench seq=%d sent=1795687200000000000 action=allow src=10.20.2.31 dst=10.20.3.10 proto=tcp sport=54983 dport=5450 app=historian policy=scada-hist msg=historian replication batch sent, 1000 tags`,
	`<134>Nov 26 10:00:00 fw-cell-01 CEF:0|C981|loadgen|1.0|modbus-read|Modbus read holding registers|1|run=bench seq=%d sent=1795687200000000000 src=10.20.2.11 dst=10.20.1.21 spt=41964 dpt=502 proto=TCP app=modbus act=allow cs1Label=operation cs1=read msg=Modbus read holding registers 40001-40032, poll cycle`,
	`<134>1 2026-11-26T10:00:00.000000Z fw-cell-01 fw - LOAD [c981load@32473 run="bench" seq="%d" sent="1795687200000000000"][c981@32473 src="10.20.1.13" dst="10.20.9.6" proto="tcp" sport="43333" dport="502" app="modbus" op="read" action="allow"] Modbus read input registers, SIS status`,
	`<134>Nov 26 10:00:00 dc-ot-01 kdc[4242]: run=bench seq=%d sent=1795687200000000000 action=allow src=10.20.3.10 dst=10.20.3.5 proto=tcp sport=42133 dport=88 app=kerberos policy=kerberos msg=Kerberos service ticket issued`,
	`<134>Nov 26 10:00:00 fw-cell-01 CEF:0|C981|loadgen|1.0|modbus-read|Modbus read holding registers|1|run=bench seq=%d sent=1795687200000000000 src=10.20.2.12 dst=10.20.1.11 spt=41131 dpt=502 proto=TCP app=modbus act=allow cs1Label=operation cs1=read msg=Modbus read holding registers 40001-40032, poll cycle`,
	`<134>1 2026-11-26T10:00:00.000000Z fw-idmz-01 fw - LOAD [c981load@32473 run="bench" seq="%d" sent="1795687200000000000"][c981@32473 src="10.10.5.21" dst="172.16.35.10" proto="tcp" sport="41791" dport="3389" app="rdp" action="allow"] remote desktop session to the jump host`,
}

// plantBatch returns n plant records (see plantLines).
func plantBatch(n int) [][]byte {
	lines := make([][]byte, n)
	for i := range lines {
		lines[i] = fmt.Appendf(nil, plantLines[i%len(plantLines)], 1000+i)
	}
	return lines
}

// BenchmarkPlantLine measures the per-record work of ingest between the
// framing and the publish, as the publisher runs it: parseRecycled of a
// batch of 1000 plant records (straight into the batch's slots), the batch's bus encoding
// (event.AppendEvents) and the recycling of its storage (recycleFields).
// Not measured: framing, inline enrichment, the NATS publish.
func BenchmarkPlantLine(b *testing.B) {
	p := syslog.NewParser(syslog.Options{Site: "demo-plant", Source: "syslog-tcp", Transport: "tcp"})
	now := time.Date(2026, 11, 26, 10, 0, 3, 0, time.UTC)
	lines := plantBatch(1000)
	evs := make([]event.Event, len(lines))
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		for i, raw := range lines {
			if err := parseRecycled(&evs[i], p, raw, "0b9f3c1e-5a8d-5f2e-9c41-7d2a6e0b1f35", "10.20.1.1:514", now); err != nil {
				b.Fatal(err)
			}
		}
		var err error
		if buf, err = event.AppendEvents(buf[:0], evs); err != nil {
			b.Fatal(err)
		}
		recycleFields(evs)
	}
	b.ReportMetric(float64(b.N*len(lines))/b.Elapsed().Seconds(), "lines/s")
	b.ReportMetric(float64(len(buf))/float64(len(lines)), "bytes/line")
}
