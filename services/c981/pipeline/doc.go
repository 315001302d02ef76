// Package pipeline composes the C-981 stages: the all-in-one run (every
// stage in one process with an embedded JetStream server and a ClickHouse
// found or started locally), and single stages against an external NATS.
// It holds no stage logic of its own: each stage is the service package of
// its module, built by New(cfg, deps) and run by Run(ctx).
package pipeline
