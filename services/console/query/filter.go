package query

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/c981/c981/services/shared/event"
)

// Page size limits of ListIncidents.
const (
	// DefaultLimit is the page size when Filter.Limit is 0.
	DefaultLimit = 50
	// MaxLimit is the largest accepted Filter.Limit.
	MaxLimit = 500
	// MaxTextLen bounds Filter.Text and Filter.Site (in bytes).
	MaxTextLen = 256
)

// ParamError says why one input parameter is invalid.
type ParamError struct {
	// Param is the parameter name as the API spells it (site, status,
	// severity, since, until, q, limit, cursor, id).
	Param string `json:"name"`
	// Reason explains what is wrong, for a human.
	Reason string `json:"reason"`
}

// Error implements error.
func (e ParamError) Error() string { return fmt.Sprintf("invalid %s: %s", e.Param, e.Reason) }

// InvalidParams lists every invalid parameter of one request. Functions of
// this package return it (as error) when their input is invalid, before
// touching ClickHouse.
type InvalidParams []ParamError

// Error implements error.
func (e InvalidParams) Error() string {
	parts := make([]string, len(e))
	for i, p := range e {
		parts[i] = p.Error()
	}
	return strings.Join(parts, "; ")
}

// ErrNotFound is returned by GetIncident when no incident has the id.
var ErrNotFound = errors.New("incident not found")

// Filter selects incidents for ListIncidents. Zero values mean "no
// restriction" (and DefaultLimit for Limit).
type Filter struct {
	// Site restricts to one site id.
	Site string
	// Sites, when not nil, restricts to these site ids (authorization
	// scope); an empty non-nil list matches nothing.
	Sites []string
	// Status restricts to incidents whose current status is one of these
	// (event.Status* values): the triage status (incident_triage) once the
	// incident was triaged, the correlator's before.
	Status []string
	// Severity is the minimum current severity (event.Sev* values).
	Severity string
	// Since and Until select incidents whose activity [first_seen,
	// last_seen] overlaps the half-open interval [Since, Until).
	Since, Until time.Time
	// Text matches, case-insensitively, a substring of the title, key, id,
	// target asset or IP, affected assets or zones, rule ids or techniques.
	Text string
	// Zone restricts to incidents affecting this zone id.
	Zone string
	// Assignee restricts to incidents assigned to this user.
	Assignee string
	// Limit is the page size: 0 means DefaultLimit, at most MaxLimit.
	Limit int
	// After is the opaque cursor returned with the previous page.
	After string
}

var statuses = map[string]bool{
	event.StatusNew: true, event.StatusAcknowledged: true, event.StatusInvestigating: true,
	event.StatusContained: true, event.StatusResolved: true, event.StatusClosed: true,
}

// Validate checks every field and returns InvalidParams listing all
// problems, or nil.
func (f Filter) Validate() error {
	var bad InvalidParams
	if len(f.Site) > MaxTextLen || !utf8.ValidString(f.Site) {
		bad = append(bad, ParamError{"site", fmt.Sprintf("must be valid UTF-8 of at most %d bytes", MaxTextLen)})
	}
	for _, s := range f.Status {
		if !statuses[s] {
			bad = append(bad, ParamError{"status", fmt.Sprintf("unknown status %q (want new, acknowledged, investigating, contained, resolved or closed)", s)})
			break
		}
	}
	if f.Severity != "" && event.SeverityRank(f.Severity) < 0 {
		bad = append(bad, ParamError{"severity", fmt.Sprintf("unknown severity %q (want info, low, medium, high or critical)", f.Severity)})
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		bad = append(bad, ParamError{"until", "must be after since"})
	}
	if len(f.Text) > MaxTextLen || !utf8.ValidString(f.Text) {
		bad = append(bad, ParamError{"q", fmt.Sprintf("must be valid UTF-8 of at most %d bytes", MaxTextLen)})
	}
	for _, p := range []struct{ name, v string }{{"zone", f.Zone}, {"assignee", f.Assignee}} {
		if len(p.v) > MaxTextLen || !utf8.ValidString(p.v) {
			bad = append(bad, ParamError{p.name, fmt.Sprintf("must be valid UTF-8 of at most %d bytes", MaxTextLen)})
		}
	}
	if f.Limit < 0 || f.Limit > MaxLimit {
		bad = append(bad, ParamError{"limit", fmt.Sprintf("must be between 1 and %d", MaxLimit)})
	}
	if f.After != "" {
		if _, err := DecodeCursor(f.After); err != nil {
			bad = append(bad, ParamError{"cursor", err.Error()})
		}
	}
	if len(bad) > 0 {
		return bad
	}
	return nil
}

// Cursor is the decoded keyset position of a page boundary: the sort key of
// the last incident of the previous page (last_seen in milliseconds, then
// id).
type Cursor struct {
	LastSeenMs int64
	ID         string
}

const cursorPrefix = "i1."

// Encode returns the opaque, URL-safe text form of c.
func (c Cursor) Encode() string { return encodeKeyset(cursorPrefix, c.LastSeenMs, c.ID) }

// DecodeCursor parses a cursor produced by Cursor.Encode.
func DecodeCursor(s string) (Cursor, error) {
	ms, id, ok := decodeKeyset(cursorPrefix, s)
	if !ok {
		return Cursor{}, errors.New("not a cursor returned by this API")
	}
	return Cursor{LastSeenMs: ms, ID: id}, nil
}

// encodeKeyset is the text form of every keyset cursor of this package:
// prefix (which names the list and the format version), then the
// URL-safe base64 of "<milliseconds>|<id>".
func encodeKeyset(prefix string, ms int64, id string) string {
	return prefix + base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(ms, 10)+"|"+id))
}

// decodeKeyset parses encodeKeyset's form with the given prefix; ok is
// false for anything else (another list's cursor, a tampered one, an id
// that is not a UUID).
func decodeKeyset(prefix, s string) (ms int64, id string, ok bool) {
	if !strings.HasPrefix(s, prefix) || len(s) > 128 {
		return 0, "", false
	}
	raw, err := base64.RawURLEncoding.DecodeString(s[len(prefix):])
	if err != nil {
		return 0, "", false
	}
	msText, id, found := strings.Cut(string(raw), "|")
	if !found {
		return 0, "", false
	}
	ms, err = strconv.ParseInt(msText, 10, 64)
	if err != nil || ms < 0 || !ValidID(id) {
		return 0, "", false
	}
	return ms, id, true
}

// ValidID reports whether s is a UUID in canonical lowercase text form
// (8-4-4-4-12 hex digits), the form ClickHouse returns and the pipeline
// generates.
func ValidID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return false
			}
		}
	}
	return true
}
