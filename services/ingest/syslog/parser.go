package syslog

import (
	"bytes"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	gosyslog "github.com/leodido/go-syslog/v4"
	"github.com/leodido/go-syslog/v4/rfc3164"
	"github.com/leodido/go-syslog/v4/rfc5424"

	"github.com/c981/c981/services/shared/event"
)

// DefaultMaxBytes is the default maximum size of one record.
const DefaultMaxBytes = 64 << 10

// MaxFields bounds how many key/value pairs one record contributes to
// Event.Fields (pairs beyond it are ignored; the text stays in Message/Raw).
const MaxFields = 256

// Options configure a Parser.
type Options struct {
	// Format is the expected format; "" or FormatAuto detects it per record.
	// An unknown value behaves as FormatAuto (validate with Format.Valid).
	Format Format
	// Site, Source and Transport are copied into every event.
	Site      string
	Source    string
	Transport string
	// Location is the time zone of timestamps that carry none (RFC 3164,
	// Cisco, CEF/LEEF dates, FortiGate date/time without tz); nil means UTC.
	Location *time.Location
	// Now returns the current time; RFC 3164 timestamps have no year, so the
	// year is the one that puts the timestamp nearest to Now without being
	// more than a day in the future. nil means time.Now.
	Now func() time.Time
	// MaxBytes is the maximum record size; 0 means DefaultMaxBytes.
	MaxBytes int
}

// Parser turns raw records of any supported format into events. It is safe
// for concurrent use.
type Parser struct {
	opts     Options
	loc      *time.Location
	now      func() time.Time
	maxBytes int
	// noAliasTracking makes mapFields iterate Fields always and
	// fieldView ask the map for every key (tests compare it with the
	// tracked mapping, the Bloom filter and the hot keys).
	noAliasTracking bool
	m5424           sync.Pool
	m3164           sync.Pool
	// sets holds the parsers' fieldSets (*fieldSet).
	sets sync.Pool
}

// NewParser returns a Parser with opts.
func NewParser(opts Options) *Parser {
	p := &Parser{opts: opts, loc: opts.Location, now: opts.Now, maxBytes: opts.MaxBytes}
	if p.loc == nil {
		p.loc = time.UTC
	}
	if p.now == nil {
		p.now = time.Now
	}
	if p.maxBytes <= 0 {
		p.maxBytes = DefaultMaxBytes
	}
	// The machines are not safe for concurrent use; each Parse borrows one.
	// Best-effort mode is deliberately off: on failure it returns only the
	// header fields parsed so far and never the message text, while the RFC
	// 3164 fallback below keeps the whole content.
	p.m5424.New = func() any { return rfc5424.NewMachine() }
	p.m3164.New = func() any {
		return rfc3164.NewMachine(
			rfc3164.WithOptionalPriority(),
			rfc3164.WithRFC3339(),
			rfc3164.WithSecondFractions(),
			rfc3164.WithLenientDay(),
		)
	}
	return p
}

// Parse parses one record. id, peer and receivedAt are copied into the
// event (ID, Peer, ReceivedAt); raw is not retained. A rejected record
// returns a *ParseError whose Reason says why.
func (p *Parser) Parse(raw []byte, id string, peer string, receivedAt time.Time) (event.Event, error) {
	var ev event.Event
	if err := p.ParseInto(&ev, raw, id, peer, receivedAt); err != nil {
		return event.Event{}, err
	}
	return ev, nil
}

// ParseInto parses one record into *ev, which it first resets to the
// zero Event, keeping only the storage of ev.Fields (emptied) and of
// ev.Techniques (its array, emptied) for reuse: a caller that recycles
// its events' maps (the ingest batcher does, once a batch is published)
// saves the map allocation, which costs more than the parsing. Nothing of
// the previous contents of *ev survives: the result is the event Parse
// returns (with nil Fields and nil Techniques when the record has none).
// A rejected record returns a *ParseError and leaves *ev reset (with the
// emptied map and technique array, if any). raw is not retained.
//
// The caller must not keep a copy of *ev (or of its Fields or Techniques)
// across the call: their storage is overwritten.
func (p *Parser) ParseInto(ev *event.Event, raw []byte, id string, peer string, receivedAt time.Time) error {
	fields := ev.Fields
	clear(fields)
	resetEvent(ev)
	fs := p.fieldSet()
	err := p.parseInto(ev, fs, raw, id, peer, receivedAt)
	if err != nil {
		p.putFieldSet(fs, fs.kv)
		// Reset again, keeping the (emptied) storage for the next record.
		resetEvent(ev)
		ev.Fields = fields
		return err
	}
	if fs.len() > 0 {
		if fields == nil {
			fields = make(map[string]string, fs.len())
		}
		fs.fill(fields)
		ev.Fields = fields
	}
	p.putFieldSet(fs, fs.kv)
	if len(ev.Techniques) == 0 {
		ev.Techniques = nil // as Parse returns it
	}
	return nil
}

// ParseIntoPairs is ParseInto for a caller that encodes the event rather
// than reading its Fields map: the record's fields are set as key/value
// pairs (ev.SetFieldPairs(pairs), see event.Event.SetFieldPairs) in the
// order they were added instead of in a map, which costs the map's
// insertions, its iteration by the encoder and its clearing. The pairs
// are appended to *pairs, emptied first (its array is reused; nil
// allocates new storage). The event is otherwise the one ParseInto (and
// Parse) returns, and ev.DecodeFields() makes it that event: the pairs
// hold the entries of Parse's Fields map. A record without fields, or a
// rejected one, leaves ev without fields and *pairs empty. Like ParseInto
// it keeps the storage of ev.Techniques; ev.Fields is dropped.
//
// The caller must not keep a copy of *ev, of its Techniques or of *pairs
// across a call that reuses them.
func (p *Parser) ParseIntoPairs(ev *event.Event, pairs *[]string, raw []byte, id string, peer string, receivedAt time.Time) error {
	resetEvent(ev)
	if pairs == nil {
		pairs = new([]string)
	}
	clear(*pairs)
	fs := p.fieldSet()
	own := fs.kv
	fs.kv = (*pairs)[:0]
	err := p.parseInto(ev, fs, raw, id, peer, receivedAt)
	switch {
	case err != nil:
		clear(fs.kv)
		*pairs = fs.kv[:0]
		resetEvent(ev)
	case fs.len() > 0:
		*pairs = fs.kv
		ev.SetFieldPairs(pairs)
	default:
		*pairs = fs.kv[:0]
	}
	p.putFieldSet(fs, own)
	if err != nil {
		return err
	}
	if len(ev.Techniques) == 0 {
		ev.Techniques = nil // as Parse returns it
	}
	return nil
}

// resetEvent sets *ev to the zero Event but for the storage of its
// Techniques (emptied, its strings released).
func resetEvent(ev *event.Event) {
	techs := ev.Techniques[:0]
	clear(techs[:cap(techs)]) // release the previous record's strings
	*ev = event.Event{}
	if cap(techs) > 0 {
		ev.Techniques = techs // appended to by the format mappers
	}
}

// maxPooledPairs bounds the pair storage a pooled fieldSet keeps (a
// larger one, from an unusual record, is left to the garbage collector).
const maxPooledPairs = 2 * 64

// fieldSet takes an empty fieldSet from the parser's pool.
func (p *Parser) fieldSet() *fieldSet {
	if f, _ := p.sets.Get().(*fieldSet); f != nil {
		return f
	}
	return newFieldSet(nil)
}

// putFieldSet empties f, makes it keep kv as its own pair storage (which
// it clears) and puts it back in the pool.
func (p *Parser) putFieldSet(f *fieldSet, kv []string) {
	clear(kv)
	if cap(kv) > maxPooledPairs {
		kv = nil
	}
	f.reset(kv)
	p.sets.Put(f)
}

// parseInto parses raw into the zeroed *ev and its fields into the empty
// fields.
func (p *Parser) parseInto(ev *event.Event, fields *fieldSet, raw []byte, id string, peer string, receivedAt time.Time) error {
	format := p.opts.Format
	if !format.Valid() || format == "" {
		format = FormatAuto
	}
	if len(raw) > p.maxBytes {
		return newError(ReasonTooLong, format, nil, "record is %d bytes, maximum is %d", len(raw), p.maxBytes)
	}
	n := len(raw)
	for n > 0 && (raw[n-1] == '\n' || raw[n-1] == '\r' || raw[n-1] == 0) {
		n--
	}
	rec := raw[:n] // bytes.TrimRight(raw, "\r\n\x00")
	if blank(rec) {
		return newError(ReasonEmpty, format, nil, "record is empty")
	}
	if i := bytes.IndexByte(rec, 0); i >= 0 {
		return newError(ReasonNUL, format, nil, "NUL byte at offset %d", i)
	}
	pri, priLen, err := scanPRI(rec)
	if err != nil {
		if pe, ok := err.(*ParseError); ok {
			pe.Format = format
		}
		return err
	}
	body := rec[priLen:]
	if priLen > 0 && blank(body) {
		return newError(ReasonTruncated, format, nil, "nothing after PRI")
	}
	receivedAt = receivedAt.UTC()
	ev.ID = id
	ev.ReceivedAt = receivedAt
	ev.Time = receivedAt
	ev.Site = p.opts.Site
	ev.Source = p.opts.Source
	ev.Transport = p.opts.Transport
	ev.Peer = peer
	ev.Facility = -1
	ev.Severity = -1
	ev.Raw = string(raw)
	if priLen > 0 {
		ev.Facility = pri / 8
		ev.Severity = pri % 8
	}
	// rec and body as substrings of Raw: values sliced from them share
	// its memory instead of being copied.
	var as aliasState
	as.noView = p.noAliasTracking
	r := record{raw: ev.Raw[:len(rec)], priLen: priLen}
	format, err = p.dispatch(format, r, ev, fields, &as)
	if err != nil {
		return err
	}
	ev.Format = string(format)
	// Every path adds fields through setField/addField/extractPairs,
	// so the tracked mapping is complete (mapFields still checks the
	// count).
	as.valid = !p.noAliasTracking
	mapFields(ev, fields, &as)
	return nil
}

// blank reports whether b is empty or white space only (as
// bytes.TrimSpace sees it), without TrimSpace for the usual record that
// starts with a visible ASCII character.
func blank(b []byte) bool {
	if len(b) > 0 && b[0] > ' ' && b[0] < utf8.RuneSelf {
		return false
	}
	return len(bytes.TrimSpace(b)) == 0
}

// record is the text of one record (Raw without line terminators) and the
// length of its PRI.
type record struct {
	raw    string
	priLen int
}

// body is the record after the PRI.
func (r record) body() string { return r.raw[r.priLen:] }

// dispatch parses r as format (detecting it for FormatAuto) and returns
// the format the record was parsed as. as collects the alias mapping of
// the fields as they are added (see aliasState).
func (p *Parser) dispatch(format Format, r record, ev *event.Event, fields *fieldSet, as *aliasState) (Format, error) {
	body := r.body()
	trimmed := strings.TrimLeft(body, " ")
	switch format {
	case FormatRFC5424:
		if err := p.parse5424(r, ev, fields, as); err != nil {
			return format, err
		}
		extractPairs(ev.Message, fields, as)
		return format, nil
	case FormatRFC3164:
		p.parse3164(r, ev)
		extractPairs(ev.Message, fields, as)
		return format, nil
	case FormatCEF, FormatLEEF:
		f, off := payloadMarker(body)
		if f != format {
			return format, newError(ReasonFormatMismatch, format, nil, "no %s header in the record", strings.ToUpper(string(format)))
		}
		return format, p.parseEnveloped(format, r, off, ev, fields, as)
	case FormatEVE, FormatZeek, FormatJSON:
		if strings.HasPrefix(trimmed, "{") {
			return p.parseJSON(format, trimmed, ev, fields, as)
		}
		if r.priLen > 0 {
			return p.parseJSONEnveloped(format, r, ev, fields, as)
		}
		return format, newError(ReasonFormatMismatch, format, nil, "record is not a JSON object")
	case FormatKV:
		if r.priLen > 0 && !isKVStart(trimmed) {
			// A key=value payload inside a syslog header.
			p.parse3164(r, ev)
			trimmed = ev.Message
		}
		return format, p.parseKV(trimmed, ev, fields, as)
	}
	// FormatAuto.
	if strings.HasPrefix(trimmed, "{") {
		return p.parseJSON(FormatAuto, trimmed, ev, fields, as)
	}
	if f, off := payloadMarker(body); f != "" {
		return f, p.parseEnveloped(f, r, off, ev, fields, as)
	}
	if r.priLen > 0 && body[0] == '1' && (len(body) == 1 || body[1] == ' ') {
		if err := p.parse5424(r, ev, fields, as); err != nil {
			return FormatRFC5424, err
		}
		if strings.HasPrefix(ev.Message, "{") {
			return p.parseJSON(FormatAuto, ev.Message, ev, fields, as)
		}
		extractPairs(ev.Message, fields, as)
		return FormatRFC5424, nil
	}
	if isKVStart(trimmed) {
		return FormatKV, p.parseKV(trimmed, ev, fields, as)
	}
	p.parse3164(r, ev)
	if strings.HasPrefix(ev.Message, "{") {
		return p.parseJSON(FormatAuto, ev.Message, ev, fields, as)
	}
	extractPairs(ev.Message, fields, as)
	return FormatRFC3164, nil
}

// scanPRI validates a leading <PRI> and returns its value and length, or
// length 0 when the record has no PRI.
func scanPRI(rec []byte) (pri, n int, err error) {
	if rec[0] != '<' {
		return 0, 0, nil
	}
	end := bytes.IndexByte(rec[:min(len(rec), 6)], '>')
	if end < 0 {
		return 0, 0, newError(ReasonBadPRI, "", nil, "PRI is not 1-3 digits closed by '>'")
	}
	digits := rec[1:end]
	if len(digits) == 0 {
		return 0, 0, newError(ReasonBadPRI, "", nil, "empty PRI")
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, 0, newError(ReasonBadPRI, "", nil, "PRI %q is not a number", digits)
		}
		pri = pri*10 + int(c-'0')
	}
	if pri > 191 {
		return 0, 0, newError(ReasonBadPRI, "", nil, "PRI %d is out of range 0-191", pri)
	}
	return pri, end + 1, nil
}

func (p *Parser) parse5424(r record, ev *event.Event, fields *fieldSet, as *aliasState) error {
	if r.priLen == 0 {
		return newError(ReasonBadPRI, FormatRFC5424, nil, "RFC 5424 record without PRI")
	}
	if fast5424(r, ev, fields, as) {
		return nil
	}
	return p.machine5424(r, ev, fields, as)
}

// machine5424 parses an RFC 5424 record with the go-syslog machine.
func (p *Parser) machine5424(r record, ev *event.Event, fields *fieldSet, as *aliasState) error {
	m := p.m5424.Get().(gosyslog.Machine)
	defer p.m5424.Put(m)
	rec := []byte(r.raw)
	msg, err := m.Parse(rec)
	if err != nil {
		return p.classify5424(m, rec, r.priLen, err)
	}
	sm, ok := msg.(*rfc5424.SyslogMessage)
	if !ok || sm == nil {
		return newError(ReasonBadHeader, FormatRFC5424, nil, "RFC 5424 parser returned no message")
	}
	if sm.Timestamp != nil {
		ev.Time = sm.Timestamp.UTC()
		ev.TimeRaw = field(r.body(), 1)
	}
	ev.Host = clean(deref(sm.Hostname))
	ev.App = clean(deref(sm.Appname))
	ev.ProcID = clean(deref(sm.ProcID))
	ev.MsgID = clean(deref(sm.MsgID))
	msgText := deref(sm.Message)
	if len(msgText) >= 3 && msgText[:3] == "\xef\xbb\xbf" {
		msgText = msgText[3:]
	}
	ev.Message = clean(msgText)
	if sm.StructuredData != nil {
		sdFields(*sm.StructuredData, fields, as)
	}
	return nil
}

// field returns the space-separated field i (0-based) of s.
func field(s string, i int) string {
	for ; i > 0; i-- {
		j := strings.IndexByte(s, ' ')
		if j < 0 {
			return ""
		}
		s = s[j+1:]
	}
	if j := strings.IndexByte(s, ' '); j >= 0 {
		return s[:j]
	}
	return s
}

// classify5424 turns a machine error into a ParseError: truncated when the
// header has fewer than its seven fields, bad structured data when the
// header alone parses, bad header otherwise.
func (p *Parser) classify5424(m gosyslog.Machine, rec []byte, priLen int, cause error) error {
	// VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP SD
	sdStart, spaces := -1, 0
	for i := priLen; i < len(rec); i++ {
		if rec[i] == ' ' {
			spaces++
			if spaces == 6 {
				sdStart = i + 1
				break
			}
		}
	}
	if sdStart < 0 || sdStart == len(rec) {
		n := spaces + 1
		if sdStart == len(rec) {
			n = 6
		}
		return newError(ReasonTruncated, FormatRFC5424, cause, "RFC 5424 header has %d of 7 fields", n)
	}
	header := make([]byte, 0, sdStart+1)
	header = append(append(header, rec[:sdStart]...), '-')
	if _, err := m.Parse(header); err == nil {
		return newError(ReasonBadStructuredData, FormatRFC5424, cause, "malformed structured data")
	}
	return newError(ReasonBadHeader, FormatRFC5424, cause, "malformed RFC 5424 header")
}

func (p *Parser) parse3164(r record, ev *event.Event) {
	var host, app, procID, msg, stamp string
	var ts time.Time
	if p.fast3164(r, &host, &app, &procID, &msg, &ts, &stamp) {
		ev.Time, ev.TimeRaw = ts, stamp
		ev.Host, ev.App, ev.ProcID, ev.Message = host, app, procID, clean(msg)
		ciscoTag(ev)
		return
	}
	p.machine3164(r, ev)
}

// machine3164 parses an RFC 3164 record with the go-syslog machine.
func (p *Parser) machine3164(r record, ev *event.Event) {
	m := p.m3164.Get().(gosyslog.Machine)
	defer p.m3164.Put(m)
	msg, err := m.Parse([]byte(r.raw))
	sm, _ := msg.(*rfc3164.SyslogMessage)
	if err != nil || sm == nil || sm.Timestamp == nil {
		// RFC 3164 section 4.3.3: without a valid TIMESTAMP the whole
		// content is the message, received now. Cisco devices put a
		// timestamp with a year and no host first; recognize it.
		body := strings.TrimLeft(r.body(), " ")
		if t, raw, rest, ok := p.ciscoStamp(body); ok {
			ev.Time, ev.TimeRaw, body = t, raw, rest
		}
		ev.Message = clean(body)
		ciscoTag(ev)
		return
	}
	ev.Time = p.stampTime(*sm.Timestamp)
	ev.TimeRaw = rawStamp(strings.TrimLeft(r.body(), " "))
	ev.Host = clean(deref(sm.Hostname))
	ev.App = clean(deref(sm.Appname))
	ev.ProcID = clean(deref(sm.ProcID))
	ev.Message = clean(deref(sm.Message))
	ciscoTag(ev)
}

// rawStamp returns the RFC 3164 timestamp at the start of body as written:
// an RFC 3339 token, or "Mmm dd hh:mm:ss" with optional fractions.
func rawStamp(body string) string {
	if body == "" {
		return ""
	}
	if body[0] >= '0' && body[0] <= '9' {
		return field(body, 0)
	}
	if len(body) < 15 {
		return body
	}
	n := 15
	if n < len(body) && body[n] == '.' {
		n++
		for n < len(body) && body[n] >= '0' && body[n] <= '9' {
			n++
		}
	}
	return body[:n]
}

// stampTime completes an RFC 3164 timestamp. A Stamp timestamp (year 0,
// no zone) is placed in the configured location and given the year that
// puts it nearest to now, at most a day in the future; an RFC 3339
// timestamp is kept as is.
func (p *Parser) stampTime(t time.Time) time.Time {
	if t.Year() != 0 {
		return t.UTC()
	}
	// One date computation each for t and now (their Year, Month and
	// Day methods would each compute the date again).
	_, mo, d := t.Date()
	hh, mi, ss := t.Clock()
	return p.stampYear(stampFields{mo, d, hh, mi, ss, t.Nanosecond()})
}

// stampYear is stampTime of a Stamp timestamp given by its fields.
func (p *Parser) stampYear(f stampFields) time.Time {
	mo, d, hh, mi, ss, ns := f.mo, f.d, f.hh, f.mi, f.ss, f.ns
	now := p.now().In(p.loc)
	ny, nm, nd := now.Date()
	limit := now.Add(24 * time.Hour)
	// Next year is within a day of now only on December 31.
	first := ny
	if nm == time.December && nd == 31 {
		first++
	}
	for y := first; y >= ny-8; y-- {
		if d > daysIn(mo, y) {
			continue // Feb 29 in a common year
		}
		c := time.Date(y, mo, d, hh, mi, ss, ns, p.loc)
		if c.Day() != d || c.After(limit) {
			continue // moved to another day by a time zone change, or too far in the future
		}
		return c.UTC()
	}
	return time.Date(ny, mo, d, hh, mi, ss, ns, p.loc).UTC()
}

// sdFields adds structured data params as "sdid.param" and, when not
// already set by an earlier element (SD-IDs in sorted order), as "param".
func sdFields(sd map[string]map[string]string, fields *fieldSet, as *aliasState) {
	ids := make([]string, 0, len(sd))
	for id := range sd {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		params := sd[id]
		names := make([]string, 0, len(params))
		for k := range params {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			if fields.len() >= MaxFields {
				return
			}
			v := clean(params[k])
			setField(fields, as, id+"."+k, v)
			addField(fields, as, k, v)
		}
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// cleanUnless returns s when valid (the caller knows s is valid UTF-8),
// else clean(s).
func cleanUnless(valid bool, s string) string {
	if valid {
		return s
	}
	return clean(s)
}

// clean makes s valid UTF-8, replacing each run of invalid bytes with U+FFFD.
func clean(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
