// Package framing splits a syslog byte stream (TCP or TLS) into records
// according to RFC 6587: octet counting ("MSG-LEN SP SYSLOG-MSG", also the
// only framing of RFC 5425) and non-transparent framing (records terminated
// by LF, CR LF accepted). The framing is detected once per connection from
// its first byte: a digit means octet counting, anything else newline
// framing.
//
// A Reader enforces a maximum record size, an idle timeout between records
// and a slow-client timeout within one record (slowloris), and classifies
// every transport-level failure with a stable Reason so that the caller can
// count and dead-letter it. Errors that leave the stream in sync (an
// over-long record whose length is known, or an over-long line) are
// recoverable: Next can be called again. Errors that desynchronize the
// stream (an absurd octet count, a slow client, a TLS handshake on a plain
// port) are fatal: the caller closes the connection.
package framing
