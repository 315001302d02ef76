package syslog

// The keys with a meaning for the parser (the aliases of the mapped
// Event fields and the hot keys) are found through one open-addressing
// table whose hash is the one of the keys' Bloom filter (keyHash): a key
// added to Fields costs one hash for the filter, the alias mapping and
// the hot values, and usually one string comparison.

// keyEntry is a known key: its alias (field -1: none) and hot index (-1:
// none).
type keyEntry struct {
	key   string
	alias aliasRef
	hot   int
}

// keySlotBits sizes keySlots (1024 slots for about 100 keys: a probe
// rarely goes past the first slot).
const keySlotBits = 10

// keyEntries holds the known keys (index 0 unused), keySlots their
// indexes by hash with linear probing (0: empty).
var keyEntries, keySlots = func() ([]keyEntry, *[1 << keySlotBits]uint8) {
	entries := []keyEntry{{}}
	index := map[string]int{}
	entry := func(k string) *keyEntry {
		if i, ok := index[k]; ok {
			return &entries[i]
		}
		index[k] = len(entries)
		entries = append(entries, keyEntry{key: k, alias: aliasRef{field: -1}, hot: -1})
		return &entries[len(entries)-1]
	}
	for f, keys := range aliases {
		for p, k := range keys {
			entry(k).alias = aliasRef{field: f, pref: p}
		}
	}
	for h, k := range hotKeys {
		entry(k).hot = h
	}
	if len(entries) > 255 {
		panic("syslog: more than 255 known keys")
	}
	slots := new([1 << keySlotBits]uint8)
	for i := 1; i < len(entries); i++ {
		s := keySlot(keyHash(entries[i].key))
		for slots[s] != 0 {
			s = (s + 1) & (1<<keySlotBits - 1)
		}
		slots[s] = uint8(i)
	}
	return entries, slots
}()

// keyHash hashes k from its length and three of its bytes (keys differ
// mostly there; no full hash is needed).
func keyHash(k string) uint32 {
	n := len(k)
	if n == 0 {
		return 0
	}
	return uint32(n)*0x9E3779B1 ^ uint32(k[0])*0x85EBCA6B ^ uint32(k[n-1])*0xC2B2AE35 ^ uint32(k[n/2])*0x27D4EB2F
}

// keySlot is the first keySlots slot of hash x (other bits than the
// Bloom filter's).
func keySlot(x uint32) uint32 { return (x >> 12) & (1<<keySlotBits - 1) }

// knownKey returns the entry of k with hash x, or nil.
func knownKey(k string, x uint32) *keyEntry {
	for s := keySlot(x); ; s = (s + 1) & (1<<keySlotBits - 1) {
		i := keySlots[s]
		if i == 0 {
			return nil
		}
		if e := &keyEntries[i]; e.key == k {
			return e
		}
	}
}

// aliasOf returns the alias entry of key k.
func aliasOf(k string) (aliasRef, bool) {
	if e := knownKey(k, keyHash(k)); e != nil && e.alias.field >= 0 {
		return e.alias, true
	}
	return aliasRef{}, false
}

// hotOf returns the index of k in hotKeys, or -1.
func hotOf(k string) int {
	if e := knownKey(k, keyHash(k)); e != nil {
		return e.hot
	}
	return -1
}

// internTable maps a fixed set of strings to values like a map, through
// an open-addressing table on keyHash: a lookup costs a cheap hash and
// usually one string comparison instead of a full hash and a map probe.
type internTable struct {
	keys, vals []string // index 0 unused
	slots      [1 << keySlotBits]uint8
}

// newInternTable returns the table of m (at most 255 entries).
func newInternTable(m map[string]string) *internTable {
	if len(m) > 255 {
		panic("syslog: intern table of more than 255 entries")
	}
	t := &internTable{keys: []string{""}, vals: []string{""}}
	for k, v := range m {
		t.keys, t.vals = append(t.keys, k), append(t.vals, v)
		s := keySlot(keyHash(k))
		for t.slots[s] != 0 {
			s = (s + 1) & (1<<keySlotBits - 1)
		}
		t.slots[s] = uint8(len(t.keys) - 1)
	}
	return t
}

// get returns the value of k and whether k is in the table.
func (t *internTable) get(k string) (string, bool) {
	for s := keySlot(keyHash(k)); ; s = (s + 1) & (1<<keySlotBits - 1) {
		i := t.slots[s]
		if i == 0 {
			return "", false
		}
		if t.keys[i] == k {
			return t.vals[i], true
		}
	}
}

// getBytes is get(string(b)) without converting b.
func (t *internTable) getBytes(b []byte) (string, bool) {
	x := uint32(0)
	if n := len(b); n > 0 {
		x = uint32(n)*0x9E3779B1 ^ uint32(b[0])*0x85EBCA6B ^ uint32(b[n-1])*0xC2B2AE35 ^ uint32(b[n/2])*0x27D4EB2F
	}
	for s := keySlot(x); ; s = (s + 1) & (1<<keySlotBits - 1) {
		i := t.slots[s]
		if i == 0 {
			return "", false
		}
		if t.keys[i] == string(b) {
			return t.vals[i], true
		}
	}
}
