package zone

import (
	"hash/maphash"
	"math/bits"
)

// posIndex maps keys — asset ids, host names, MACs — to asset positions
// in the model: an open-addressing hash table with linear probing whose
// slots hold only the position + 1 (0: empty), at most half full. The keys
// themselves stay in the model's assets, where a lookup compares them, so
// an entry costs 8 bytes or less instead of the 30 to 60 of a Go map from
// a string to a pointer; for a million assets and three such indexes that
// is about 100 MB less heap. It is for the paths off the IPv4 hot path:
// lookups by id, name and hardware address.
type posIndex struct {
	slots []uint32
	shift uint
}

// newPosIndex returns an index sized for n keys.
func newPosIndex(n int) posIndex {
	size := 8
	for size < 2*n {
		size <<= 1
	}
	return posIndex{slots: make([]uint32, size), shift: uint(64 - bits.TrailingZeros(uint(size)))}
}

// put maps the key with hash h to pos; same reports whether the key of an
// asset position equals the key being put, which it then replaces.
func (x *posIndex) put(h uint64, pos int, same func(pos int) bool) {
	mask := len(x.slots) - 1
	for i := int(h >> x.shift); ; i = (i + 1) & mask {
		switch s := x.slots[i]; {
		case s == 0:
			x.slots[i] = uint32(pos) + 1
			return
		case same(int(s) - 1):
			x.slots[i] = uint32(pos) + 1
			return
		}
	}
}

// get returns the position of the key with hash h, -1 when none: match
// reports whether an asset position holds the key.
func (x *posIndex) get(h uint64, match func(pos int) bool) int {
	mask := len(x.slots) - 1
	for i := int(h >> x.shift); ; i = (i + 1) & mask {
		s := x.slots[i]
		if s == 0 {
			return -1
		}
		if match(int(s) - 1) {
			return int(s) - 1
		}
	}
}

// keyHash hashes the keys of an index's posIndexes.
type keyHash struct{ seed maphash.Seed }

func newKeyHash() keyHash { return keyHash{seed: maphash.MakeSeed()} }

func (k keyHash) str(s string) uint64 { return maphash.String(k.seed, s) }

func (k keyHash) mac(hw [6]byte) uint64 { return maphash.Bytes(k.seed, hw[:]) }
