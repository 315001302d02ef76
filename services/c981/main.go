// Command c981 runs the C-981 OT incident correlation pipeline: all stages
// in one process (`c981 run`), one stage against an external NATS
// (`c981 ingest|enrich|correlate|store|respond|console`), or the offline
// tools (`c981 parse`, `c981 analyze`, `c981 migrate`). See `c981 help`.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/c981/c981/services/c981/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
