package natsconf_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/c981/c981/services/c981/pipeline"
	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/shared/bustest"
	"github.com/c981/c981/services/shared/event"
)

// freePorts reserves loopback ports for servers to take.
var freePorts = bustest.FreePorts

// startCluster starts three JetStream servers routed into one cluster.
func startCluster(t *testing.T) []*server.Server {
	t.Helper()
	ports := freePorts(t, 3)
	var routes []string
	for _, p := range ports {
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", p))
	}
	var srvs []*server.Server
	for i, p := range ports {
		opts := &server.Options{
			ServerName: fmt.Sprintf("n%d", i+1),
			Host:       "127.0.0.1",
			Port:       -1,
			JetStream:  true,
			StoreDir:   t.TempDir(),
			MaxPayload: 8 << 20,
			Cluster:    server.ClusterOpts{Name: "c981", Host: "127.0.0.1", Port: p},
			Routes:     server.RoutesFromStr(strings.Join(routes, ",")),
			NoLog:      true,
			NoSigs:     true,
		}
		s, err := server.NewServer(opts)
		if err != nil {
			t.Fatal(err)
		}
		go s.Start()
		srvs = append(srvs, s)
		t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	}
	for _, s := range srvs {
		if !s.ReadyForConnections(20 * time.Second) {
			t.Fatalf("%s not ready", s.Name())
		}
	}
	return srvs
}

func clientURLs(srvs []*server.Server) string {
	var urls []string
	for _, s := range srvs {
		urls = append(urls, s.ClientURL())
	}
	return strings.Join(urls, ",")
}

// TestClusterKillNodeLosesNothing publishes batches to R3 streams on a
// three-node JetStream cluster while one node is killed, then counts the
// stream by sequence: every batch is stored exactly once.
func TestClusterKillNodeLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster test")
	}
	srvs := startCluster(t)
	nc, js, err := bus.Connect(clientURLs(srvs), t.Name())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	opts := bus.DefaultStreamOptions()
	opts.Replicas = 3
	for { // the meta leader is elected a few seconds after start
		sctx, scancel := context.WithTimeout(ctx, 5*time.Second)
		err := bus.EnsureStreams(sctx, js, opts)
		scancel()
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("streams: %v", err)
		}
		time.Sleep(250 * time.Millisecond)
	}

	const batches, perBatch = 300, 20
	var victim *server.Server
	for i := range batches {
		if i == batches/3 {
			// The node that leads C981_RAW dies under load.
			victim = streamLeader(t, ctx, js, srvs, bus.StreamRaw)
			victim.Shutdown()
		}
		evs := make([]event.Event, perBatch)
		for j := range evs {
			evs[j] = event.Event{ID: event.NewID("cluster", strconv.Itoa(i), strconv.Itoa(j)), Site: "demo-plant", Message: "m"}
		}
		if err := bus.PublishRecords(ctx, js, bus.RawSubject("demo-plant", "syslog-tcp"), "batch-"+strconv.Itoa(i), evs); err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
	}
	victim.WaitForShutdown()
	if l := streamLeader(t, ctx, js, srvs, bus.StreamRaw); l == victim {
		t.Fatal("the dead node still leads the stream")
	}

	var info *jetstream.StreamInfo
	retry(t, ctx, "info of "+bus.StreamRaw, func(ctx context.Context) error {
		st, err := js.Stream(ctx, bus.StreamRaw)
		if err != nil {
			return err
		}
		info, err = st.Info(ctx)
		return err
	})
	if info.Config.Replicas != 3 {
		t.Fatalf("stream R%d, want R3", info.Config.Replicas)
	}
	if info.State.Msgs != batches || info.State.FirstSeq != 1 || info.State.LastSeq != batches {
		t.Fatalf("stream holds %d batches, seq %d..%d; want %d, 1..%d", info.State.Msgs, info.State.FirstSeq, info.State.LastSeq, batches, batches)
	}
	// Read every sequence back: each batch id once, every event there.
	var cons jetstream.Consumer
	retry(t, ctx, "counting consumer", func(ctx context.Context) (err error) {
		cons, err = js.CreateOrUpdateConsumer(ctx, bus.StreamRaw, bus.ConsumerConfig("count", batches, time.Minute))
		return err
	})
	seen := map[string]bool{}
	events := 0
	for len(seen) < batches {
		msgs, err := cons.Fetch(100, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for m := range msgs.Messages() {
			n++
			id := m.Headers().Get(jetstream.MsgIDHeader)
			if seen[id] {
				t.Fatalf("batch %s stored twice", id)
			}
			seen[id] = true
			evs, err := event.UnmarshalEvents(m.Data())
			if err != nil {
				t.Fatal(err)
			}
			events += len(evs)
			if err := m.Ack(); err != nil {
				t.Fatal(err)
			}
		}
		if n == 0 {
			t.Fatalf("read %d of %d batches, then nothing", len(seen), batches)
		}
	}
	if events != batches*perBatch {
		t.Fatalf("%d events read back, want %d", events, batches*perBatch)
	}
}

// retry runs f with a 10 s context until it succeeds or ctx ends: a
// JetStream API request sent while a stream elects a new leader is not
// answered and would otherwise wait for the whole test's context.
func retry(t *testing.T, ctx context.Context, what string, f func(context.Context) error) {
	t.Helper()
	for {
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := f(actx)
		cancel()
		if err == nil {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// streamLeader returns the server that leads stream.
func streamLeader(t *testing.T, ctx context.Context, js jetstream.JetStream, srvs []*server.Server, stream string) *server.Server {
	t.Helper()
	var info *jetstream.StreamInfo
	retry(t, ctx, "info of "+stream, func(ctx context.Context) error {
		st, err := js.Stream(ctx, stream)
		if err != nil {
			return err
		}
		info, err = st.Info(ctx)
		return err
	})
	if info.Cluster == nil {
		t.Fatalf("%s has no cluster info", stream)
	}
	for _, s := range srvs {
		if s.Name() == info.Cluster.Leader {
			return s
		}
	}
	t.Fatalf("leader %q of %s is not one of the servers", info.Cluster.Leader, stream)
	return nil
}

// TestClusterEnrichStageAcrossNodeLoss runs the real enrich stage
// (`c981 enrich`, pipeline.RunStage) against the three-node cluster with R3
// streams and kills the node leading C981_EVENTS while batches flow: every
// raw event comes out enriched exactly once.
func TestClusterEnrichStageAcrossNodeLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster test")
	}
	srvs := startCluster(t)
	cfg := pipeline.Default()
	cfg.NATS.URL = clientURLs(srvs)
	cfg.Streams.Replicas = 3
	cfg.MetricsAddr = "127.0.0.1:0"
	cfg.Enrich.Sites = []string{repo + "/deploy/demo/site.yaml"}
	nc, js, err := bus.Connect(cfg.NATS.URL, t.Name())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	for { // provisioning, as the nats-provision job does, once the meta leader is up
		sctx, scancel := context.WithTimeout(ctx, 5*time.Second)
		err := bus.EnsureStreams(sctx, js, cfg.Streams)
		scancel()
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("streams: %v", err)
		}
		time.Sleep(250 * time.Millisecond)
	}
	stageCtx, stopStage := context.WithCancel(ctx)
	stageDone := make(chan error, 1)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	go func() { stageDone <- pipeline.RunStage(stageCtx, "enrich", cfg, log) }()
	defer func() {
		stopStage()
		if err := <-stageDone; err != nil {
			t.Errorf("enrich stage: %v", err)
		}
	}()

	const batches, perBatch = 200, 10
	want := map[string]bool{}
	for i := range batches {
		if i == batches/2 {
			streamLeader(t, ctx, js, srvs, bus.StreamEvents).Shutdown()
		}
		evs := make([]event.Event, perBatch)
		for j := range evs {
			id := event.NewID("cluster-enrich", strconv.Itoa(i), strconv.Itoa(j))
			want[id] = true
			evs[j] = event.Event{ID: id, Site: "demo-plant", Source: "syslog-tcp", Kind: event.KindFlow,
				SrcIP: "10.20.2.11", DstIP: "10.20.1.11", DstPort: 502, Proto: "tcp", Message: "m"}
		}
		if err := bus.PublishRecords(ctx, js, bus.RawSubject("demo-plant", "syslog-tcp"), "raw-"+strconv.Itoa(i), evs); err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
	}
	// The stream has just lost its leader.
	var cons jetstream.Consumer
	retry(t, ctx, "counting consumer", func(ctx context.Context) (err error) {
		cons, err = js.CreateOrUpdateConsumer(ctx, bus.StreamEvents, bus.ConsumerConfig("count", 1000, time.Minute))
		return err
	})
	got := map[string]int{}
	for len(got) < len(want) && ctx.Err() == nil {
		msgs, err := cons.Fetch(100, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		for m := range msgs.Messages() {
			evs, err := event.UnmarshalEvents(m.Data())
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range evs {
				got[e.ID]++
				if e.Src.Zone == "" {
					t.Fatalf("event %s not enriched", e.ID)
				}
			}
			if err := m.Ack(); err != nil {
				t.Fatal(err)
			}
		}
	}
	for id := range want {
		if got[id] != 1 {
			t.Errorf("event %s enriched %d times, want once", id, got[id])
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%d enriched events, want %d", len(got), len(want))
	}
}
