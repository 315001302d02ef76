package natsconf_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/c981/c981/services/c981/natsconf"
	"github.com/c981/c981/services/correlate/correlate"
	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/shared/event"
)

// TestLeastPrivilegeCorrelate runs the real correlator as the generated
// c981-correlate user after a crash: a predecessor took a message and died
// without acknowledging it, so the successor resets its consumer to that
// message (CONSUMER.RESET) and checkpoints its rule state in its state
// bucket (C981_CORRELATE_STATE) besides its incident bucket. Every message
// must be applied and acknowledged within seconds, far inside AckWait.
func TestLeastPrivilegeCorrelate(t *testing.T) {
	as := startAuthServer(t, natsconf.Options{Sites: []string{"demo-plant"}})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	prov := as.connect(t, natsconf.ProvisionUser)
	if err := bus.EnsureStreams(ctx, prov.js, bus.DefaultStreamOptions()); err != nil {
		t.Fatalf("provision: %v", err)
	}
	// Failed logins from one source to a PLC: the pack's threshold rules
	// keep per-key state, so the state bucket is written.
	enrich := as.connect(t, natsconf.ServiceUser(bus.StageEnrich))
	const messages, perMsg = 5, 20
	t0 := time.Unix(1_790_000_000, 0).UTC()
	for m := range messages {
		evs := make([]event.Event, perMsg)
		for i := range evs {
			at := t0.Add(time.Duration(m*perMsg+i) * time.Second)
			evs[i] = event.Event{ID: event.NewID("lp-correlate", strconv.Itoa(m), strconv.Itoa(i)), Time: at, ReceivedAt: at,
				Site: "demo-plant", Source: "test", Format: "rfc5424", Transport: "tcp", Kind: event.KindAuth, Category: "authentication",
				Action: "login", Outcome: "failure", User: "admin", SrcIP: "10.10.5.21", DstIP: "10.20.1.11", Facility: -1, Severity: 4,
				Src: event.Endpoint{IP: "10.10.5.21", Zone: "enterprise", Purdue: 4, Role: "unknown"},
				Dst: event.Endpoint{IP: "10.20.1.11", Known: true, AssetID: "plc-01", Role: "plc", Zone: "cell1", ZoneKind: "control", Purdue: 1}}
		}
		if err := bus.PublishRecords(ctx, enrich.js, bus.EventsSubject("demo-plant"), "lp-correlate-"+strconv.Itoa(m), evs); err != nil {
			t.Fatalf("enrich publishes events: %v", err)
		}
	}
	user := natsconf.ServiceUser(bus.StageCorrelate)
	cfg := correlate.Config{RulesDir: filepath.Join(repo, "rules"), AckWait: time.Minute, RetryDelay: 50 * time.Millisecond, ReloadInterval: -1}
	durable := bus.ConsumerConfig(bus.ConsumerCorrelate, 64, cfg.AckWait)

	// The predecessor takes the first message and dies.
	doomed := as.connect(t, user)
	cons, err := doomed.js.CreateOrUpdateConsumer(ctx, bus.StreamEvents, durable)
	if err != nil {
		t.Fatalf("correlate creates its durable: %v", err)
	}
	batch, err := cons.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	for range batch.Messages() {
	}
	doomed.nc.Close()

	c := as.connect(t, user)
	svc, err := correlate.New(cfg, correlate.Deps{JS: c.js, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Registry: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- svc.Run(rctx) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var info *jetstream.ConsumerInfo
		live, err := c.js.Consumer(ctx, bus.StreamEvents, bus.ConsumerCorrelate)
		if err == nil {
			info, err = live.Info(ctx)
		}
		if err == nil && info.AckFloor.Stream == messages && info.NumAckPending == 0 {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("the correlator stopped under its generated user: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("not every message applied within 30 s (AckWait is %s): %+v, %v", cfg.AckWait, info, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if n := streamMsgs(t, c.js, "KV_"+correlate.DefaultStateBucket); n == 0 {
		t.Fatal("the correlator wrote no checkpoint to its state bucket")
	}
}
