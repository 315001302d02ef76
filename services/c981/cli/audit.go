package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/c981/c981/services/respond/audit"
	"github.com/c981/c981/services/shared/bus"
)

func init() {
	register("audit", "verify --nats URL --site ID: check a site's response audit hash chain", auditCmd)
}

func auditCmd(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "verify" {
		fmt.Fprintln(stderr, "usage: c981 audit verify --nats URL --site ID")
		return errUsage
	}
	fs := newFlagSet("audit verify", stderr)
	natsURL := fs.String("nats", "", "NATS URL (required)")
	siteID := fs.String("site", "", "site id (required)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: c981 audit verify --nats URL --site ID\n\nReads the site's audit chain from the C981_AUDIT stream (c981.audit.<site>) and checks every\nlink: sequence, prev_hash and hash = sha256(canonical JSON || prev_hash). Exits 1 at the first\nbroken link.")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if *natsURL == "" || *siteID == "" || fs.NArg() != 0 {
		fs.Usage()
		return errUsage
	}
	nc, js, err := bus.Connect(*natsURL, "c981 audit verify")
	if err != nil {
		return err
	}
	defer nc.Close()
	log, err := audit.OpenLog(ctx, js)
	if err != nil {
		return err
	}
	recs, err := log.Read(ctx, *siteID)
	if err != nil {
		return err
	}
	if b := audit.Verify(recs); b != nil {
		r := recs[b.Index]
		fmt.Fprintf(stdout, "BROKEN site %s: first broken link at record %d of %d (seq %d, id %s, %s %s)\n  %s\n",
			*siteID, b.Index+1, len(recs), b.Seq, r.ID, r.Kind, r.What, b.Reason)
		return fmt.Errorf("audit chain of %s is broken at record %d", *siteID, b.Index+1)
	}
	last := audit.Genesis
	if len(recs) > 0 {
		last = recs[len(recs)-1].Hash
	}
	fmt.Fprintf(stdout, "ok site %s: %d records, chain intact, head %s\n", *siteID, len(recs), last)
	return nil
}
