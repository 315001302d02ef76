package syslog

import (
	"strconv"
	"strings"
)

// Syslog severities (RFC 5424 section 6.2.1), the one scale of
// Event.Severity.
const (
	SevEmergency = 0
	SevAlert     = 1
	SevCritical  = 2
	SevError     = 3
	SevWarning   = 4
	SevNotice    = 5
	SevInfo      = 6
	SevDebug     = 7
)

// tenScaleSeverity maps a 0-10 severity (CEF, LEEF sev) to syslog:
// 0-1 info, 2-3 notice, 4-5 warning, 6-7 error, 8-9 critical, 10 alert.
func tenScaleSeverity(n int) int {
	switch {
	case n <= 1:
		return SevInfo
	case n <= 3:
		return SevNotice
	case n <= 5:
		return SevWarning
	case n <= 7:
		return SevError
	case n <= 9:
		return SevCritical
	}
	return SevAlert
}

// cefSeverity parses a CEF severity: 0-10 or Unknown, Low, Medium, High,
// Very-High. ok is false for anything else.
func cefSeverity(v string) (sev int, ok bool) {
	v = trimSpace(v)
	n, ok := digits(v) // the usual "0"-"10", without strconv
	if !ok {
		i, err := strconv.Atoi(v)
		n, ok = int64(i), err == nil
	}
	if ok {
		if n < 0 || n > 10 {
			return 0, false
		}
		return tenScaleSeverity(int(n)), true
	}
	return cefSeverityWord(v)
}

// cefSeverityWord maps CEF's severity words (case-insensitive; empty is
// Unknown, -1).
func cefSeverityWord(v string) (sev int, ok bool) {
	switch strings.ToLower(v) {
	case "unknown", "":
		return -1, true
	case "low":
		return SevNotice, true
	case "medium":
		return SevWarning, true
	case "high":
		return SevError, true
	case "very-high", "very high", "veryhigh":
		return SevCritical, true
	}
	return 0, false
}

// eveSeverity maps Suricata's alert.severity (1 highest .. 4 lowest).
func eveSeverity(v string) int {
	switch v {
	case "1":
		return SevCritical
	case "2":
		return SevError
	case "3":
		return SevWarning
	}
	return SevNotice
}

// severityNames maps syslog severity names (and FortiGate levels) to the
// scale.
var severityNames = map[string]int{
	"emergency": SevEmergency, "emerg": SevEmergency, "alert": SevAlert, "critical": SevCritical,
	"crit": SevCritical, "error": SevError, "err": SevError, "warning": SevWarning, "warn": SevWarning,
	"notice": SevNotice, "information": SevInfo, "informational": SevInfo, "info": SevInfo, "debug": SevDebug,
}

// namedSeverity maps a severity name to the scale, -1 when unknown.
func namedSeverity(v string) int {
	if s, ok := severityNames[strings.ToLower(strings.TrimSpace(v))]; ok {
		return s
	}
	return -1
}
