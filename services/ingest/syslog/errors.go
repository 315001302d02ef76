package syslog

import (
	"errors"
	"fmt"
)

// Reason is a short, stable label for why a record was rejected. Reasons are
// used as metric label values, so the set is small and fixed.
type Reason string

// Rejection reasons.
const (
	// ReasonEmpty: the record has no bytes (besides line terminators).
	ReasonEmpty Reason = "empty"
	// ReasonTooLong: the record exceeds the maximum record size.
	ReasonTooLong Reason = "too_long"
	// ReasonBadPRI: the record starts with '<' but has no valid <PRI>
	// (0-191 in one to three digits followed by '>').
	ReasonBadPRI Reason = "bad_pri"
	// ReasonTruncated: the record ends before its header is complete
	// (nothing after the PRI, or an RFC 5424 header with missing fields).
	ReasonTruncated Reason = "truncated_header"
	// ReasonBadHeader: an RFC 5424 header field is malformed.
	ReasonBadHeader Reason = "bad_header"
	// ReasonBadStructuredData: RFC 5424 structured data is malformed.
	ReasonBadStructuredData Reason = "bad_structured_data"
	// ReasonNUL: the record contains a NUL byte.
	ReasonNUL Reason = "nul_byte"
	// ReasonFormatMismatch: the listener's configured format does not match
	// the record (a forced CEF listener receiving a line without a CEF
	// header, a JSON format receiving text, ...).
	ReasonFormatMismatch Reason = "format_mismatch"
	// ReasonBadCEF: a CEF header or extension is malformed.
	ReasonBadCEF Reason = "bad_cef"
	// ReasonBadLEEF: a LEEF header or attribute list is malformed.
	ReasonBadLEEF Reason = "bad_leef"
	// ReasonBadJSON: a JSON record is not one well-formed JSON object.
	ReasonBadJSON Reason = "bad_json"
	// ReasonBadTimestamp: a structured record (EVE, Zeek, CEF rt, LEEF
	// devTime) carries a timestamp that does not parse.
	ReasonBadTimestamp Reason = "bad_timestamp"
)

// Sentinel errors, one per Reason, for errors.Is.
var (
	ErrEmpty             = errors.New(string(ReasonEmpty))
	ErrTooLong           = errors.New(string(ReasonTooLong))
	ErrBadPRI            = errors.New(string(ReasonBadPRI))
	ErrTruncated         = errors.New(string(ReasonTruncated))
	ErrBadHeader         = errors.New(string(ReasonBadHeader))
	ErrBadStructuredData = errors.New(string(ReasonBadStructuredData))
	ErrNUL               = errors.New(string(ReasonNUL))
	ErrFormatMismatch    = errors.New(string(ReasonFormatMismatch))
	ErrBadCEF            = errors.New(string(ReasonBadCEF))
	ErrBadLEEF           = errors.New(string(ReasonBadLEEF))
	ErrBadJSON           = errors.New(string(ReasonBadJSON))
	ErrBadTimestamp      = errors.New(string(ReasonBadTimestamp))
)

var sentinels = map[Reason]error{
	ReasonEmpty:             ErrEmpty,
	ReasonTooLong:           ErrTooLong,
	ReasonBadPRI:            ErrBadPRI,
	ReasonTruncated:         ErrTruncated,
	ReasonBadHeader:         ErrBadHeader,
	ReasonBadStructuredData: ErrBadStructuredData,
	ReasonNUL:               ErrNUL,
	ReasonFormatMismatch:    ErrFormatMismatch,
	ReasonBadCEF:            ErrBadCEF,
	ReasonBadLEEF:           ErrBadLEEF,
	ReasonBadJSON:           ErrBadJSON,
	ReasonBadTimestamp:      ErrBadTimestamp,
}

// ParseError is the error returned by Parser.Parse for a rejected record.
type ParseError struct {
	// Reason classifies the failure.
	Reason Reason
	// Format is the format the record was parsed as.
	Format Format
	// Detail explains the failure in words.
	Detail string
	// Err is the underlying error of the go-syslog machine, if any.
	Err error
}

// Error returns "reason: detail[: cause]".
func (e *ParseError) Error() string {
	msg := string(e.Reason) + ": " + e.Detail
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the underlying machine error.
func (e *ParseError) Unwrap() error { return e.Err }

// Is reports whether target is the sentinel error of e's Reason.
func (e *ParseError) Is(target error) bool {
	s, ok := sentinels[e.Reason]
	return ok && s == target
}

// ReasonOf returns the Reason of a *ParseError in err's chain, or "" when
// err is not a parse error.
func ReasonOf(err error) Reason {
	var pe *ParseError
	if errors.As(err, &pe) {
		return pe.Reason
	}
	return ""
}

func newError(r Reason, f Format, cause error, format string, args ...any) *ParseError {
	return &ParseError{Reason: r, Format: f, Detail: fmt.Sprintf(format, args...), Err: cause}
}
