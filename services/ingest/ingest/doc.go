// Package ingest is C-981's ingest service. Its listeners receive records
// over every transport a plant uses, parse each record (package syslog),
// give it a deterministic id at first receipt, batch the events per
// (site, source) and publish them to JetStream (bus.RawSubject) with
// deterministic message ids.
//
// Transports (ListenerConfig.Proto):
//
//   - udp: one record per datagram (RFC 5426; LF-separated batches too),
//     UDPReaders goroutines sharing one socket, or with UDPReusePort one
//     socket per reader, all bound with SO_REUSEPORT so that the kernel
//     spreads the flows over them (Linux); a configurable receive buffer per
//     socket. The kernel's drop counters of the sockets (/proc/net/udp,
//     Linux) are exported, summed per listener, as
//     c981_ingest_udp_kernel_drops_total.
//   - tcp: RFC 6587 octet counting or newline framing, detected per
//     connection (package framing); MaxLineBytes, an idle timeout between
//     records, a slow-client timeout within a record (FrameTimeout), a
//     connection limit (MaxConns). A TLS ClientHello on this port is
//     dead-lettered as tls_on_plain_port.
//   - tls: RFC 5425 with optional mutual TLS. The verified client
//     certificate's identity (subject CN, else first SAN) is stored in
//     Event.PeerIdentity of every event of the connection and can be mapped
//     to a site and source (TLSConfig.Identities). Certificate and client CA
//     files are reloaded when they change, without a restart. Plaintext on
//     this port is dead-lettered as plaintext_on_tls_port.
//   - http: POST /v1/events with a bearer token: one JSON document, NDJSON, or
//     with Content-Type text/plain one record of any format per line; 413
//     above MaxBodyBytes; 429 with Retry-After when the memory budget has no
//     room for the whole request (nothing is published, the sensor
//     retries). The handler publishes the request's events itself and
//     answers 202 only once JetStream acknowledged them (503 with
//     Retry-After when it does not in time). With an Idempotency-Key header
//     the event ids derive from (site, listener, key, record index), so a
//     retried request publishes the same messages and ids, deduplicated by
//     JetStream and the store: no loss and no duplicate even when ingest is
//     killed between the acknowledgement and its answer.
//   - nats: a core NATS queue subscription on c981.sensor.<site>.<source>
//     for sensors that publish directly. Core NATS rather than a JetStream
//     stream: the records become durable once, on C981_RAW, instead of being
//     stored twice; a sensor that needs delivery guarantees sends a request
//     and gets "ok" once its records are queued or "busy" (retry) when the
//     queue is full, the same contract as HTTP's 429.
//
// Bad input: records that cannot be parsed and transport failures (framing,
// over-long records, absurd octet counts, slow clients, TLS errors, bad
// JSON) are dead-lettered to the ingest DLQ with the reason and their
// position ("tcp 10.0.0.5:40112 line 7"), counted in
// c981_ingest_malformed_total{listener,reason}, and never affect other
// records or connections. Per listener, c981_ingest_received_lines_total,
// c981_ingest_parsed_total, c981_ingest_malformed_total (dead-lettered) and
// c981_ingest_dropped_total give received / parsed / dead-lettered /
// dropped.
//
// Flow control within a bounded memory budget: listeners hand records to
// the publisher through a queue bounded twice, by QueueSize records and by
// QueueBytes bytes (default 64 MiB; a record costs twice its size plus 1
// KiB from its receipt until its batch is acknowledged by JetStream, so
// the budget covers the queue, the open batches and the batches being
// published; c981_ingest_queue_bytes shows it). TCP and TLS readers block
// while either bound is reached, so they stop reading and the sender is
// pushed back by TCP itself; HTTP answers 429 with Retry-After and NATS
// requests "busy" when the request does not fit as a whole; a UDP datagram
// (or a NATS message without reply subject) that finds no room is dropped
// and counted in c981_ingest_dropped_total. The publisher retries a failed
// publish with the same message id until it succeeds, so a slow, full or
// unreachable stream slows ingest down instead of losing events, and a
// retried batch is deduplicated by JetStream.
//
// Per-sender limits (ListenerConfig.RateLimit, MaxConnsPerPeer): a token
// bucket per peer IP (per bearer token and peer IP for http) and a bound
// on the concurrent connections of one peer IP, so that one noisy or
// misconfigured sender cannot starve its neighbours. Over its rate a TCP
// or TLS sender is simply not read until its tokens are due (backpressure,
// nothing lost), a UDP record is dropped and counted
// (c981_ingest_dropped_total{reason="rate_limited"}), an HTTP request is
// answered 429 with Retry-After; all are counted per listener in
// c981_ingest_rate_limited_total{listener,action}. A connection over
// max_conns_per_peer is closed at once and counted in
// c981_ingest_tcp_connections_rejected_per_peer_total.
//
// On shutdown the listeners stop, every queued record is published, and Run
// returns; publishing after shutdown is bounded by Config.ShutdownTimeout.
package ingest
