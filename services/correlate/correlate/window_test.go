package correlate

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/c981/c981/services/correlate/rule"
	"github.com/c981/c981/services/shared/bustest"
	"github.com/c981/c981/services/shared/event"
)

// statefulRules are small rules of every stateful kind, for engine tests.
const statefulRules = `rules:
  - id: W-THR
    title: Write storm
    severity: high
    kind: threshold
    condition: operation == "write"
    group_by: [src_ip, dst_ip]
    threshold: 3
    window: 1m
  - id: W-DIS
    title: Scan
    severity: medium
    kind: distinct
    condition: operation == "read"
    group_by: [src_ip]
    distinct: dst_ip
    threshold: 3
    window: 5m
    incident_key: src_ip
  - id: W-SEQ
    title: Upload then exfiltration
    severity: high
    kind: sequence
    within: 10m
    steps:
      - condition: operation == "program_upload"
        by: [src_ip]
      - condition: operation == "" and dst.purdue >= 3
        by: [src_ip]
  - id: W-ABS
    title: Silent
    severity: medium
    kind: absence
    condition: dst.role == "plc"
    group_by: [dst.asset_id]
    interval: 15m
`

func loadRules(t testing.TB, src string) *rule.Set {
	t.Helper()
	rules, err := rule.Parse("test.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	set, err := rule.NewSet(rules...)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func newStatefulEngine(t testing.TB, opts EngineOptions) *Engine {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.Now == nil {
		opts.Now = func() time.Time { return t0.Add(24 * time.Hour) }
	}
	return NewEngine(loadRules(t, statefulRules), NewMemoryStore(), opts)
}

type alertView struct {
	Rule   string
	At     time.Duration
	Key    string
	Events []string
}

func alertViews(as []event.Alert) []alertView {
	var out []alertView
	for _, a := range as {
		out = append(out, alertView{a.RuleID, a.Time.Sub(t0), a.IncidentKey, a.EventIDs})
	}
	return out
}

// feed processes evs one at a time and returns every alert.
func feed(t testing.TB, e *Engine, evs ...event.Event) []event.Alert {
	t.Helper()
	var out []event.Alert
	for i := range evs {
		as, _, err := e.Process(context.Background(), evs[i:i+1])
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, as...)
	}
	return out
}

func TestStatefulKinds(t *testing.T) {
	upload := func(id string, at time.Duration) event.Event {
		return flow(id, at, ews, plc101, "program_upload", true)
	}
	exfil := func(id string, at time.Duration) event.Event { return flow(id, at, ews, hist, "", true) }
	plc := func(n int) event.Endpoint {
		p := plc101
		p.IP = "10.20.1." + strconv.Itoa(100+n)
		p.AssetID = "demo-plant/plc-x" + strconv.Itoa(n)
		return p
	}
	tests := []struct {
		name string
		evs  []event.Event
		want []alertView
	}{
		{"threshold fires at N in the window and resets", []event.Event{
			flow("w1", 0, ews, plc101, "write", true),
			flow("w2", 20*time.Second, ews, plc101, "write", true),
			flow("w3", 40*time.Second, ews, plc101, "write", true),
			flow("w4", 50*time.Second, ews, plc101, "write", true),
		}, []alertView{{"W-THR", 40 * time.Second, "demo-plant/plc-101", []string{"w1", "w2", "w3"}}}},
		{"threshold needs N within the window", []event.Event{
			flow("w1", 0, ews, plc101, "write", true),
			flow("w2", 40*time.Second, ews, plc101, "write", true),
			flow("w3", 70*time.Second, ews, plc101, "write", true),
		}, nil},
		{"threshold counts per key", []event.Event{
			flow("w1", 0, ews, plc101, "write", true),
			flow("w2", time.Second, hist, plc101, "write", true),
			flow("w3", 2*time.Second, ews, plc101, "write", true),
		}, nil},
		{"threshold suppressed within the dedup window, then again", []event.Event{
			flow("w1", 0, ews, plc101, "write", true),
			flow("w2", 1*time.Second, ews, plc101, "write", true),
			flow("w3", 2*time.Second, ews, plc101, "write", true),
			flow("w4", 3*time.Second, ews, plc101, "write", true),
			flow("w5", 4*time.Second, ews, plc101, "write", true),
			flow("w6", 5*time.Second, ews, plc101, "write", true),
			flow("w7", 70*time.Second, ews, plc101, "write", true),
			flow("w8", 71*time.Second, ews, plc101, "write", true),
			flow("w9", 72*time.Second, ews, plc101, "write", true),
		}, []alertView{
			{"W-THR", 2 * time.Second, "demo-plant/plc-101", []string{"w1", "w2", "w3"}},
			{"W-THR", 72 * time.Second, "demo-plant/plc-101", []string{"w7", "w8", "w9"}},
		}},
		{"out-of-order events within the lateness count", []event.Event{
			flow("w3", 40*time.Second, ews, plc101, "write", true),
			flow("w1", 0, ews, plc101, "write", true),
			flow("w2", 20*time.Second, ews, plc101, "write", true),
		}, []alertView{{"W-THR", 20 * time.Second, "demo-plant/plc-101", []string{"w3", "w1", "w2"}}}},
		{"events later than the lateness are ignored by windows", []event.Event{
			flow("w1", 0, ews, plc101, "write", true),
			flow("w2", 10*time.Second, ews, plc101, "write", true),
			flow("r1", 5*time.Minute, ews, hist, "read", true),
			flow("w3", 20*time.Second, ews, plc101, "write", true),
		}, nil},
		{"distinct counts distinct values", []event.Event{
			flow("d1", 0, ews, plc(1), "read", true),
			flow("d2", time.Second, ews, plc(1), "read", true),
			flow("d3", 2*time.Second, ews, plc(2), "read", true),
			flow("d4", 3*time.Second, ews, plc(3), "read", true),
		}, []alertView{{"W-DIS", 3 * time.Second, "10.20.2.21", []string{"d1", "d3", "d4"}}}},
		{"distinct values expire with the window", []event.Event{
			flow("d1", 0, ews, plc(1), "read", true),
			flow("d2", time.Minute, ews, plc(2), "read", true),
			flow("d3", 6*time.Minute, ews, plc(3), "read", true),
		}, nil},
		{"sequence in order within the span", []event.Event{
			upload("s1", 0),
			exfil("s2", 5*time.Minute),
		}, []alertView{{"W-SEQ", 5 * time.Minute, "demo-plant/hist-01", []string{"s1", "s2"}}}},
		{"sequence out of order does not fire", []event.Event{
			exfil("s2", 0),
			upload("s1", time.Second),
		}, nil},
		{"sequence beyond its span does not fire", []event.Event{
			upload("s1", 0),
			exfil("s2", 11*time.Minute),
		}, nil},
		{"sequence joins on the key", []event.Event{
			upload("s1", 0),
			flow("s2", time.Minute, hist, hist, "", true),
		}, nil},
		{"absence fires once when the watermark passes the interval", []event.Event{
			flow("a1", 0, ews, plc101, "read", true),
			flow("x1", 10*time.Minute, ews, hist, "", true),
			flow("x2", 16*time.Minute, ews, hist, "", true),
			flow("x3", 17*time.Minute, ews, hist, "", true),
			flow("x4", 30*time.Minute, ews, hist, "", true),
		}, []alertView{{"W-ABS", 15 * time.Minute, "demo-plant/plc-101", []string{"a1"}}}},
		{"absence suppressed while the key is in maintenance", []event.Event{
			inMaint(flow("a1", 0, ews, plc101, "read", true)),
			flow("x1", 30*time.Minute, ews, hist, "", true),
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := alertViews(feed(t, newStatefulEngine(t, EngineOptions{}), tt.evs...))
			if !slices.EqualFunc(got, tt.want, func(a, b alertView) bool {
				return a.Rule == b.Rule && a.At == b.At && a.Key == b.Key && slices.Equal(a.Events, b.Events)
			}) {
				t.Errorf("alerts:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func inMaint(ev event.Event) event.Event {
	ev.Maint = event.Maint{Active: true, WindowID: "mw-1", AllowedOps: []string{"program_download"}}
	return ev
}

// TestStatefulReplay: a retried position reuses its evaluation, and a
// replayed position after a restart does not count twice.
func TestStatefulReplay(t *testing.T) {
	ctx := context.Background()
	e := newStatefulEngine(t, EngineOptions{})
	w := func(id string, at time.Duration) event.Event { return flow(id, at, ews, plc101, "write", true) }
	if as, _, err := e.ProcessAt(ctx, 1, []event.Event{w("w1", 0), w("w2", time.Second)}); err != nil || len(as) != 0 {
		t.Fatalf("seq 1: %d alerts, %v", len(as), err)
	}
	for range 2 { // the second call is a retry of seq 2
		as, _, err := e.ProcessAt(ctx, 2, []event.Event{w("w3", 2*time.Second)})
		if err != nil || len(as) != 1 || as[0].RuleID != "W-THR" {
			t.Fatalf("seq 2: %+v, %v", alertViews(as), err)
		}
	}
	// A replay of seq 1 after seq 2 (redelivery after a restart) does not
	// add w1 and w2 again.
	if as, _, err := e.ProcessAt(ctx, 1, []event.Event{w("w1", 0), w("w2", time.Second)}); err != nil || len(as) != 0 {
		t.Fatalf("replayed seq 1: %+v, %v", alertViews(as), err)
	}
	for _, st := range e.win.rules["W-THR"].keys {
		if len(st.Times) != 0 || st.Seq != 2 {
			t.Errorf("after the replay the window holds %d events at seq %d, want 0 at seq 2", len(st.Times), st.Seq)
		}
	}
	if as, _, err := e.ProcessAt(ctx, 3, []event.Event{w("w4", 3*time.Second)}); err != nil || len(as) != 0 {
		t.Fatalf("seq 3: %+v, %v", alertViews(as), err)
	}
}

// TestStateBounded: a rule at max_keys evicts (counted) and keeps working.
func TestStateBounded(t *testing.T) {
	m, _ := NewMetrics(nil)
	e := newStatefulEngine(t, EngineOptions{MaxKeys: 100, Metrics: m})
	var evs []event.Event
	for i := range 250 {
		src := ews
		src.IP = "10.20.2." + strconv.Itoa(i)
		evs = append(evs, flow("k"+strconv.Itoa(i), time.Duration(i)*time.Millisecond, src, plc101, "write", true))
	}
	feed(t, e, evs...)
	if n := len(e.win.rules["W-THR"].keys); n > 100 {
		t.Errorf("live keys = %d, want at most 100", n)
	}
	if got := testutil.ToFloat64(m.Evictions.WithLabelValues("W-THR")); got < 150 {
		t.Errorf("evictions = %v, want at least 150", got)
	}
	if got := testutil.ToFloat64(m.LiveKeys.WithLabelValues("W-THR")); got == 0 || got > 100 {
		t.Errorf("live keys gauge = %v", got)
	}
}

// TestCheckpointRestart stops an engine in the middle of a window and a
// sequence, checkpoints it to JetStream KV, restores a new engine from the
// bucket and shows that it raises exactly the alerts of an uninterrupted
// run, also when the last batch before the stop is replayed.
func TestCheckpointRestart(t *testing.T) {
	ctx := context.Background()
	env := bustest.Start(t)
	w := func(id string, at time.Duration) event.Event { return flow(id, at, ews, plc101, "write", true) }
	batches := [][]event.Event{
		{w("w1", 0), flow("s1", time.Second, ews, plc101, "program_upload", true)},
		{w("w2", 10*time.Second)},
		// --- restart here ---
		{w("w3", 20*time.Second)},
		{flow("s2", time.Minute, ews, hist, "", true)},
		{flow("x1", 20*time.Minute, ews, hist, "", true)},
	}
	const cut = 2
	want := func() []alertView {
		e := newStatefulEngine(t, EngineOptions{})
		var out []event.Alert
		for i, b := range batches {
			as, _, err := e.ProcessAt(ctx, uint64(i+1), b)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, as...)
		}
		return alertViews(out)
	}()
	if len(want) != 3 {
		t.Fatalf("uninterrupted run: %+v, want W-THR, W-SEQ and W-ABS", want)
	}

	store, err := NewStateStore(ctx, env.JS, StateConfig{})
	if err != nil {
		t.Fatal(err)
	}
	first := newStatefulEngine(t, EngineOptions{})
	var got []event.Alert
	for i, b := range batches[:cut] {
		as, _, err := first.ProcessAt(ctx, uint64(i+1), b)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, as...)
		if err := store.Save(ctx, first); err != nil {
			t.Fatal(err)
		}
	}
	second := newStatefulEngine(t, EngineOptions{})
	store2, err := NewStateStore(ctx, env.JS, StateConfig{})
	if err != nil {
		t.Fatal(err)
	}
	n, err := store2.Load(ctx, second, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 { // W-THR ews->plc101, W-SEQ ews, W-ABS plc101
		t.Errorf("restored %d keys, want 3", n)
	}
	// The last batch before the stop is redelivered (its ack was lost).
	for i := cut - 1; i < len(batches); i++ {
		as, _, err := second.ProcessAt(ctx, uint64(i+1), batches[i])
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, as...)
		if err := store2.Save(ctx, second); err != nil {
			t.Fatal(err)
		}
	}
	if gv := alertViews(got); !slices.EqualFunc(gv, want, func(a, b alertView) bool {
		return a.Rule == b.Rule && a.At == b.At && a.Key == b.Key && slices.Equal(a.Events, b.Events)
	}) {
		t.Errorf("after restart:\n got %+v\nwant %+v", gv, want)
	}

	// A changed rule does not inherit the state of the old definition.
	changed := strings.Replace(statefulRules, "threshold: 3", "threshold: 4", 1)
	third := NewEngine(loadRules(t, changed), NewMemoryStore(), EngineOptions{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if _, err := store2.Load(ctx, third, nil); err != nil {
		t.Fatal(err)
	}
	if n := len(third.win.rules["W-THR"].keys); n != 0 {
		t.Errorf("changed rule restored %d keys, want 0", n)
	}
	if n := len(third.win.rules["W-SEQ"].keys); n != 1 {
		t.Errorf("unchanged rule restored %d keys, want 1", n)
	}
}

// TestCheckpointManyKeys stores and restores more keys than the
// checkpoint's in-flight window in one Save.
func TestCheckpointManyKeys(t *testing.T) {
	ctx := context.Background()
	env := bustest.Start(t)
	e := newStatefulEngine(t, EngineOptions{})
	var evs []event.Event
	for i := range 3000 {
		src := ews
		src.IP = "10.21." + strconv.Itoa(i/250) + "." + strconv.Itoa(i%250)
		evs = append(evs, flow("m"+strconv.Itoa(i), time.Duration(i)*time.Millisecond, src, plc101, "write", true))
	}
	if _, _, err := e.ProcessAt(ctx, 1, evs); err != nil {
		t.Fatal(err)
	}
	store, err := NewStateStore(ctx, env.JS, StateConfig{Bucket: "T_MANY"})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Save(ctx, e); err != nil {
		t.Fatal(err)
	}
	restored := newStatefulEngine(t, EngineOptions{})
	n, err := store.Load(ctx, restored, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n != 3001 { // 3000 W-THR keys and the W-ABS key of plc-101
		t.Errorf("restored %d keys, want 3001", n)
	}
}

// TestStateTouchedInBatch checks the bookkeeping of windows.state for a
// key updated more than once in a batch (returned at once after its first
// update): it stays dirty and not deleted, a replayed batch still skips a
// key whose state contains it, and a key removed during the batch gets a
// new state that is dirty again.
func TestStateTouchedInBatch(t *testing.T) {
	set := loadRules(t, statefulRules)
	m, err := NewMetrics(nil)
	if err != nil {
		t.Fatal(err)
	}
	pk := partKey{"site-a", 42}
	ref := stateRef{"W-THR", pk}
	tests := []struct {
		name string
		run  func(t *testing.T, w *windows, rw *ruleWindows)
	}{
		{"twice in a batch", func(t *testing.T, w *windows, rw *ruleWindows) {
			w.begin(5)
			first := w.state(rw, pk, true, keyTexter{fixed: "k"})
			if again := w.state(rw, pk, true, keyTexter{fixed: "k"}); again != first || again.Seq != 5 {
				t.Fatalf("second update: %p (seq %d), want %p (seq 5)", again, again.Seq, first)
			}
			if _, ok := w.dirty[ref]; !ok {
				t.Error("key not dirty")
			}
			clear(w.dirty) // a checkpoint between batches
			w.begin(6)
			if st := w.state(rw, pk, false, keyTexter{}); st != first || st.Seq != 6 {
				t.Fatalf("next batch: %p, want %p", st, first)
			}
			if _, ok := w.dirty[ref]; !ok {
				t.Error("key not dirty after its first update of the next batch")
			}
		}},
		{"replay of a position the state contains", func(t *testing.T, w *windows, rw *ruleWindows) {
			w.begin(7)
			st := w.state(rw, pk, true, keyTexter{fixed: "k"})
			w.begin(7) // the same position again: a replay after a restart
			if got := w.state(rw, pk, true, keyTexter{fixed: "k"}); got != nil {
				t.Fatalf("replayed position applied again to %+v", got)
			}
			w.begin(8)
			if got := w.state(rw, pk, true, keyTexter{fixed: "k"}); got != st || st.Seq != 8 {
				t.Fatalf("next position: %p (seq %d), want %p (seq 8)", got, st.Seq, st)
			}
		}},
		{"removed during the batch", func(t *testing.T, w *windows, rw *ruleWindows) {
			w.begin(9)
			st := w.state(rw, pk, true, keyTexter{fixed: "k"})
			w.remove(rw, pk)
			if _, ok := w.deleted[ref]; !ok {
				t.Fatal("removed key not recorded as deleted")
			}
			got := w.state(rw, pk, true, keyTexter{fixed: "k"})
			if got == nil || got == st {
				t.Fatalf("state after removal: %p, want a new one (old %p)", got, st)
			}
			if _, ok := w.dirty[ref]; !ok {
				t.Error("recreated key not dirty")
			}
			if _, ok := w.deleted[ref]; ok {
				t.Error("recreated key still recorded as deleted")
			}
		}},
		{"no position", func(t *testing.T, w *windows, rw *ruleWindows) {
			w.begin(0)
			st := w.state(rw, pk, true, keyTexter{fixed: "k"})
			if again := w.state(rw, pk, true, keyTexter{fixed: "k"}); again != st || st.Seq != 0 {
				t.Fatalf("second update: %p (seq %d), want %p (seq 0)", again, again.Seq, st)
			}
			clear(w.dirty) // a checkpoint between batches
			w.begin(0)
			w.state(rw, pk, true, keyTexter{fixed: "k"})
			if _, ok := w.dirty[ref]; !ok {
				t.Error("key updated after a checkpoint not dirty")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWindows(set, time.Minute, 100, m)
			tt.run(t, w, w.rules["W-THR"])
		})
	}
}
