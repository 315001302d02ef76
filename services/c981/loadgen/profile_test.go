package loadgen

import (
	"bytes"
	"context"
	"flag"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/c981/c981/services/correlate/correlate"
	"github.com/c981/c981/services/correlate/rule"
	"github.com/c981/c981/services/enrich/zone"
	"github.com/c981/c981/services/ingest/syslog"
	"github.com/c981/c981/services/shared/event"
	"github.com/c981/c981/services/shared/site"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// goldenSent is the send time of golden and rule-test records: a Thursday
// morning, outside every maintenance window of the demo plant.
var goldenSent = time.Date(2026, 11, 26, 10, 0, 1, 123456000, time.UTC)

// TestProfileGolden pins the records of both profiles in every format:
// the stress profile must stay byte for byte the original Line (earlier
// benchmark results stay comparable), and the plant profile's records
// change only on purpose (go test -run TestProfileGolden -update).
func TestProfileGolden(t *testing.T) {
	tests := []struct {
		profile    string
		suspicious float64
		format     string
	}{
		{ProfileStress, 0, FormatMix},
		{ProfilePlant, 0.2, FormatRFC5424},
		{ProfilePlant, 0.2, FormatRFC3164},
		{ProfilePlant, 0.2, FormatCEF},
		{ProfilePlant, 0.2, FormatMix},
	}
	for _, tt := range tests {
		name := tt.profile + "-" + tt.format
		t.Run(name, func(t *testing.T) {
			g, err := NewGenerator(tt.profile, tt.suspicious)
			if err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			for seq := uint64(1); seq <= 40; seq++ {
				got.Write(g.Line(nil, tt.format, "golden", seq, goldenSent))
				got.WriteByte('\n')
			}
			path := filepath.Join("testdata", "profile-"+name+".golden")
			if *update {
				if err := os.WriteFile(path, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got.Bytes(), want) {
				t.Errorf("records differ from %s (run with -update if intended):\n%s", path, got.Bytes())
			}
		})
	}
}

// TestStressIsLine checks that the stress profile is the package's Line
// for any run, sequence number and format.
func TestStressIsLine(t *testing.T) {
	g, err := NewGenerator(ProfileStress, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{FormatRFC5424, FormatRFC3164, FormatCEF, FormatMix} {
		for seq := uint64(1); seq < 2000; seq += 7 {
			if a, b := g.Line(nil, format, "r", seq, goldenSent), Line(nil, format, "r", seq, goldenSent); !bytes.Equal(a, b) {
				t.Fatalf("%s seq %d: stress %q != Line %q", format, seq, a, b)
			}
		}
	}
}

// TestPlantDeterministic checks that a record depends only on run, seq,
// format and send time: a second generator (a restarted loadgen) resends
// the same bytes, and another run id draws other records.
func TestPlantDeterministic(t *testing.T) {
	g1, _ := NewGenerator(ProfilePlant, 0.01)
	g2, _ := NewGenerator(ProfilePlant, 0.01)
	differ := 0
	for seq := uint64(1); seq <= 5000; seq++ {
		a := g1.Line(nil, FormatMix, "run-a", seq, goldenSent)
		if b := g2.Line(make([]byte, 0, 8), FormatMix, "run-a", seq, goldenSent); !bytes.Equal(a, b) {
			t.Fatalf("seq %d: %q then %q", seq, a, b)
		}
		if g1.draw("run-a", seq) != g1.draw("run-b", seq) {
			differ++
		}
	}
	// Two runs draw the same template, addresses, user and port for a
	// fraction of records only (mostly hmi-poll to the same pair).
	if differ < 4000 {
		t.Errorf("run-a and run-b differ in %d of 5000 records, want most", differ)
	}
}

// TestPlantRoundTrip checks that plant records carry run and seq where Seq
// and the ingest parser find them, have the realistic size, and parse
// into the event the template describes.
func TestPlantRoundTrip(t *testing.T) {
	g, err := NewGenerator(ProfilePlant, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	p := syslog.NewParser(syslog.Options{Site: "demo-plant", Source: "l", Transport: "tcp"})
	for _, format := range []string{FormatRFC5424, FormatRFC3164, FormatCEF} {
		t.Run(format, func(t *testing.T) {
			for seq := uint64(1); seq <= 3000; seq++ {
				line := g.Line(nil, format, "run-7", seq, goldenSent)
				run, got, ok := Seq(line)
				if !ok || run != "run-7" || got != seq {
					t.Fatalf("Seq(%q) = %q %d %v", line, run, got, ok)
				}
				if n := len(line); n < 200 || n > 400 {
					t.Errorf("record is %d bytes, want about 300: %s", n, line)
				}
				ev, err := p.Parse(line, "id", "peer", goldenSent)
				if err != nil {
					t.Fatalf("ingest parser rejects %q: %v", line, err)
				}
				d := g.draw("run-7", seq)
				wantKind := event.KindFlow
				switch {
				case d.t.category != "":
					wantKind = event.KindAuth
				case format == FormatCEF:
					wantKind = event.KindAlert
				}
				if ev.SrcIP != d.src || ev.DstIP != d.dst || ev.DstPort != d.t.dport || ev.Operation != d.t.op ||
					ev.Kind != wantKind || ev.User != d.user || ev.Host != d.t.host || ev.Fields["sent"] != strconv.FormatInt(goldenSent.UnixNano(), 10) {
					t.Fatalf("%s parses into src %q dst %q dport %d op %q kind %q user %q host %q sent %q; want %+v",
						line, ev.SrcIP, ev.DstIP, ev.DstPort, ev.Operation, ev.Kind, ev.User, ev.Host, ev.Fields["sent"], d)
				}
			}
		})
	}
}

// TestPlantDistribution checks the shares of suspicious records and of
// each template over many records against their weights.
func TestPlantDistribution(t *testing.T) {
	const n = 300_000
	for _, share := range []float64{0, 0.001, 0.01, 0.2, 1} {
		t.Run(strconv.FormatFloat(share, 'g', -1, 64), func(t *testing.T) {
			g, err := NewGenerator(ProfilePlant, share)
			if err != nil {
				t.Fatal(err)
			}
			counts := map[string]int{}
			var susp int
			for seq := uint64(1); seq <= n; seq++ {
				d := g.draw("dist", seq)
				counts[d.t.name]++
				if d.suspicious {
					susp++
				}
				if g.IsSuspicious("dist", seq) != d.suspicious {
					t.Fatalf("seq %d: IsSuspicious disagrees with the record", seq)
				}
			}
			// Binomial: within 5 standard deviations (and 1 record).
			within := func(what string, got int, p float64, total int) {
				t.Helper()
				mean := p * float64(total)
				sd := math.Sqrt(float64(total) * p * (1 - p))
				if math.Abs(float64(got)-mean) > 5*sd+1 {
					t.Errorf("%s: %d of %d, want %.0f ± %.0f", what, got, total, mean, 5*sd+1)
				}
			}
			within("suspicious", susp, share, n)
			for _, set := range []struct {
				ts    []template
				total int
			}{{routine, n - susp}, {suspicious, susp}} {
				var sum int
				for _, tp := range set.ts {
					sum += tp.weight
				}
				for _, tp := range set.ts {
					within(tp.name, counts[tp.name], float64(tp.weight)/float64(sum), set.total)
				}
			}
		})
	}
}

func TestNewGeneratorRejects(t *testing.T) {
	for _, tt := range []struct {
		profile string
		share   float64
	}{{"office", 0.1}, {"", 0.1}, {ProfilePlant, -0.1}, {ProfilePlant, 1.5}, {ProfilePlant, math.NaN()}} {
		if _, err := NewGenerator(tt.profile, tt.share); err == nil {
			t.Errorf("NewGenerator(%q, %v) accepted", tt.profile, tt.share)
		}
	}
}

// TestPlantRules runs plant records through the real parser, the demo
// plant's site model and the OT rule pack (as c981 analyze does): routine
// records raise no alert, and every suspicious template raises the rules
// it is written for, in every format.
func TestPlantRules(t *testing.T) {
	root := filepath.Join("..", "..", "..")
	m, err := site.Load(filepath.Join(root, "deploy", "demo", "site.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	zones, err := zone.NewSet(m)
	if err != nil {
		t.Fatal(err)
	}
	rules, err := rule.LoadDir(filepath.Join(root, "rules"))
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	// analyze returns the alerts of n records of the plant profile with the
	// given share, and the template of each sequence number.
	analyze := func(t *testing.T, share float64, n uint64) ([]event.Alert, map[string]drawn) {
		t.Helper()
		g, err := NewGenerator(ProfilePlant, share)
		if err != nil {
			t.Fatal(err)
		}
		p := syslog.NewParser(syslog.Options{Site: m.Site.ID, Source: "load", Transport: "tcp"})
		pairs := zone.NewPairs(zone.DefaultPairCapacity)
		engine := correlate.NewEngine(rules, correlate.NewMemoryStore(), correlate.EngineOptions{
			Now: func() time.Time { return goldenSent }, Logger: quiet})
		byID := map[string]drawn{}
		var evs []event.Event
		for seq := uint64(1); seq <= n; seq++ {
			id := "ev-" + strconv.FormatUint(seq, 10)
			ev, err := p.Parse(g.Line(nil, FormatMix, "rules", seq, goldenSent), id, "peer", goldenSent)
			if err != nil {
				t.Fatal(err)
			}
			if zones.Enrich(&ev) {
				pairs.Mark(&ev)
			}
			evs = append(evs, ev)
			byID[id] = g.draw("rules", seq)
		}
		alerts, _, err := engine.Process(context.Background(), evs)
		if err != nil {
			t.Fatal(err)
		}
		return alerts, byID
	}

	t.Run("routine raises nothing", func(t *testing.T) {
		alerts, _ := analyze(t, 0, 30_000)
		for _, a := range alerts[:min(len(alerts), 5)] {
			t.Errorf("routine traffic raised %s on events %v: %s", a.RuleID, a.EventIDs, a.Summary)
		}
		if len(alerts) > 5 {
			t.Errorf("... %d alerts in all", len(alerts))
		}
	})

	t.Run("suspicious records raise their rules", func(t *testing.T) {
		// Every suspicious template in every format: 7 templates × 3
		// formats, drawn often enough at a share of 0.3.
		alerts, byID := analyze(t, 0.3, 6000)
		// Which rules the suspicious records of each template (and
		// format) raised; OT-008 needs ten scan targets, so it is checked
		// per template only.
		want := map[string][]string{
			"office-write": {"OT-006", "OT-007"},
			"hmi-download": {"OT-001", "OT-006"},
			"mode-change":  {"OT-002", "OT-006"},
			"no-conduit":   {"OT-006"},
			"scan":         {"OT-005", "OT-006", "OT-008"},
			"sis-write":    {"OT-003", "OT-006", "OT-007"},
			"failed-logon": {"OT-020"},
		}
		// OT-015 (a write storm: 50 writes of one source to one
		// controller within 60 s) may join the writes: at this share and
		// one send time there are that many.
		may := map[string]string{"office-write": "OT-015", "sis-write": "OT-015"}
		got := map[string]map[string]bool{}
		for _, a := range alerts {
			for _, id := range a.EventIDs {
				d, ok := byID[id]
				if !ok || !d.suspicious {
					t.Errorf("%s raised on %s, a routine record (%s)", a.RuleID, id, d.t.name)
					continue
				}
				if got[d.t.name] == nil {
					got[d.t.name] = map[string]bool{}
				}
				got[d.t.name][a.RuleID] = true
			}
		}
		for name, rules := range want {
			var have []string
			for r := range got[name] {
				if r != may[name] {
					have = append(have, r)
				}
			}
			slices.Sort(have)
			// OT-006 needs kind flow: the CEF records (sensor alerts)
			// do not raise it, the syslog ones do, so it is in the set.
			if !slices.Equal(have, rules) {
				t.Errorf("%s raised %v, want %v", name, have, rules)
			}
		}
		if len(got) != len(suspicious) {
			t.Errorf("%d suspicious templates raised alerts, want %d", len(got), len(suspicious))
		}
		t.Logf("%d alerts from 6000 records with a suspicious share of 0.3: %.3f alerts per record", len(alerts), float64(len(alerts))/6000)
	})
}

// FuzzSeq checks that Seq never panics and that a record it accepts
// carries the run and sequence number it reports.
func FuzzSeq(f *testing.F) {
	g, _ := NewGenerator(ProfilePlant, 0.5)
	for seq := uint64(1); seq <= 6; seq++ {
		f.Add(g.Line(nil, FormatMix, "fz", seq, goldenSent))
		f.Add(Line(nil, FormatMix, "fz", seq, goldenSent))
	}
	f.Add([]byte(`<13>x run="a" seq=1`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		run, seq, ok := Seq(raw)
		if !ok {
			return
		}
		if !bytes.Contains(raw, []byte(run)) || !bytes.Contains(raw, []byte(strconv.FormatUint(seq, 10))) {
			t.Errorf("Seq(%q) = %q %d: not in the record", raw, run, seq)
		}
	})
}

func BenchmarkPlantLine(b *testing.B) {
	g, err := NewGenerator(ProfilePlant, DefaultSuspicious)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, 512)
	now := time.Now()
	var seq uint64
	b.ReportAllocs()
	for b.Loop() {
		seq++
		buf = g.Line(buf[:0], FormatMix, "bench", seq, now)
	}
	b.ReportMetric(float64(seq)/b.Elapsed().Seconds(), "lines/s")
}
