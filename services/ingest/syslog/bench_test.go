package syslog

import (
	"testing"
	"time"

	"github.com/c981/c981/services/shared/event"
)

// benchLines are realistic ~300-byte records of each format.
var benchLines = []struct {
	name string
	raw  []byte
}{
	{"rfc5424", []byte(`<165>1 2026-11-26T10:00:02.123Z ews-01.cell1.plant.example studio5000 4711 AUDIT [c981@32473 src="10.20.2.21" dst="10.20.1.12" dport="44818" app="enip" op="program_download" user="eng1" outcome="success"] Program download of project Line1_Mixer to controller PLC-01 started by eng1`)},
	{"rfc3164", []byte("<134>Nov 26 10:00:01 fw-cell-01 fw[2211]: action=allow src=10.20.2.11 dst=10.20.1.11 proto=tcp sport=51234 dport=502 app=modbus op=write user=op1 rule=cell1-hmi-to-plc bytes_out=1200 bytes_in=800 session=778899 msg=\"write single register 40001 on PLC-01\"")},
	{"cef", []byte("<132>Nov 26 10:00:01 ctd-01 CEF:0|Claroty|CTD|4.9.0|71|Program Download to PLC|8|src=10.20.2.21 dst=10.20.1.12 spt=50123 dpt=44818 proto=TCP app=ENIP suser=eng1 rt=1795687201123 cs1Label=Operation cs1=program_download cs2Label=Technique cs2=T0843 msg=Download of project Line1 to PLC-01")},
	{"leef", []byte("LEEF:2.0|Nozomi Networks|Guardian|22.6|SIGN:PROGRAM:DOWNLOAD|^|src=10.20.2.21^dst=10.20.1.12^srcPort=50200^dstPort=102^proto=TCP^sev=7^cat=alert^usrName=eng1^devTime=1795687207000^name=Program download to PLC-01^operation=program_download^srcBytes=120453^dstBytes=3300")},
	{"eve", []byte(`{"timestamp":"2026-11-26T10:00:10.123456+0100","flow_id":1234567890123,"event_type":"alert","src_ip":"10.20.2.11","src_port":50400,"dest_ip":"10.20.1.11","dest_port":502,"proto":"TCP","alert":{"action":"allowed","signature_id":2100001,"signature":"C981 Modbus write to PLC","severity":1},"app_proto":"modbus","modbus":{"request":{"function_raw":16}},"host":"ids-01"}`)},
}

func BenchmarkParse(b *testing.B) {
	for _, l := range benchLines {
		b.Run(l.name, func(b *testing.B) {
			p := testParser(b, FormatAuto, time.Time{})
			if ev, err := p.Parse(l.raw, "id", "127.0.0.1:514", receivedAt); err != nil || ev.Format != l.name {
				b.Fatalf("parsed as %q: %v", ev.Format, err)
			}
			b.ReportAllocs()
			b.SetBytes(int64(len(l.raw)))
			// ParseInto into one event reuses its Fields map (the
			// map form: Parse, `c981 parse`; ingest parses with
			// ParseIntoPairs, see BenchmarkParsePairs).
			var ev event.Event
			for b.Loop() {
				if err := p.ParseInto(&ev, l.raw, "id", "127.0.0.1:514", receivedAt); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
		})
	}
}

// BenchmarkParsePairs is BenchmarkParse through ParseIntoPairs, the path
// of the ingest pipeline: the fields go to reused pair storage, not to a
// map (the ingest batcher recycles the storage of published batches, as
// parsing into one event and one storage does here).
func BenchmarkParsePairs(b *testing.B) {
	for _, l := range benchLines {
		b.Run(l.name, func(b *testing.B) {
			p := testParser(b, FormatAuto, time.Time{})
			var ev event.Event
			pairs := new([]string)
			if err := p.ParseIntoPairs(&ev, pairs, l.raw, "id", "127.0.0.1:514", receivedAt); err != nil || ev.Format != l.name || ev.NumFields() == 0 {
				b.Fatalf("parsed as %q with %d fields: %v", ev.Format, ev.NumFields(), err)
			}
			b.ReportAllocs()
			b.SetBytes(int64(len(l.raw)))
			for b.Loop() {
				if err := p.ParseIntoPairs(&ev, pairs, l.raw, "id", "127.0.0.1:514", receivedAt); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
		})
	}
}
