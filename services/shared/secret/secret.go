// Package secret reads credentials and key material safely for every
// C-981 component: a secret comes inline, from an environment variable or
// from a file that only its owner may read (or its group, when root owns
// it; anything wider is refused with a clear error), and never appears in an
// error. It also holds the TLS client settings of a ClickHouse connection,
// which the store and the console share.
package secret

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
)

// ReadFile returns the contents of a secret file (a password or
// token), without trailing white space. It refuses a file that fails
// CheckPrivateFile or is empty.
func ReadFile(path string) (string, error) {
	if err := CheckPrivateFile(path); err != nil {
		return "", err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read secret file: %w", err)
	}
	s := strings.TrimRight(string(b), " \t\r\n")
	if s == "" {
		return "", fmt.Errorf("secret file %s is empty", path)
	}
	return s, nil
}

// CheckPrivateFile fails unless path is a regular file that others may not
// access and that only its owner may read - or, when root owns it, its
// group may also read (mode 0640 or less). The second form is the rule
// PostgreSQL applies to its key files: it is how Kubernetes secret volumes
// (root-owned, group = the pod's fsGroup) and Debian's ssl-cert group hand
// keys to a non-root service without giving them to everyone.
func CheckPrivateFile(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("secret file: %w", err)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("secret file %s is not a regular file", path)
	}
	perm := st.Mode().Perm()
	if perm&0o077 == 0 {
		return nil
	}
	if perm&0o037 == 0 && ownedByRoot(st) {
		return nil
	}
	return fmt.Errorf("secret file %s has mode %#o: readable by group or others; chmod 600 it (or 640 if root owns it)", path, perm)
}

// Read returns the secret given inline, in the environment variable
// env or in the file file; at most one of them may be set ("" when none is).
// what names the setting in errors; the secret itself is never shown.
func Read(what, inline, env, file string) (string, error) {
	set := 0
	for _, s := range []string{inline, env, file} {
		if s != "" {
			set++
		}
	}
	switch {
	case set > 1:
		return "", fmt.Errorf("%s: set at most one of the inline value, _env and _file", what)
	case env != "":
		v, ok := os.LookupEnv(env)
		if !ok || v == "" {
			return "", fmt.Errorf("%s_env: environment variable %s is not set or empty", what, env)
		}
		return v, nil
	case file != "":
		v, err := ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("%s_file: %w", what, err)
		}
		return v, nil
	}
	return inline, nil
}

// ClickHouseTLS configures TLS on a ClickHouse native-protocol connection
// (the store's and the console's use the same settings).
//
//	tls:
//	  enabled: true
//	  ca_file: /etc/c981/ch-ca.pem       # default: the system roots
//	  cert_file: /etc/c981/store.pem     # client certificate (mTLS), with key_file
//	  key_file: /etc/c981/store-key.pem  # mode 0600
//	  server_name: ch.example.com        # default: the host of the address
//	  insecure_skip_verify: false        # tests only
type ClickHouseTLS struct {
	// Enabled turns TLS on (ClickHouse's tcp_port_secure, 9440 by default).
	Enabled bool `yaml:"enabled"`
	// CAFile is a PEM bundle of the CAs that sign the server certificate
	// (default: the system roots).
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile are the PEM client certificate and key for
	// mutual TLS; both or neither. The key file must be mode 0600 or
	// stricter.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ServerName overrides the name checked in the server certificate.
	ServerName string `yaml:"server_name"`
	// InsecureSkipVerify disables the server certificate check (never in
	// production).
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

// Validate reports the configuration's problems without reading files.
func (t ClickHouseTLS) Validate() error {
	var errs []error
	if !t.Enabled {
		if t.CAFile != "" || t.CertFile != "" || t.KeyFile != "" || t.ServerName != "" || t.InsecureSkipVerify {
			errs = append(errs, errors.New("clickhouse.tls: settings given but enabled is false"))
		}
		return errors.Join(errs...)
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		errs = append(errs, errors.New("clickhouse.tls: cert_file and key_file go together"))
	}
	return errors.Join(errs...)
}

// Config builds the client tls.Config (nil when TLS is not enabled): TLS 1.2
// or later, the CA bundle, the client key pair after checking the key
// file's mode.
func (t ClickHouseTLS) Config() (*tls.Config, error) {
	if !t.Enabled {
		return nil, nil
	}
	if err := t.Validate(); err != nil {
		return nil, err
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName, InsecureSkipVerify: t.InsecureSkipVerify} //nolint:gosec // opt-in, documented as tests only
	if t.CAFile != "" {
		pool, err := LoadCAs(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("clickhouse.tls.ca_file: %w", err)
		}
		c.RootCAs = pool
	}
	if t.CertFile != "" {
		if err := CheckPrivateFile(t.KeyFile); err != nil {
			return nil, fmt.Errorf("clickhouse.tls.key_file: %w", err)
		}
		pair, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("clickhouse.tls: load client key pair: %w", err)
		}
		c.Certificates = []tls.Certificate{pair}
	}
	return c, nil
}

// LoadCAs reads a PEM bundle of CA certificates.
func LoadCAs(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: no PEM certificate found", path)
	}
	return pool, nil
}
