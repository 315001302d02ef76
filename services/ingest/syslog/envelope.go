package syslog

import (
	"strings"
	"time"
	"unicode/utf8"

	"github.com/c981/c981/services/shared/event"
)

// parseEnveloped parses a CEF or LEEF payload that starts at offset off of
// the record body; the text before it, if any, is a syslog header.
func (p *Parser) parseEnveloped(format Format, r record, off int, ev *event.Event, fields *fieldSet, as *aliasState) error {
	body := r.body()
	// Valid UTF-8 as a whole (the usual case) is valid in every part cut
	// at ASCII delimiters: neither the header nor the payload values
	// need clean then.
	valid := utf8.ValidString(body)
	if off > 0 {
		p.envelope(body[:off], valid, ev)
	}
	payload := body[off:]
	if format == FormatCEF {
		return p.parseCEF(payload, valid, ev, fields, as)
	}
	return p.parseLEEF(payload, valid, ev, fields, as)
}

// envelope parses the syslog header in front of a CEF or LEEF payload:
// RFC 5424 ("1 TIMESTAMP HOST APP PROCID MSGID [SD] ") or RFC 3164
// ("TIMESTAMP [HOST] [TAG:] "). It is lenient: whatever it cannot
// recognize is left unset, the payload carries the event. valid says
// that env is valid UTF-8 (its tokens need no clean).
func (p *Parser) envelope(env string, valid bool, ev *event.Event) {
	env = trimSpace(env)
	if strings.HasPrefix(env, "1 ") {
		toks := strings.Fields(env)
		get := func(i int) string {
			if i < len(toks) && toks[i] != "-" {
				return cleanUnless(valid, toks[i])
			}
			return ""
		}
		if t, err := time.Parse(time.RFC3339Nano, get(1)); err == nil {
			ev.Time, ev.TimeRaw = t.UTC(), toks[1]
		}
		ev.Host, ev.App, ev.ProcID, ev.MsgID = get(2), get(3), get(4), get(5)
		return
	}
	rest := env
	if t, raw, after, ok := p.ciscoStamp(env); ok {
		ev.Time, ev.TimeRaw, rest = t, raw, after
	} else if raw := rawStamp(env); raw != "" {
		if t, ok := p.parseStamp(raw); ok {
			ev.Time, ev.TimeRaw, rest = t, raw, strings.TrimLeft(env[len(raw):], " ")
		}
	}
	tok, rest := nextToken(rest)
	if tok != "" && !strings.HasSuffix(tok, ":") {
		ev.Host = cleanUnless(valid, tok)
		tok, _ = nextToken(rest)
	}
	if tok != "" {
		tag := strings.TrimSuffix(tok, ":")
		if i := strings.IndexByte(tag, '['); i > 0 && strings.HasSuffix(tag, "]") {
			ev.ProcID = cleanUnless(valid, tag[i+1:len(tag)-1])
			tag = tag[:i]
		}
		ev.App = cleanUnless(valid, tag)
	}
}

// nextToken returns the first space-separated token of s and the rest.
func nextToken(s string) (string, string) {
	s = strings.TrimLeft(s, " ")
	if i := strings.IndexByte(s, ' '); i >= 0 {
		return s[:i], s[i+1:]
	}
	return s, ""
}

// parseStamp parses an RFC 3164 timestamp as written ("Mmm dd hh:mm:ss"
// with optional fractions, or RFC 3339).
func (p *Parser) parseStamp(raw string) (time.Time, bool) {
	if raw[0] >= '0' && raw[0] <= '9' {
		t, err := time.Parse(time.RFC3339Nano, raw)
		return t.UTC(), err == nil
	}
	if f, ok := parseStampFields(raw); ok {
		return p.stampYear(f), true
	}
	if len(raw) < len(time.Stamp) || len(raw) > len(time.StampNano) {
		return time.Time{}, false
	}
	t, err := time.Parse(time.StampNano[:len(raw)], raw)
	if err != nil {
		return time.Time{}, false
	}
	return p.stampTime(t), true
}

// parseJSONEnveloped parses a JSON payload that follows a syslog header.
func (p *Parser) parseJSONEnveloped(format Format, r record, ev *event.Event, fields *fieldSet, as *aliasState) (Format, error) {
	body := r.body()
	if body[0] == '1' && (len(body) == 1 || body[1] == ' ') {
		if err := p.parse5424(r, ev, fields, as); err != nil {
			return format, err
		}
	} else {
		p.parse3164(r, ev)
	}
	if !strings.HasPrefix(ev.Message, "{") {
		return format, newError(ReasonFormatMismatch, format, nil, "the syslog message is not a JSON object")
	}
	return p.parseJSON(format, ev.Message, ev, fields, as)
}
