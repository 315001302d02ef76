package chstore

import (
	"strings"
	"time"
)

// TableEventGrams is the n-gram text-search index of events (migration
// 0008): one row per (key, site, hour) in which a key of an event's text
// occurs, written by the store's writer (not by the server), partitioned by
// the same day as events and kept with the events retention.
const TableEventGrams = "event_grams"

// GramColumns are the columns of event_grams, in the order of GramRow.
var GramColumns = []string{"gram", "site", "hour", "n"}

// GramHead marks a head key: the first bytes of a token, not a 4-gram
// inside it (the bytes of a token are below 0x80, so the top bit is free).
const GramHead uint32 = 1 << 31

// AppendGrams appends to dst the index keys of text, one per occurrence, as
// migration 0008 defines them: text is lowercased (ASCII only) and split
// into maximal runs of [a-z0-9] (every other byte separates tokens); every
// token gives its head key (its first min(4, length) bytes big-endian,
// zero-padded, | GramHead) and then each of its 4-byte substrings in order
// (big-endian). The keys of "raw message" are those of raw followed by
// those of message.
func AppendGrams(dst []uint32, text string) []uint32 {
	n := 0       // bytes of the current token so far
	var g uint32 // its last (up to) 4 bytes
	for i := 0; i < len(text); i++ {
		c := gramByte[text[i]]
		if c == 0 {
			if n > 0 && n < 4 {
				dst = append(dst, g<<(8*(4-n))|GramHead)
			}
			n, g = 0, 0
			continue
		}
		g = g<<8 | uint32(c)
		n++
		if n >= 4 {
			if n == 4 {
				dst = append(dst, g|GramHead)
			}
			dst = append(dst, g)
		}
	}
	if n > 0 && n < 4 {
		dst = append(dst, g<<(8*(4-n))|GramHead)
	}
	return dst
}

// GramsWithin reports whether every key AppendGrams gives for part is
// among those it gives for text, by a cheap sufficient test: part occurs in
// text (as its suffix, or first anywhere) where no token of text runs on
// into or out of it, so that every token of part is a token of text. It
// may answer false for a part whose keys are all in text. An event's
// message is usually such a part of its raw line: the keys of the event
// are then those of the raw line alone.
func GramsWithin(text, part string) bool {
	if part == "" {
		return true
	}
	at := len(text) - len(part)
	if !strings.HasSuffix(text, part) {
		if at = strings.Index(text, part); at < 0 {
			return false
		}
	}
	end := at + len(part)
	return (at == 0 || gramByte[text[at-1]] == 0 || gramByte[part[0]] == 0) &&
		(end == len(text) || gramByte[text[end]] == 0 || gramByte[part[len(part)-1]] == 0)
}

// gramByte maps a byte to its lowercase token byte, or 0 for a separator.
var gramByte = func() (t [256]byte) {
	for c := '0'; c <= '9'; c++ {
		t[c] = byte(c)
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = byte(c)
		t[c-'a'+'A'] = byte(c)
	}
	return t
}()

// GramRow maps one event_grams row to the values of GramColumns.
func GramRow(gram uint32, site string, hour time.Time, n uint64) []any {
	return []any{gram, site, hour.UTC().Truncate(time.Hour), n}
}
