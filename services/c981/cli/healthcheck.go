package cli

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/c981/c981/services/shared/secret"
)

func init() {
	register("healthcheck", "GET a /healthz URL; exit 0 when it answers 200 (container health checks)", healthcheckCmd)
}

// healthcheckCmd lets a container built FROM distroless (no shell, no
// curl) check its own stage: `c981 healthcheck http://127.0.0.1:9981/healthz`.
func healthcheckCmd(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("healthcheck", stderr)
	timeout := fs.Duration("timeout", 3*time.Second, "request timeout")
	serverName := fs.String("server-name", "", "name to verify in the server certificate of an https URL (e.g. the console's DNS name when probing 127.0.0.1)")
	caFile := fs.String("ca", "", "PEM file of the CA that signs the server certificate of an https URL (default: the system roots)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: c981 healthcheck [--timeout D] [--ca FILE] [--server-name NAME] URL")
		return errUsage
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fs.Arg(0), nil)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	client := http.DefaultClient
	if *serverName != "" || *caFile != "" {
		// The name to check instead of the URL's host, and the CA to trust
		// instead of the system roots.
		tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: *serverName}
		if *caFile != "" {
			pool, err := secret.LoadCAs(*caFile)
			if err != nil {
				return fmt.Errorf("healthcheck --ca: %w", err)
			}
			tc.RootCAs = pool
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = tc
		client = &http.Client{Transport: tr}
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck %s: %s: %s", fs.Arg(0), resp.Status, body)
	}
	fmt.Fprintf(stdout, "%s", body)
	return nil
}
