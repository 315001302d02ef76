package syslog

import (
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/c981/c981/services/shared/event"
)

// ciscoStampLayouts are the "logging timestamp" forms of Cisco devices:
// with a year, without a host after them.
var ciscoStampLayouts = []string{"Jan _2 2006 15:04:05.000", "Jan _2 2006 15:04:05", "Jan 02 2006 15:04:05.000", "Jan 02 2006 15:04:05"}

// ciscoStamp parses a Cisco timestamp with a year at the start of body
// ("Nov 26 2026 10:00:01: %ASA-..."), in the parser's location. It
// returns the time, its raw text and the rest after the timestamp and its
// optional ':'.
func (p *Parser) ciscoStamp(body string) (time.Time, string, string, bool) {
	// Shape "Mmm dd yyyy hh:" before trying the layouts.
	if len(body) < 20 || body[0] < 'A' || body[0] > 'Z' || body[3] != ' ' || body[6] != ' ' || body[11] != ' ' ||
		!isDigit(body[7]) || !isDigit(body[10]) || body[14] != ':' {
		return time.Time{}, "", "", false
	}
	n := 20
	if n < len(body) && body[n] == '.' {
		n++
		for n < len(body) && body[n] >= '0' && body[n] <= '9' {
			n++
		}
	}
	raw := body[:n]
	for _, layout := range ciscoStampLayouts {
		if len(layout) != len(raw) {
			continue
		}
		t, err := time.ParseInLocation(layout, raw, p.loc)
		if err != nil {
			continue
		}
		rest := strings.TrimPrefix(body[n:], ":")
		return t.UTC(), raw, strings.TrimLeft(rest, " "), true
	}
	return time.Time{}, "", "", false
}

// ciscoTag recognizes a Cisco message tag "%FACILITY-SEVERITY-MNEMONIC:"
// as the syslog TAG or at the start of the message (optionally after a
// "device-id :" prefix). It sets App to the tag, Vendor Cisco, Product
// to the facility for the firewalls (ASA, FTD, PIX, FWSM) or IOS
// otherwise, EventCode to the mnemonic and, without a PRI, the severity.
// For firewall messages it extracts the connection endpoints.
func ciscoTag(ev *event.Event) {
	tag := ev.App
	if !strings.HasPrefix(tag, "%") {
		if ev.App != "" {
			return
		}
		msg := ev.Message
		if i := strings.Index(msg, " : %"); i > 0 && i < 64 && !strings.ContainsRune(msg[:i], ' ') {
			if ev.Host == "" {
				ev.Host = msg[:i]
			}
			msg = msg[i+3:]
		}
		if !strings.HasPrefix(msg, "%") {
			return
		}
		end := strings.Index(msg, ": ")
		if end < 0 {
			if !strings.HasSuffix(msg, ":") {
				return
			}
			end = len(msg) - 1
		}
		tag = msg[:end]
		if !validCiscoTag(tag) {
			return
		}
		ev.App = tag
		ev.Message = strings.TrimLeft(msg[min(end+2, len(msg)):], " ")
	} else if !validCiscoTag(tag) {
		return
	}
	parts := strings.SplitN(tag[1:], "-", 3)
	fac, sev, mnemonic := parts[0], parts[1], parts[2]
	ev.Vendor = "Cisco"
	firewall := false
	switch fac {
	case "ASA", "FTD", "PIX", "FWSM":
		ev.Product, firewall = fac, true
	default:
		ev.Product = "IOS"
	}
	ev.EventCode = mnemonic
	if ev.Severity < 0 {
		ev.Severity = int(sev[0] - '0')
	}
	if firewall {
		asaFlow(ev)
	}
}

// validCiscoTag checks "%FAC-D-MNEMONIC".
func validCiscoTag(tag string) bool {
	parts := strings.SplitN(strings.TrimPrefix(tag, "%"), "-", 3)
	if len(parts) != 3 || parts[0] == "" || parts[2] == "" || len(parts[1]) != 1 || parts[1][0] < '0' || parts[1][0] > '7' {
		return false
	}
	for _, s := range []string{parts[0], parts[2]} {
		for i := 0; i < len(s); i++ {
			c := s[i]
			if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
				return false
			}
		}
	}
	return true
}

// asaFlow extracts source and destination of an ASA/FTD connection
// message: the first two "interface:ip/port" tokens are the initiator and
// the responder, swapped for "outbound" connections (which ASA logs with
// the outside peer first). "Built"/"Teardown"/"Deny" set the action and
// the word after "inbound"/"outbound" or "Deny" the protocol.
func asaFlow(ev *event.Event) {
	var eps [2]struct {
		ip   string
		port int
	}
	n := 0
	msg := ev.Message
	for _, tok := range strings.Fields(msg) {
		if n == 2 {
			break
		}
		c := strings.IndexByte(tok, ':')
		s := strings.IndexByte(tok, '/')
		if c <= 0 || s <= c+1 {
			continue
		}
		addr, err := netip.ParseAddr(tok[c+1 : s])
		if err != nil {
			continue
		}
		pt, err := strconv.Atoi(strings.TrimRight(tok[s+1:], ",;)"))
		if err != nil || pt < 0 || pt > 65535 {
			continue
		}
		eps[n].ip, eps[n].port = addr.Unmap().String(), pt
		n++
	}
	words := strings.Fields(msg)
	outbound := false
	for i, w := range words {
		switch strings.ToLower(w) {
		case "built":
			setStr(&ev.Action, "allow")
		case "teardown":
			setStr(&ev.Action, "teardown")
		case "deny", "denied":
			setStr(&ev.Action, "deny")
			if i+1 < len(words) {
				if pr, ok := asaProto(words[i+1]); ok {
					setStr(&ev.Proto, pr)
				}
			}
		case "inbound", "outbound":
			outbound = outbound || strings.EqualFold(w, "outbound")
			if i+1 < len(words) {
				if pr, ok := asaProto(words[i+1]); ok {
					setStr(&ev.Proto, pr)
				}
			}
		}
	}
	if n < 2 {
		return
	}
	src, dst := eps[0], eps[1]
	if outbound {
		src, dst = dst, src
	}
	ev.SrcIP, ev.DstIP = src.ip, dst.ip
	if src.port > 0 {
		ev.SrcPort = src.port
	}
	if dst.port > 0 {
		ev.DstPort = dst.port
	}
}

func asaProto(w string) (string, bool) {
	switch strings.ToLower(w) {
	case "tcp", "udp", "icmp", "sctp", "gre":
		return strings.ToLower(w), true
	}
	return "", false
}
