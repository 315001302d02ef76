package deploycheck_test

import (
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

	"github.com/c981/c981/services/c981/deploycheck"
	"github.com/c981/c981/services/c981/pipeline"
	"github.com/c981/c981/services/console/console"
)

// clickHouseTLSPort is the native-over-TLS port of ClickHouse
// (tcp_port_secure in deploy/clickhouse/tls.xml).
const clickHouseTLSPort = "9440"

// checkTLS asserts "TLS everywhere" (issue #10) for a deployed command that
// connects to ClickHouse or serves the console: the --clickhouse address
// is the TLS port, the config enables ClickHouse TLS, and every file the
// TLS settings name (the CA, the console's certificate and key) is mounted
// in the container; mounted reports whether a path is.
func checkTLS(t *testing.T, where, cmd string, args []string, cfg pipeline.Config, mounted func(string) bool) {
	t.Helper()
	if cmd != "store" && cmd != "console" && cmd != "migrate" {
		return
	}
	ch, _ := deploycheck.Flag(args, "clickhouse")
	if deploycheck.Port(ch) != clickHouseTLSPort {
		t.Errorf("%s: --clickhouse %s is not ClickHouse's TLS port %s", where, ch, clickHouseTLSPort)
	}
	tc := cfg.ClickHouse.TLS
	if !tc.Enabled {
		t.Errorf("%s: clickhouse.tls.enabled is false: the connection would be plaintext", where)
	}
	if tc.InsecureSkipVerify {
		t.Errorf("%s: clickhouse.tls.insecure_skip_verify is set", where)
	}
	for _, f := range []string{tc.CAFile, tc.CertFile, tc.KeyFile} {
		if f != "" && !mounted(f) {
			t.Errorf("%s: ClickHouse TLS file %s is not mounted", where, f)
		}
	}
	if cmd != "console" {
		return
	}
	if cfg.Console.TLS == nil {
		t.Errorf("%s: console.tls is not set: the console would serve plain HTTP", where)
		return
	}
	for _, f := range []string{cfg.Console.TLS.CertFile, cfg.Console.TLS.KeyFile, cfg.Console.TLS.ClientCAFile} {
		if f != "" && !mounted(f) {
			t.Errorf("%s: console TLS file %s is not mounted", where, f)
		}
	}
}

// withTestCerts points the console's TLS files at a freshly generated
// certificate and key (the deployment's own are secrets that are not in
// the repository), so that Validate checks everything else as the
// console would at start.
func withTestCerts(t *testing.T, cc *console.Config) {
	t.Helper()
	if cc.TLS == nil {
		return
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "console"},
		DNSNames:     []string{"console"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	tc := *cc.TLS
	tc.CertFile, tc.KeyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if err := os.WriteFile(tc.CertFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tc.KeyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	if tc.ClientCAFile != "" {
		tc.ClientCAFile = tc.CertFile
	}
	cc.TLS = &tc
}

// mountedIn reports whether path is a mounted file of mounts (target ->
// source), directly or inside a mounted directory.
func mountedIn(mounts map[string]string) func(string) bool {
	return func(p string) bool {
		for target := range mounts {
			if target == p || strings.HasPrefix(p, strings.TrimSuffix(target, "/")+"/") {
				return true
			}
		}
		return false
	}
}
