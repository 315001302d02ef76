package console_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/c981/c981/services/console/console"
)

// testCA is a certificate authority generated for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  string
}

var serial int64 = 1

func newCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial++
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "C-981 test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key, pem: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))}
}

// issue returns a PEM certificate and key for cn, valid for 127.0.0.1, for
// server or client use.
func (ca *testCA) issue(t *testing.T, cn string, usage x509.ExtKeyUsage) (certPEM, keyPEM string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial++
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}))
}

// writeModeFile writes data to dir/name with exactly mode and returns the path.
func writeModeFile(t *testing.T, dir, name, data string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConfigSecrets(t *testing.T) {
	dir := t.TempDir()
	ca := newCA(t)
	certPEM, keyPEM := ca.issue(t, "console", x509.ExtKeyUsageServerAuth)
	cert := writeModeFile(t, dir, "cert.pem", certPEM, 0o644)
	key := writeModeFile(t, dir, "key.pem", keyPEM, 0o600)
	openKey := writeModeFile(t, dir, "open-key.pem", keyPEM, 0o644)
	caFile := writeModeFile(t, dir, "ca.pem", ca.pem, 0o644)
	tokens := writeModeFile(t, dir, "tokens.yaml", "- token: file-token-0123456789abc\n  user: bob\n  roles: [analyst]\n  sites: [\"*\"]\n", 0o600)
	openTokens := writeModeFile(t, dir, "open-tokens.yaml", "- token: file-token-0123456789abc\n  user: bob\n  roles: [analyst]\n  sites: [\"*\"]\n", 0o604)
	badTokens := writeModeFile(t, dir, "bad-tokens.yaml", "- token: short\n  user: bob\n  roles: [analyst]\n  sites: [\"*\"]\n  colour: red\n", 0o600)
	pw := writeModeFile(t, dir, "pw", "s3cret\n", 0o600)
	t.Setenv("C981_TEST_TOKEN", "env-token-0123456789abcdef")
	envToken := console.TokenConfig{TokenEnv: "C981_TEST_TOKEN", User: "carol", Roles: []string{"admin"}, Sites: []string{"*"}}
	missing := filepath.Join(dir, "missing.pem")

	for _, tc := range []struct {
		name string
		cfg  console.Config
		errs []string // substrings of the Validate error; none: valid
	}{
		{name: "https", cfg: console.Config{TLS: &console.TLSConfig{CertFile: cert, KeyFile: key}}},
		{name: "https tls 1.3 mtls", cfg: console.Config{TLS: &console.TLSConfig{CertFile: cert, KeyFile: key, ClientCAFile: caFile, MinVersion: "1.3"}}},
		{name: "world-readable key", cfg: console.Config{TLS: &console.TLSConfig{CertFile: cert, KeyFile: openKey}},
			errs: []string{"tls.key_file: secret file " + openKey + " has mode 0644: readable by group or others"}},
		{name: "missing files", cfg: console.Config{TLS: &console.TLSConfig{CertFile: missing, KeyFile: filepath.Join(dir, "missing-key.pem"), ClientCAFile: missing}},
			errs: []string{"tls.key_file: secret file: stat", "missing-key.pem: no such file", "tls.client_ca_file: open " + missing}},
		{name: "missing cert", cfg: console.Config{TLS: &console.TLSConfig{CertFile: missing, KeyFile: key}}, errs: []string{"tls: load certificate and key: open " + missing}},
		{name: "empty tls", cfg: console.Config{TLS: &console.TLSConfig{}}, errs: []string{"tls.cert_file: required", "tls.key_file: required"}},
		{name: "bad min_version", cfg: console.Config{TLS: &console.TLSConfig{CertFile: cert, KeyFile: key, MinVersion: "1.1"}}, errs: []string{`tls.min_version "1.1": want "1.2" or "1.3"`}},
		{name: "client ca not PEM", cfg: console.Config{TLS: &console.TLSConfig{CertFile: cert, KeyFile: key, ClientCAFile: key}}, errs: []string{"tls.client_ca_file:", "no PEM certificate found"}},
		{name: "tokens_file", cfg: console.Config{Addr: "0.0.0.0:8981", TokensFile: tokens}},
		{name: "tokens_file world readable", cfg: console.Config{TokensFile: openTokens}, errs: []string{"tokens_file: secret file " + openTokens + " has mode 0604"}},
		{name: "tokens_file invalid", cfg: console.Config{TokensFile: badTokens}, errs: []string{"tokens_file:", "colour"}},
		{name: "tokens_file missing", cfg: console.Config{TokensFile: missing}, errs: []string{"tokens_file: secret file: stat"}},
		{name: "token_env", cfg: console.Config{Addr: "0.0.0.0:8981", Tokens: []console.TokenConfig{envToken}}},
		{name: "token_env and file duplicate", cfg: console.Config{Tokens: []console.TokenConfig{envToken, {Token: "file-token-0123456789abc", User: "x", Roles: []string{"admin"}, Sites: []string{"*"}}}, TokensFile: tokens},
			errs: []string{"tokens[2].token: same as tokens[1]"}},
		{name: "token_env unset", cfg: console.Config{Tokens: []console.TokenConfig{{TokenEnv: "C981_TEST_UNSET", User: "u", Roles: []string{"admin"}, Sites: []string{"*"}}}},
			errs: []string{"tokens[0].token_env: environment variable C981_TEST_UNSET is not set or empty"}},
		{name: "token and token_env", cfg: console.Config{Tokens: []console.TokenConfig{{Token: "inline-token-0123456789", TokenEnv: "C981_TEST_TOKEN", User: "u", Roles: []string{"admin"}, Sites: []string{"*"}}}},
			errs: []string{"tokens[0].token: set at most one"}},
		{name: "tokens_file with auth none", cfg: console.Config{Auth: console.AuthNone, TokensFile: tokens}, errs: []string{"tokens: not used with auth: none"}},
		{name: "clickhouse password_file", cfg: console.Config{ClickHouse: console.ClickHouseConfig{PasswordFile: pw}}},
		{name: "clickhouse two passwords", cfg: console.Config{ClickHouse: console.ClickHouseConfig{Password: "p", PasswordEnv: "X"}},
			errs: []string{"clickhouse.password: set at most one of password, password_env and password_file"}},
		{name: "clickhouse tls half pair", cfg: console.Config{ClickHouse: console.ClickHouseConfig{TLS: console.ClickHouseTLSConfig{Enabled: true, CertFile: cert}}},
			errs: []string{"clickhouse.tls: cert_file and key_file go together"}},
		{name: "clickhouse tls disabled with settings", cfg: console.Config{ClickHouse: console.ClickHouseConfig{TLS: console.ClickHouseTLSConfig{CAFile: caFile}}},
			errs: []string{"clickhouse.tls: settings given but enabled is false"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			if len(cfg.ClickHouse.Addr) == 0 {
				cfg.ClickHouse.Addr = console.Addrs{"127.0.0.1:9000"}
			}
			cfg.SetDefaults()
			err := cfg.Validate()
			if len(tc.errs) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate passed, want %q", tc.errs)
			}
			for _, want := range tc.errs {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Validate error lacks %q:\n%v", want, err)
				}
			}
			for _, secret := range []string{"s3cret", "env-token-0123456789abcdef", "file-token-0123456789abc", "PRIVATE KEY"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("Validate error shows a secret (%q): %v", secret, err)
				}
			}
		})
	}
}

// runTLS starts a console with cfg and returns its address; it stops at
// the end of the test.
func runTLS(t *testing.T, cfg console.Config) string {
	t.Helper()
	cfg.Addr = "127.0.0.1:0"
	svc := newService(t, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	select {
	case <-svc.Ready():
	case err := <-done:
		t.Fatalf("Run: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("not ready after 10s")
	}
	return svc.Addr()
}

// httpsGet fetches url with a client using tc and returns the status and the
// server certificate's common name.
func httpsGet(tc *tls.Config, url string) (int, string, error) {
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: tc}}
	defer c.CloseIdleConnections()
	resp, err := c.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	cn := ""
	if resp.TLS != nil && len(resp.TLS.PeerCertificates) > 0 {
		cn = resp.TLS.PeerCertificates[0].Subject.CommonName
	}
	return resp.StatusCode, cn, nil
}

func TestHTTPS(t *testing.T) {
	dir := t.TempDir()
	ca := newCA(t)
	certPEM, keyPEM := ca.issue(t, "console-1", x509.ExtKeyUsageServerAuth)
	cert := writeModeFile(t, dir, "cert.pem", certPEM, 0o644)
	key := writeModeFile(t, dir, "key.pem", keyPEM, 0o600)
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	addr := runTLS(t, console.Config{TLS: &console.TLSConfig{CertFile: cert, KeyFile: key}})

	t.Run("healthz over https", func(t *testing.T) {
		code, cn, err := httpsGet(&tls.Config{RootCAs: pool}, "https://"+addr+"/healthz")
		if err != nil || code != http.StatusOK || cn != "console-1" {
			t.Fatalf("GET /healthz = %d from %q, %v; want 200 from console-1", code, cn, err)
		}
	})
	t.Run("plain http refused", func(t *testing.T) {
		code, _, err := httpsGet(nil, "http://"+addr+"/healthz")
		// net/http answers a plain request on a TLS port with a bare 400.
		if err == nil && code != http.StatusBadRequest {
			t.Fatalf("plain HTTP request to the HTTPS port: %d, want 400 or an error", code)
		}
		t.Logf("plain HTTP: status %d, err %v", code, err)
	})
	t.Run("unknown CA refused", func(t *testing.T) {
		_, _, err := httpsGet(&tls.Config{}, "https://"+addr+"/healthz")
		if err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Fatalf("GET without the CA: %v, want a certificate error", err)
		}
	})
	t.Run("TLS 1.1 refused", func(t *testing.T) {
		_, _, err := httpsGet(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}, "https://"+addr+"/healthz")
		if err == nil {
			t.Fatal("TLS 1.1 handshake succeeded")
		}
	})
	t.Run("certificate reloaded", func(t *testing.T) {
		certPEM, keyPEM := ca.issue(t, "console-2", x509.ExtKeyUsageServerAuth)
		// Write the key first: a half-rotated pair fails to load and the
		// old certificate stays in service until both match.
		writeModeFile(t, dir, "key.pem", keyPEM, 0o600)
		writeModeFile(t, dir, "cert.pem", certPEM, 0o644)
		deadline := time.Now().Add(10 * time.Second)
		for {
			code, cn, err := httpsGet(&tls.Config{RootCAs: pool}, "https://"+addr+"/healthz")
			if err == nil && code == http.StatusOK && cn == "console-2" {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("after rotation: %d from %q, %v; want 200 from console-2", code, cn, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	})
}

func TestMutualTLS(t *testing.T) {
	dir := t.TempDir()
	ca := newCA(t)
	certPEM, keyPEM := ca.issue(t, "console", x509.ExtKeyUsageServerAuth)
	userCA := newCA(t)
	addr := runTLS(t, console.Config{TLS: &console.TLSConfig{
		CertFile: writeModeFile(t, dir, "cert.pem", certPEM, 0o644), KeyFile: writeModeFile(t, dir, "key.pem", keyPEM, 0o600),
		ClientCAFile: writeModeFile(t, dir, "users.pem", userCA.pem, 0o644), MinVersion: "1.3",
	}})
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	pair := func(ca *testCA) tls.Certificate {
		c, k := ca.issue(t, "alice", x509.ExtKeyUsageClientAuth)
		p, err := tls.X509KeyPair([]byte(c), []byte(k))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name  string
		certs []tls.Certificate
		ok    bool
	}{
		{name: "client certificate", certs: []tls.Certificate{pair(userCA)}, ok: true},
		{name: "no client certificate", certs: nil},
		{name: "certificate from another CA", certs: []tls.Certificate{pair(ca)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, err := httpsGet(&tls.Config{RootCAs: pool, Certificates: tc.certs}, "https://"+addr+"/healthz")
			if tc.ok && (err != nil || code != http.StatusOK) {
				t.Fatalf("GET = %d, %v; want 200", code, err)
			}
			if !tc.ok && err == nil {
				t.Fatalf("GET = %d; want the handshake refused", code)
			}
		})
	}
}

func TestClickHouseOpenSecrets(t *testing.T) {
	dir := t.TempDir()
	addr := os.Getenv("CLICKHOUSE_ADDR")
	if addr == "" {
		addr = "127.0.0.1:9000"
	}
	t.Run("world-readable password file", func(t *testing.T) {
		f := writeModeFile(t, dir, "pw", "s3cret", 0o644)
		_, err := console.ClickHouseConfig{Addr: console.Addrs{addr}, PasswordFile: f}.Open()
		if err == nil || !strings.Contains(err.Error(), "clickhouse.password_file: secret file "+f+" has mode 0644") {
			t.Fatalf("Open = %v", err)
		}
	})
	t.Run("world-readable client key", func(t *testing.T) {
		ca := newCA(t)
		c, k := ca.issue(t, "console", x509.ExtKeyUsageClientAuth)
		_, err := console.ClickHouseConfig{Addr: console.Addrs{addr}, TLS: console.ClickHouseTLSConfig{Enabled: true,
			CertFile: writeModeFile(t, dir, "c.pem", c, 0o644), KeyFile: writeModeFile(t, dir, "k.pem", k, 0o644)}}.Open()
		if err == nil || !strings.Contains(err.Error(), "clickhouse.tls.key_file: secret file") || !strings.Contains(err.Error(), "mode 0644") {
			t.Fatalf("Open = %v", err)
		}
	})
	t.Run("tls against the plain port", func(t *testing.T) {
		if os.Getenv("CLICKHOUSE_ADDR") == "" {
			t.Skip("CLICKHOUSE_ADDR not set")
		}
		conn, err := console.ClickHouseConfig{Addr: console.Addrs{addr}, Database: "default", User: "default", DialTimeout: 3 * time.Second,
			TLS: console.ClickHouseTLSConfig{Enabled: true, InsecureSkipVerify: true}}.Open()
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err = conn.Ping(ctx)
		if err == nil || !strings.Contains(err.Error(), "tls") {
			t.Fatalf("Ping over TLS to the plain port = %v, want a TLS error", err)
		}
	})
}
