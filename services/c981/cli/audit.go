package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/c981/c981/services/respond/audit"
	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/store/chstore"
)

func init() {
	register("audit", "verify (--nats URL | --clickhouse ADDR) --site ID: check a site's response audit hash chain", auditCmd)
}

const auditUsage = "usage: c981 audit verify (--nats URL | --clickhouse ADDR [--database DB]) --site ID"

func auditCmd(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "verify" {
		fmt.Fprintln(stderr, auditUsage)
		return errUsage
	}
	fs := newFlagSet("audit verify", stderr)
	natsURL := fs.String("nats", "", "NATS URL: read the chain from the C981_AUDIT stream")
	addr := fs.String("clickhouse", "", "ClickHouse native address host:port: read the chain from the audit table the store fills")
	db := fs.String("database", "", "ClickHouse database (default c981)")
	siteID := fs.String("site", "", "site id (required)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, auditUsage+"\n\nReads the site's audit chain from the C981_AUDIT stream (c981.audit.<site>) or from the\nClickHouse audit table the store fills, and checks every link: sequence, prev_hash and\nhash = sha256(canonical JSON || prev_hash). In ClickHouse, two different rows for one seq\n(a modified copy inserted beside the original) are a broken link too. Exits 1 at the first\nbroken link.")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if *siteID == "" || fs.NArg() != 0 || (*natsURL == "") == (*addr == "") || (*db != "" && *addr == "") {
		fs.Usage()
		return errUsage
	}
	var (
		recs []audit.Record
		brk  *audit.Break
		from string
		err  error
	)
	if *natsURL != "" {
		from = "stream " + audit.Stream
		recs, err = auditFromStream(ctx, *natsURL, *siteID)
		if err == nil {
			brk = audit.Verify(recs)
		}
	} else {
		from = "ClickHouse table " + chstore.TableAudit
		recs, brk, err = auditFromClickHouse(ctx, chstore.ConnConfig{Addrs: []string{*addr}, Database: *db}, *siteID)
	}
	if err != nil {
		return err
	}
	if brk != nil {
		r := recs[brk.Index]
		fmt.Fprintf(stdout, "BROKEN site %s: first broken link at record %d of %d (seq %d, id %s, %s %s) in the %s\n  %s\n",
			*siteID, brk.Index+1, len(recs), brk.Seq, r.ID, r.Kind, r.What, from, brk.Reason)
		return fmt.Errorf("audit chain of %s is broken at record %d", *siteID, brk.Index+1)
	}
	last := audit.Genesis
	if len(recs) > 0 {
		last = recs[len(recs)-1].Hash
	}
	fmt.Fprintf(stdout, "ok site %s: %d records, chain intact, head %s (%s)\n", *siteID, len(recs), last, from)
	return nil
}

func auditFromStream(ctx context.Context, url, site string) ([]audit.Record, error) {
	nc, js, err := bus.Connect(url, "c981 audit verify")
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	log, err := audit.ExistingLog(ctx, js)
	if err != nil {
		return nil, err
	}
	return log.Read(ctx, site)
}

// auditFromClickHouse reads every stored row of site's chain (in seq order)
// and verifies it: identical copies of a row (a redelivery not merged yet)
// count once; two different rows for one seq are a broken link at the
// second, as is the first link audit.Verify rejects, whichever comes first.
// The records returned are those the break's Index refers to.
func auditFromClickHouse(ctx context.Context, cc chstore.ConnConfig, site string) ([]audit.Record, *audit.Break, error) {
	cc = cc.WithDefaults()
	if err := cc.Validate(); err != nil {
		return nil, nil, err
	}
	conn, err := chstore.Open(ctx, cc)
	if err != nil {
		return nil, nil, err
	}
	defer conn.Close()
	rows, err := chstore.ReadAudit(ctx, conn, site)
	if err != nil {
		return nil, nil, err
	}
	return verifyStored(rows)
}

// verifyStored collapses identical rows and verifies the chain; see
// auditFromClickHouse.
func verifyStored(rows []chstore.AuditRecord) ([]audit.Record, *audit.Break, error) {
	var (
		recs     []audit.Record
		conflict *audit.Break
	)
	for _, row := range rows {
		// A conversion, not a copy: chstore.AuditRecord must stay
		// field-for-field identical to audit.Record or this does not compile.
		r := audit.Record(row)
		if n := len(recs); n > 0 && recs[n-1].Seq == r.Seq {
			if same, err := sameRecord(recs[n-1], r); err != nil {
				return nil, nil, err
			} else if same {
				continue
			}
			if conflict == nil {
				conflict = &audit.Break{Index: n, Seq: r.Seq, Reason: fmt.Sprintf(
					"seq %d is stored twice with different content (ids %s and %s, hashes %.12s... and %.12s...): a modified copy was inserted",
					r.Seq, recs[n-1].ID, r.ID, recs[n-1].Hash, r.Hash)}
			}
		}
		recs = append(recs, r)
	}
	var uniq []audit.Record
	if conflict != nil {
		uniq = recs[:conflict.Index]
	} else {
		uniq = recs
	}
	if b := audit.Verify(uniq); b != nil {
		return recs, b, nil
	}
	return recs, conflict, nil
}

// sameRecord reports whether a and b are the same record: equal hashes and
// equal canonical JSON.
func sameRecord(a, b audit.Record) (bool, error) {
	if a.Hash != b.Hash {
		return false, nil
	}
	ca, err := audit.Canonical(a)
	if err != nil {
		return false, err
	}
	cb, err := audit.Canonical(b)
	if err != nil {
		return false, err
	}
	return string(ca) == string(cb), nil
}
