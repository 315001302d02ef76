package cli

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/c981/c981/services/shared/bus"
)

func init() {
	register("nats-provision", "create or update the JetStream streams (run once per deployment/upgrade)", natsProvisionCmd)
}

// natsProvisionCmd creates or updates every C-981 stream with the
// configured sizes, as the provisioning NATS user (deploy/nats/accounts.conf):
// the runtime users may update but not create streams. It retries until
// the server answers or --timeout passes, so it can run as a one-shot job
// next to a NATS server that is still starting.
func natsProvisionCmd(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("nats-provision", stderr)
	var c common
	c.register(fs)
	timeout := fs.Duration("timeout", 2*time.Minute, "give up when the streams cannot be created within this time")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := c.load()
	if err != nil {
		return err
	}
	if cfg.NATS.URL == "" {
		return fmt.Errorf("nats.url (or --nats) is required")
	}
	log := logger(stderr, cfg)
	nc, js, err := cfg.NATS.Connect("c981-nats-provision")
	if err != nil {
		// bus.Connect's error quotes the URL: never let its password out.
		return fmt.Errorf("%s", strings.ReplaceAll(err.Error(), cfg.NATS.URL, redactURL(cfg.NATS.URL)))
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	backoff := 250 * time.Millisecond
	for {
		actx, acancel := context.WithTimeout(ctx, 10*time.Second)
		err = bus.EnsureStreams(actx, js, cfg.Streams)
		if err == nil {
			err = bus.EnsureBuckets(actx, js, cfg.Streams)
		}
		acancel()
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return fmt.Errorf("provision streams on %s: %w", redactURL(cfg.NATS.URL), err)
		}
		log.Warn("provision streams; retrying", "nats", redactURL(cfg.NATS.URL), "err", err, "backoff", backoff)
		select {
		case <-ctx.Done():
			return fmt.Errorf("provision streams on %s: %w", redactURL(cfg.NATS.URL), err)
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
	for _, sc := range bus.StreamConfigs(cfg.Streams) {
		fmt.Fprintf(stdout, "stream %-15s subjects %v replicas %d max_age %s\n", sc.Name, sc.Subjects, sc.Replicas, sc.MaxAge)
	}
	return nil
}

// redactURL returns a (comma-separated) NATS URL list with every password
// replaced, for logs and errors.
func redactURL(urls string) string {
	parts := strings.Split(urls, ",")
	for i, p := range parts {
		u, err := url.Parse(strings.TrimSpace(p))
		switch {
		case err != nil:
			parts[i] = "(unparsable URL)"
		case u.User != nil:
			parts[i] = u.Redacted()
		}
	}
	return strings.Join(parts, ",")
}
