package natsconf_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/c981/c981/services/c981/natsconf"
	"github.com/c981/c981/services/c981/pipeline"
	"github.com/c981/c981/services/shared/bus"
)

// TestMutualTLS starts a server with the generated users and client
// certificates required (tls.verify, as on the hub's leaf and route
// listeners) and checks which clients get through the handshake.
func TestMutualTLS(t *testing.T) {
	p := newPKI(t)
	crt, key := p.issue(t, "nats")
	clientCrt, clientKey := p.issue(t, "c981-ingest")
	other := newPKI(t) // a CA the server does not trust
	rogueCrt, rogueKey := other.issue(t, "rogue")

	o := natsconf.Options{}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "accounts.conf"), natsconf.Generate(o), 0o600); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`listen: "127.0.0.1:-1"
jetstream { store_dir: %q }
tls { cert_file: %q, key_file: %q, ca_file: %q, verify: true, timeout: 2 }
include "accounts.conf"
`, filepath.Join(dir, "js"), crt, key, p.CA())
	if err := os.WriteFile(filepath.Join(dir, "mtls.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	user := natsconf.ServiceUser(bus.StageIngest)
	for _, u := range natsconf.Users(o) {
		t.Setenv(u.PasswordVar(), "pw-"+u.Name)
	}
	opts, err := server.ProcessConfigFile(filepath.Join(dir, "mtls.conf"))
	if err != nil {
		t.Fatal(err)
	}
	opts.NoLog, opts.NoSigs = true, true
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("not ready")
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	url := fmt.Sprintf("tls://%s", s.Addr().String())

	tests := []struct {
		name   string
		opts   []nats.Option
		accept bool
	}{
		{"client certificate from the deployment CA", []nats.Option{nats.RootCAs(p.CA()), nats.ClientCert(clientCrt, clientKey)}, true},
		{"no client certificate", []nats.Option{nats.RootCAs(p.CA())}, false},
		{"certificate from an untrusted CA", []nats.Option{nats.RootCAs(p.CA()), nats.ClientCert(rogueCrt, rogueKey)}, false},
		{"client does not trust the server", []nats.Option{nats.ClientCert(clientCrt, clientKey)}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := append([]nats.Option{nats.UserInfo(user, "pw-"+user), nats.Timeout(3 * time.Second), nats.NoReconnect()}, tc.opts...)
			nc, err := nats.Connect(url, opts...)
			if !tc.accept {
				if err == nil {
					nc.Close()
					t.Fatal("connection accepted")
				}
				return
			}
			if err != nil {
				t.Fatalf("rejected: %v", err)
			}
			defer nc.Close()
			cs, err := nc.TLSConnectionState()
			if err != nil || len(cs.PeerCertificates) == 0 {
				t.Fatalf("not a verified TLS connection: %v", err)
			}
			if err := nc.Publish(bus.RawSubject("s", "x"), []byte("x")); err != nil {
				t.Fatal(err)
			}
			if err := nc.Flush(); err != nil {
				t.Fatal(err)
			}
		})
	}

	// The stages' own connection: nats.tls in their configuration
	// (pipeline.NATSConfig.Connect, as `c981 <stage>` dials).
	openKey := filepath.Join(t.TempDir(), "open.key")
	keyPEM, err := os.ReadFile(clientKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(openKey, keyPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(openKey, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		tls       bus.TLS
		accept    bool
		configErr string
	}{
		{name: "stage config with its client certificate", tls: bus.TLS{CAFile: p.CA(), CertFile: clientCrt, KeyFile: clientKey}, accept: true},
		{name: "stage config without a client certificate", tls: bus.TLS{CAFile: p.CA()}},
		{name: "stage config with a world-readable key", tls: bus.TLS{CAFile: p.CA(), CertFile: clientCrt, KeyFile: openKey}, configErr: "nats.tls.key_file"},
		{name: "stage config with a certificate but no key", tls: bus.TLS{CAFile: p.CA(), CertFile: clientCrt}, configErr: "go together"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := pipeline.NATSConfig{URL: fmt.Sprintf("tls://%s:%s@%s", user, "pw-"+user, s.Addr()), TLS: tc.tls}
			nc, _, err := cfg.Connect(user)
			if tc.configErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.configErr) {
					t.Fatalf("err = %v, want %q", err, tc.configErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			err = nc.FlushTimeout(3 * time.Second)
			if tc.accept && err != nil {
				t.Fatalf("not connected: %v", err)
			}
			if !tc.accept && err == nil {
				t.Fatal("connected without a client certificate")
			}
		})
	}
}
