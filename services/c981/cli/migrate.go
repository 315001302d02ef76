package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/c981/c981/services/store/chstore"
	"github.com/c981/c981/services/store/store"
)

func migrateCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("migrate", stderr)
	var c common
	c.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := c.load()
	if err != nil {
		return err
	}
	cfg.ResolveClickHouse()
	if len(cfg.ClickHouse.Addrs) == 0 {
		return fmt.Errorf("no ClickHouse address: use --clickhouse HOST:PORT or CLICKHOUSE_ADDR")
	}
	cc := cfg.ClickHouse
	cc.CreateDatabase = true
	conn, err := chstore.Open(ctx, cc)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := chstore.Migrate(ctx, conn, store.Migrations()); err != nil {
		return err
	}
	applied, err := chstore.Applied(ctx, conn)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "ClickHouse %v database %s: %d migrations applied\n", cc.Addrs, cc.Database, len(applied))
	return nil
}
