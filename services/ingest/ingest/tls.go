package ingest

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// certStore holds a TLS listener's current certificate and client CA pool
// and reloads them when their files change, so that a rotated certificate
// is served without a restart. A reload that fails keeps the previous
// material (and is logged and counted).
type certStore struct {
	cfg     *TLSConfig
	log     *slog.Logger
	ok, bad prometheus.Counter
	cur     atomic.Pointer[tlsMaterial]
}

// tlsMaterial is one loaded generation of the files.
type tlsMaterial struct {
	cert    *tls.Certificate
	clients *x509.CertPool
	stamp   string // size and modification time of every file
}

func newCertStore(cfg *TLSConfig, log *slog.Logger, ok, bad prometheus.Counter) (*certStore, error) {
	c := &certStore{cfg: cfg, log: log, ok: ok, bad: bad}
	m, err := c.load()
	if err != nil {
		return nil, err
	}
	c.cur.Store(m)
	return c, nil
}

func (c *certStore) files() []string {
	f := []string{c.cfg.CertFile, c.cfg.KeyFile}
	if c.cfg.ClientCAFile != "" {
		f = append(f, c.cfg.ClientCAFile)
	}
	return f
}

// stamp identifies the files' current versions.
func (c *certStore) stamp() (string, error) {
	var b bytes.Buffer
	for _, f := range c.files() {
		fi, err := os.Stat(f)
		if err != nil {
			return "", fmt.Errorf("tls: %w", err)
		}
		fmt.Fprintf(&b, "%s:%d:%d;", f, fi.Size(), fi.ModTime().UnixNano())
	}
	return b.String(), nil
}

func (c *certStore) load() (*tlsMaterial, error) {
	stamp, err := c.stamp()
	if err != nil {
		return nil, err
	}
	cert, err := tls.LoadX509KeyPair(c.cfg.CertFile, c.cfg.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("tls: load %s and %s: %w", c.cfg.CertFile, c.cfg.KeyFile, err)
	}
	m := &tlsMaterial{cert: &cert, stamp: stamp}
	if c.cfg.ClientCAFile != "" {
		pem, err := os.ReadFile(c.cfg.ClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("tls: %w", err)
		}
		m.clients = x509.NewCertPool()
		if !m.clients.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls: %s holds no PEM certificate", c.cfg.ClientCAFile)
		}
	}
	return m, nil
}

// reload loads the files again when they changed; it reports whether a
// new generation is in use.
func (c *certStore) reload() (bool, error) {
	stamp, err := c.stamp()
	if err == nil && stamp == c.cur.Load().stamp {
		return false, nil
	}
	var m *tlsMaterial
	if err == nil {
		m, err = c.load()
	}
	if err != nil {
		c.bad.Inc()
		return false, err
	}
	c.cur.Store(m)
	c.ok.Inc()
	return true, nil
}

// watch checks the files every ReloadInterval until ctx ends.
func (c *certStore) watch(ctx context.Context) {
	t := time.NewTicker(c.cfg.ReloadInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			changed, err := c.reload()
			switch {
			case err != nil:
				c.log.Error("tls certificate reload failed; keeping the previous certificate", "err", err)
			case changed:
				c.log.Info("tls certificate reloaded", "cert_file", c.cfg.CertFile, "not_after", c.cur.Load().cert.Leaf.NotAfter)
			}
		}
	}
}

// serverConfig returns the tls.Config of a new connection with the
// current material.
func (c *certStore) serverConfig() *tls.Config {
	m := c.cur.Load()
	cfg := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{*m.cert},
	}
	if m.clients != nil {
		cfg.ClientCAs = m.clients
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
		if c.cfg.RequireClientCert {
			cfg.ClientAuth = tls.RequireAndVerifyClientCert
		}
	}
	return cfg
}

// peerIdentity is the verified client certificate's identity: its subject
// common name, else its first DNS name, URI or e-mail SAN; "" without a
// verified client certificate.
func peerIdentity(cs tls.ConnectionState) string {
	if len(cs.VerifiedChains) == 0 || len(cs.PeerCertificates) == 0 {
		return ""
	}
	c := cs.PeerCertificates[0]
	switch {
	case c.Subject.CommonName != "":
		return c.Subject.CommonName
	case len(c.DNSNames) > 0:
		return c.DNSNames[0]
	case len(c.URIs) > 0:
		return c.URIs[0].String()
	case len(c.EmailAddresses) > 0:
		return c.EmailAddresses[0]
	}
	return ""
}
