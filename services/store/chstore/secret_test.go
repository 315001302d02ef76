package chstore_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/c981/c981/services/shared/chtest"
	"github.com/c981/c981/services/shared/secret"
	"github.com/c981/c981/services/store/chstore"
)

// writeFile writes data to dir/name with mode and returns the path.
// rootOnly is the error a root-owned group-readable secret file gets: none
// when the test runs as root (the file is root's), the mode error
// otherwise (the file is the test user's).
func rootOnly() string {
	if os.Getuid() == 0 {
		return ""
	}
	return "mode 0640: readable by group or others"
}

func writeFile(t *testing.T, dir, name, data string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil { // umask-proof
		t.Fatal(err)
	}
	return p
}

// certPair generates a self-signed CA certificate and a client certificate
// signed by it, in PEM.
func certPair(t *testing.T) (caPEM, certPEM, keyPEM string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "c981-store"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	enc := func(typ string, der []byte) string {
		return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
	}
	return enc("CERTIFICATE", caDER), enc("CERTIFICATE", leafDER), enc("PRIVATE KEY", keyDER)
}

func TestReadSecret(t *testing.T) {
	dir := t.TempDir()
	private := writeFile(t, dir, "private", "s3cret\n", 0o600)
	groupReadable := writeFile(t, dir, "group", "s3cret\n", 0o640)
	rootGroupReadable := writeFile(t, dir, "root-group", "s3cret\n", 0o640)
	if os.Getuid() == 0 {
		// Group-readable is refused unless root owns the file (a
		// Kubernetes secret volume with fsGroup).
		if err := os.Chown(groupReadable, 65534, 65534); err != nil {
			t.Fatal(err)
		}
	}
	worldReadable := writeFile(t, dir, "world", "s3cret\n", 0o644)
	empty := writeFile(t, dir, "empty", "\n", 0o600)
	t.Setenv("C981_TEST_CH_PASSWORD", "from-env")
	for _, tc := range []struct {
		name              string
		inline, env, file string
		want, err         string
	}{
		{name: "none", want: ""},
		{name: "inline", inline: "pw", want: "pw"},
		{name: "env", env: "C981_TEST_CH_PASSWORD", want: "from-env"},
		{name: "env unset", env: "C981_TEST_CH_UNSET", err: "pw_env: environment variable C981_TEST_CH_UNSET is not set"},
		{name: "file", file: private, want: "s3cret"},
		{name: "file group readable", file: groupReadable, err: "mode 0640: readable by group or others"},
		{name: "file group readable owned by root", file: rootGroupReadable, want: "s3cret", err: rootOnly()},
		{name: "file world readable", file: worldReadable, err: "mode 0644: readable by group or others"},
		{name: "file missing", file: filepath.Join(dir, "nope"), err: "no such file"},
		{name: "file empty", file: empty, err: "is empty"},
		{name: "file is a directory", file: dir, err: "not a regular file"},
		{name: "two sources", inline: "pw", env: "C981_TEST_CH_PASSWORD", err: "set at most one"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := secret.Read("pw", tc.inline, tc.env, tc.file)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.err)
				}
				if strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), "from-env") {
					t.Errorf("error %q shows the secret", err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ReadSecret = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestTLSConfig(t *testing.T) {
	dir := t.TempDir()
	caPEM, certPEM, keyPEM := certPair(t)
	ca := writeFile(t, dir, "ca.pem", caPEM, 0o644)
	cert := writeFile(t, dir, "client.pem", certPEM, 0o644)
	key := writeFile(t, dir, "client-key.pem", keyPEM, 0o600)
	openKey := writeFile(t, dir, "open-key.pem", keyPEM, 0o644)
	notPEM := writeFile(t, dir, "not.pem", "hello", 0o644)
	for _, tc := range []struct {
		name  string
		cfg   chstore.TLSConfig
		err   string
		check func(t *testing.T, c *tls.Config)
	}{
		{name: "disabled", cfg: chstore.TLSConfig{}, check: func(t *testing.T, c *tls.Config) {
			if c != nil {
				t.Errorf("tls.Config = %+v, want nil", c)
			}
		}},
		{name: "system roots", cfg: chstore.TLSConfig{Enabled: true, ServerName: "ch.example.com"}, check: func(t *testing.T, c *tls.Config) {
			if c.MinVersion != tls.VersionTLS12 || c.RootCAs != nil || c.ServerName != "ch.example.com" || len(c.Certificates) != 0 || c.InsecureSkipVerify {
				t.Errorf("tls.Config = %+v", c)
			}
		}},
		{name: "ca and client cert", cfg: chstore.TLSConfig{Enabled: true, CAFile: ca, CertFile: cert, KeyFile: key}, check: func(t *testing.T, c *tls.Config) {
			if c.RootCAs == nil || len(c.Certificates) != 1 {
				t.Fatalf("tls.Config = %+v, want a CA pool and one certificate", c)
			}
			leaf, err := x509.ParseCertificate(c.Certificates[0].Certificate[0])
			if err != nil || leaf.Subject.CommonName != "c981-store" {
				t.Errorf("client certificate = %v, %v", leaf, err)
			}
		}},
		{name: "insecure", cfg: chstore.TLSConfig{Enabled: true, InsecureSkipVerify: true}, check: func(t *testing.T, c *tls.Config) {
			if !c.InsecureSkipVerify {
				t.Error("InsecureSkipVerify not set")
			}
		}},
		{name: "world-readable key", cfg: chstore.TLSConfig{Enabled: true, CertFile: cert, KeyFile: openKey}, err: "key_file: secret file " + openKey + " has mode 0644"},
		{name: "cert without key", cfg: chstore.TLSConfig{Enabled: true, CertFile: cert}, err: "cert_file and key_file go together"},
		{name: "missing ca", cfg: chstore.TLSConfig{Enabled: true, CAFile: filepath.Join(dir, "nope.pem")}, err: "tls.ca_file"},
		{name: "ca not PEM", cfg: chstore.TLSConfig{Enabled: true, CAFile: notPEM}, err: "no PEM certificate found"},
		{name: "key does not match", cfg: chstore.TLSConfig{Enabled: true, CertFile: ca, KeyFile: key}, err: "load client key pair"},
		{name: "settings while disabled", cfg: chstore.TLSConfig{CAFile: ca}, err: "settings given but enabled is false"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "settings while disabled" {
				if err := tc.cfg.Validate(); err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Validate = %v, want %q", err, tc.err)
				}
				return
			}
			c, err := tc.cfg.Config()
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c)
		})
	}
}

func TestConnConfigValidateSecrets(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  chstore.ConnConfig
		err  string
	}{
		{name: "password_env", cfg: chstore.ConnConfig{PasswordEnv: "X"}},
		{name: "password_file", cfg: chstore.ConnConfig{PasswordFile: "/run/secrets/ch"}},
		{name: "password and env", cfg: chstore.ConnConfig{Password: "p", PasswordEnv: "X"}, err: "set at most one of password, password_env and password_file"},
		{name: "env and file", cfg: chstore.ConnConfig{PasswordEnv: "X", PasswordFile: "/f"}, err: "set at most one"},
		{name: "tls half pair", cfg: chstore.ConnConfig{TLS: chstore.TLSConfig{Enabled: true, KeyFile: "/k"}}, err: "cert_file and key_file go together"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.WithDefaults().Validate()
			if tc.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("Validate = %v, want %q", err, tc.err)
			}
		})
	}
}

// TestOpenSecrets opens the real (plain) ClickHouse with the password from
// the environment and from a file, and checks that a TLS connection to the
// plain port fails with a clear error.
func TestOpenSecrets(t *testing.T) {
	addr := chtest.Addr(t)
	dir := t.TempDir()
	t.Setenv("C981_TEST_CH_PASSWORD", "") // the test server's default user has no password
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	t.Run("password_file world readable", func(t *testing.T) {
		f := writeFile(t, dir, "pw", "x\n", 0o644)
		_, err := chstore.Open(ctx, chstore.ConnConfig{Addrs: []string{addr}, Database: "default", PasswordFile: f})
		if err == nil || !strings.Contains(err.Error(), "clickhouse.password_file: secret file "+f+" has mode 0644") {
			t.Fatalf("Open = %v, want the mode refused", err)
		}
	})
	t.Run("password_env unset", func(t *testing.T) {
		_, err := chstore.Open(ctx, chstore.ConnConfig{Addrs: []string{addr}, Database: "default", PasswordEnv: "C981_TEST_CH_PASSWORD"})
		if err == nil || !strings.Contains(err.Error(), "C981_TEST_CH_PASSWORD is not set or empty") {
			t.Fatalf("Open = %v, want the empty variable refused", err)
		}
	})
	t.Run("wrong password from file", func(t *testing.T) {
		f := writeFile(t, dir, "wrong", "wrong-password\n", 0o600)
		_, err := chstore.Open(ctx, chstore.ConnConfig{Addrs: []string{addr}, Database: "default", PasswordFile: f})
		if err == nil || !strings.Contains(err.Error(), "ping clickhouse") {
			t.Fatalf("Open = %v, want the server to refuse the password", err)
		}
		if strings.Contains(err.Error(), "wrong-password") {
			t.Errorf("error %q shows the password", err)
		}
	})
	t.Run("tls against plain port", func(t *testing.T) {
		_, err := chstore.Open(ctx, chstore.ConnConfig{Addrs: []string{addr}, Database: "default", DialTimeout: 3 * time.Second,
			ReadTimeout: 3 * time.Second, TLS: chstore.TLSConfig{Enabled: true, InsecureSkipVerify: true}})
		if err == nil || !strings.Contains(err.Error(), "ping clickhouse tls://"+addr) {
			t.Fatalf("Open = %v, want a clear TLS failure", err)
		}
		t.Logf("TLS against the plain port: %v", err)
	})
	t.Run("plain ok", func(t *testing.T) {
		conn, err := chstore.Open(ctx, chstore.ConnConfig{Addrs: []string{addr}, Database: "default"})
		if err != nil {
			t.Fatal(err)
		}
		_ = conn.Close()
	})
}
