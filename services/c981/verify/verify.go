package verify

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Options selects the run to verify.
type Options struct {
	// Run is the loadgen run id (the run field of its events); required.
	Run string
	// Expect is the number of records sent; 0 means the highest stored
	// sequence number minus First plus one.
	Expect uint64
	// First is the first sequence number sent; 0 means 1 (loadgen's default).
	First uint64
	// MaxRanges bounds the missing ranges listed; 0 means 20.
	MaxRanges int
}

// Validate reports a missing run id.
func (o Options) Validate() error {
	if o.Run == "" {
		return errors.New("run id is required")
	}
	if strings.ContainsAny(o.Run, " \"]") {
		return fmt.Errorf("run id %q contains a space, quote or ']' that loadgen records cannot carry", o.Run)
	}
	return nil
}

// Range is an inclusive range of sequence numbers.
type Range struct {
	// From and To are the first and last sequence number of the range.
	From uint64 `json:"from"`
	To   uint64 `json:"to"`
}

// String returns "from-to", or "n" for a single number.
func (r Range) String() string {
	if r.From == r.To {
		return strconv.FormatUint(r.From, 10)
	}
	return fmt.Sprintf("%d-%d", r.From, r.To)
}

// Latency is a latency distribution in milliseconds.
type Latency struct {
	// P50, P95, P99 are exact percentiles (the sample at index floor(p·n)
	// of the sorted samples, as ClickHouse quantileExact) and Max the maximum.
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
	// N is the number of samples.
	N int `json:"n"`
}

// Report is what ClickHouse holds for one run.
type Report struct {
	// Run is the run id.
	Run string `json:"run"`
	// Sent is the number of records sent (expected).
	Sent uint64 `json:"sent"`
	// Stored is the number of distinct expected sequence numbers stored.
	Stored uint64 `json:"stored"`
	// Missing is the number of expected sequence numbers not stored.
	Missing uint64 `json:"missing"`
	// MissingRanges lists the first missing ranges (at most MaxRanges).
	MissingRanges []Range `json:"missing_ranges"`
	// Duplicated counts events stored more than once after FINAL (distinct
	// event ids per sequence number beyond the first).
	Duplicated uint64 `json:"duplicated"`
	// DuplicateRows counts rows before FINAL beyond one per event id.
	DuplicateRows uint64 `json:"duplicate_rows"`
	// Unexpected counts stored sequence numbers outside the expected range.
	Unexpected uint64 `json:"unexpected"`
	// Rate is stored events per second between first and last receipt.
	Rate float64 `json:"rate"`
	// FirstReceived and LastReceived bound the ingest receipt times.
	FirstReceived time.Time `json:"first_received"`
	LastReceived  time.Time `json:"last_received"`
	// LatencyMS is send time to ingest receipt.
	LatencyMS Latency `json:"latency_ms"`
	// LatencyStoredMS is send time to the event's stored time (stored_ms:
	// when the store's writer sent the insert; events without one, stored
	// before migration 0007, are not sampled).
	LatencyStoredMS Latency `json:"latency_stored_ms"`
	// LatencyReceiptStoredMS is ingest receipt to the event's stored time.
	LatencyReceiptStoredMS Latency `json:"latency_receipt_stored_ms"`
	// LatencyIncidentMS is, for each alert naming events of the run, the
	// latest send time among them to the alert's creation (ms resolution);
	// N is the number of such alerts.
	LatencyIncidentMS Latency `json:"latency_incident_ms"`
	// LatencyReceiptIncidentMS is, for the same alerts, the latest receipt
	// among the named events to the alert's creation.
	LatencyReceiptIncidentMS Latency `json:"latency_receipt_incident_ms"`
	// LatencyReceiptAlertStoredMS is, for the same alerts, the latest
	// receipt among the named events to the alert's stored time (alerts
	// without one are not sampled).
	LatencyReceiptAlertStoredMS Latency `json:"latency_receipt_alert_stored_ms"`
	// Alerts counts the alerts (after FINAL) that name events of the run,
	// and Incidents the distinct incidents they were assigned to.
	Alerts    uint64 `json:"alerts"`
	Incidents uint64 `json:"incidents"`
	// AlertsPerEvent is Alerts per stored event of the run: what the run's
	// load profile costs the alert and incident path.
	AlertsPerEvent float64 `json:"alerts_per_event"`
}

// OK reports whether nothing was missing or duplicated.
func (r *Report) OK() bool { return r.Missing == 0 && r.Duplicated == 0 && r.DuplicateRows == 0 }

// Text returns the report for people.
func (r *Report) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "run %s: sent %d, stored %d, missing %d, duplicated %d (duplicate rows before FINAL %d), unexpected %d\n",
		r.Run, r.Sent, r.Stored, r.Missing, r.Duplicated, r.DuplicateRows, r.Unexpected)
	if len(r.MissingRanges) > 0 {
		parts := make([]string, len(r.MissingRanges))
		for i, m := range r.MissingRanges {
			parts[i] = m.String()
		}
		fmt.Fprintf(&b, "missing sequence numbers: %s\n", strings.Join(parts, ", "))
	}
	fmt.Fprintf(&b, "rate %.0f events/s between first and last receipt\n", r.Rate)
	lat := func(name string, l Latency) {
		if l.N == 0 {
			fmt.Fprintf(&b, "%-30s no samples\n", name)
			return
		}
		fmt.Fprintf(&b, "%-30s p50 %.0f ms, p95 %.0f ms, p99 %.0f ms, max %.0f ms (n=%d)\n", name, l.P50, l.P95, l.P99, l.Max, l.N)
	}
	fmt.Fprintf(&b, "alerts %d in %d incidents: %.6f alerts per stored event\n", r.Alerts, r.Incidents, r.AlertsPerEvent)
	lat("latency send->receipt", r.LatencyMS)
	lat("latency send->stored", r.LatencyStoredMS)
	lat("latency send->alert", r.LatencyIncidentMS)
	lat("latency receipt->stored", r.LatencyReceiptStoredMS)
	lat("latency receipt->alert", r.LatencyReceiptIncidentMS)
	lat("latency receipt->alert stored", r.LatencyReceiptAlertStoredMS)
	return b.String()
}

// The run's fields (fieldExpr).
var (
	runExpr  = fieldExpr("run")
	seqExpr  = "toUInt64OrZero(" + fieldExpr("seq") + ")"
	sentExpr = "toInt64OrZero(" + fieldExpr("sent") + ")"
)

// fieldExpr is the SQL expression of the value of the event field name
// (empty when the event has none), for ClickHouse 18.16 and current
// releases: the member of the fields_json object of a row stored since
// migration 0009 (services/store/chstore FieldsJSONColumn: flat string
// members, distinct names, so visitParamExtractString finds the member),
// else the element of the Nested fields arrays of an older row. name must
// not need quoting in SQL.
func fieldExpr(name string) string {
	return "if(fields_json != '', visitParamExtractString(fields_json, '" + name + "'), fields.value[indexOf(fields.key, '" + name + "')])"
}

// Verify reads the events (and alerts) of opts.Run from conn's database.
// Memory stays bounded for runs of tens of millions of events: latency
// percentiles are computed by ClickHouse, sequence numbers are streamed in
// order, and only the send times of events that alerts name are held.
func Verify(ctx context.Context, conn driver.Conn, opts Options) (*Report, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if opts.First == 0 {
		opts.First = 1
	}
	if opts.MaxRanges <= 0 {
		opts.MaxRanges = 20
	}
	rep := &Report{Run: opts.Run, MissingRanges: []Range{}}

	var raw uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM events WHERE "+runExpr+" = ?", opts.Run).Scan(&raw); err != nil {
		return nil, fmt.Errorf("count rows of run %s: %w", opts.Run, err)
	}
	final, err := aggregates(ctx, conn, opts.Run, rep)
	if err != nil {
		return nil, err
	}
	if raw > final {
		rep.DuplicateRows = raw - final
	}
	if err := sequences(ctx, conn, opts, rep); err != nil {
		return nil, err
	}
	if final > 0 {
		al, err := alertLatencies(ctx, conn, opts.Run, rep.FirstReceived)
		if err != nil {
			return nil, err
		}
		rep.LatencyIncidentMS = distribution(al.sendCreated)
		rep.LatencyReceiptIncidentMS = distribution(al.receiptCreated)
		rep.LatencyReceiptAlertStoredMS = distribution(al.receiptStored)
		rep.Alerts, rep.Incidents = al.alerts, al.incidents
		if rep.Stored > 0 {
			rep.AlertsPerEvent = float64(rep.Alerts) / float64(rep.Stored)
		}
	}
	return rep, nil
}

// aggregates fills the receipt bounds, rate and the receipt and stored
// latencies from one query over the run's events after FINAL, and returns
// the number of events.
func aggregates(ctx context.Context, conn driver.Conn, run string, rep *Report) (uint64, error) {
	// Microseconds: receipt and stored times are in ms, sent in ns.
	const (
		recvUS      = "(toInt64(received_at) * 1000000 + received_ms * 1000)"
		storedUS    = "(stored_ms * 1000)"
		sentUS      = "intDiv(sent, 1000)"
		hasSent     = "sent > 0"
		hasStored   = "sent > 0 AND stored_ms > 0"
		storedKnown = "stored_ms > 0"
	)
	q := `SELECT count(), min(` + recvUS + `), max(` + recvUS + `),
  countIf(` + hasSent + `), quantilesExactIf(0.5, 0.95, 0.99)(` + recvUS + ` - ` + sentUS + `, ` + hasSent + `), maxIf(` + recvUS + ` - ` + sentUS + `, ` + hasSent + `),
  countIf(` + hasStored + `), quantilesExactIf(0.5, 0.95, 0.99)(` + storedUS + ` - ` + sentUS + `, ` + hasStored + `), maxIf(` + storedUS + ` - ` + sentUS + `, ` + hasStored + `),
  countIf(` + storedKnown + `), quantilesExactIf(0.5, 0.95, 0.99)(` + storedUS + ` - ` + recvUS + `, ` + storedKnown + `), maxIf(` + storedUS + ` - ` + recvUS + `, ` + storedKnown + `)
FROM (
  SELECT ` + sentExpr + ` AS sent, received_at, received_ms, stored_ms
  FROM events FINAL WHERE ` + runExpr + ` = ?
)`
	var (
		n, nRecv, nStored, nRS         uint64
		minR, maxR                     int64
		qRecv, qStored, qRS            []int64
		maxRecvUS, maxStoreUS, maxRSUS int64
	)
	if err := conn.QueryRow(ctx, q, run).Scan(&n, &minR, &maxR, &nRecv, &qRecv, &maxRecvUS, &nStored, &qStored, &maxStoreUS, &nRS, &qRS, &maxRSUS); err != nil {
		return 0, fmt.Errorf("aggregate events of run %s: %w", run, err)
	}
	if n == 0 {
		return 0, nil
	}
	rep.FirstReceived = time.UnixMicro(minR).UTC()
	rep.LastReceived = time.UnixMicro(maxR).UTC()
	if d := float64(maxR-minR) / 1e6; d > 0 && n > 1 {
		rep.Rate = float64(n-1) / d
	}
	rep.LatencyMS = fromQuantiles(nRecv, qRecv, maxRecvUS)
	rep.LatencyStoredMS = fromQuantiles(nStored, qStored, maxStoreUS)
	rep.LatencyReceiptStoredMS = fromQuantiles(nRS, qRS, maxRSUS)
	return n, nil
}

// fromQuantiles converts ClickHouse quantilesExact (p50, p95, p99) and the
// maximum, in microseconds, to a Latency in milliseconds.
func fromQuantiles(n uint64, q []int64, maxUS int64) Latency {
	if n == 0 || len(q) != 3 {
		return Latency{}
	}
	return Latency{P50: round(us(q[0])), P95: round(us(q[1])), P99: round(us(q[2])), Max: round(us(maxUS)), N: int(n)}
}

func us(v int64) float64 { return float64(v) / 1e3 }

// sequences streams the run's sequence numbers after FINAL in order (one
// row per stored event) and counts stored, missing, duplicated and
// unexpected ones.
func sequences(ctx context.Context, conn driver.Conn, opts Options, rep *Report) error {
	var maxSeq uint64
	if opts.Expect == 0 {
		if err := conn.QueryRow(ctx, "SELECT max("+seqExpr+") FROM events WHERE "+runExpr+" = ?", opts.Run).Scan(&maxSeq); err != nil {
			return fmt.Errorf("highest sequence number of run %s: %w", opts.Run, err)
		}
	}
	switch {
	case opts.Expect > 0:
		rep.Sent = opts.Expect
	case maxSeq >= opts.First:
		rep.Sent = maxSeq - opts.First + 1
	}
	last := opts.First + rep.Sent - 1 // inclusive; unused when Sent == 0
	next := opts.First                // the next expected sequence number

	rows, err := conn.Query(ctx, "SELECT "+seqExpr+" AS seq FROM events FINAL WHERE "+runExpr+" = ? ORDER BY seq", opts.Run)
	if err != nil {
		return fmt.Errorf("read sequence numbers of run %s: %w", opts.Run, err)
	}
	defer rows.Close()
	var (
		prev  uint64
		first = true
	)
	for rows.Next() {
		var s uint64
		if err := rows.Scan(&s); err != nil {
			return fmt.Errorf("read sequence numbers of run %s: %w", opts.Run, err)
		}
		if !first && s == prev {
			rep.Duplicated++
			continue
		}
		first, prev = false, s
		if rep.Sent == 0 || s < opts.First || s > last {
			rep.Unexpected++
			continue
		}
		rep.Stored++
		if s > next {
			rep.addMissing(next, s-1, opts.MaxRanges)
		}
		next = s + 1
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read sequence numbers of run %s: %w", opts.Run, err)
	}
	if rep.Sent > 0 && next <= last {
		rep.addMissing(next, last, opts.MaxRanges)
	}
	return nil
}

func (r *Report) addMissing(from, to uint64, max int) {
	r.Missing += to - from + 1
	if len(r.MissingRanges) < max {
		r.MissingRanges = append(r.MissingRanges, Range{From: from, To: to})
	}
}

// alertSamples are the alert latencies of a run, in milliseconds, and the
// number of alerts naming events of the run and of their incidents.
type alertSamples struct {
	sendCreated, receiptCreated, receiptStored []float64
	alerts, incidents                          uint64
}

// eventTimes are the send and receipt times (Unix ns; 0 unknown) of an
// event named by an alert; run is set for events of the run.
type eventTimes struct {
	sent, received int64
	run            bool
}

// alertLatencies returns, for every alert created since the run's first
// receipt (less a minute of clock slack) that names events of the run, the
// milliseconds from the latest send time and from the latest receipt among
// them to the alert's creation, and from the latest receipt to the alert's
// stored time; and it counts those alerts and their distinct incidents. It
// holds the alerts' event ids and incident ids and the times of those
// events only.
func alertLatencies(ctx context.Context, conn driver.Conn, run string, since time.Time) (alertSamples, error) {
	type alert struct {
		created, stored int64 // Unix ns; stored 0 when unknown
		incident        string
		ids             [][16]byte
	}
	var out alertSamples
	rows, err := conn.Query(ctx, "SELECT created_at, created_ms, stored_ms, toString(incident_id), event_ids FROM alerts FINAL WHERE created_at >= ?",
		since.Add(-time.Minute).Truncate(time.Second))
	if err != nil {
		return out, fmt.Errorf("read alerts: %w", err)
	}
	var (
		alerts []alert
		times  = map[[16]byte]eventTimes{}
	)
	for rows.Next() {
		var (
			a         alert
			created   time.Time
			createdMS uint16
			storedMS  int64
			ids       []string
		)
		if err := rows.Scan(&created, &createdMS, &storedMS, &a.incident, &ids); err != nil {
			rows.Close()
			return out, fmt.Errorf("read alerts: %w", err)
		}
		a.created = created.UnixNano() + int64(createdMS)*int64(time.Millisecond)
		a.stored = storedMS * int64(time.Millisecond)
		for _, s := range ids {
			if id, ok := parseUUID(s); ok {
				a.ids = append(a.ids, id)
				times[id] = eventTimes{}
			}
		}
		if len(a.ids) > 0 {
			alerts = append(alerts, a)
		}
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return out, fmt.Errorf("read alerts: %w", err)
	}
	if len(alerts) == 0 {
		return out, nil
	}

	rows, err = conn.Query(ctx, "SELECT toString(id), "+sentExpr+", toInt64(received_at) * 1000 + received_ms FROM events WHERE "+runExpr+" = ?", run)
	if err != nil {
		return out, fmt.Errorf("read send times of run %s: %w", run, err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			s          string
			ns, recvMS int64
		)
		if err := rows.Scan(&s, &ns, &recvMS); err != nil {
			return out, fmt.Errorf("read send times of run %s: %w", run, err)
		}
		id, ok := parseUUID(s)
		if _, named := times[id]; ok && named {
			times[id] = eventTimes{sent: max(ns, 0), received: recvMS * int64(time.Millisecond), run: true}
		}
	}
	if err := rows.Err(); err != nil {
		return out, fmt.Errorf("read send times of run %s: %w", run, err)
	}

	incidents := map[string]struct{}{}
	for _, a := range alerts {
		var latest eventTimes
		for _, id := range a.ids {
			t := times[id]
			latest.sent = max(latest.sent, t.sent)
			latest.received = max(latest.received, t.received)
			latest.run = latest.run || t.run
		}
		if latest.run {
			out.alerts++
			incidents[a.incident] = struct{}{}
		}
		if latest.sent > 0 {
			out.sendCreated = append(out.sendCreated, ms(a.created-latest.sent))
		}
		if latest.received > 0 {
			out.receiptCreated = append(out.receiptCreated, ms(a.created-latest.received))
			if a.stored > 0 {
				out.receiptStored = append(out.receiptStored, ms(a.stored-latest.received))
			}
		}
	}
	out.incidents = uint64(len(incidents))
	return out, nil
}

// parseUUID decodes a UUID in canonical 8-4-4-4-12 hex form (any case).
func parseUUID(s string) (id [16]byte, ok bool) {
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return id, false
	}
	h := s[0:8] + s[9:13] + s[14:18] + s[19:23] + s[24:36]
	if _, err := hex.Decode(id[:], []byte(h)); err != nil {
		return id, false
	}
	return id, true
}

func ms(ns int64) float64 { return float64(ns) / 1e6 }

// distribution returns the percentiles of v (sorted in place) the way
// ClickHouse's quantileExact does: the element at index floor(p·n).
func distribution(v []float64) Latency {
	if len(v) == 0 {
		return Latency{}
	}
	slices.Sort(v)
	at := func(p float64) float64 { return round(v[min(int(p*float64(len(v))), len(v)-1)]) }
	return Latency{P50: at(0.50), P95: at(0.95), P99: at(0.99), Max: round(v[len(v)-1]), N: len(v)}
}

func round(f float64) float64 { return math.Round(f*10)/10 + 0 } // + 0: no -0 in JSON
