package enrich

import (
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/c981/c981/services/shared/bustest"
	"github.com/c981/c981/services/shared/event"
)

// versionedModel is a small site whose every enrichment detail depends on
// the version: the PLC's name, its criticality and the conduit port.
func versionedModel(v int) string {
	crit := []string{"low", "high"}[v%2]
	return fmt.Sprintf(`version: %[1]d
site: {id: r, timezone: UTC}
zones:
  - {id: r/sup, kind: supervisory, purdue_level: 2, security_level: {target: 2}, cidrs: [10.1.2.0/24]}
  - {id: r/ctl, kind: control, purdue_level: 1, security_level: {target: 2}, cidrs: [10.1.1.0/24]}
conduits:
  - id: r/c
    between: [r/sup, r/ctl]
    flows:
      - {id: poll, src: {zone: r/sup}, dst: {zone: r/ctl}, transport: tcp, ports: [%[2]d]}
assets:
  - {id: r/hmi, role: hmi, ips: [10.1.2.10]}
  - {id: r/plc, name: PLC v%[1]d, role: plc, ips: [10.1.1.10], criticality: %[3]s}
`, v, 1000+v, crit)
}

func writeModel(t testing.TB, path, data string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil { // atomic replace, as editors and config management do
		t.Fatal(err)
	}
}

// checkConsistent fails unless every event of the batch was enriched with
// one and the same model version.
func checkConsistent(evs []event.Event) error {
	v := evs[0].ModelVersion
	for i := range evs {
		ev := &evs[i]
		crit := []string{"low", "high"}[ev.ModelVersion%2]
		switch {
		case ev.ModelVersion != v:
			return fmt.Errorf("event %d: model version %d, batch started with %d", i, ev.ModelVersion, v)
		case ev.Dst.AssetName != fmt.Sprintf("PLC v%d", v) || ev.Dst.Criticality != crit:
			return fmt.Errorf("event %d: version %d but dst %+v", i, v, ev.Dst)
		case ev.DstPort == 1000+v && !ev.Flow.Allowed, ev.DstPort != 1000+v && ev.Flow.Allowed:
			return fmt.Errorf("event %d: version %d, port %d: flow %+v", i, v, ev.DstPort, ev.Flow)
		}
	}
	return nil
}

// TestReloadRace enriches batches concurrently while the model file is
// rewritten and reloaded (valid and invalid versions in turn): every batch
// is enriched entirely by one model version, an invalid model never replaces
// a valid one, and every failure is counted. Run it with -race.
func TestReloadRace(t *testing.T) {
	env := bustest.Start(t)
	path := filepath.Join(t.TempDir(), "r.yaml")
	writeModel(t, path, versionedModel(1))
	reg := prometheus.NewRegistry()
	svc, err := New(Config{Sites: []string{path}, ReloadInterval: -1}, Deps{JS: env.JS, Registry: reg, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	evs := make([]event.Event, 64)
	for i := range evs {
		evs[i] = rawEvent(fmt.Sprintf("e%d", i), "r", "10.1.2.10", "10.1.1.10", 1000+i%8, "", "")
	}
	raw, err := event.MarshalEvents(evs)
	if err != nil {
		t.Fatal(err)
	}
	var (
		stop     atomic.Bool
		wg       sync.WaitGroup
		seen     sync.Map // versions observed by the enrichers
		failures atomic.Int64
	)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				groups, err := decodeEnrich(svc, raw)
				if err != nil {
					t.Error(err)
					return
				}
				out := groups[0].events
				if err := checkConsistent(out); err != nil {
					failures.Add(1)
					t.Error(err)
					return
				}
				seen.Store(out[0].ModelVersion, true)
			}
		}()
	}
	const versions = 7
	invalid := 0
	for v := 2; v <= versions; v++ {
		writeModel(t, path, versionedModel(v))
		if err := svc.Reload(); err != nil {
			t.Fatalf("reload v%d: %v", v, err)
		}
		time.Sleep(5 * time.Millisecond)
		// An invalid version (asset outside its zone) must keep v.
		writeModel(t, path, strings.Replace(versionedModel(v+100), "10.1.1.10]", "10.9.9.9]", 1))
		if err := svc.Reload(); err == nil || !strings.Contains(err.Error(), "asset r/plc ip 10.9.9.9 is in no zone's CIDRs") {
			t.Fatalf("reload of an invalid model: %v", err)
		}
		invalid++
		if got, _ := svc.Sites().Index("r"); got.Version() != v {
			t.Fatalf("after an invalid reload the version is %d, want %d", got.Version(), v)
		}
		time.Sleep(5 * time.Millisecond)
	}
	stop.Store(true)
	wg.Wait()
	if failures.Load() > 0 {
		t.Fatalf("%d inconsistent batches", failures.Load())
	}
	n := 0
	seen.Range(func(k, _ any) bool { n++; return true })
	if n < 2 {
		t.Errorf("the enrichers saw %d model versions; the test did not overlap reloads", n)
	}
	if got := metric(t, reg, "c981_enrich_site_model_reload_errors_total"); got != float64(invalid) {
		t.Errorf("reload errors = %v, want %d", got, invalid)
	}
	if got := metric(t, reg, "c981_enrich_site_model_reloads_total"); got != versions-1 {
		t.Errorf("reloads = %v, want %d", got, versions-1)
	}
	if got := metric(t, reg, "c981_enrich_site_model_version", "site", "r"); got != versions {
		t.Errorf("model version gauge = %v, want %d", got, versions)
	}
}

// TestReloadWatch runs the stage and changes the model file: polling picks
// up a valid change, keeps the model on an invalid one, and SIGHUP forces a
// reload.
func TestReloadWatch(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "r.yaml")
	writeModel(t, path, versionedModel(1))
	h := start(t, Config{Sites: []string{dir}, ReloadInterval: 100 * time.Millisecond})
	version := func() int {
		ix, ok := h.svc.Sites().Index("r")
		if !ok {
			return 0
		}
		return ix.Version()
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	writeModel(t, path, versionedModel(2))
	waitFor("version 2", func() bool { return version() == 2 })

	writeModel(t, path, "version: 3\nsite: {id: r}\n") // no timezone: invalid
	waitFor("a reload error", func() bool { return metric(t, h.reg, "c981_enrich_site_model_reload_errors_total") == 1 })
	time.Sleep(300 * time.Millisecond) // more polls of the same bad file
	if v, errs := version(), metric(t, h.reg, "c981_enrich_site_model_reload_errors_total"); v != 2 || errs != 1 {
		t.Fatalf("after an invalid file: version %d, %v reload errors; want 2 and 1 (a bad file is reported once)", v, errs)
	}

	// A second site file in the directory is picked up.
	writeModel(t, filepath.Join(dir, "s.yaml"), strings.NewReplacer("r/", "s/", "{id: r,", "{id: s,").Replace(versionedModel(1)))
	writeModel(t, path, versionedModel(4))
	waitFor("version 4 and site s", func() bool {
		_, ok := h.svc.Sites().Index("s")
		return version() == 4 && ok
	})

	// SIGHUP reloads even when nothing changed. The test listens too, so
	// the signal never terminates the test binary.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	before := metric(t, h.reg, "c981_enrich_site_model_reloads_total")
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	<-hup
	waitFor("a SIGHUP reload", func() bool { return metric(t, h.reg, "c981_enrich_site_model_reloads_total") > before })
}

// TestNewPair marks the first flow between two endpoints across batches and
// counts it; the memory survives a reload.
func TestNewPair(t *testing.T) {
	env := bustest.Start(t)
	reg := prometheus.NewRegistry()
	svc, err := New(Config{Sites: []string{demoSite}, ReloadInterval: -1}, Deps{JS: env.JS, Registry: reg, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	batch := func(evs ...event.Event) []bool {
		t.Helper()
		raw, err := event.MarshalEvents(evs)
		if err != nil {
			t.Fatal(err)
		}
		groups, err := decodeEnrich(svc, raw)
		if err != nil {
			t.Fatal(err)
		}
		var got []bool
		for _, ev := range groups[0].events {
			got = append(got, ev.Flow.NewPair)
		}
		return got
	}
	hmiPLC := rawEvent("a", "demo-plant", "10.20.2.11", "10.20.1.11", 502, "modbus", "read")
	reply := rawEvent("b", "demo-plant", "10.20.1.11", "10.20.2.11", 502, "modbus", "read")
	other := rawEvent("c", "demo-plant", "10.20.2.12", "10.20.1.11", 502, "modbus", "read")
	if got := fmt.Sprint(batch(hmiPLC, reply, other, hmiPLC)); got != "[true false true false]" {
		t.Errorf("first batch new_pair = %s", got)
	}
	if err := svc.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(batch(other, hmiPLC)); got != "[false false]" {
		t.Errorf("after reload new_pair = %s", got)
	}
	if got := metric(t, reg, "c981_enrich_new_pairs_total"); got != 0 {
		t.Errorf("c981_enrich_new_pairs_total = %v before Handle counted anything", got)
	}
	if got := metric(t, reg, "c981_enrich_new_pair_memory_pairs"); got != 2 {
		t.Errorf("c981_enrich_new_pair_memory_pairs = %v, want 2", got)
	}
}

// TestNewPairBound: with new_pair_capacity 4 the memory holds at most 4 pairs
// of a site, counts the evictions, and a forgotten pair is new again.
func TestNewPairBound(t *testing.T) {
	env := bustest.Start(t)
	reg := prometheus.NewRegistry()
	svc, err := New(Config{Sites: []string{demoSite}, ReloadInterval: -1, NewPairCapacity: 4}, Deps{JS: env.JS, Registry: reg, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	var evs []event.Event
	for i := range 8 { // 8 distinct pairs: supervisory hosts polling one PLC
		evs = append(evs, rawEvent(fmt.Sprint("e", i), "demo-plant", fmt.Sprintf("10.20.2.%d", 100+i), "10.20.1.11", 502, "modbus", "read"))
	}
	evs = append(evs, evs[0]) // forgotten by now
	raw, err := event.MarshalEvents(evs)
	if err != nil {
		t.Fatal(err)
	}
	groups, err := decodeEnrich(svc, raw)
	if err != nil {
		t.Fatal(err)
	}
	for i, ev := range groups[0].events {
		if !ev.Flow.NewPair {
			t.Errorf("event %d (%s -> %s): new_pair false", i, ev.SrcIP, ev.DstIP)
		}
	}
	if held := metric(t, reg, "c981_enrich_new_pair_memory_pairs"); held > 4 || held < 2 {
		t.Errorf("%v pairs held, bound 4", held)
	}
	// 9 insertions into generations of 2: the old generation was dropped
	// with 2 pairs 3 times.
	if got := metric(t, reg, "c981_enrich_new_pair_evictions_total"); got != 6 {
		t.Errorf("c981_enrich_new_pair_evictions_total = %v, want 6", got)
	}
}

// TestReloadMissingFile: a model file that disappears is one failed reload
// (counted once, however often it is polled); the old model stays; the file
// coming back is picked up.
func TestReloadMissingFile(t *testing.T) {
	env := bustest.Start(t)
	path := filepath.Join(t.TempDir(), "r.yaml")
	writeModel(t, path, versionedModel(1))
	reg := prometheus.NewRegistry()
	svc, err := New(Config{Sites: []string{path}, ReloadInterval: -1}, Deps{JS: env.JS, Registry: reg, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	svc.reloadIfChanged() // unchanged: nothing happens
	if got := metric(t, reg, "c981_enrich_site_model_reloads_total"); got != 0 {
		t.Fatalf("reloads of unchanged files = %v", got)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		svc.reloadIfChanged()
	}
	if got := metric(t, reg, "c981_enrich_site_model_reload_errors_total"); got != 1 {
		t.Errorf("reload errors for a missing file polled 3 times = %v, want 1", got)
	}
	if ix, ok := svc.Sites().Index("r"); !ok || ix.Version() != 1 {
		t.Fatalf("the old model is gone after a failed reload")
	}
	writeModel(t, path, versionedModel(2))
	svc.reloadIfChanged()
	if ix, _ := svc.Sites().Index("r"); ix.Version() != 2 {
		t.Errorf("version %d after the file came back, want 2", ix.Version())
	}
}
