package cli

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/c981/c981/services/c981/natsconf"
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
	sitesFlag := fs.String("sites", "", "comma-separated sites whose leaf node's JetStream domain (site-<site>) central's C981_RAW and C981_DLQ source (store-and-forward; run at central only)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	sites, err := parseSites(*sitesFlag)
	if err != nil {
		fmt.Fprintf(stderr, "c981 nats-provision: --sites: %v\n", err)
		return errUsage
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
		err = ensureStreams(actx, js, cfg.Streams, sites)
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
	for _, sc := range natsconf.WithSiteSources(bus.StreamConfigs(cfg.Streams), sites) {
		fmt.Fprintf(stdout, "stream %-15s subjects %v replicas %d max_age %s\n", sc.Name, sc.Subjects, sc.Replicas, sc.MaxAge)
		for _, src := range sc.Sources {
			fmt.Fprintf(stdout, "  source %s %s filter %s deliver %s\n", src.External.APIPrefix, src.Name, src.FilterSubject, src.External.DeliverPrefix)
		}
	}
	return nil
}

// ensureStreams creates or updates every C-981 stream; with sites, central's
// C981_RAW and C981_DLQ also source the same streams of each site's
// JetStream domain (natsconf.WithSiteSources), replacing the sources the
// streams had. Without sites the existing sources are kept, as they are by
// every stage that runs bus.EnsureStreams at start.
func ensureStreams(ctx context.Context, js jetstream.JetStream, o bus.StreamOptions, sites []string) error {
	if len(sites) == 0 {
		return bus.EnsureStreams(ctx, js, o)
	}
	for _, cfg := range natsconf.WithSiteSources(bus.StreamConfigs(o), sites) {
		if _, err := js.CreateOrUpdateStream(ctx, cfg); err != nil {
			return fmt.Errorf("ensure stream %s: %w", cfg.Name, err)
		}
	}
	return nil
}

// parseSites splits the --sites list; every site must be a subject token
// (the name used in c981.raw.<site>.> and the domain site-<site>).
func parseSites(list string) ([]string, error) {
	if strings.TrimSpace(list) == "" {
		return nil, nil
	}
	var sites []string
	for _, s := range strings.Split(list, ",") {
		s = strings.TrimSpace(s)
		switch {
		case s == "":
			return nil, fmt.Errorf("empty site name in %q", list)
		case bus.Token(s) != s:
			return nil, fmt.Errorf("site %q is not a subject token (no dots, wildcards, spaces or control characters)", s)
		}
		sites = append(sites, s)
	}
	return sites, nil
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
