// Package ingest is C-981's ingest service: syslog listeners over UDP and TCP
// that parse every record (package syslog), give it a deterministic id at
// first receipt, batch the events per (site, source) and publish them to
// JetStream (bus.RawSubject) with deterministic message ids.
//
// Records that cannot be parsed are dead-lettered to the ingest DLQ with the
// reason and their position ("tcp 10.0.0.5:40112 line 7"), counted in
// c981_ingest_malformed_total, and never affect their neighbours.
//
// Flow control: listeners hand records to the publisher through a bounded
// queue. A TCP reader blocks while the queue is full, so the sender is
// pushed back by TCP itself; a UDP datagram that finds the queue full is
// dropped and counted in c981_ingest_dropped_total (UDP has no way to push
// back). The publisher retries a failed publish with the same message id
// until it succeeds, so a slow or full stream slows ingest down instead of
// losing events.
//
// On shutdown the listeners stop, every queued record is published, and Run
// returns; publishing after shutdown is bounded by Config.ShutdownTimeout.
package ingest
