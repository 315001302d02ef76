package syslog

import (
	"math/bits"
	"math/rand/v2"
	"unsafe"
)

// fieldSet is the fields of one record while it is parsed: distinct keys
// with their values, in the order they were first added, and an
// open-addressing index from a key's hash to its pair. It replaces the
// map the parser used to build: the compact encoder writes the pairs as
// they are (event.Event.SetFieldPairs), and a map, when a caller wants
// one (Parse, ParseInto), is built from them once. Lookups are those of
// a map: get, set (insert or overwrite), add (insert unless present);
// the parser's comments that speak of "the map" of a record's fields
// mean its fieldSet.
type fieldSet struct {
	// kv holds the pairs: k0, v0, k1, v1, ...
	kv []string
	// tab is the index: slot i holds the pair index + 1 of a key, 0 when
	// empty; its length is a power of two and at least twice the pairs.
	// It is small while the pairs fit, else big. A uint16 holds any
	// pair index: the parser adds at most about MaxFields pairs.
	tab   []uint16
	small [smallSlots]uint16
	big   []uint16
}

// initialPairs is the capacity, in pairs, of new pair storage: the
// fields of a usual record (the RFC 5424 records of the end-to-end
// load have 22).
const initialPairs = 24

// smallSlots is the size of the index of a usual record (up to 64 pairs,
// at most half full).
const smallSlots = 128

// fieldSeed0 and fieldSeed1 key the hash of the index (random per
// process, as a map's seed, so that a sender cannot choose keys that
// collide).
var fieldSeed0, fieldSeed1 = rand.Uint64() | 1, rand.Uint64() | 1

// fieldHash is the index's hash of k: wyhash's scheme (a 64x64-bit
// multiply folding 16 bytes at a time, keyed by the seeds), inlined for
// the short keys of a record, where hash/maphash's call chain cost more
// than the probing.
func fieldHash(k string) uint64 {
	n := len(k)
	s := fieldSeed0 ^ uint64(n)
	var a, b uint64
	switch {
	case n > 16:
		for i := 0; n-i > 16; i += 16 {
			s = mix(le64(k[i:])^fieldSeed1, le64(k[i+8:])^s)
		}
		a, b = le64(k[n-16:]), le64(k[n-8:])
	case n >= 8:
		a, b = le64(k), le64(k[n-8:])
	case n >= 4:
		a, b = uint64(le32(k)), uint64(le32(k[n-4:]))
	case n > 0:
		a = uint64(k[0])<<16 | uint64(k[n>>1])<<8 | uint64(k[n-1])
	}
	return mix(a^fieldSeed1, b^s)
}

// mix folds the 128-bit product of a and b.
func mix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

// le64 is the little-endian value of the first 8 bytes of s.
func le64(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// le32 is the little-endian value of the first 4 bytes of s.
func le32(s string) uint32 {
	_ = s[3]
	return uint32(s[0]) | uint32(s[1])<<8 | uint32(s[2])<<16 | uint32(s[3])<<24
}

// newFieldSet returns an empty fieldSet whose pairs are appended to kv
// (emptied).
func newFieldSet(kv []string) *fieldSet {
	f := &fieldSet{}
	f.tab = f.small[:]
	f.kv = kv[:0]
	return f
}

// reset empties f (its index; the pairs are the caller's, see release)
// and makes it append to kv (emptied).
func (f *fieldSet) reset(kv []string) {
	clear(f.small[:])
	f.tab = f.small[:]
	f.kv = kv[:0]
}

// len returns the number of pairs.
func (f *fieldSet) len() int { return len(f.kv) / 2 }

// slotOf returns the index slot of k: the slot holding k's pair, or the
// empty slot where it would go, and the pair index (-1 when absent).
func (f *fieldSet) slotOf(k string) (slot int, pair int) {
	mask := len(f.tab) - 1
	s := int(fieldHash(k)) & mask
	for {
		e := f.tab[s]
		if e == 0 {
			return s, -1
		}
		if i := int(e-1) * 2; f.kv[i] == k {
			return s, int(e - 1)
		}
		s = (s + 1) & mask
	}
}

// get returns the value of k and whether k is present.
func (f *fieldSet) get(k string) (string, bool) {
	if len(f.kv) == 0 {
		return "", false
	}
	if _, i := f.slotOf(k); i >= 0 {
		return f.kv[2*i+1], true
	}
	return "", false
}

// set sets k to v: a new pair at the end, or a new value of the present
// pair (which keeps its place). It reports whether k was new.
func (f *fieldSet) set(k, v string) bool {
	s, i := f.slotOf(k)
	if i >= 0 {
		f.kv[2*i+1] = v
		return false
	}
	f.insertAt(s, k, v)
	return true
}

// add adds k with v unless k is present; it reports whether k was new.
func (f *fieldSet) add(k, v string) bool {
	s, i := f.slotOf(k)
	if i >= 0 {
		return false
	}
	f.insertAt(s, k, v)
	return true
}

// insertAt appends the pair k, v, whose key is absent and hashes to the
// empty slot s.
func (f *fieldSet) insertAt(s int, k, v string) {
	n := len(f.kv) / 2
	if cap(f.kv) == 0 {
		// New storage: room for a usual record at once, rather than
		// growing it five times.
		f.kv = make([]string, 0, 2*initialPairs)
	}
	f.kv = append(f.kv, k, v)
	f.tab[s] = uint16(n + 1)
	if 2*(n+1) >= len(f.tab) {
		f.grow()
	}
}

// grow rebuilds the index at four times its size.
func (f *fieldSet) grow() {
	size := 4 * len(f.tab)
	if cap(f.big) >= size {
		f.big = f.big[:size]
		clear(f.big)
	} else {
		f.big = make([]uint16, size)
	}
	f.tab = f.big
	mask := size - 1
	for i := 0; i < len(f.kv); i += 2 {
		s := int(fieldHash(f.kv[i])) & mask
		for f.tab[s] != 0 {
			s = (s + 1) & mask
		}
		f.tab[s] = uint16(i/2 + 1)
	}
}

// fill sets the pairs in m.
func (f *fieldSet) fill(m map[string]string) {
	for i := 0; i+1 < len(f.kv); i += 2 {
		m[f.kv[i]] = f.kv[i+1]
	}
}

// getBytes is get of the key k holds (not retained).
func (f *fieldSet) getBytes(k []byte) (string, bool) {
	return f.get(unsafe.String(unsafe.SliceData(k), len(k)))
}

// clearPairs removes every pair (releasing their strings), keeping the
// storage.
func (f *fieldSet) clearPairs() {
	clear(f.kv)
	f.reset(f.kv)
}

// pairs yields the keys and values in their order (an iterator: `for k,
// v := range f.pairs`).
func (f *fieldSet) pairs(yield func(k, v string) bool) {
	for i := 0; i+1 < len(f.kv); i += 2 {
		if !yield(f.kv[i], f.kv[i+1]) {
			return
		}
	}
}
