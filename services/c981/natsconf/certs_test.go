package natsconf_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// pki is a throw-away CA with certificates issued in a test's temp dir;
// no private key is ever committed.
type pki struct {
	dir    string
	caCert *x509.Certificate
	caKey  *ecdsa.PrivateKey

	mu     sync.Mutex
	serial int64
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	p, err := makePKI(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// makePKI creates a CA in dir.
func makePKI(dir string) (*pki, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "c981 test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	p := &pki{dir: dir, caCert: cert, caKey: key, serial: 1}
	return p, writePEM(filepath.Join(p.dir, "ca.crt"), "CERTIFICATE", der)
}

// CA is the path of the CA certificate.
func (p *pki) CA() string { return filepath.Join(p.dir, "ca.crt") }

// issue writes name.crt and name.key, valid for server and client auth on
// 127.0.0.1 and localhost, and returns their paths.
func (p *pki) issue(t *testing.T, name string) (certFile, keyFile string) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p.serial++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(p.serial),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames:     []string{"localhost", name},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.caCert, &key.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir() // each test's keys go away with it
	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	if err := writePEM(certFile, "CERTIFICATE", der); err != nil {
		t.Fatal(err)
	}
	if err := writePEM(keyFile, "EC PRIVATE KEY", kder); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

func writePEM(path, typ string, der []byte) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600)
}

// systemPKI is the CA the test process trusts as its system roots
// (SSL_CERT_FILE, set by TestMain before anything loads the system pool,
// which Go does once per process) — the way a stage container trusts the
// deployment CA.
var systemPKI *pki

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "natsconf-ca")
	if err != nil {
		panic(err)
	}
	systemPKI, err = makePKI(dir)
	if err != nil {
		panic(err)
	}
	os.Setenv("SSL_CERT_FILE", systemPKI.CA())
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
