package syslog

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/c981/c981/services/shared/event"
)

// parseLEEF parses a LEEF record starting at "LEEF:":
//
//	LEEF:1.0|Vendor|Product|Version|EventID|attr=value<TAB>attr=value...
//	LEEF:2.0|Vendor|Product|Version|EventID|Delimiter|attr=value<D>...
//
// The LEEF 2.0 delimiter is one character, or its hex code as "xHH" /
// "0xHH"; empty means tab. A field without '=' continues the previous
// value (a value that contains the delimiter). valid says that s is
// valid UTF-8.
func (p *Parser) parseLEEF(s string, valid bool, ev *event.Event, fields *fieldSet, as *aliasState) error {
	rest := s[len("LEEF:"):]
	var hdr [5]string
	for i := range hdr {
		end := strings.IndexByte(rest, '|')
		if end < 0 {
			return newError(ReasonBadLEEF, FormatLEEF, nil, "LEEF header has %d of 6 fields", i+1)
		}
		hdr[i], rest = rest[:end], rest[end+1:]
	}
	delim := byte('\t')
	switch hdr[0] {
	case "1.0", "1":
	case "2.0", "2":
		// The delimiter field is optional in practice: a field holding
		// key=value is already the first attribute.
		end := strings.IndexByte(rest, '|')
		if end >= 0 && !strings.ContainsRune(rest[:end], '=') {
			d, ok := leefDelimiter(rest[:end])
			if !ok {
				return newError(ReasonBadLEEF, FormatLEEF, nil, "LEEF 2.0 delimiter %q is not one character or a hex code", rest[:end])
			}
			delim, rest = d, rest[end+1:]
		}
	default:
		return newError(ReasonBadLEEF, FormatLEEF, nil, "unknown LEEF version %q", hdr[0])
	}
	// valid holds for every part cut at an ASCII delimiter: no value
	// needs clean then.
	if err := leefAttributes(rest, delim, valid && delim < utf8.RuneSelf, fields, as); err != nil {
		return err
	}
	fv := fieldView{fields, as}
	ev.Vendor, ev.Product = cleanUnless(valid, hdr[1]), cleanUnless(valid, hdr[2])
	ev.SignatureID = cleanUnless(valid, hdr[4])
	if hdr[3] != "" {
		setField(fields, as, "leef.product_version", cleanUnless(valid, hdr[3]))
	}
	ev.Signature = fv.first([]string{"name", "eventName", "msg"}, keep)
	if ev.Signature == "" {
		ev.Signature = ev.SignatureID
	}
	if v := fv.first([]string{"msg", "message"}, keep); v != "" {
		ev.Message = v
	} else if ev.Message == "" {
		ev.Message = ev.Signature
	}
	if v := fv.get("sev"); v != "" {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 0 || n > 10 {
			return newError(ReasonBadLEEF, FormatLEEF, nil, "LEEF sev %q is not 0-10", v)
		}
		ev.Severity = tenScaleSeverity(n)
	}
	if v := strings.TrimSpace(fv.get("devTime")); v != "" {
		t, ok := p.parseVendorTime(v, javaLayout(fv.get("devTimeFormat")))
		if !ok {
			return newError(ReasonBadTimestamp, FormatLEEF, nil, "devTime %q does not match devTimeFormat %q", v, fv.get("devTimeFormat"))
		}
		ev.Time, ev.TimeRaw = t, v
	}
	if ev.Host == "" {
		ev.Host = fv.first([]string{"identHostName", "devName", "dvchost"}, keep)
	}
	ev.EventCode = fv.first([]string{"eventId", "event_id", "externalId"}, keep)
	vendorOT(ev, fv)
	return nil
}

// leefDelimiter decodes a LEEF 2.0 delimiter field.
func leefDelimiter(s string) (byte, bool) {
	switch {
	case s == "":
		return '\t', true
	case len(s) == 1:
		return s[0], true
	case s == `\t`:
		return '\t', true
	}
	h := strings.TrimPrefix(strings.TrimPrefix(strings.ToLower(s), "0"), "x")
	if len(h) != len(s)-1 && len(h) != len(s)-2 || len(h) < 1 || len(h) > 2 {
		return 0, false
	}
	n, err := strconv.ParseUint(h, 16, 8)
	if err != nil || n == 0 || n == '=' {
		return 0, false
	}
	return byte(n), true
}

// leefAttributes splits attributes by delim into fields; valid says that
// every attribute is valid UTF-8 (needs no clean).
func leefAttributes(s string, delim byte, valid bool, fields *fieldSet, as *aliasState) error {
	s = strings.TrimRight(s, " \t")
	if s == "" {
		return nil
	}
	lastKey := ""
	for s != "" {
		var part string
		if i := strings.IndexByte(s, delim); i >= 0 {
			part, s = s[:i], s[i+1:]
		} else {
			part, s = s, ""
		}
		eq := strings.IndexByte(part, '=')
		if eq <= 0 || !validLEEFKey(part[:eq]) {
			if lastKey == "" {
				if strings.TrimSpace(part) == "" {
					continue
				}
				return newError(ReasonBadLEEF, FormatLEEF, nil, "LEEF attribute %q is not key=value", part)
			}
			prev, _ := fields.get(lastKey)
			setField(fields, as, lastKey, prev+string(delim)+cleanUnless(valid, part))
			continue
		}
		if fields.len() >= MaxFields {
			break
		}
		key := strings.TrimSpace(part[:eq])
		setField(fields, as, key, cleanUnless(valid, part[eq+1:]))
		lastKey = key
	}
	return nil
}

func validLEEFKey(k string) bool {
	k = strings.TrimSpace(k)
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		if !isKeyChar(k[i]) && !isDigit(k[i]) {
			return false
		}
	}
	return true
}

// javaLayout converts a Java SimpleDateFormat pattern (LEEF devTimeFormat)
// to a Go layout; "" stays "" (the known layouts are tried).
func javaLayout(p string) string {
	if p == "" {
		return ""
	}
	r := strings.NewReplacer(
		"yyyy", "2006", "yy", "06", "MMM", "Jan", "MM", "01", "dd", "02", "HH", "15",
		"mm", "04", "ss", "05", "SSS", "000", "XXX", "Z07:00", "Z", "-0700", "z", "MST", "'T'", "T", "a", "PM", "hh", "03",
	)
	return r.Replace(p)
}
