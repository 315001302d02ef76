package bus

import (
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"

	"github.com/c981/c981/services/shared/secret"
)

// TLS is a NATS client's TLS settings: the CA that signs the servers'
// certificates and, for servers that require client certificates
// (`verify: true`), the client's certificate and key. A tls:// URL with
// none of them set uses the system roots (SSL_CERT_FILE).
//
//	nats:
//	  url: tls://c981-enrich:PASSWORD@nats:4222
//	  tls:
//	    ca_file: /etc/c981/tls/ca.crt
//	    cert_file: /etc/c981/nats-client/tls.crt   # with key_file: mutual TLS
//	    key_file: /etc/c981/nats-client/tls.key    # mode 0600 (or 0640/0440 owned by root)
type TLS struct {
	CAFile   string `yaml:"ca_file"`
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// Options returns the nats.go options for t (none when t is empty): the
// CA bundle and the client key pair after checking that the key file is
// private.
func (t TLS) Options() ([]nats.Option, error) {
	if (t.CertFile == "") != (t.KeyFile == "") {
		return nil, errors.New("nats.tls: cert_file and key_file go together")
	}
	var opts []nats.Option
	if t.CAFile != "" {
		if _, err := secret.LoadCAs(t.CAFile); err != nil {
			return nil, fmt.Errorf("nats.tls.ca_file: %w", err)
		}
		opts = append(opts, nats.RootCAs(t.CAFile))
	}
	if t.CertFile != "" {
		if err := secret.CheckPrivateFile(t.KeyFile); err != nil {
			return nil, fmt.Errorf("nats.tls.key_file: %w", err)
		}
		opts = append(opts, nats.ClientCert(t.CertFile, t.KeyFile))
	}
	return opts, nil
}
