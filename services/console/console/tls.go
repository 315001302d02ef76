package console

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/c981/c981/services/shared/secret"
)

// TLSConfig makes the console serve HTTPS.
//
//	tls:
//	  cert_file: /etc/c981/console.pem      # PEM chain, leaf first
//	  key_file: /etc/c981/console-key.pem   # mode 0600 or stricter
//	  client_ca_file: /etc/c981/users-ca.pem  # optional: require client certificates (mTLS)
//	  min_version: "1.2"                    # "1.2" (default) or "1.3"
//
// The certificate and key are re-read when either file changes (checked at
// most once a second), so a rotated certificate needs no restart.
type TLSConfig struct {
	// CertFile is the PEM certificate chain of the server.
	CertFile string `yaml:"cert_file"`
	// KeyFile is the PEM private key; it must not be accessible by group or
	// others.
	KeyFile string `yaml:"key_file"`
	// ClientCAFile, when set, is a PEM bundle of the CAs whose client
	// certificates are required and accepted.
	ClientCAFile string `yaml:"client_ca_file"`
	// MinVersion is the lowest TLS version accepted: "1.2" (default) or
	// "1.3".
	MinVersion string `yaml:"min_version"`
}

// DefaultTLSMinVersion is TLSConfig.MinVersion's default.
const DefaultTLSMinVersion = "1.2"

// tlsVersions maps TLSConfig.MinVersion to the crypto/tls constants.
var tlsVersions = map[string]uint16{"1.2": tls.VersionTLS12, "1.3": tls.VersionTLS13}

// validate checks the settings and the files: they must exist, the key
// must be private and the pair must load.
func (t TLSConfig) validate() []error {
	var errs []error
	if _, ok := tlsVersions[t.MinVersion]; !ok {
		errs = append(errs, fmt.Errorf("tls.min_version %q: want \"1.2\" or \"1.3\"", t.MinVersion))
	}
	if t.CertFile == "" {
		errs = append(errs, errors.New("tls.cert_file: required"))
	}
	if t.KeyFile == "" {
		errs = append(errs, errors.New("tls.key_file: required"))
	} else if err := secret.CheckPrivateFile(t.KeyFile); err != nil {
		errs = append(errs, fmt.Errorf("tls.key_file: %w", err))
	} else if t.CertFile != "" {
		if _, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile); err != nil {
			errs = append(errs, fmt.Errorf("tls: load certificate and key: %w", err))
		}
	}
	if t.ClientCAFile != "" {
		if _, err := secret.LoadCAs(t.ClientCAFile); err != nil {
			errs = append(errs, fmt.Errorf("tls.client_ca_file: %w", err))
		}
	}
	return errs
}

// serverConfig builds the server's tls.Config with a certificate that is
// reloaded when its files change.
func (t TLSConfig) serverConfig(log *slog.Logger) (*tls.Config, error) {
	r := &certReloader{certFile: t.CertFile, keyFile: t.KeyFile, log: log}
	if err := r.load(); err != nil {
		return nil, err
	}
	c := &tls.Config{
		MinVersion:     tlsVersions[t.MinVersion],
		GetCertificate: r.get,
		NextProtos:     []string{"h2", "http/1.1"},
	}
	if t.ClientCAFile != "" {
		pool, err := secret.LoadCAs(t.ClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("tls.client_ca_file: %w", err)
		}
		c.ClientCAs = pool
		c.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return c, nil
}

// certReloader serves a certificate and re-reads it when the files change.
type certReloader struct {
	certFile, keyFile string
	log               *slog.Logger

	mu      sync.Mutex
	cert    *tls.Certificate
	stamp   string    // modification times and sizes of the loaded files
	checked time.Time // last look at the files
}

// fileStamp identifies the current versions of the files.
func (r *certReloader) fileStamp() (string, error) {
	var s string
	for _, p := range []string{r.certFile, r.keyFile} {
		st, err := os.Stat(p)
		if err != nil {
			return "", err
		}
		s += fmt.Sprintf("%d/%d;", st.ModTime().UnixNano(), st.Size())
	}
	return s, nil
}

// load reads the key pair (checking the key file's mode first).
func (r *certReloader) load() error {
	stamp, err := r.fileStamp()
	if err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	if err := secret.CheckPrivateFile(r.keyFile); err != nil {
		return fmt.Errorf("tls.key_file: %w", err)
	}
	pair, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf("tls: load certificate and key: %w", err)
	}
	r.mu.Lock()
	r.cert, r.stamp, r.checked = &pair, stamp, time.Now()
	r.mu.Unlock()
	return nil
}

// get returns the current certificate, reloading it first when the files
// changed; a failed reload keeps the previous certificate and is logged.
func (r *certReloader) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	due := time.Since(r.checked) >= time.Second
	if due {
		r.checked = time.Now()
	}
	stamp := r.stamp
	r.mu.Unlock()
	if due {
		if now, err := r.fileStamp(); err != nil {
			r.log.Warn("console TLS certificate check failed; keeping the loaded certificate", "err", err)
		} else if now != stamp {
			if err := r.load(); err != nil {
				r.log.Error("console TLS certificate reload failed; keeping the loaded certificate", "err", err)
			} else {
				r.log.Info("console TLS certificate reloaded", "cert_file", r.certFile)
			}
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cert, nil
}
