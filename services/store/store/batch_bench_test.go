package store

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	chproto "github.com/ClickHouse/ch-go/proto"
	chcol "github.com/ClickHouse/clickhouse-go/v2/lib/column"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/shared/chtest"
	"github.com/c981/c981/services/shared/event"
	"github.com/c981/c981/services/store/chstore"
)

// offlineConn is a driver.Conn that needs no server: PrepareBatch returns
// an offlineBatch with fresh columns of the types the migrated tables have
// (offlineTypes), and sending a block encodes its columns as the driver
// would before writing them to the socket. It lets a benchmark run the
// writer's whole Go path (decode, map, text index, column fill, encode)
// without waiting for ClickHouse. The other methods of driver.Conn are not
// implemented (they panic).
type offlineConn struct {
	driver.Conn
	// types are the column types per table.
	types map[string]map[string]string
	// sent counts the rows encoded per table.
	sent map[string]int
	// buf receives the encoded blocks (reset before each block).
	buf chproto.Buffer
}

func newOfflineConn() *offlineConn {
	return &offlineConn{types: offlineTypes(), sent: map[string]int{}}
}

// PrepareBatch parses the column list of an InsertQuery query and returns
// a batch of fresh columns, as the driver does for every INSERT.
func (c *offlineConn) PrepareBatch(_ context.Context, query string, _ ...driver.PrepareBatchOption) (driver.Batch, error) {
	rest, ok := strings.CutPrefix(query, "INSERT INTO `")
	if !ok {
		return nil, fmt.Errorf("offline conn: not an insert: %q", query)
	}
	table, list, ok := strings.Cut(rest, "` (")
	if !ok {
		return nil, fmt.Errorf("offline conn: no column list: %q", query)
	}
	types, ok := c.types[table]
	if !ok {
		return nil, fmt.Errorf("offline conn: unknown table %q", table)
	}
	b := &offlineBatch{conn: c, table: table}
	for _, name := range strings.Split(strings.TrimSuffix(list, ")"), ", ") {
		name = strings.Trim(name, "`")
		t, ok := types[name]
		if !ok {
			return nil, fmt.Errorf("offline conn: no column %q in %s", name, table)
		}
		col, err := chcol.Type(t).Column(name, &offlineServer)
		if err != nil {
			return nil, fmt.Errorf("offline conn: column %s %s: %w", name, t, err)
		}
		b.cols = append(b.cols, col)
	}
	return b, nil
}

// offlineServer is the server a ClickHouse 18.16 in UTC announces.
var offlineServer = chcol.ServerContext{Revision: 54413, VersionMajor: 18, VersionMinor: 16, Timezone: time.UTC}

// offlineBatch is a driver.Batch of offlineConn: Flush and Send encode the
// block's columns and reset them. Only the methods chstore.Insert uses are
// implemented.
type offlineBatch struct {
	driver.Batch
	conn  *offlineConn
	table string
	cols  []chcol.Interface
	done  bool
}

// Columns returns the batch's columns.
func (b *offlineBatch) Columns() []chcol.Interface { return b.cols }

// Flush encodes the block and resets its columns.
func (b *offlineBatch) Flush() error {
	if b.done {
		return errors.New("offline batch: already sent")
	}
	rows := b.cols[0].Rows()
	for _, c := range b.cols {
		if c.Rows() != rows {
			return fmt.Errorf("offline batch: column %s has %d rows, %s %d", c.Name(), c.Rows(), b.cols[0].Name(), rows)
		}
	}
	b.conn.buf.Reset()
	for _, c := range b.cols {
		c.Encode(&b.conn.buf)
		c.Reset()
	}
	b.conn.sent[b.table] += rows
	return nil
}

// Send flushes the last block and ends the batch.
func (b *offlineBatch) Send() error {
	err := b.Flush()
	b.done = true
	return err
}

// Abort ends the batch without sending.
func (b *offlineBatch) Abort() error { b.done = true; return nil }

// Close ends the batch.
func (b *offlineBatch) Close() error { b.done = true; return nil }

// offlineTypes are the ClickHouse types of the events and event_grams
// columns after all migrations (TestOfflineTypes checks them against the
// server).
func offlineTypes() map[string]map[string]string {
	events := map[string]string{}
	for _, c := range chstore.EventColumns {
		t := "String"
		switch c {
		case "id":
			t = "UUID"
		case "time", "received_at":
			t = "DateTime"
		case "time_ms", "received_ms", "src_port", "dst_port":
			t = "UInt16"
		case "facility", "severity":
			t = "Int8"
		case "techniques", "maint_allowed_ops", "maint_allowed_sources", "maint_allowed_users":
			t = "Array(String)"
		case "src_known", "src_safety", "dst_known", "dst_safety", "flow_cross_zone", "flow_allowed", "maint_active",
			"flow_new_pair", "flow_safety_involved", "src_sl_t", "dst_sl_t":
			t = "UInt8"
		case "src_purdue", "dst_purdue", "flow_purdue_delta":
			t = "Float32"
		case "model_version":
			t = "UInt32"
		case "bytes_out", "bytes_in":
			t = "UInt64"
		case chstore.StoredMSColumn:
			t = "Int64"
		}
		events[c] = t
	}
	return map[string]map[string]string{
		chstore.TableEvents:     events,
		chstore.TableEventGrams: {"gram": "UInt32", "site": "String", "hour": "DateTime", "n": "UInt64"},
	}
}

// TestOfflineTypes checks offlineTypes against the columns of the migrated
// server's tables (CLICKHOUSE_ADDR).
func TestOfflineTypes(t *testing.T) {
	addr, db := chtest.Database(t)
	ctx := context.Background()
	conn, err := chstore.Open(ctx, chstore.ConnConfig{Addrs: []string{addr}, Database: db})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	if err := chstore.Migrate(ctx, conn, Migrations()); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		table   string
		columns []string
	}{
		{chstore.TableEvents, chstore.EventColumns},
		{chstore.TableEventGrams, chstore.GramColumns},
	} {
		t.Run(tc.table, func(t *testing.T) {
			b, err := conn.PrepareBatch(ctx, chstore.InsertQuery(tc.table, tc.columns))
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = b.Abort() }()
			want := offlineTypes()[tc.table]
			for _, c := range b.Columns() {
				if got := string(c.Type()); got != want[c.Name()] {
					t.Errorf("column %s: server type %s; offlineTypes %q", c.Name(), got, want[c.Name()])
				}
			}
			if len(b.Columns()) != len(want) {
				t.Errorf("%d columns; offlineTypes has %d", len(b.Columns()), len(want))
			}
		})
	}
}

// offlineMsg is a jetstream.Msg held in memory (acknowledgements are
// no-ops). Only the methods the writer uses are implemented.
type offlineMsg struct {
	jetstream.Msg
	data []byte
	seq  uint64
}

// Data returns the payload.
func (m *offlineMsg) Data() []byte { return m.data }

// Subject returns the events subject of the demo site.
func (m *offlineMsg) Subject() string { return bus.EventsSubject(site) }

// Headers returns the bus encoding header.
func (m *offlineMsg) Headers() nats.Header {
	return nats.Header{bus.HeaderEncoding: []string{event.Encoding}}
}

// Metadata returns a stream position of C981_EVENTS.
func (m *offlineMsg) Metadata() (*jetstream.MsgMetadata, error) {
	return &jetstream.MsgMetadata{Stream: bus.StreamEvents, Sequence: jetstream.SequencePair{Stream: m.seq}, Timestamp: time.Unix(1764151200, 0)}, nil
}

// Ack does nothing.
func (m *offlineMsg) Ack() error { return nil }

// InProgress does nothing.
func (m *offlineMsg) InProgress() error { return nil }

// plantEvent is one event of a plant's mixed traffic, msg and i its
// message and index: firewall flows between the HMIs and PLCs with their
// key=value fields, RFC 5424 engineering-workstation records with
// structured data, and PLC program changes with MITRE techniques.
func plantEvent(msg, i int, at time.Time) event.Event {
	seq := msg*1000 + i
	plc, hmi := 11+seq%3, 11+seq%2
	src, dst := fmt.Sprintf("10.20.2.%d", hmi), fmt.Sprintf("10.20.1.%d", plc)
	e := event.Event{
		Site: site, Time: at, ReceivedAt: at.Add(120 * time.Millisecond), Transport: "udp", Peer: "10.20.1.1:514",
		Facility: 16, Severity: 6, SrcIP: src, DstIP: dst, SrcPort: 40000 + seq%20000, DstPort: 502, Proto: "tcp", AppProto: "modbus",
		Src:          event.Endpoint{IP: src, Known: true, AssetID: fmt.Sprintf("demo-plant/hmi-0%d", hmi-10), Role: "hmi", Zone: "demo-plant/supervisory", ZoneKind: "supervisory", Purdue: 2, SLT: 2},
		Dst:          event.Endpoint{IP: dst, Known: true, AssetID: fmt.Sprintf("demo-plant/plc-10%d", plc-10), Role: "plc", Zone: "demo-plant/control", ZoneKind: "control", Purdue: 1, SLT: 3, Criticality: "critical"},
		Flow:         event.Flow{CrossZone: true, Allowed: true, Conduit: "supervisory-control", FlowID: "modbus-hmi-plc"},
		ModelVersion: 1,
	}
	switch seq % 4 {
	case 0, 1: // firewall flow
		op := []string{"read", "write"}[seq%4]
		e.Raw = fmt.Sprintf("<134>Nov 26 10:00:01 fw-cell-01 fw: action=allow src=%s dst=%s proto=tcp sport=%d dport=502 app=modbus op=%s unit=%d", src, dst, e.SrcPort, op, 1+seq%7)
		e.Source, e.Format, e.Host, e.App, e.Kind, e.Action, e.Operation = "fw-cell-01", "rfc3164", "fw-cell-01", "fw", event.KindFlow, "allow", op
		e.Message = e.Raw[strings.Index(e.Raw, "action="):]
		e.Fields = map[string]string{"action": "allow", "src": src, "dst": dst, "proto": "tcp", "sport": fmt.Sprint(e.SrcPort), "dport": "502", "app": "modbus", "op": op, "unit": fmt.Sprint(1 + seq%7)}
	case 2: // engineering workstation, RFC 5424 with structured data
		e.Raw = fmt.Sprintf(`<134>1 %s ews-01 engineering 4711 AUDIT [c981@32473 user="eng%d" session="s-%d" project="line-%d"] operator session on engineering workstation opened project line-%d for online edit`,
			at.UTC().Format("2006-01-02T15:04:05.000000Z"), seq%5, seq/10, seq%3, seq%3)
		e.Source, e.Format, e.Host, e.App, e.ProcID, e.MsgID, e.Kind, e.Action = "ews-01", "rfc5424", "ews-01", "engineering", "4711", "AUDIT", event.KindAuth, "login"
		e.Message = e.Raw[strings.Index(e.Raw, "] ")+2:]
		e.User, e.Session = fmt.Sprintf("eng%d", seq%5), fmt.Sprintf("s-%d", seq/10)
		e.Fields = map[string]string{"user": e.User, "session": e.Session, "project": fmt.Sprintf("line-%d", seq%3)}
	default: // PLC program download with techniques
		e.Raw = fmt.Sprintf("<131>Nov 26 10:00:01 plc-10%d plc: PROGRAM DOWNLOAD block=OB%d size=%d from=%s checksum=%08x", plc-10, seq%40, 1024+seq%4096, src, seq*2654435761)
		e.Source, e.Format, e.Host, e.App, e.Kind, e.Action, e.Operation = fmt.Sprintf("plc-10%d", plc-10), "rfc3164", fmt.Sprintf("plc-10%d", plc-10), "plc", event.KindLog, "program_download", "program_download"
		e.Severity = 3
		e.Message = e.Raw[strings.Index(e.Raw, "PROGRAM"):]
		e.Techniques = []string{"T0843", "T0821"}
		e.Fields = map[string]string{"block": fmt.Sprintf("OB%d", seq%40), "size": fmt.Sprint(1024 + seq%4096), "from": src}
	}
	e.ID = event.NewID("plant-bench", e.Raw, fmt.Sprint(seq))
	return e
}

// plantPayloads returns msgs bus messages of per plantEvents each, the
// events 10 µs apart (100,000 events/s of event time).
func plantPayloads(tb testing.TB, msgs, per int) []*offlineMsg {
	start := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	out := make([]*offlineMsg, msgs)
	for m := range out {
		evs := make([]event.Event, per)
		for i := range evs {
			evs[i] = plantEvent(m, i, start.Add(time.Duration(m*per+i)*10*time.Microsecond))
		}
		data, err := event.Marshal(evs)
		if err != nil {
			tb.Fatal(err)
		}
		out[m] = &offlineMsg{data: data, seq: uint64(m + 1)}
	}
	return out
}

// offlineWriter is the events writer of a service that stores through conn.
func offlineWriter(tb testing.TB, conn driver.Conn) *writer {
	m, err := newMetrics(prometheus.NewRegistry())
	if err != nil {
		tb.Fatal(err)
	}
	svc := &Service{cfg: Config{}.WithDefaults(), log: discardLogger(), m: m, unhealthy: map[string]error{}, now: time.Now, gramDeltaEvery: gramDeltaEvery}
	t := tables()[0]
	if t.name != chstore.TableEvents {
		tb.Fatalf("tables()[0] is %s", t.name)
	}
	return &writer{svc: svc, t: t, conn: conn, log: svc.log, idx: newTextIndex(time.Now(), gramDeltaEvery), grams: newGramCounter()}
}

// BenchmarkStoreBatch measures the store's whole Go path per event without
// a server: every iteration gathers a batch of batchMsgs bus messages of
// 1,000 plant events each (writer.add: decode, validate, map to EventRef
// rows), counts its text-index keys (the gathering goroutine's share) and
// flushes it (writer.flush: stored time, columns filled block by block and
// encoded as for the socket by offlineConn, the event_grams rows of new
// keys, acknowledgements). The messages are cycled, so after the first
// pass the hour's keys are warm, as under sustained load. It reports
// events/s and the process CPU time per event (garbage collection
// included).
func BenchmarkStoreBatch(b *testing.B) {
	const batchMsgs, per, distinct = 20, 1000, 60
	msgs := plantPayloads(b, distinct, per)
	conn := newOfflineConn()
	w := offlineWriter(b, conn)
	ctx := context.Background()
	var events, at int
	// One warm-up batch: the first one writes the hour's keys.
	run := func() {
		bt := &batch{}
		for range batchMsgs {
			w.add(bt, msgs[at%len(msgs)])
			at++
		}
		bt.stopKeepAlive = w.keepAlive(bt)
		bt.grams = countGrams(w.grams, bt)
		if err := w.flush(ctx, bt); err != nil {
			b.Fatal(err)
		}
		if len(bt.dead) > 0 {
			b.Fatalf("%d dead letters: %s", len(bt.dead), bt.dead[0].Reason)
		}
		events += len(bt.rows)
	}
	run()
	events = 0
	runtime.GC()
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU(b)
	for b.Loop() {
		run()
	}
	cpu := processCPU(b) - cpu0
	if conn.sent[chstore.TableEvents] < events {
		b.Fatalf("%d events encoded; want %d", conn.sent[chstore.TableEvents], events)
	}
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(events), "cpu-ns/event")
	b.ReportMetric(float64(events)/float64(b.N), "events/op")
}

// flush inserts the batch's rows and dead letters, then acknowledges its
// messages, in one goroutine (what run's insert goroutine and finisher do
// for a gathered batch). It returns an error, leaving the messages
// unacknowledged, only when ctx ends first or the test hook fails.
func (w *writer) flush(ctx context.Context, b *batch) error {
	if b.stopKeepAlive == nil {
		b.stopKeepAlive = w.keepAlive(b)
	}
	rejected, err := w.insertAll(ctx, w.t.name, w.t.columns, b.rows)
	if err != nil {
		return err
	}
	return w.finish(ctx, b, rejected)
}
