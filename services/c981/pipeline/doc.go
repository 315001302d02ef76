// Package pipeline composes the C-981 stages: the all-in-one run (every
// stage in one process with an embedded JetStream server and a ClickHouse
// found or started locally), and single stages against an external NATS.
// It holds no stage logic of its own: each stage is the service package of
// its module, built by New(cfg, deps) and run by Run(ctx).
//
// # Memory
//
// A backlog lives in the JetStream streams (on disk), not in the process:
// what a process holds is bounded by design, whatever the backlog.
//
//   - Pulled but unprocessed messages: enrich pulls at most max_ack_pending
//     raw batches, each pull at most enrich.pull_max_bytes (bus.PullBudget);
//     the store gathers at most store.max_batch_bytes of messages per batch
//     and table (one gathering, one waiting, one being inserted).
//   - The embedded nats-server's block caches (8 MiB per stream block being
//     read or written) are released by its own expiry (10 s after a block's
//     last use, not configurable) and by garbage collection: about 10 s of
//     the bytes written to the streams.
//   - The Go heap is held near memory_limit (runtime/debug.SetMemoryLimit;
//     default DefaultMemoryLimit, 2 GiB; GOMEMLIMIT wins): the collector
//     runs as often as it must to stay under it, instead of letting the
//     heap grow to twice the live data (GOGC=100). It is a soft limit: a
//     live heap above it (a site model of a million assets holds about
//     500 MiB) makes the collector run far more often; raise memory_limit
//     with the model.
//
// Measured with testdata/backlog-rss.sh (PREFILL=1000000: a backlog of a
// million events in C981_RAW, plus loadgen as fast as the pipeline accepts
// for 60 s, 75 s sampled): peak RSS 1,030-1,042 MiB with the defaults
// (memory_limit: 1536MiB: 1,533 MiB; memory_limit: off: 2,006 MiB),
// against 2,845-3,469 MiB and still growing when the run ended before the
// bounds.
package pipeline
