package cli

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

func init() {
	register("healthcheck", "GET a /healthz URL; exit 0 when it answers 200 (container health checks)", healthcheckCmd)
}

// healthcheckCmd lets a container built FROM distroless (no shell, no
// curl) check its own stage: `c981 healthcheck http://127.0.0.1:9981/healthz`.
func healthcheckCmd(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("healthcheck", stderr)
	timeout := fs.Duration("timeout", 3*time.Second, "request timeout")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: c981 healthcheck [--timeout D] URL")
		return errUsage
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fs.Arg(0), nil)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
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
