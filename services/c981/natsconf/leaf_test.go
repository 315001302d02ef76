package natsconf_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/c981/c981/services/c981/natsconf"
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

// startSite starts a site's leaf node connected to the hub as site-<site>.
func startSite(t *testing.T, site string, leafPort int, password string) *server.Server {
	t.Helper()
	u, err := url.Parse(fmt.Sprintf("nats-leaf://%s:%s@127.0.0.1:%d", natsconf.SiteUser(site), password, leafPort))
	if err != nil {
		t.Fatal(err)
	}
	opts := &server.Options{
		ServerName: "leaf-" + site, Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true,
		LeafNode: server.LeafNodeOpts{Remotes: []*server.RemoteLeafOpts{{URLs: []*url.URL{u}}}},
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

// collect subscribes to subject and returns a function reporting what it
// received so far.
func collect(t *testing.T, nc *nats.Conn, subject string) func() []string {
	t.Helper()
	ch := make(chan *nats.Msg, 100)
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

// TestSiteLeafNodes runs a central hub and two sites' leaf nodes with the
// generated configuration: a site's events reach central's stream with a
// PubAck, a site cannot send another site's events, and it receives only
// its own actions — never another site's events or actions.
func TestSiteLeafNodes(t *testing.T) {
	o := natsconf.Options{Sites: []string{"plant-a", "plant-b"}}
	hub, leafPort, pw := startHub(t, o)
	siteA := startSite(t, "plant-a", leafPort, pw[natsconf.SiteUser("plant-a")])
	siteB := startSite(t, "plant-b", leafPort, pw[natsconf.SiteUser("plant-b")])
	deadline := time.Now().Add(10 * time.Second)
	for hub.NumLeafNodes() < 2 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := hub.NumLeafNodes(); n != 2 {
		t.Fatalf("%d leaf nodes connected, want 2", n)
	}
	ctx := context.Background()
	connect := func(u, user string) (*nats.Conn, jetstream.JetStream) {
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
	_, prov := connect(hub.ClientURL(), natsconf.ProvisionUser)
	if err := bus.EnsureStreams(ctx, prov, bus.DefaultStreamOptions()); err != nil {
		t.Fatal(err)
	}
	respondNC, _ := connect(hub.ClientURL(), natsconf.ServiceUser(bus.StageRespond))
	ncA, jsA := connect(siteA.ClientURL(), "")
	ncB, jsB := connect(siteB.ClientURL(), "")

	// Site A listens to everything it could try to read.
	gotA := collect(t, ncA, "c981.>")
	gotB := collect(t, ncB, "c981.>")
	time.Sleep(300 * time.Millisecond) // interest crosses the leaf connections

	evs := []event.Event{{ID: event.NewID("leaf"), Site: "plant-a", Message: "m"}}
	if err := bus.PublishRecords(ctx, jsA, bus.RawSubject("plant-a", "syslog-tcp"), "a-1", evs); err != nil {
		t.Fatalf("site A's events do not reach central: %v", err)
	}
	if err := bus.PublishRecords(ctx, jsB, bus.RawSubject("plant-b", "syslog-tcp"), "b-1", evs); err != nil {
		t.Fatalf("site B's events do not reach central: %v", err)
	}
	// A forged subject of another site goes nowhere.
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	_, err := jsA.Publish(pctx, bus.RawSubject("plant-b", "forged"), []byte("x"))
	cancel()
	if err == nil {
		t.Fatal("site A published site B's events")
	}
	if n := streamMsgs(t, prov, bus.StreamRaw); n != 2 {
		t.Fatalf("central C981_RAW holds %d batches, want 2 (one per site)", n)
	}
	// Central publishes actions for both sites.
	for _, site := range []string{"plant-a", "plant-b"} {
		if err := respondNC.Publish(bus.ActionsSubject(site), []byte("plan")); err != nil {
			t.Fatal(err)
		}
	}
	if err := respondNC.Flush(); err != nil {
		t.Fatal(err)
	}
	// What a site's own clients publish is visible on its own leaf; from
	// central it receives its actions and nothing else.
	check := func(name string, got []string, want string, local ...string) {
		t.Helper()
		n := 0
		for _, s := range got {
			switch {
			case s == want:
				n++
			case slices.Contains(local, s):
			default:
				t.Errorf("%s received %s", name, s)
			}
		}
		if n != 1 {
			t.Errorf("%s received its actions on %s %d times, want 1", name, want, n)
		}
	}
	check("site A", gotA(), bus.ActionsSubject("plant-a"), bus.RawSubject("plant-a", "syslog-tcp"), bus.RawSubject("plant-b", "forged"))
	check("site B", gotB(), bus.ActionsSubject("plant-b"), bus.RawSubject("plant-b", "syslog-tcp"))
}
