package cli

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/c981/c981/services/store/chstore"
	"github.com/c981/c981/services/store/store"
)

func init() {
	register("clusterddl", "print the replicated + Distributed (cluster) variant of the ClickHouse migrations", clusterDDLCmd)
}

// clusterDDLCmd generates deploy/clickhouse/cluster.sql from the embedded
// migrations (chstore.ClusterDDL).
func clusterDDLCmd(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("clusterddl", stderr)
	var cfg chstore.ClusterConfig
	var out string
	fs.StringVar(&cfg.Cluster, "cluster", "c981", "cluster name (remote_servers) for ON CLUSTER and the Distributed tables")
	fs.StringVar(&cfg.Database, "database", "c981", "database of the tables (part of the ZooKeeper paths)")
	fs.StringVar(&out, "o", "", "write to this file instead of stdout (e.g. deploy/clickhouse/cluster.sql)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: c981 clusterddl [--cluster NAME] [--database DB] [-o FILE]")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "c981 clusterddl: unexpected argument %q\n", fs.Arg(0))
		return errUsage
	}
	migs, err := chstore.LoadMigrations(store.Migrations())
	if err != nil {
		return err
	}
	ddl, err := chstore.ClusterDDL(migs, cfg)
	if err != nil {
		return err
	}
	if out == "" {
		_, err := io.WriteString(stdout, ddl)
		return err
	}
	if err := os.WriteFile(out, []byte(ddl), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	fmt.Fprintf(stdout, "wrote %s (%d tables, cluster %s, database %s)\n", out, len(chstore.ClusterTables(migs)), cfg.Cluster, cfg.Database)
	return nil
}
