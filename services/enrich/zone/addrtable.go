package zone

import "math/bits"

// v4Table maps IPv4 addresses to what the hot path needs of their asset: an
// open-addressing hash table with linear probing over a flat array of
// 16-byte slots, sized to a load factor of at most 5/8. A slot holds the
// address, the asset's context class and where its id and name lie in the
// index's name arena (Index.names), so a lookup hashes the 32-bit address
// with one multiplication and usually reads one slot — a quarter of a cache
// line — and nothing else that is not shared by many assets: the context
// comes from the site's few classes, and the id and name are substrings of
// the arena, made without reading it. The slots hold no pointers, so the
// garbage collector does not scan them, and the tables of a 100-site model
// with 10,000 assets per site fill 26 MB (40-byte slots with two string
// headers filled 65 MB; a Go map to an asset entry reads a control word, a
// slot and the entry: three cache misses per endpoint).
type v4Table struct {
	slots []v4Slot
	shift uint // 64 - log2(len(slots))
	n     int
}

type v4Slot struct {
	addr uint32
	// cls is the index of the asset's class in Index.classes + 1, with bit
	// slotMW set when maintenance windows name the asset in their scope;
	// 0 marks an empty slot.
	cls uint32
	// name says where the asset's id and name are (see nameRef).
	name nameRef
}

// nameRef locates the id and name of an asset in an index's name arena: the
// id at off with length idLen, followed by the name with length nameLen —
// or, when nameLen is 0, the name is the id. An id or name longer than
// maxArenaLen is kept in Index.long instead (idLen == longName, off its
// position there).
type nameRef struct {
	off            uint32
	idLen, nameLen uint16
}

const (
	slotMW = 1 << 31
	// longName marks a nameRef whose strings are in Index.long.
	longName = 1<<16 - 1
	// maxArenaLen is the longest id or name kept in the arena.
	maxArenaLen = longName - 1
)

// class returns the index of the slot's class in Index.classes.
func (s *v4Slot) class() int { return int(s.cls&^slotMW) - 1 }

func slotCls(cls int, mw bool) uint32 {
	c := uint32(cls) + 1
	if mw {
		c |= slotMW
	}
	return c
}

// newV4Table returns a table sized for n addresses.
func newV4Table(n int) v4Table {
	size := 8
	for 5*size < 8*n {
		size <<= 1
	}
	return v4Table{slots: make([]v4Slot, size), shift: uint(64 - bits.TrailingZeros(uint(size)))}
}

func (t *v4Table) home(addr uint32) int {
	return int((uint64(addr) * 0x9E3779B97F4A7C15) >> t.shift)
}

// put maps addr to the asset with the given class, window flag and names,
// replacing an earlier mapping of addr.
func (t *v4Table) put(addr uint32, cls int, mw bool, name nameRef) {
	if 8*(t.n+1) > 5*len(t.slots) {
		t.grow()
	}
	mask := len(t.slots) - 1
	for i := t.home(addr); ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.cls == 0 {
			*s = v4Slot{addr: addr, cls: slotCls(cls, mw), name: name}
			t.n++
			return
		}
		if s.addr == addr {
			*s = v4Slot{addr: addr, cls: slotCls(cls, mw), name: name}
			return
		}
	}
}

func (t *v4Table) grow() {
	old := t.slots
	*t = newV4Table(len(old))
	for _, s := range old {
		if s.cls != 0 {
			t.put(s.addr, s.class(), s.cls&slotMW != 0, s.name)
		}
	}
}

// get returns the slot of addr, nil when addr is not in the table.
func (t *v4Table) get(addr uint32) *v4Slot { return t.getFrom(addr, t.home(addr)) }

// getFrom is get with the probe starting at slot i (a position after the
// home slot of addr that holds no other address on the way).
func (t *v4Table) getFrom(addr uint32, i int) *v4Slot {
	mask := len(t.slots) - 1
	for i &= mask; ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.cls == 0 {
			return nil
		}
		if s.addr == addr {
			return s
		}
	}
}

// parseIPv4 parses a dotted-quad IPv4 address exactly as netip.ParseAddr
// does (four decimal fields of 0-255 without leading zeros) into its 32-bit
// value; anything else, including IPv6 forms, reports false.
func parseIPv4(s string) (uint32, bool) {
	var ip uint32
	field, digits, dots := uint32(0), 0, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case '0' <= c && c <= '9':
			if digits == 1 && field == 0 {
				return 0, false // leading zero
			}
			field = field*10 + uint32(c-'0')
			if field > 255 {
				return 0, false
			}
			digits++
		case c == '.':
			if digits == 0 || dots == 3 {
				return 0, false
			}
			ip = ip<<8 | field
			field, digits = 0, 0
			dots++
		default:
			return 0, false
		}
	}
	if digits == 0 || dots != 3 {
		return 0, false
	}
	return ip<<8 | field, true
}
