package event

import (
	"crypto/sha256"
	"encoding/hex"
)

// NewID returns a deterministic UUID (version 8, RFC 9562 custom layout)
// derived from the given parts. The same parts always give the same id, so
// a record re-sent after a crash or a redelivery keeps its identity and
// ClickHouse and JetStream can deduplicate it.
func NewID(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	var sum [32]byte
	h.Sum(sum[:0])
	return UUIDv8([16]byte(sum[:16]))
}

// UUIDv8 sets the version (8) and RFC 9562 variant bits of b and returns it
// in the canonical 8-4-4-4-12 text form.
func UUIDv8(b [16]byte) string {
	b[6] = (b[6] & 0x0f) | 0x80 // version 8
	b[8] = (b[8] & 0x3f) | 0x80 // RFC 9562 variant
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:36], b[10:16])
	return string(out[:])
}
