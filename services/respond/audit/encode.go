package audit

import (
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"
)

// appendRecord appends the JSON of r exactly as encoding/json's
// json.Marshal(r) writes it (fields in declaration order, the omitempty
// fields left out when empty, strings escaped with HTML escaping, the time
// in RFC 3339 with nanoseconds), without reflection: the canonical form
// the chain's hashes are computed over, and the record on the bus, are
// written for every record a plan produces. FuzzAppendRecord checks it
// against json.Marshal.
func appendRecord(b []byte, r *Record) ([]byte, error) {
	b = append(b, `{"id":`...)
	b = appendString(b, r.ID)
	b = append(b, `,"site":`...)
	b = appendString(b, r.Site)
	b = append(b, `,"seq":`...)
	b = strconv.AppendUint(b, r.Seq, 10)
	b = append(b, `,"time":`...)
	var err error
	if b, err = appendTime(b, r.Time); err != nil {
		return nil, err
	}
	b = append(b, `,"actor":`...)
	b = appendString(b, r.Actor)
	if r.ActorRole != "" {
		b = append(b, `,"actor_role":`...)
		b = appendString(b, r.ActorRole)
	}
	b = append(b, `,"kind":`...)
	b = appendString(b, r.Kind)
	b = append(b, `,"what":`...)
	b = appendString(b, r.What)
	b = append(b, `,"why":`...)
	b = appendString(b, r.Why)
	b = append(b, `,"result":`...)
	b = appendString(b, r.Result)
	if r.IncidentID != "" {
		b = append(b, `,"incident_id":`...)
		b = appendString(b, r.IncidentID)
	}
	if r.IncidentVersion != 0 {
		b = append(b, `,"incident_version":`...)
		b = strconv.AppendUint(b, r.IncidentVersion, 10)
	}
	if r.PlanID != "" {
		b = append(b, `,"plan_id":`...)
		b = appendString(b, r.PlanID)
	}
	if r.StepID != "" {
		b = append(b, `,"step_id":`...)
		b = appendString(b, r.StepID)
	}
	b = append(b, `,"inputs_hash":`...)
	b = appendString(b, r.InputsHash)
	b = append(b, `,"prev_hash":`...)
	b = appendString(b, r.PrevHash)
	if r.Hash != "" {
		b = append(b, `,"hash":`...)
		b = appendString(b, r.Hash)
	}
	return append(b, '}'), nil
}

// appendTime appends t as time.Time's MarshalJSON does (RFC 3339 with
// nanoseconds, quoted), with its error for a year outside 0-9999.
func appendTime(b []byte, t time.Time) ([]byte, error) {
	if y := t.Year(); y < 0 || y > 9999 {
		return nil, fmt.Errorf("json: error calling MarshalJSON for type time.Time: Time.MarshalJSON: year outside of range [0,9999]")
	}
	if _, off := t.Zone(); off <= -24*3600 || off >= 24*3600 {
		// Records are in UTC: only a hand-made record gets here.
		return nil, fmt.Errorf("json: error calling MarshalJSON for type time.Time: Time.MarshalJSON: timezone hour outside of range [0,23]")
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"'), nil
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string the way encoding/json does with
// HTML escaping (its appendString): <, >, & and control characters as
// \u00XX (\b \f \n \r \t by name), invalid UTF-8 as \ufffd, U+2028 and
// U+2029 escaped.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
