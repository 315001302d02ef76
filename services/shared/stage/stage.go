// Package stage defines what every bus-connected C-981 stage (ingest,
// enrich, correlate, respond) receives from the process that hosts it, so
// the all-in-one run, a single-stage process and the tests wire them the
// same way.
package stage

import (
	"log/slog"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

// Deps are a stage's collaborators.
type Deps struct {
	// JS is the JetStream handle; required. The C-981 streams must exist.
	JS jetstream.JetStream
	// Logger receives structured logs; nil means slog.Default().
	Logger *slog.Logger
	// Registry receives the stage's c981_<stage>_* metrics; nil means they
	// are not exported.
	Registry prometheus.Registerer
}
