package natsconf_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/c981/c981/services/c981/natsconf"
	"github.com/c981/c981/services/c981/pipeline"
	"github.com/c981/c981/services/correlate/correlate"
	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/shared/event"
)

var update = flag.Bool("update", false, "rewrite deploy/nats/accounts.conf and leafnodes.conf")

// repo is the repository root seen from this package.
const repo = "../../.."

// deployOptions are the options the committed files are generated with:
// the sites of the container configuration's syslog listeners and its KV
// bucket.
func deployOptions(t *testing.T) natsconf.Options {
	t.Helper()
	cfg, err := pipeline.Load(filepath.Join(repo, "deploy/config/c981.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var sites []string
	for _, l := range cfg.Ingest.Listeners {
		sites = append(sites, l.Site)
	}
	return natsconf.Options{KVBucket: cfg.Correlate.Store.Bucket, Sites: sites}
}

// TestCommittedFilesAreGenerated proves deploy/nats/{accounts,leafnodes}.conf
// and each site's site-leaf-<site>.conf equal what the generator makes from
// the bus contract today, and that no stale site leaf file is left.
func TestCommittedFilesAreGenerated(t *testing.T) {
	o := deployOptions(t)
	type file struct {
		file string
		gen  []byte
	}
	files := []file{
		{"deploy/nats/accounts.conf", natsconf.Generate(o)},
		{"deploy/nats/leafnodes.conf", natsconf.GenerateLeaf(o)},
	}
	for _, site := range o.Sites {
		f := file{"deploy/nats/" + natsconf.SiteLeafFile(site), natsconf.GenerateSiteLeaf(site, 0)}
		if !slices.ContainsFunc(files, func(g file) bool { return g.file == f.file }) {
			files = append(files, f)
		}
	}
	committed, err := filepath.Glob(filepath.Join(repo, "deploy/nats/site-leaf*.conf"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range committed {
		name := "deploy/nats/" + filepath.Base(c)
		if !slices.ContainsFunc(files, func(g file) bool { return g.file == name }) {
			if *update {
				if err := os.Remove(c); err != nil {
					t.Fatal(err)
				}
				continue
			}
			t.Errorf("%s is not generated for any site: run `go test ./natsconf/ -update`", name)
		}
	}
	for _, tc := range files {
		t.Run(filepath.Base(tc.file), func(t *testing.T) {
			path := filepath.Join(repo, tc.file)
			if *update {
				if err := os.WriteFile(path, tc.gen, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tc.gen) {
				t.Fatalf("%s is stale: run `go test ./natsconf/ -update` (generated:\n%s)", tc.file, tc.gen)
			}
		})
	}
}

func TestUsersNeverDeleteOrPurge(t *testing.T) {
	catchAll := map[string]bool{">": true, "$JS.API.>": true, "$JS.>": true, "c981.>": true, "$KV.>": true}
	for _, u := range natsconf.Users(natsconf.Options{Sites: []string{"a", "b"}}) {
		t.Run(u.Name, func(t *testing.T) {
			for _, s := range slices.Concat(u.Publish, u.Subscribe, u.Serves, u.Delivers) {
				if strings.Contains(s, "DELETE") || strings.Contains(s, "PURGE") || catchAll[s] {
					t.Errorf("%s is allowed %q", u.Name, s)
				}
			}
		})
	}
}

func TestPasswordVar(t *testing.T) {
	tests := []struct{ user, want string }{
		{"c981-ingest", "C981_NATS_PASSWORD_C981_INGEST"},
		{"site-demo-plant", "C981_NATS_PASSWORD_SITE_DEMO_PLANT"},
	}
	for _, tc := range tests {
		if got := (natsconf.User{Name: tc.user}).PasswordVar(); got != tc.want {
			t.Errorf("PasswordVar(%s) = %s, want %s", tc.user, got, tc.want)
		}
	}
}

// server starts a nats-server from a config file that includes the
// generated accounts.conf, exactly as deploy/nats/nats-server.conf does,
// with every password taken from the environment.
type authServer struct {
	srv       *server.Server
	passwords map[string]string
}

func startAuthServer(t *testing.T, o natsconf.Options) *authServer {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "accounts.conf"), natsconf.Generate(o), 0o600); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf("listen: \"127.0.0.1:-1\"\nserver_name: authtest\njetstream { store_dir: %q }\ninclude \"accounts.conf\"\n", filepath.Join(dir, "js"))
	if err := os.WriteFile(filepath.Join(dir, "nats-server.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	as := &authServer{passwords: map[string]string{}}
	for _, u := range natsconf.Users(o) {
		pw := "pw-" + u.Name + "-" + t.Name()
		as.passwords[u.Name] = pw
		t.Setenv(u.PasswordVar(), pw)
	}
	opts, err := server.ProcessConfigFile(filepath.Join(dir, "nats-server.conf"))
	if err != nil {
		t.Fatalf("generated config does not load: %v", err)
	}
	opts.NoLog, opts.NoSigs = true, true
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats not ready")
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	as.srv = s
	return as
}

// url is the URL a stage is started with: --nats nats://user:password@host.
func (a *authServer) url(user string) string {
	return strings.Replace(a.srv.ClientURL(), "nats://", "nats://"+user+":"+a.passwords[user]+"@", 1)
}

// client connects as user and records the permission violations the
// server reports asynchronously.
type client struct {
	nc *nats.Conn
	js jetstream.JetStream

	mu         sync.Mutex
	violations []string
}

func (a *authServer) connect(t *testing.T, user string) *client {
	t.Helper()
	c := &client{}
	nc, err := nats.Connect(a.srv.ClientURL(), nats.UserInfo(user, a.passwords[user]),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			c.mu.Lock()
			c.violations = append(c.violations, err.Error())
			c.mu.Unlock()
		}))
	if err != nil {
		t.Fatalf("connect %s: %v", user, err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	c.nc, c.js = nc, js
	return c
}

// violated waits until the server reported a permission violation
// mentioning subject.
func (c *client) violated(subject string) bool {
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		c.mu.Lock()
		for _, v := range c.violations {
			if strings.Contains(strings.ToLower(v), "permissions violation") && strings.Contains(v, subject) {
				c.mu.Unlock()
				return true
			}
		}
		c.mu.Unlock()
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

func streamMsgs(t *testing.T, js jetstream.JetStream, name string) uint64 {
	t.Helper()
	st, err := js.Stream(context.Background(), name)
	if err != nil {
		t.Fatalf("stream %s: %v", name, err)
	}
	info, err := st.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

// TestLeastPrivilege runs a nats-server configured from the generated file
// and proves each service's normal flow works while it cannot publish to
// another service's subjects, take another's consumer, or delete or purge
// a stream.
func TestLeastPrivilege(t *testing.T) {
	o := natsconf.Options{Sites: []string{"demo-plant"}}
	as := startAuthServer(t, o)
	ctx := context.Background()

	// The provisioning user creates the streams; a runtime service cannot.
	ingest := as.connect(t, natsconf.ServiceUser(bus.StageIngest))
	short, cancel := context.WithTimeout(ctx, 2*time.Second)
	err := bus.EnsureStreams(short, ingest.js, bus.DefaultStreamOptions())
	cancel()
	if err == nil {
		t.Fatal("ingest created the streams; only the provisioning user may")
	}
	prov := as.connect(t, natsconf.ProvisionUser)
	if err := bus.EnsureStreams(ctx, prov.js, bus.DefaultStreamOptions()); err != nil {
		t.Fatalf("provisioning user cannot create the streams: %v", err)
	}

	evs := []event.Event{{ID: event.NewID("least-privilege"), Site: "demo-plant", Message: "m"}}

	t.Run("every stage starts as it does in c981 <stage> (bus.Connect with the URL, EnsureStreams)", func(t *testing.T) {
		for _, st := range []string{bus.StageIngest, bus.StageEnrich, bus.StageCorrelate, bus.StageRespond, bus.StageStore} {
			nc, js, err := bus.Connect(as.url(natsconf.ServiceUser(st)), "c981-"+st)
			if err != nil {
				t.Fatalf("%s: %v", st, err)
			}
			if err := bus.EnsureStreams(ctx, js, bus.DefaultStreamOptions()); err != nil {
				t.Errorf("%s: ensure streams after provisioning: %v", st, err)
			}
			nc.Close()
		}
	})

	t.Run("ingest publishes its own subject with a PubAck", func(t *testing.T) {
		if err := bus.PublishRecords(ctx, ingest.js, bus.RawSubject("demo-plant", "syslog-tcp"), "lp-1", evs); err != nil {
			t.Fatalf("ingest publish: %v", err)
		}
		if n := streamMsgs(t, prov.js, bus.StreamRaw); n != 1 {
			t.Fatalf("C981_RAW has %d messages, want 1", n)
		}
	})

	denied := []struct {
		user, subject, stream string
	}{
		{natsconf.ServiceUser(bus.StageIngest), bus.EventsSubject("demo-plant"), bus.StreamEvents},
		{natsconf.ServiceUser(bus.StageIngest), bus.ActionsSubject("demo-plant"), bus.StreamActions},
		{natsconf.ServiceUser(bus.StageEnrich), bus.RawSubject("demo-plant", "x"), bus.StreamRaw},
		{natsconf.ServiceUser(bus.StageEnrich), bus.IncidentsSubject("demo-plant"), bus.StreamIncidents},
		{natsconf.ServiceUser(bus.StageCorrelate), bus.ActionsSubject("demo-plant"), bus.StreamActions},
		{natsconf.ServiceUser(bus.StageRespond), bus.IncidentsSubject("demo-plant"), bus.StreamIncidents},
		{natsconf.ServiceUser(bus.StageStore), bus.EventsSubject("demo-plant"), bus.StreamEvents},
		{natsconf.ServiceUser(bus.StageStore), bus.DLQSubject(bus.StageEnrich), bus.StreamDLQ},
	}
	for _, tc := range denied {
		t.Run(tc.user+" cannot publish "+tc.subject, func(t *testing.T) {
			t.Parallel() // runs after the sequential subtests; nothing else writes then
			c := as.connect(t, tc.user)
			before := streamMsgs(t, prov.js, tc.stream)
			pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			_, err := c.js.Publish(pctx, tc.subject, []byte("spoofed"))
			cancel()
			if err == nil {
				t.Fatalf("%s published to %s", tc.user, tc.subject)
			}
			if !c.violated(tc.subject) {
				t.Errorf("no permissions violation reported for %s (publish error %v)", tc.subject, err)
			}
			if after := streamMsgs(t, prov.js, tc.stream); after != before {
				t.Fatalf("%s grew from %d to %d messages", tc.stream, before, after)
			}
		})
	}

	t.Run("enrich consumes its durable and acks", func(t *testing.T) {
		enrich := as.connect(t, natsconf.ServiceUser(bus.StageEnrich))
		cons, err := enrich.js.CreateOrUpdateConsumer(ctx, bus.StreamRaw, bus.ConsumerConfig(bus.ConsumerEnrich, 10, 30*time.Second))
		if err != nil {
			t.Fatalf("create own consumer: %v", err)
		}
		msgs, err := cons.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for m := range msgs.Messages() {
			n++
			got, err := event.UnmarshalEvents(m.Data())
			if err != nil || len(got) != 1 {
				t.Fatalf("decode: %v", err)
			}
			if err := m.DoubleAck(ctx); err != nil {
				t.Fatalf("ack: %v", err)
			}
		}
		if n != 1 || msgs.Error() != nil {
			t.Fatalf("fetched %d messages, err %v", n, msgs.Error())
		}
		info, err := cons.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.NumAckPending != 0 || info.AckFloor.Stream != 1 {
			t.Fatalf("ack not recorded: pending %d, floor %d", info.NumAckPending, info.AckFloor.Stream)
		}
		// enrich publishes its own output.
		if err := bus.PublishRecords(ctx, enrich.js, bus.EventsSubject("demo-plant"), "lp-2", evs); err != nil {
			t.Fatalf("enrich publish: %v", err)
		}
	})

	t.Run("a service cannot take another's consumer", func(t *testing.T) {
		enrich := as.connect(t, natsconf.ServiceUser(bus.StageEnrich))
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if _, err := enrich.js.CreateOrUpdateConsumer(cctx, bus.StreamEvents, bus.ConsumerConfig(bus.ConsumerStoreEvents, 10, time.Second)); err == nil {
			t.Fatal("enrich created store's consumer")
		}
		if _, err := enrich.js.CreateOrUpdateConsumer(cctx, bus.StreamEvents, bus.ConsumerConfig("snoop", 10, time.Second)); err == nil {
			t.Fatal("enrich created an arbitrary consumer on C981_EVENTS")
		}
	})

	t.Run("store consumes every stream", func(t *testing.T) {
		store := as.connect(t, natsconf.ServiceUser(bus.StageStore))
		for stream, durable := range map[string]string{
			bus.StreamEvents: bus.ConsumerStoreEvents, bus.StreamAlerts: bus.ConsumerStoreAlerts,
			bus.StreamIncidents: bus.ConsumerStoreIncidents, bus.StreamActions: bus.ConsumerStoreActions, bus.StreamDLQ: bus.ConsumerStoreDLQ,
		} {
			if _, err := store.js.CreateOrUpdateConsumer(ctx, stream, bus.ConsumerConfig(durable, 10, time.Second)); err != nil {
				t.Errorf("store consumer %s on %s: %v", durable, stream, err)
			}
		}
		cons, err := store.js.Consumer(ctx, bus.StreamEvents, bus.ConsumerStoreEvents)
		if err != nil {
			t.Fatal(err)
		}
		msgs, err := cons.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for m := range msgs.Messages() {
			n++
			if err := m.DoubleAck(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if n != 1 {
			t.Fatalf("store fetched %d enriched batches, want 1", n)
		}
	})

	t.Run("correlate keeps its incident state in its KV bucket", func(t *testing.T) {
		c := as.connect(t, natsconf.ServiceUser(bus.StageCorrelate))
		kv, err := correlate.NewKVStore(ctx, c.js, correlate.KVConfig{})
		if err != nil {
			t.Fatalf("correlate KV bucket: %v", err)
		}
		if _, _, err := kv.Current(ctx, "demo-plant", "k"); !errors.Is(err, correlate.ErrNotFound) {
			t.Fatalf("current on an empty bucket: %v", err)
		}
		other := as.connect(t, natsconf.ServiceUser(bus.StageEnrich))
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if _, err := correlate.NewKVStore(cctx, other.js, correlate.KVConfig{}); err == nil {
			t.Fatal("enrich opened the correlator's bucket")
		}
	})

	for _, user := range []string{natsconf.ServiceUser(bus.StageIngest), natsconf.ServiceUser(bus.StageStore), natsconf.ProvisionUser} {
		t.Run(user+" cannot delete or purge a stream", func(t *testing.T) {
			t.Parallel()
			c := as.connect(t, user)
			dctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			if err := c.js.DeleteStream(dctx, bus.StreamRaw); err == nil {
				t.Fatal("stream deleted")
			}
			if !c.violated("$JS.API.STREAM.DELETE." + bus.StreamRaw) {
				t.Error("no permissions violation for the delete")
			}
			pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			st, err := c.js.Stream(pctx, bus.StreamRaw)
			if err != nil {
				t.Fatalf("stream info: %v", err)
			}
			if err := st.Purge(pctx); err == nil {
				t.Fatal("stream purged")
			}
			if !c.violated("$JS.API.STREAM.PURGE." + bus.StreamRaw) {
				t.Error("no permissions violation for the purge")
			}
			if n := streamMsgs(t, prov.js, bus.StreamRaw); n != 1 {
				t.Fatalf("C981_RAW has %d messages after delete/purge attempts, want 1", n)
			}
		})
	}
}
