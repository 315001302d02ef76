package natsconf_test

import (
	"context"
	"crypto/tls"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/c981/c981/services/c981/natsconf"
	"github.com/c981/c981/services/shared/bus"
)

// confDir copies deploy/nats/*.conf into a temp dir, pointing the TLS files
// at certificates issued by p and the JetStream store at the temp dir, and
// sets every environment variable the files read.
func confDir(t *testing.T, p *pki, o natsconf.Options) string {
	t.Helper()
	dir := t.TempDir()
	crt, key := p.issue(t, "nats")
	files, err := filepath.Glob(filepath.Join(repo, "deploy/nats/*.conf"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no deploy/nats/*.conf: %v", err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		s := strings.NewReplacer(
			"/etc/nats/tls/tls.crt", crt, "/etc/nats/tls/tls.key", key, "/etc/nats/tls/ca.crt", p.CA(),
			"/data/jetstream", filepath.Join(dir, "js"),
		).Replace(string(data))
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range natsconf.Users(o) {
		t.Setenv(u.PasswordVar(), "pw-"+u.Name)
	}
	t.Setenv("NATS_SERVER_NAME", "test-node")
	for i, port := range []string{"16221", "16222", "16223"} {
		n := string(rune('1' + i))
		t.Setenv("NATS_ROUTE_"+n, "nats-route://127.0.0.1:"+port)
		t.Setenv("C981_HUB_LEAF_URL_"+n, "tls://site-demo-plant:pw@127.0.0.1:1742"+n)
	}
	return dir
}

// TestDeployedNATSConfigs loads every committed NATS server configuration
// with the real nats-server parser and checks what the deployment relies on.
func TestDeployedNATSConfigs(t *testing.T) {
	o := deployOptions(t)
	p := newPKI(t)
	dir := confDir(t, p, o)
	var service, leaf int
	for _, u := range natsconf.Users(o) {
		if u.Leaf {
			leaf++
		} else {
			service++
		}
	}
	load := func(t *testing.T, name string) *server.Options {
		t.Helper()
		opts, err := server.ProcessConfigFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("%s does not load: %v", name, err)
		}
		return opts
	}
	checkUsers := func(t *testing.T, opts *server.Options) {
		t.Helper()
		if !opts.JetStream || opts.TLSConfig == nil {
			t.Errorf("JetStream %v, client TLS %v: want both", opts.JetStream, opts.TLSConfig != nil)
		}
		if len(opts.Users) != service {
			t.Errorf("%d users, want %d", len(opts.Users), service)
		}
		for _, u := range opts.Users {
			if u.Account == nil || u.Account.Name != natsconf.Account {
				t.Errorf("user %s is not in account %s", u.Username, natsconf.Account)
			}
			if u.Permissions == nil || u.Permissions.Publish == nil || !slices.Contains(u.Permissions.Publish.Deny, "$JS.API.STREAM.DELETE.>") {
				t.Errorf("user %s may delete streams", u.Username)
			}
		}
		if opts.MaxPayload < 8<<20 {
			t.Errorf("max_payload %d is below one batch (streams.max_msg_size 8 MiB)", opts.MaxPayload)
		}
	}
	t.Run("nats-server.conf", func(t *testing.T) {
		checkUsers(t, load(t, "nats-server.conf"))
	})
	t.Run("cluster.conf", func(t *testing.T) {
		opts := load(t, "cluster.conf")
		checkUsers(t, opts)
		if len(opts.Routes) != 3 || opts.Cluster.Port != 6222 {
			t.Errorf("%d routes on port %d, want 3 on 6222", len(opts.Routes), opts.Cluster.Port)
		}
		if opts.Cluster.TLSConfig == nil || opts.Cluster.TLSConfig.ClientAuth != tls.RequireAndVerifyClientCert {
			t.Error("routes are not mutual TLS")
		}
	})
	t.Run("hub.conf", func(t *testing.T) {
		opts := load(t, "hub.conf")
		checkUsers(t, opts)
		if len(opts.LeafNode.Users) != leaf || opts.LeafNode.Port != 7422 {
			t.Errorf("%d leaf users on port %d, want %d on 7422", len(opts.LeafNode.Users), opts.LeafNode.Port, leaf)
		}
		for _, u := range opts.LeafNode.Users {
			if u.Account == nil || !strings.HasPrefix(u.Account.Name, "SITE_") {
				t.Errorf("leaf user %s is not bound to a site account", u.Username)
			}
		}
		if opts.LeafNode.TLSConfig == nil || opts.LeafNode.TLSConfig.ClientAuth != tls.RequireAndVerifyClientCert {
			t.Error("leaf connections are not mutual TLS")
		}
	})
	for _, site := range o.Sites {
		name := natsconf.SiteLeafFile(site)
		t.Run(name, func(t *testing.T) {
			opts := load(t, name)
			if len(opts.LeafNode.Remotes) != 1 || len(opts.LeafNode.Remotes[0].URLs) != 3 || opts.LeafNode.Remotes[0].TLSConfig == nil {
				t.Fatalf("want one TLS remote with the three hub URLs, got %+v", opts.LeafNode.Remotes)
			}
			// Store-and-forward: the site's own JetStream domain, the one
			// central's sources name, with room for the raw buffer.
			if !opts.JetStream || opts.JetStreamDomain != natsconf.SiteDomain(site) {
				t.Errorf("JetStream %v in domain %q, want domain %q", opts.JetStream, opts.JetStreamDomain, natsconf.SiteDomain(site))
			}
			if opts.JetStreamMaxStore < bus.DefaultRawMaxBytes {
				t.Errorf("max_file_store %d is below the raw buffer (%d)", opts.JetStreamMaxStore, bus.DefaultRawMaxBytes)
			}
			if opts.Host != "127.0.0.1" {
				t.Errorf("the site leaf listens on %s, want loopback only", opts.Host)
			}
		})
	}
}

// TestEnvExamplesNameEveryPassword keeps the secret templates in step with
// the generated users.
func TestEnvExamplesNameEveryPassword(t *testing.T) {
	o := deployOptions(t)
	for _, f := range []string{"deploy/compose/env.example", "deploy/k8s/base/secrets/nats-passwords.env.example"} {
		data, err := os.ReadFile(filepath.Join(repo, f))
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range natsconf.Users(o) {
			if !strings.Contains(string(data), "\n"+u.PasswordVar()+"=") {
				t.Errorf("%s does not set %s (user %s)", f, u.PasswordVar(), u.Name)
			}
		}
	}
}

// TestSingleServerTLS starts nats-server.conf as deployed and connects the
// way a stage container does: bus.Connect with a tls:// URL carrying the
// user, trusting the deployment CA through SSL_CERT_FILE.
func TestSingleServerTLS(t *testing.T) {
	o := deployOptions(t)
	p := systemPKI
	dir := confDir(t, p, o)
	conf := filepath.Join(dir, "nats-server.conf")
	data, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.NewReplacer("listen: 0.0.0.0:4222", "listen: 127.0.0.1:-1", "http: 0.0.0.0:8222", "").Replace(string(data))
	if err := os.WriteFile(conf, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	opts, err := server.ProcessConfigFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	opts.NoLog, opts.NoSigs = true, true
	srv, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("not ready")
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	addr := srv.Addr().String()
	nc, js, err := bus.Connect("tls://"+natsconf.ProvisionUser+":pw-"+natsconf.ProvisionUser+"@"+addr, "provision")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := bus.EnsureStreams(ctx, js, bus.DefaultStreamOptions()); err != nil {
		t.Fatalf("provision over TLS: %v", err)
	}
	if cs, err := nc.TLSConnectionState(); err != nil || !cs.HandshakeComplete {
		t.Fatalf("connection is not TLS: %v", err)
	}
}
