// Package loadgen is C-981's syslog load generator (c981 loadgen): it sends
// RFC 5424, RFC 3164 or CEF-in-syslog records over UDP, TCP or TLS, or in
// batches over HTTP (POST /v1/events with an Idempotency-Key, each batch
// retried by HTTPSender until ingest acknowledges it), at a target rate and
// tags every record with a run id and a sequence number, so that the
// receiving side can prove that nothing was lost or duplicated: VerifyRaw
// checks it on the raw stream (C981_RAW), package verify in ClickHouse.
//
// Every record carries run, seq and sent (Unix nanoseconds):
//
//	rfc5424: [c981load@32473 run="ID" seq="N" sent="T"] in the structured data
//	rfc3164: run=ID seq=N sent=T as key=value pairs in the message
//	cef:     run=ID seq=N sent=T as CEF extension keys, inside a syslog envelope
//
// Two profiles say what the records describe. plant (the default) is a
// plant's routine traffic on the demo site (deploy/demo/site.yaml): Modbus
// polls and reads on allowed conduits, SIS status reads, historian
// replication, remote-desktop hops, successful logons, Kerberos inside a
// zone — none of which the OT rule pack (rules/) alerts on — and a
// configurable share (DefaultSuspicious, 0.1 %) of suspicious records that
// it does: writes from the corporate LAN, program downloads from an HMI,
// mode changes, flows no conduit allows, a scan from an unregistered
// device, writes to the safety system, failed logons. stress is the
// original load, in which nearly every record raises alerts (Line's
// records, byte for byte). A record is a pure function of run id, sequence
// number, format and send time, so a resent record is identical.
//
// Line builds one stress record, Generator the records of either profile,
// Seq reads run and seq back from a raw record of any of these formats,
// and Run drives a connection.
//
// The two-process TCP load measurement of ingest (c981 loadgen-ingest on
// one side, c981 loadgen --verify-raw on the other) is scripted in
// testdata/tcp-load.sh.
package loadgen
