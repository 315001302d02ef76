package loadgen

import (
	"bytes"
	"fmt"
	"strconv"
	"time"
)

// Formats of generated records.
const (
	FormatRFC5424 = "rfc5424"
	FormatRFC3164 = "rfc3164"
	FormatCEF     = "cef"
	// FormatMix rotates through the three formats by sequence number.
	FormatMix = "mix"
)

// ValidFormat reports whether f is one of the formats above.
func ValidFormat(f string) bool {
	switch f {
	case FormatRFC5424, FormatRFC3164, FormatCEF, FormatMix:
		return true
	}
	return false
}

var (
	hosts = []string{"fw-cell-01", "ews-01", "hmi-02", "plc-gw-03", "jump-01"}
	ops   = []string{"read", "write", "program_download", "mode_change", "read"}
	ports = []int{502, 44818, 102, 20000, 502}
)

// Line appends one record (without a line terminator) of format to dst and
// returns it. The record is about 300 bytes, realistic for a firewall or
// OT sensor, and carries run, seq and the send time.
func Line(dst []byte, format, run string, seq uint64, sent time.Time) []byte {
	if format == FormatMix {
		format = [...]string{FormatRFC5424, FormatRFC3164, FormatCEF}[seq%3]
	}
	i := int(seq % uint64(len(hosts)))
	host, op, port := hosts[i], ops[i], ports[i]
	ns := sent.UnixNano()
	src := fmt.Sprintf("10.20.%d.%d", 2+seq%3, 10+seq%200)
	sport := 40000 + int(seq%20000)
	switch format {
	case FormatRFC5424:
		dst = append(dst, "<134>1 "...)
		dst = sent.UTC().AppendFormat(dst, "2006-01-02T15:04:05.000000Z")
		dst = append(dst, ' ')
		dst = append(dst, host...)
		dst = append(dst, ` c981load - LOAD [c981load@32473 run="`...)
		dst = append(dst, run...)
		dst = append(dst, `" seq="`...)
		dst = strconv.AppendUint(dst, seq, 10)
		dst = append(dst, `" sent="`...)
		dst = strconv.AppendInt(dst, ns, 10)
		dst = append(dst, `"][c981@32473 src="`...)
		dst = append(dst, src...)
		dst = append(dst, `" dst="10.20.1.11" sport="`...)
		dst = strconv.AppendInt(dst, int64(sport), 10)
		dst = append(dst, `" dport="`...)
		dst = strconv.AppendInt(dst, int64(port), 10)
		dst = append(dst, `" op="`...)
		dst = append(dst, op...)
		dst = append(dst, `"] load test record from the c981 load generator, operator session on engineering workstation`...)
	case FormatCEF:
		dst = append(dst, "<132>"...)
		dst = sent.UTC().AppendFormat(dst, time.Stamp)
		dst = append(dst, ' ')
		dst = append(dst, host...)
		dst = append(dst, " CEF:0|C981|loadgen|1.0|ot-"...)
		dst = append(dst, op...)
		dst = append(dst, "|OT operation "...)
		dst = append(dst, op...)
		dst = append(dst, " observed|5|run="...)
		dst = append(dst, run...)
		dst = append(dst, " seq="...)
		dst = strconv.AppendUint(dst, seq, 10)
		dst = append(dst, " sent="...)
		dst = strconv.AppendInt(dst, ns, 10)
		dst = append(dst, " src="...)
		dst = append(dst, src...)
		dst = append(dst, " dst=10.20.1.11 spt="...)
		dst = strconv.AppendInt(dst, int64(sport), 10)
		dst = append(dst, " dpt="...)
		dst = strconv.AppendInt(dst, int64(port), 10)
		dst = append(dst, " proto=TCP act=alert cs1Label=operation cs1="...)
		dst = append(dst, op...)
		dst = append(dst, " msg=load test record from the c981 load generator"...)
	default: // rfc3164
		dst = append(dst, "<134>"...)
		dst = sent.UTC().AppendFormat(dst, time.Stamp)
		dst = append(dst, ' ')
		dst = append(dst, host...)
		dst = append(dst, " c981load[4242]: run="...)
		dst = append(dst, run...)
		dst = append(dst, " seq="...)
		dst = strconv.AppendUint(dst, seq, 10)
		dst = append(dst, " sent="...)
		dst = strconv.AppendInt(dst, ns, 10)
		dst = append(dst, " action=allow src="...)
		dst = append(dst, src...)
		dst = append(dst, " dst=10.20.1.11 proto=tcp sport="...)
		dst = strconv.AppendInt(dst, int64(sport), 10)
		dst = append(dst, " dport="...)
		dst = strconv.AppendInt(dst, int64(port), 10)
		dst = append(dst, " op="...)
		dst = append(dst, op...)
		dst = append(dst, " policy=cell-to-control msg=load test record from the c981 load generator"...)
	}
	return dst
}

// Seq extracts the run id and sequence number from a raw record built by
// Line, in any format; ok is false when the record has none.
func Seq(raw []byte) (run string, seq uint64, ok bool) {
	run, ok = value(raw, "run=")
	if !ok {
		return "", 0, false
	}
	s, ok := value(raw, "seq=")
	if !ok {
		return "", 0, false
	}
	n, err := strconv.ParseUint(s, 10, 64)
	return run, n, err == nil
}

// value returns the value after the first " key" or "[... key" in raw,
// quoted ("...") or up to the next space or ']'.
func value(raw []byte, key string) (string, bool) {
	for off := 0; ; {
		i := bytes.Index(raw[off:], []byte(key))
		if i < 0 {
			return "", false
		}
		i += off
		off = i + len(key)
		if i > 0 && raw[i-1] != ' ' && raw[i-1] != '|' {
			continue
		}
		v := raw[off:]
		if len(v) > 0 && v[0] == '"' {
			end := bytes.IndexByte(v[1:], '"')
			if end < 0 {
				return "", false
			}
			return string(v[1 : 1+end]), true
		}
		end := bytes.IndexAny(v, " ]")
		if end < 0 {
			end = len(v)
		}
		return string(v[:end]), true
	}
}
