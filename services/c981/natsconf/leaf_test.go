package natsconf_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/c981/c981/services/c981/loadgen"
	"github.com/c981/c981/services/c981/natsconf"
	"github.com/c981/c981/services/c981/pipeline"
	"github.com/c981/c981/services/ingest/syslog"
	"github.com/c981/c981/services/respond/executor"
	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/shared/event"
)

// startHub starts a central JetStream server from the generated
// accounts.conf and leafnodes.conf, with a leafnode listener.
func startHub(t *testing.T, o natsconf.Options) (*server.Server, int, map[string]string) {
	t.Helper()
	dir := t.TempDir()
	leafPort := freePorts(t, 1)[0]
	for name, data := range map[string][]byte{"accounts.conf": natsconf.Generate(o), "leafnodes.conf": natsconf.GenerateLeaf(o)} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	conf := fmt.Sprintf(`listen: "127.0.0.1:-1"
server_name: hub
jetstream { store_dir: %q }
include "accounts.conf"
leafnodes {
  listen: "127.0.0.1:%d"
  # the sites reach the hub only through the address they are given (the
  # store-and-forward test's WAN link), not one the hub advertises
  no_advertise: true
  include "leafnodes.conf"
}
`, filepath.Join(dir, "js"), leafPort)
	if err := os.WriteFile(filepath.Join(dir, "hub.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	pw := map[string]string{}
	for _, u := range natsconf.Users(o) {
		pw[u.Name] = "pw-" + u.Name
		t.Setenv(u.PasswordVar(), pw[u.Name])
	}
	opts, err := server.ProcessConfigFile(filepath.Join(dir, "hub.conf"))
	if err != nil {
		t.Fatalf("hub config: %v", err)
	}
	opts.NoLog, opts.NoSigs = true, true
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("hub not ready")
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s, leafPort, pw
}

// startSite starts a site's leaf node as deploy/nats/site-leaf-<site>.conf
// does (its own JetStream domain natsconf.SiteDomain), connected to the hub
// at leafAddr as site-<site>.
func startSite(t *testing.T, site, leafAddr, password string) *server.Server {
	t.Helper()
	u, err := url.Parse(fmt.Sprintf("nats-leaf://%s:%s@%s", natsconf.SiteUser(site), password, leafAddr))
	if err != nil {
		t.Fatal(err)
	}
	opts := &server.Options{
		ServerName: "leaf-" + site, Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true,
		JetStream: true, JetStreamDomain: natsconf.SiteDomain(site), StoreDir: t.TempDir(),
		MaxPayload: 8 << 20,
		LeafNode: server.LeafNodeOpts{ReconnectInterval: 100 * time.Millisecond,
			Remotes: []*server.RemoteLeafOpts{{URLs: []*url.URL{u}}}},
	}
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("leaf not ready")
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s
}

// siteStreams provisions the contract streams in a site's own JetStream
// domain, as `c981 nats-provision` (or `c981 ingest`) run at the site does,
// with a small raw buffer.
func siteStreams(t *testing.T, ctx context.Context, js jetstream.JetStream) {
	t.Helper()
	o := bus.DefaultStreamOptions()
	o.RawMaxBytes = 64 << 20
	o.MaxBytes = 64 << 20
	if err := bus.EnsureStreams(ctx, js, o); err != nil {
		t.Fatalf("site streams: %v", err)
	}
}

// hubStreams provisions central's streams with the sites' sources, as
// `c981 nats-provision --sites` does.
func hubStreams(t *testing.T, ctx context.Context, js jetstream.JetStream, o bus.StreamOptions, sites []string) {
	t.Helper()
	for _, c := range natsconf.WithSiteSources(bus.StreamConfigs(o), sites) {
		if _, err := js.CreateOrUpdateStream(ctx, c); err != nil {
			t.Fatalf("hub stream %s: %v", c.Name, err)
		}
	}
}

// waitLeafs waits until the hub has n leaf connections.
func waitLeafs(t *testing.T, hub *server.Server, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for hub.NumLeafNodes() != n && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if got := hub.NumLeafNodes(); got != n {
		t.Fatalf("%d leaf nodes connected, want %d", got, n)
	}
}

// connect dials u, as user when user is not empty.
func connect(t *testing.T, u, user string, pw map[string]string) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	var opts []nats.Option
	if user != "" {
		opts = append(opts, nats.UserInfo(user, pw[user]))
	}
	nc, err := nats.Connect(u, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return nc, js
}

// collect subscribes to subject and returns a function reporting what it
// received so far.
func collect(t *testing.T, nc *nats.Conn, subject string) func() []string {
	t.Helper()
	ch := make(chan *nats.Msg, 10000)
	if _, err := nc.ChanSubscribe(subject, ch); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	var got []string
	return func() []string {
		for {
			select {
			case m := <-ch:
				got = append(got, m.Subject)
			case <-time.After(500 * time.Millisecond):
				return got
			}
		}
	}
}

// readRaw reads the first n messages of central's C981_RAW in stream
// order, as enrich does (its user and durable consumer).
func readRaw(t *testing.T, ctx context.Context, hub *server.Server, pw map[string]string, n int) []jetstream.Msg {
	t.Helper()
	_, js := connect(t, hub.ClientURL(), natsconf.ServiceUser(bus.StageEnrich), pw)
	cons, err := js.CreateOrUpdateConsumer(ctx, bus.StreamRaw, bus.ConsumerConfig(bus.ConsumerEnrich, n, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	var out []jetstream.Msg
	for len(out) < n {
		msgs, err := cons.Fetch(n-len(out), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		k := 0
		for m := range msgs.Messages() {
			out = append(out, m)
			k++
		}
		if k == 0 {
			t.Fatalf("read %d of %d messages of central's C981_RAW, then nothing", len(out), n)
		}
	}
	return out
}

// resumeWithin bounds how long central takes to resume sourcing a site
// after its link is back. The hub retries a failed source with a backoff of
// 10 s per failure up to 2 minutes (nats-server's retryBackOff and
// retryMaximum), and a leaf connection only kicks the sources of the account
// it is bound to - the site account, not C981 - so the retry timer decides.
const resumeWithin = 150 * time.Second

// waitMsgs waits until stream holds want messages and fails if it holds
// more.
func waitMsgs(t *testing.T, js jetstream.JetStream, stream string, want uint64, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		n := streamMsgs(t, js, stream)
		if n > want {
			t.Fatalf("%s holds %d messages, want %d", stream, n, want)
		}
		if n == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s holds %d messages after %s, want %d", stream, n, d, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestSiteLeafNodes runs a central hub and two sites' leaf nodes with the
// generated configuration: a site's events are acknowledged by its own
// JetStream domain and reach central's stream through the sourcing, a
// forged subject of another site never reaches central, a site receives
// only its own actions — never another site's events or actions — and
// only its own gateway requests, which it can answer.
func TestSiteLeafNodes(t *testing.T) {
	sites := []string{"plant-a", "plant-b"}
	o := natsconf.Options{Sites: sites}
	hub, leafPort, pw := startHub(t, o)
	leafAddr := "127.0.0.1:" + strconv.Itoa(leafPort)
	siteA := startSite(t, "plant-a", leafAddr, pw[natsconf.SiteUser("plant-a")])
	siteB := startSite(t, "plant-b", leafAddr, pw[natsconf.SiteUser("plant-b")])
	waitLeafs(t, hub, 2)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// The sites' streams first, then central's sources of them (a source
	// of a stream that does not exist yet is retried after 10 s).
	ncA, jsA := connect(t, siteA.ClientURL(), "", pw)
	ncB, jsB := connect(t, siteB.ClientURL(), "", pw)
	siteStreams(t, ctx, jsA)
	siteStreams(t, ctx, jsB)
	_, prov := connect(t, hub.ClientURL(), natsconf.ProvisionUser, pw)
	hubStreams(t, ctx, prov, bus.DefaultStreamOptions(), sites)
	respondNC, _ := connect(t, hub.ClientURL(), natsconf.ServiceUser(bus.StageRespond), pw)

	// Site A listens to everything it could try to read.
	gotA := collect(t, ncA, "c981.>")
	gotB := collect(t, ncB, "c981.>")
	time.Sleep(300 * time.Millisecond) // interest crosses the leaf connections

	evs := []event.Event{{ID: event.NewID("leaf"), Site: "plant-a", Message: "m"}}
	if err := bus.PublishRecords(ctx, jsA, bus.RawSubject("plant-a", "syslog-tcp"), "a-1", evs); err != nil {
		t.Fatalf("site A's events are not acknowledged at the site: %v", err)
	}
	if err := bus.PublishRecords(ctx, jsB, bus.RawSubject("plant-b", "syslog-tcp"), "b-1", evs); err != nil {
		t.Fatalf("site B's events are not acknowledged at the site: %v", err)
	}
	// A forged subject of another site stays in site A's own buffer:
	// central's source of site A takes only c981.raw.plant-a.>.
	if err := bus.PublishRecords(ctx, jsA, bus.RawSubject("plant-b", "forged"), "a-forged", evs); err != nil {
		t.Fatal(err)
	}
	dl := []event.DeadLetter{{ID: event.NewID("leaf-dl"), Stage: bus.StageIngest, Reason: "unparsable", Payload: "<13"}}
	if err := bus.DeadLetter(ctx, jsA, bus.StageIngest, dl); err != nil {
		t.Fatalf("site A's dead letter: %v", err)
	}
	waitMsgs(t, prov, bus.StreamRaw, 2, resumeWithin)
	waitMsgs(t, prov, bus.StreamDLQ, 1, resumeWithin)
	time.Sleep(500 * time.Millisecond)
	waitMsgs(t, prov, bus.StreamRaw, 2, 0) // and not the forged one
	var subjects []string
	for _, m := range readRaw(t, ctx, hub, pw, 2) {
		subjects = append(subjects, m.Subject())
	}
	slices.Sort(subjects)
	if want := []string{bus.RawSubject("plant-a", "syslog-tcp"), bus.RawSubject("plant-b", "syslog-tcp")}; !slices.Equal(subjects, want) {
		t.Fatalf("central C981_RAW holds %v, want %v", subjects, want)
	}

	// Central publishes actions for both sites.
	for _, site := range sites {
		if err := respondNC.Publish(bus.ActionsSubject(site), []byte("plan")); err != nil {
			t.Fatal(err)
		}
	}
	if err := respondNC.Flush(); err != nil {
		t.Fatal(err)
	}

	// Gateways: site B's answers its own requests; site A's gateway
	// subscribes to site B's gateway subject as well and must see nothing.
	for _, g := range []struct {
		nc   *nats.Conn
		site string
	}{{ncA, "plant-a"}, {ncB, "plant-b"}} {
		if _, err := g.nc.Subscribe(executor.GatewaySubject(g.site), func(m *nats.Msg) { _ = m.Respond([]byte("gateway " + g.site)) }); err != nil {
			t.Fatal(err)
		}
	}
	stolen := make(chan *nats.Msg, 10)
	if _, err := ncA.ChanSubscribe(executor.GatewaySubject("plant-b"), stolen); err != nil {
		t.Fatal(err)
	}
	for _, nc := range []*nats.Conn{ncA, ncB} {
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(300 * time.Millisecond)
	for _, site := range sites {
		rep, err := respondNC.Request(executor.GatewaySubject(site), []byte("job"), 5*time.Second)
		if err != nil {
			t.Fatalf("central's request to the gateway of %s: %v", site, err)
		}
		if string(rep.Data) != "gateway "+site {
			t.Fatalf("gateway of %s answered %q", site, rep.Data)
		}
	}
	select {
	case m := <-stolen:
		t.Fatalf("site A's gateway received site B's gateway request on %s", m.Subject)
	case <-time.After(500 * time.Millisecond):
	}
	// Site A cannot send a gateway request to site B either.
	if _, err := ncA.Request(executor.GatewaySubject("plant-b"), []byte("job"), time.Second); err == nil {
		t.Fatal("site A reached site B's gateway")
	}

	// What a site's own clients publish is visible on its own leaf; from
	// central it receives its actions and nothing else.
	check := func(site string, got []string, want string, local ...string) {
		t.Helper()
		name := "site " + site
		n := 0
		for _, s := range got {
			switch {
			case s == want:
				n++
			case slices.Contains(local, s):
			// Its own source consumer delivers (and heartbeats) on
			// its own leaf, also while nobody at central listens.
			case strings.HasPrefix(s, natsconf.SiteDeliverPrefix(site)+"."):
			default:
				t.Errorf("%s received %s", name, s)
			}
		}
		if n != 1 {
			t.Errorf("%s received its actions on %s %d times, want 1", name, want, n)
		}
	}
	check("plant-a", gotA(), bus.ActionsSubject("plant-a"), bus.RawSubject("plant-a", "syslog-tcp"), bus.RawSubject("plant-b", "forged"),
		bus.DLQSubject(bus.StageIngest), executor.GatewaySubject("plant-a"), executor.GatewaySubject("plant-b"))
	check("plant-b", gotB(), bus.ActionsSubject("plant-b"), bus.RawSubject("plant-b", "syslog-tcp"), executor.GatewaySubject("plant-b"))
}

// link is a TCP proxy standing for a site's WAN link to central: down
// closes the listener and every connection through it, up listens again
// on the same address.
type link struct {
	t      *testing.T
	target string
	addr   string
	mu     sync.Mutex
	ln     net.Listener
	conns  []net.Conn
}

func newLink(t *testing.T, target string) *link {
	l := &link{t: t, target: target, addr: "127.0.0.1:" + strconv.Itoa(freePorts(t, 1)[0])}
	l.up()
	t.Cleanup(l.down)
	return l
}

func (l *link) up() {
	l.t.Helper()
	ln, err := net.Listen("tcp", l.addr)
	if err != nil {
		l.t.Fatalf("link up: %v", err)
	}
	l.mu.Lock()
	l.ln = ln
	l.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", l.target)
			if err != nil {
				_ = c.Close()
				continue
			}
			l.mu.Lock()
			l.conns = append(l.conns, c, u)
			l.mu.Unlock()
			go func() { _, _ = io.Copy(u, c); _ = u.Close() }()
			go func() { _, _ = io.Copy(c, u); _ = c.Close() }()
		}
	}()
}

func (l *link) down() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ln != nil {
		_ = l.ln.Close()
		l.ln = nil
	}
	for _, c := range l.conns {
		_ = c.Close()
	}
	l.conns = nil
}

// startSiteOverLink starts central (hub) with o and the leaf node of site,
// connected through a link the test can cut, waits for the leaf connection
// and returns them, the users' passwords and the provisioning user's
// JetStream at central.
func startSiteOverLink(t *testing.T, site string, o natsconf.Options) (hub, leaf *server.Server, wan *link, pw map[string]string, prov jetstream.JetStream) {
	t.Helper()
	hub, leafPort, pw := startHub(t, o)
	wan = newLink(t, "127.0.0.1:"+strconv.Itoa(leafPort))
	leaf = startSite(t, site, wan.addr, pw[natsconf.SiteUser(site)])
	waitLeafs(t, hub, 1)
	_, prov = connect(t, hub.ClientURL(), natsconf.ProvisionUser, pw)
	return hub, leaf, wan, pw, prov
}

// TestSiteStoreAndForward cuts a site's link to central while the site
// keeps publishing: the site's own JetStream acknowledges and buffers every
// batch, and once the link is back central's C981_RAW holds every batch
// exactly once, in the site's order. A stage restart at central during the
// outage (bus.EnsureStreams) keeps the sources, and a re-provisioning after
// it loses and duplicates nothing either.
func TestSiteStoreAndForward(t *testing.T) {
	const site = "plant-a"
	o := natsconf.Options{Sites: []string{site}}
	hub, leaf, wan, pw, prov := startSiteOverLink(t, site, o)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// A deduplication window far shorter than the outage: central must
	// resume the sourcing where it stopped, not rely on Nats-Msg-Id.
	hubOpts := bus.DefaultStreamOptions()
	hubOpts.Duplicates = 100 * time.Millisecond
	_, js := connect(t, leaf.ClientURL(), "", pw)
	siteStreams(t, ctx, js)
	hubStreams(t, ctx, prov, hubOpts, o.Sites)

	// The demo scenario's syslog lines, parsed as ingest does, make the
	// batches realistic for the bytes-per-event measurement below.
	parser := syslog.NewParser(syslog.Options{})
	var lines [][]byte
	for l := range bytes.Lines(must(os.ReadFile(filepath.Join(repo, "deploy/demo/scenario.log")))) {
		lines = append(lines, bytes.TrimRight(l, "\n"))
	}
	const perPhase, perBatch = 60, 50
	next, line := 0, 0
	publish := func(n int) {
		t.Helper()
		for range n {
			evs := make([]event.Event, perBatch)
			for j := range evs {
				id := event.NewID("sf", strconv.Itoa(next), strconv.Itoa(j))
				ev, err := parser.Parse(lines[line%len(lines)], id, "10.20.1.5:514", time.Now())
				for err != nil { // the scenario's malformed lines
					line++
					ev, err = parser.Parse(lines[line%len(lines)], id, "10.20.1.5:514", time.Now())
				}
				line++
				ev.Site, ev.Source = site, "syslog-tcp"
				evs[j] = ev
			}
			pctx, pcancel := context.WithTimeout(ctx, 5*time.Second)
			err := bus.PublishRecords(pctx, js, bus.RawSubject(site, "syslog-tcp"), "sf-"+strconv.Itoa(next), evs)
			pcancel()
			if err != nil {
				t.Fatalf("batch %d is not acknowledged at the site: %v", next, err)
			}
			next++
		}
	}
	publish(perPhase)
	waitMsgs(t, prov, bus.StreamRaw, perPhase, resumeWithin)

	// The WAN link goes down; the site keeps acknowledging.
	wan.down()
	waitLeafs(t, hub, 0)
	publish(perPhase)
	// A central stage restarts meanwhile and updates the stream config; the
	// provisioned sources stay.
	if err := bus.EnsureStreams(ctx, prov, hubOpts); err != nil {
		t.Fatal(err)
	}
	if st, err := prov.Stream(ctx, bus.StreamRaw); err != nil {
		t.Fatal(err)
	} else if src := st.CachedInfo().Config.Sources; len(src) != 1 || src[0].External == nil || src[0].External.APIPrefix != natsconf.SiteAPIPrefix(site) {
		t.Fatalf("C981_RAW sources after a stage's EnsureStreams: %+v, want the site's", src)
	}
	publish(perPhase)
	time.Sleep(300 * time.Millisecond) // longer than the deduplication window
	if n := hub.NumLeafNodes(); n != 0 {
		t.Fatalf("the site reconnected around the cut link (%d leaf connections)", n)
	}
	if n := streamMsgs(t, prov, bus.StreamRaw); n != perPhase {
		t.Fatalf("central holds %d batches while the link is down, want %d", n, perPhase)
	}
	// Provisioning again is idempotent; the link comes back.
	hubStreams(t, ctx, prov, hubOpts, o.Sites)
	wan.up()
	waitLeafs(t, hub, 1)
	waitMsgs(t, prov, bus.StreamRaw, 3*perPhase, resumeWithin)
	publish(perPhase)
	waitMsgs(t, prov, bus.StreamRaw, 4*perPhase, resumeWithin)

	// Read central's stream in order: batch i at position i, every event.
	for i, m := range readRaw(t, ctx, hub, pw, 4*perPhase) {
		if id := m.Headers().Get(jetstream.MsgIDHeader); id != "sf-"+strconv.Itoa(i) {
			t.Fatalf("central's message %d is %q, want sf-%d (exactly once, in the site's order)", i, id, i)
		}
		evs, err := event.UnmarshalEvents(m.Data())
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != perBatch || evs[0].ID != event.NewID("sf", strconv.Itoa(i), "0") {
			t.Fatalf("batch %d holds %d events (first %s), want %d of it", i, len(evs), evs[0].ID, perBatch)
		}
	}
	// Bytes per buffered event at the site, for the sizing in
	// docs/OPERATIONS.md.
	st, err := js.Stream(ctx, bus.StreamRaw)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("site buffer: %d batches, %d bytes, %.0f bytes per event", info.State.Msgs, info.State.Bytes, float64(info.State.Bytes)/float64(info.State.Msgs*perBatch))
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatal("timed out")
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestSiteIngestAcrossLinkOutage runs the real ingest stage at a site
// (`c981 ingest`, pipeline.RunStage, against the site's leaf node: its
// stream check creates the contract streams in the site's own domain) and
// cuts the site's link to central during a sequence-numbered syslog load:
// the sender is never pushed back, and once the link is back central's
// C981_RAW holds every record exactly once.
func TestSiteIngestAcrossLinkOutage(t *testing.T) {
	const site, run, records, rate = "plant-a", "site-outage", 3000, 1500
	o := natsconf.Options{Sites: []string{site}}
	hub, leaf, wan, pw, prov := startSiteOverLink(t, site, o)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	hubStreams(t, ctx, prov, bus.DefaultStreamOptions(), o.Sites)

	cfg := pipeline.Default()
	cfg.DataDir = t.TempDir()
	cfg.NATS.URL = leaf.ClientURL()
	cfg.Streams.RawMaxBytes = 64 << 20
	cfg.Streams.MaxBytes = 64 << 20
	cfg.MetricsAddr = "127.0.0.1:0"
	syslogAddr := "127.0.0.1:" + strconv.Itoa(freePorts(t, 1)[0])
	cfg.Ingest.Listeners = cfg.Ingest.Listeners[:1]
	cfg.Ingest.Listeners[0].Addr, cfg.Ingest.Listeners[0].Site = syslogAddr, site
	stageCtx, stopStage := context.WithCancel(ctx)
	stageDone := make(chan error, 1)
	go func() {
		stageDone <- pipeline.RunStage(stageCtx, "ingest", cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	defer func() {
		stopStage()
		if err := <-stageDone; err != nil {
			t.Errorf("ingest stage: %v", err)
		}
	}()
	var conn net.Conn
	deadline := time.Now().Add(30 * time.Second)
	for {
		var err error
		if conn, err = net.Dial("tcp", syslogAddr); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ingest not listening at the site: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	w := bufio.NewWriter(conn)
	start := time.Now()
	line := make([]byte, 0, 1024)
	for seq := uint64(1); seq <= records; seq++ {
		switch seq {
		case records / 3:
			wan.down()
		case 2 * records / 3:
			// The cut link has not slowed the sender down: the site
			// acknowledges.
			if late := time.Since(start) - time.Duration(seq)*time.Second/rate; late > 2*time.Second {
				t.Errorf("the sender is %s behind its rate while the link is down", late)
			}
		}
		if due := start.Add(time.Duration(seq) * time.Second / rate); time.Until(due) > 0 {
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Until(due))
		}
		line = append(loadgen.Line(line[:0], "mix", run, seq, time.Now()), '\n')
		if _, err := w.Write(line); err != nil {
			t.Fatalf("record %d: %v", seq, err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := conn.Close(); err != nil {
		t.Fatal(err)
	}
	// Everything is buffered at the site; central saw at most the first
	// third.
	_, siteJS := connect(t, leaf.ClientURL(), "", pw)
	deadline = time.Now().Add(30 * time.Second)
	for siteEvents(t, ctx, siteJS) < records {
		if time.Now().After(deadline) {
			t.Fatalf("the site buffered %d of %d records", siteEvents(t, ctx, siteJS), records)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if n := hub.NumLeafNodes(); n != 0 {
		t.Fatalf("the site reconnected around the cut link (%d leaf connections)", n)
	}
	want := streamMsgs(t, siteJS, bus.StreamRaw)
	if n := streamMsgs(t, prov, bus.StreamRaw); n >= want {
		t.Fatalf("central holds %d of the site's %d batches while the link is down", n, want)
	}
	wan.up()
	waitLeafs(t, hub, 1)
	waitMsgs(t, prov, bus.StreamRaw, want, resumeWithin)
	seen := make([]int, records+1)
	for _, m := range readRaw(t, ctx, hub, pw, int(want)) {
		evs, err := event.UnmarshalEvents(m.Data())
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			n, err := strconv.Atoi(e.Fields["seq"])
			if err != nil || e.Fields["run"] != run || n < 1 || n > records {
				t.Fatalf("unexpected event %s (run %q, seq %q)", e.ID, e.Fields["run"], e.Fields["seq"])
			}
			seen[n]++
		}
	}
	for seq := 1; seq <= records; seq++ {
		if seen[seq] != 1 {
			t.Errorf("record %d reached central %d times, want once", seq, seen[seq])
		}
	}
}

// siteEvents counts the events buffered in a site's C981_RAW (the
// Nats-Count header of every batch).
func siteEvents(t *testing.T, ctx context.Context, js jetstream.JetStream) int {
	t.Helper()
	st, err := js.Stream(ctx, bus.StreamRaw)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		c, err := strconv.Atoi(m.Header.Get(bus.HeaderCount))
		if err != nil {
			t.Fatalf("batch %d without %s: %v", seq, bus.HeaderCount, err)
		}
		n += c
	}
	return n
}
