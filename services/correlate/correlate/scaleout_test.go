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

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/shared/bustest"
	"github.com/c981/c981/services/shared/event"
)

// scaleOutInput is one message per site and step: for every site an SIS
// write (match rules), three restarts of an RTU (match rule with dedup),
// and a program upload followed by a large transfer to an unknown host
// (sequence OT-014).
func scaleOutInput(sites int) [][]event.Event {
	rtu := plc101
	rtu.IP, rtu.AssetID, rtu.Role = "10.20.1.31", "demo-plant/rtu-01", "rtu"
	outside := event.Endpoint{IP: "203.0.113.9", Role: "unknown", Zone: "unknown", Purdue: -1}
	var msgs [][]event.Event
	for step := range 4 {
		for s := range sites {
			site := "plant-" + strconv.Itoa(s)
			id := func(n string) string { return site + "-" + n }
			var evs []event.Event
			switch step {
			case 0:
				evs = []event.Event{flow(id("sis"), 0, plc101, sis01, "write", false), flow(id("up"), time.Second, ews, plc101, "program_upload", true)}
			case 1:
				evs = []event.Event{flow(id("r1"), time.Minute, ews, rtu, "cold_restart", true), flow(id("r2"), 2*time.Minute, ews, rtu, "restart", true)}
			case 2:
				x := flow(id("exfil"), 3*time.Minute, ews, outside, "", false)
				x.BytesOut = 5_000_000
				evs = []event.Event{x}
			case 3:
				evs = []event.Event{flow(id("r3"), 20*time.Minute, ews, rtu, "cold_restart", true)}
			}
			for i := range evs {
				evs[i].Site = site
			}
			msgs = append(msgs, evs)
		}
	}
	return msgs
}

func startReplica(t *testing.T, js jetstream.JetStream, p PartitionConfig) func() {
	t.Helper()
	svc, err := New(Config{RulesDir: packDir, RetryDelay: 50 * time.Millisecond, Partitions: p}, Deps{
		JS: js, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Registry: prometheus.NewRegistry(),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
}

// correlateWith runs the input through `replicas` correlators on a fresh
// JetStream and returns the sorted alert ids and the latest version of
// every incident once every consumer has acknowledged everything.
func correlateWith(t *testing.T, replicas int, msgs [][]event.Event) ([]string, map[string]event.Incident) {
	t.Helper()
	env := bustest.Start(t)
	for i := range replicas {
		stop := startReplica(t, env.JS, PartitionConfig{Count: replicas, Index: i})
		defer stop()
	}
	for i, evs := range msgs {
		if err := bus.PublishRecords(context.Background(), env.JS, bus.EventsSubject(evs[0].Site), "in-"+strconv.Itoa(i), evs); err != nil {
			t.Fatal(err)
		}
	}
	names := []string{bus.ConsumerCorrelate}
	if replicas > 1 {
		names = nil
		for i := range replicas {
			names = append(names, PartitionConfig{Count: replicas, Index: i}.consumer())
		}
	}
	waitFor(t, "all replicas to acknowledge everything", func() bool {
		for _, n := range names {
			cons, err := env.JS.Consumer(context.Background(), bus.StreamEvents, n)
			if err != nil {
				return false
			}
			info, err := cons.Info(context.Background())
			if err != nil || info.NumAckPending > 0 || info.NumPending > 0 || info.Delivered.Stream < uint64(len(msgs)) {
				return false
			}
		}
		return true
	})
	var ids []string
	for _, a := range readStream[event.Alert](t, env.JS, bus.StreamAlerts) {
		ids = append(ids, a.ID+" "+a.RuleID+" "+a.Site)
	}
	slices.Sort(ids)
	incs := map[string]event.Incident{}
	for _, inc := range readStream[event.Incident](t, env.JS, bus.StreamIncidents) {
		if cur, ok := incs[inc.ID]; !ok || inc.Version > cur.Version {
			incs[inc.ID] = inc
		}
	}
	return ids, incs
}

// TestThreeReplicas: three partitioned correlators on one JetStream raise
// exactly the alerts and incidents of one correlator.
func TestThreeReplicas(t *testing.T) {
	msgs := scaleOutInput(6)
	p := PartitionConfig{Count: 3}
	owners := map[int]bool{}
	for s := range 6 {
		for i := range 3 {
			p.Index = i
			if p.Owns("plant-" + strconv.Itoa(s)) {
				owners[i] = true
			}
		}
	}
	if len(owners) < 2 {
		t.Fatalf("the six sites hash to %d replicas; the test needs at least two", len(owners))
	}
	oneIDs, oneIncs := correlateWith(t, 1, msgs)
	threeIDs, threeIncs := correlateWith(t, 3, msgs)
	has := func(rule string) bool {
		return slices.ContainsFunc(oneIDs, func(s string) bool { return strings.Contains(s, " "+rule+" ") })
	}
	if !has("OT-003") || !has("OT-014") || !has("OT-016") {
		t.Fatalf("one replica raised %v; want OT-003, OT-014 and OT-016 alerts", oneIDs)
	}
	if !slices.Equal(oneIDs, threeIDs) {
		t.Errorf("alerts differ:\n one   %v\n three %v", oneIDs, threeIDs)
	}
	if len(oneIncs) != len(threeIncs) {
		t.Errorf("incidents: one replica %d, three %d", len(oneIncs), len(threeIncs))
	}
	for id, inc := range oneIncs {
		other, ok := threeIncs[id]
		if !ok || other.Version != inc.Version || !slices.Equal(other.AlertIDs, inc.AlertIDs) || other.Risk != inc.Risk {
			t.Errorf("incident %s (%s): one replica v%d %d alerts, three replicas v%d %d alerts", id, inc.Key, inc.Version, len(inc.AlertIDs), other.Version, len(other.AlertIDs))
		}
	}
}
