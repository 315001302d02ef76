package pipeline

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
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
)

// TestClickHouseTLS connects to the real ClickHouse's TLS native port the
// way `c981 run` and `c981 store|console` do (the store's migrating
// connection and the console's), and checks that a server certificate from
// another CA and a plaintext client are refused.
func TestClickHouseTLS(t *testing.T) {
	tlsAddr, caFile := chtest.TLS(t)
	plainAddr, db := chtest.Database(t)
	otherCA := writeOtherCA(t)

	type tc struct {
		name    string
		addr    string
		tls     bool
		ca      string
		wantErr string // substring; "" = must work
	}
	for _, c := range []tc{
		{name: "tls with the server's CA", addr: tlsAddr, tls: true, ca: caFile},
		{name: "tls with another CA", addr: tlsAddr, tls: true, ca: otherCA, wantErr: "certificate"},
		{name: "tls to the plaintext port", addr: plainAddr, tls: true, ca: caFile, wantErr: "tls"},
		{name: "plaintext to the tls port", addr: tlsAddr, tls: false, wantErr: "handshake"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := Default()
			cfg.ClickHouse.Addrs = []string{c.addr}
			cfg.ClickHouse.Database = db
			cfg.ClickHouse.DialTimeout = 3 * time.Second
			cfg.ClickHouse.ReadTimeout = 5 * time.Second
			cfg.ClickHouse.TLS.Enabled = c.tls
			cfg.ClickHouse.TLS.CAFile = c.ca
			cfg.ResolveClickHouse()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()

			// The store's path: open, create the database, migrate.
			conn, err := openClickHouse(ctx, cfg.Store.ClickHouse)
			if err == nil {
				var one uint8
				err = conn.QueryRow(ctx, "SELECT toUInt8(1)").Scan(&one)
				_ = conn.Close()
			}
			check(t, "store connection", err, c.wantErr)

			// The console's path: its own connection settings.
			cc := cfg.Console.ClickHouse
			cc.DialTimeout = 3 * time.Second
			cconn, err := cc.Open()
			if err == nil {
				err = cconn.Ping(ctx)
				_ = cconn.Close()
			}
			check(t, "console connection", err, c.wantErr)
		})
	}
}

func check(t *testing.T, what string, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Errorf("%s: %v", what, err)
	case want != "" && err == nil:
		t.Errorf("%s: connected; want an error mentioning %q", what, want)
	case want != "" && !strings.Contains(strings.ToLower(err.Error()), want):
		t.Errorf("%s: error %q does not mention %q", what, err, want)
	}
}

// writeOtherCA writes the certificate of a CA that did not sign the
// server's certificate.
func writeOtherCA(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(7),
		Subject:               pkix.Name{CommonName: "not the c981 test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "other-ca.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
