package ingest

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/c981/c981/services/ingest/syslog"
	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/shared/event"
)

// recycleLines are records of every format, with many, few and no fields,
// and rejected ones.
var recycleLines = []struct{ name, line string }{
	{"rfc5424_many", `<165>1 2026-11-26T10:00:02.123Z ews-01.cell1.plant.example studio5000 4711 AUDIT [c981@32473 src="10.20.2.21" dst="10.20.1.12" dport="44818" app="enip" op="program_download" user="eng1" outcome="success"] Program download of project Line1_Mixer to controller PLC-01 started by eng1`},
	{"rfc5424_few", `<165>1 2026-11-26T10:00:02Z ews-02 app - - [x@1 a="1"] hello`},
	{"rfc3164_many", `<134>Nov 26 10:00:01 fw-cell-01 fw[2211]: action=allow src=10.20.2.11 dst=10.20.1.11 proto=tcp sport=51234 dport=502 app=modbus op=write user=op1 rule=cell1-hmi-to-plc bytes_out=1200 bytes_in=800 session=778899 msg="write single register 40001 on PLC-01"`},
	{"rfc3164_none", `<134>Nov 26 10:00:01 hmi-01 hmi: operator logged in`},
	{"cef", `<132>Nov 26 10:00:01 ctd-01 CEF:0|Claroty|CTD|4.9.0|71|Program Download to PLC|8|src=10.20.2.21 dst=10.20.1.12 spt=50123 dpt=44818 proto=TCP app=ENIP suser=eng1 rt=1795687201123 cs1Label=Operation cs1=program_download cs2Label=Technique cs2=T0843 msg=Download of project Line1 to PLC-01`},
	{"leef", `LEEF:2.0|Nozomi Networks|Guardian|22.6|SIGN:PROGRAM:DOWNLOAD|^|src=10.20.2.21^dst=10.20.1.12^srcPort=50200^dstPort=102^proto=TCP^sev=7^cat=alert^usrName=eng1^devTime=1795687207000^name=Program download to PLC-01^operation=program_download^srcBytes=120453^dstBytes=3300`},
	{"eve", `{"timestamp":"2026-11-26T10:00:10.123456+0100","flow_id":1234567890123,"event_type":"alert","src_ip":"10.20.2.11","src_port":50400,"dest_ip":"10.20.1.11","dest_port":502,"proto":"TCP","alert":{"action":"allowed","signature_id":2100001,"signature":"C981 Modbus write to PLC","severity":1,"metadata":{"mitre_technique_id":["T0855"]}},"app_proto":"modbus","modbus":{"request":{"function_raw":16}},"host":"ids-01"}`},
	{"kv", `date=2026-11-26 time=10:00:01 devname="FGT-01" devid="FG100F" logid="0000000013" type="traffic" level="notice" srcip=10.20.2.11 dstip=10.20.1.11 action="accept" service="Modbus"`},
	{"bad_pri", `<999>Nov 26 10:00:01 hmi-01 hmi: x=1`},
	{"bad_json", `{"timestamp":"2026-11-26T10:00:10Z","event_type":`},
}

// recycleParser is a parser with the test listeners' settings.
func recycleParser(t *testing.T) *syslog.Parser {
	t.Helper()
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	return syslog.NewParser(syslog.Options{Site: "demo-plant", Source: "syslog-tcp", Transport: "tcp", Location: berlin})
}

// parseRecycledValue is parseRecycled into a new Event.
func parseRecycledValue(p *syslog.Parser, raw []byte, id, peer string, now time.Time) (event.Event, error) {
	var ev event.Event
	err := parseRecycled(&ev, p, raw, id, peer, now)
	return ev, err
}

// TestParseRecycledNoLeak parses every record after every other one went
// through the publisher's recycling and checks that the event equals a
// fresh parse: no field of a previous record leaks into the next.
func TestParseRecycledNoLeak(t *testing.T) {
	p := recycleParser(t)
	now := time.Date(2026, 11, 26, 10, 0, 3, 0, time.UTC)
	for _, b := range recycleLines {
		t.Run(b.name, func(t *testing.T) {
			want, wantErr := p.Parse([]byte(b.line), "id-b", "peer", now)
			for _, a := range recycleLines {
				evA, errA := parseRecycledValue(p, []byte(a.line), "id-a", "peer", now)
				if errA == nil {
					recycleFields([]event.Event{evA})
				}
				got, err := parseRecycledValue(p, []byte(b.line), "id-b", "peer", now)
				if (err == nil) != (wantErr == nil) || err != nil && err.Error() != wantErr.Error() {
					t.Fatalf("after %s: error %v, fresh Parse gives %v", a.name, err, wantErr)
				}
				// The recycled event's fields are pairs: as a map they
				// must be Parse's.
				cmp := got
				cmp.DecodeFields()
				if !reflect.DeepEqual(cmp, want) {
					t.Fatalf("after %s: recycled event differs from a fresh parse\ngot:  %+v\nwant: %+v", a.name, cmp, want)
				}
				recycleFields([]event.Event{got})
			}
		})
	}
}

// TestRecycleFieldsEmptiesMaps checks that recycling drops the field
// pairs, maps and technique arrays from the events, empties the pairs and
// technique arrays it keeps (releasing the records' strings) and keeps no
// oversized one.
func TestRecycleFieldsEmptiesMaps(t *testing.T) {
	smallArr := []string{"a", "1", "b", "2"}
	small := new([]string)
	*small = smallArr
	bigArr := make([]string, 0, 2*maxRecycledFields+2)
	for i := range maxRecycledFields + 1 {
		bigArr = append(bigArr, fmt.Sprint("k", i), "v")
	}
	big := new([]string)
	*big = bigArr
	techs := []string{"T0843", "T0801"}
	bigTechs := make([]string, maxRecycledTechniques+1)
	for i := range bigTechs {
		bigTechs[i] = fmt.Sprint("T", 1000+i)
	}
	evs := []event.Event{{Techniques: techs}, {Techniques: bigTechs}, {}, {Fields: map[string]string{"m": "1"}}}
	evs[0].SetFieldPairs(small)
	evs[1].SetFieldPairs(big)
	recycleFields(evs)
	for i, ev := range evs {
		if ev.Fields != nil || ev.FieldPairs() != nil || ev.Techniques != nil || ev.NumFields() != 0 {
			t.Errorf("event %d still holds its fields or Techniques", i)
		}
	}
	if len(*small) != 0 || smallArr[0] != "" || smallArr[3] != "" {
		t.Errorf("recycled pairs not emptied: %q", smallArr)
	}
	if techs[0] != "" || techs[1] != "" {
		t.Errorf("recycled technique array not emptied: %q", techs)
	}
	if len(*big) != 2*(maxRecycledFields+1) || bigArr[0] == "" {
		t.Errorf("oversized pairs were emptied (recycled): %d strings left", len(*big))
	}
	if bigTechs[0] == "" {
		t.Errorf("an oversized technique array was emptied (recycled)")
	}
}

// TestParseRecycledReusesStorage checks that a record with techniques,
// parsed after one was published, reuses its technique array, and a
// record without any gives the storage back for the next one.
func TestParseRecycledReusesStorage(t *testing.T) {
	p := recycleParser(t)
	now := time.Date(2026, 11, 26, 10, 0, 3, 0, time.UTC)
	var cef, plain string
	for _, l := range recycleLines {
		switch l.name {
		case "cef":
			cef = l.line
		case "rfc3164_none":
			plain = l.line
		}
	}
	// A sync.Pool may drop what was put (a GC empties it, the goroutine
	// may move to another P): repeat until the array comes back.
	reused := false
	for range 20 {
		a, err := parseRecycledValue(p, []byte(cef), "a", "peer", now)
		if err != nil || len(a.Techniques) == 0 {
			t.Fatalf("parse: %v, techniques %q", err, a.Techniques)
		}
		arr := &a.Techniques[:1][0]
		recycleFields([]event.Event{a})
		n, err := parseRecycledValue(p, []byte(plain), "n", "peer", now)
		if err != nil || n.Techniques != nil {
			t.Fatalf("record without techniques: %v, techniques %q", err, n.Techniques)
		}
		b, err := parseRecycledValue(p, []byte(cef), "b", "peer", now)
		if err != nil {
			t.Fatal(err)
		}
		if len(b.Techniques) > 0 && &b.Techniques[:1][0] == arr {
			reused = true
			break
		}
	}
	if !reused {
		t.Errorf("the technique array of a published event was never reused")
	}
}

// TestParseRecycledMixedAllocs parses records with and without
// techniques in turn, recycling each, and checks that the maps keep
// coming back: every round allocates the two Raw strings and at most the
// technique array the record without techniques dropped, never a map
// (storage without a map must not reach the pool).
func TestParseRecycledMixedAllocs(t *testing.T) {
	p := recycleParser(t)
	now := time.Date(2026, 11, 26, 10, 0, 3, 0, time.UTC)
	lines := map[string][]byte{}
	for _, l := range recycleLines {
		lines[l.name] = []byte(l.line)
	}
	round := func() {
		for _, name := range []string{"cef", "leef"} {
			ev, err := parseRecycledValue(p, lines[name], "id", "peer", now)
			if err != nil {
				t.Fatal(err)
			}
			recycleFields([]event.Event{ev})
		}
	}
	if poolDrops() {
		t.Skip("sync.Pool drops what is put (race detector): allocation counts say nothing")
	}
	round()
	if n := testing.AllocsPerRun(200, round); n > 3 {
		t.Errorf("a round of a CEF and a LEEF record allocates %v times, want at most 3 (two Raw, one technique array)", n)
	}
}

// poolDrops reports whether a sync.Pool loses what is put, as it does at
// random under the race detector.
func poolDrops() bool {
	var p sync.Pool
	x := new(int)
	for range 100 {
		p.Put(x)
		if p.Get() == nil {
			return true
		}
	}
	return false
}

// TestIngestRecyclesEvents sends rounds of records with many fields, then
// with few or none, through a running service with small batches, so
// that the later records are parsed into the recycled maps of the
// published earlier ones, and checks every published event against a
// fresh parse of its Raw.
func TestIngestRecyclesEvents(t *testing.T) {
	cfg := testConfig()
	cfg.MaxBatch = 4
	cfg.MaxWait = 5 * time.Millisecond
	h := start(t, nil, cfg)
	p := recycleParser(t)
	var order []string
	for _, l := range recycleLines {
		if !strings.HasPrefix(l.name, "bad") {
			order = append(order, l.line)
		}
	}
	sent := 0
	for round := range 6 {
		var b strings.Builder
		for i := range 12 {
			// Rotate the lines so that each record follows others.
			b.WriteString(order[(round+i)%len(order)])
			b.WriteByte('\n')
		}
		sendTCP(t, h.addr("syslog-tcp"), b.String())
		sent += 12
		// Each round is published (and its maps recycled) before the next.
		collect[event.Event](t, h.env.JS, bus.StreamRaw, sent)
	}
	for _, m := range collect[event.Event](t, h.env.JS, bus.StreamRaw, sent) {
		for _, got := range m.recs {
			want, err := p.Parse([]byte(got.Raw), got.ID, got.Peer, got.ReceivedAt)
			if err != nil {
				t.Fatalf("fresh parse of %q: %v", got.Raw, err)
			}
			gj, _ := json.Marshal(got)
			wj, _ := json.Marshal(want)
			if string(gj) != string(wj) {
				t.Fatalf("published event differs from a fresh parse of its record\ngot:  %s\nwant: %s", gj, wj)
			}
		}
	}
}

// BenchmarkParseRecycled measures the parse side as the pipeline runs it:
// a Fields map from fieldMaps, ParseInto, and the map given back after
// the (here simulated) publish.
func BenchmarkParseRecycled(b *testing.B) {
	p := syslog.NewParser(syslog.Options{Site: "demo-plant", Source: "bench", Transport: "tcp"})
	now := time.Date(2026, 11, 26, 10, 0, 3, 0, time.UTC)
	for _, l := range recycleLines {
		if strings.HasPrefix(l.name, "bad") || strings.HasSuffix(l.name, "_few") || strings.HasSuffix(l.name, "_none") {
			continue
		}
		b.Run(l.name, func(b *testing.B) {
			raw := []byte(l.line)
			var batch [1]event.Event
			b.ReportAllocs()
			for b.Loop() {
				if err := parseRecycled(&batch[0], p, raw, "id", "127.0.0.1:514", now); err != nil {
					b.Fatal(err)
				}
				recycleFields(batch[:])
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
		})
	}
}

// TestQueuedEventReuse runs every record through the path of a queued
// event after every other one: parsed into an Event from queuedEvent,
// copied into a batch, the Event released (releaseQueued) and reused for
// the next record. The reused Event must parse as a fresh one, the
// batch's copy must be untouched by the reuse, and an emptied Event must
// be zero (it references nothing of its record). The Event is emptied as
// releaseQueued does and released once, at the end: releasing it twice
// would hand it to two listeners.
func TestQueuedEventReuse(t *testing.T) {
	p := recycleParser(t)
	now := time.Date(2026, 11, 26, 10, 0, 3, 0, time.UTC)
	for _, b := range recycleLines {
		t.Run(b.name, func(t *testing.T) {
			want, wantErr := p.Parse([]byte(b.line), "id-b", "peer", now)
			for _, a := range recycleLines {
				ev := queuedEvent()
				batch := make([]event.Event, 0, 1)
				if err := parseRecycled(ev, p, []byte(a.line), "id-a", "peer", now); err == nil {
					batch = append(batch, *ev)
				} else if !reflect.DeepEqual(*ev, event.Event{}) {
					t.Fatalf("%s rejected (%v) but the event is not left zero: %+v", a.name, err, *ev)
				}
				wantA, _ := p.Parse([]byte(a.line), "id-a", "peer", now)
				emptyQueued(ev)
				if !reflect.DeepEqual(*ev, event.Event{}) {
					t.Fatalf("emptied event after %s is not zero: %+v", a.name, *ev)
				}
				err := parseRecycled(ev, p, []byte(b.line), "id-b", "peer", now)
				if (err == nil) != (wantErr == nil) || err != nil && err.Error() != wantErr.Error() {
					t.Fatalf("after %s: error %v, fresh Parse gives %v", a.name, err, wantErr)
				}
				if err == nil {
					got := *ev
					got.DecodeFields()
					if !reflect.DeepEqual(got, want) {
						t.Fatalf("after %s: reused event differs from a fresh parse\ngot:  %+v\nwant: %+v", a.name, got, want)
					}
				}
				if len(batch) == 1 {
					batch[0].DecodeFields()
					if !reflect.DeepEqual(batch[0], wantA) {
						t.Fatalf("the batch's copy of %s changed when its queued event was reused\ngot:  %+v\nwant: %+v", a.name, batch[0], wantA)
					}
				}
				recycleFields(batch)
				releaseQueued(ev)
			}
		})
	}
}
