// Package loadgen is C-981's syslog load generator (c981 loadgen): it sends
// RFC 5424, RFC 3164 or CEF-in-syslog records over UDP, TCP or TLS at a
// target rate and tags every record with a run id and a sequence number, so
// that the receiving side can prove that nothing was lost or duplicated.
//
// Every record carries run, seq and sent (Unix nanoseconds):
//
//	rfc5424: [c981load@32473 run="ID" seq="N" sent="T"] in the structured data
//	rfc3164: run=ID seq=N sent=T as key=value pairs in the message
//	cef:     run=ID seq=N sent=T as CEF extension keys, inside a syslog envelope
//
// Line builds one record, Seq reads run and seq back from a raw record of
// any of these formats, and Run drives a connection.
package loadgen
