package syslog

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/c981/c981/services/shared/event"
)

// extractPairs adds the key=value pairs of a message body to fields. A key
// starts at the beginning of the text or after a space, tab, comma or
// semicolon, begins with a letter or '_' and continues with letters,
// digits, '_', '-' or '.'; it is followed directly by '='. A value is either
// "double quoted" (with \" and \\ escapes; an unterminated quote runs to the
// end) or runs to the next space or tab. Empty values are skipped, and the
// first occurrence of a key wins (structured data params, added before, win
// over body pairs).
func extractPairs(s string, fields map[string]string) {
	i := 0
	for i < len(s) && len(fields) < MaxFields {
		if i > 0 && !isSep(s[i-1]) || !isKeyStart(s[i]) {
			i++
			continue
		}
		j := i + 1
		for j < len(s) && isKeyChar(s[j]) {
			j++
		}
		if j >= len(s) || s[j] != '=' {
			i = j
			continue
		}
		key := s[i:j]
		j++ // '='
		var val string
		if j < len(s) && s[j] == '"' {
			val, j = quoted(s, j+1)
		} else {
			k := j
			for k < len(s) && s[k] != ' ' && s[k] != '\t' {
				k++
			}
			val, j = strings.TrimRight(s[j:k], ",;"), k
		}
		if val != "" {
			if _, ok := fields[key]; !ok {
				fields[key] = val
			}
		}
		i = j
	}
}

// quoted reads a quoted value starting after the opening quote at i and
// returns it unescaped with the index after the closing quote.
func quoted(s string, i int) (string, int) {
	var b strings.Builder
	plain := true
	start := i
	for i < len(s) {
		c := s[i]
		switch {
		case c == '"':
			if plain {
				return s[start:i], i + 1
			}
			return b.String(), i + 1
		case c == '\\' && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\\'):
			if plain {
				b.WriteString(s[start:i])
				plain = false
			}
			b.WriteByte(s[i+1])
			i += 2
			continue
		}
		if !plain {
			b.WriteByte(c)
		}
		i++
	}
	if plain {
		return s[start:], i
	}
	return b.String(), i
}

func isSep(c byte) bool { return c == ' ' || c == '\t' || c == ',' || c == ';' }

func isKeyStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
}

func isKeyChar(c byte) bool {
	return isKeyStart(c) || c >= '0' && c <= '9' || c == '-' || c == '.'
}

// Aliases of the well-known keys, in order of preference.
var (
	srcIPKeys     = []string{"src", "src_ip", "srcip"}
	dstIPKeys     = []string{"dst", "dst_ip", "dstip"}
	srcPortKeys   = []string{"sport", "spt", "src_port"}
	dstPortKeys   = []string{"dport", "dpt", "dst_port"}
	protoKeys     = []string{"proto"}
	appProtoKeys  = []string{"app", "app_proto"}
	operationKeys = []string{"op", "operation"}
	userKeys      = []string{"user", "suser", "duser"}
	actionKeys    = []string{"action", "act"}
	outcomeKeys   = []string{"outcome", "result"}
	categoryKeys  = []string{"category", "cat"}
)

// CategoryAuthentication is the category value that makes an event an
// authentication event (Kind auth).
const CategoryAuthentication = "authentication"

// mapFields sets the Event fields of the well-known keys and the Kind. For
// each field the first alias with a valid value wins; invalid values (an IP
// that does not parse, a port outside 1-65535) stay only in Fields.
func mapFields(ev *event.Event) {
	f := ev.Fields
	if f != nil {
		ev.SrcIP = first(f, srcIPKeys, parseIP)
		ev.DstIP = first(f, dstIPKeys, parseIP)
		ev.SrcPort = port(first(f, srcPortKeys, parsePort))
		ev.DstPort = port(first(f, dstPortKeys, parsePort))
		ev.Proto = first(f, protoKeys, parseProto)
		ev.AppProto = first(f, appProtoKeys, lower)
		ev.Operation = first(f, operationKeys, lower)
		ev.User = first(f, userKeys, keep)
		ev.Action = first(f, actionKeys, lower)
		ev.Outcome = first(f, outcomeKeys, parseOutcome)
		ev.Category = first(f, categoryKeys, lower)
	}
	switch {
	case ev.Category == CategoryAuthentication:
		ev.Kind = event.KindAuth
	case ev.SrcIP != "" && ev.DstIP != "":
		ev.Kind = event.KindFlow
	default:
		ev.Kind = event.KindLog
	}
}

// first returns the normalized value of the first alias whose value
// normalizes successfully, or "".
func first(f map[string]string, keys []string, norm func(string) (string, bool)) string {
	for _, k := range keys {
		if v, ok := f[k]; ok {
			if n, ok := norm(strings.TrimSpace(v)); ok {
				return n
			}
		}
	}
	return ""
}

func keep(v string) (string, bool) { return v, v != "" }

func lower(v string) (string, bool) { return strings.ToLower(v), v != "" }

func parseIP(v string) (string, bool) {
	a, err := netip.ParseAddr(v)
	if err != nil {
		return "", false
	}
	return a.Unmap().String(), true
}

func parsePort(v string) (string, bool) {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 65535 {
		return "", false
	}
	return strconv.Itoa(n), true
}

func port(v string) int {
	n, _ := strconv.Atoi(v) // v is "" or validated by parsePort
	return n
}

// parseProto lowercases a protocol name and names the common IANA numbers.
func parseProto(v string) (string, bool) {
	switch v {
	case "":
		return "", false
	case "6":
		return "tcp", true
	case "17":
		return "udp", true
	case "1":
		return "icmp", true
	case "58":
		return "ipv6-icmp", true
	}
	return strings.ToLower(v), true
}

// parseOutcome normalizes an outcome to success, failure or unknown.
func parseOutcome(v string) (string, bool) {
	switch strings.ToLower(v) {
	case "":
		return "", false
	case "success", "succeeded", "successful", "succeed", "ok", "pass", "passed":
		return "success", true
	case "failure", "failed", "fail", "error", "denied", "rejected":
		return "failure", true
	}
	return "unknown", true
}
