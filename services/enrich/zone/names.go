package zone

import (
	"math"
	"strings"

	"github.com/c981/c981/services/shared/site"
)

// nameArena builds the name arena of an index: the ids and names of the
// assets with IPv4 addresses, concatenated into one string, so that a
// v4Table slot locates them with offsets instead of string headers.
type nameArena struct {
	b    strings.Builder
	long [][2]string
}

// newNameArena returns an arena with room for the ids and names of assets.
func newNameArena(assets []site.Asset) *nameArena {
	n := 0
	for i := range assets {
		if a := &assets[i]; len(a.IPs) > 0 {
			n += len(a.ID)
			if a.Name != a.ID {
				n += len(a.Name)
			}
		}
	}
	a := &nameArena{}
	if n <= math.MaxUint32 {
		a.b.Grow(n)
	}
	return a
}

// add appends an asset's id and name (the id when name is empty) and
// returns where they are.
func (a *nameArena) add(id, name string) nameRef {
	if name == "" {
		name = id
	}
	same := name == id
	n := len(id)
	if !same {
		n += len(name)
	}
	if len(id) > maxArenaLen || len(name) > maxArenaLen || a.b.Len()+n > math.MaxUint32 {
		a.long = append(a.long, [2]string{id, name})
		return nameRef{off: uint32(len(a.long) - 1), idLen: longName}
	}
	r := nameRef{off: uint32(a.b.Len()), idLen: uint16(len(id))}
	a.b.WriteString(id)
	if !same {
		r.nameLen = uint16(len(name))
		a.b.WriteString(name)
	}
	return r
}

// done returns the arena and the names kept outside it.
func (a *nameArena) done() (string, [][2]string) { return a.b.String(), a.long }

// slotNames returns the asset id and name that r locates. The strings share
// the arena's memory: nothing is copied or allocated.
func (ix *Index) slotNames(r nameRef) (id, name string) {
	if r.idLen == longName {
		l := &ix.long[r.off]
		return l[0], l[1]
	}
	end := int(r.off) + int(r.idLen)
	id = ix.names[r.off:end]
	if r.nameLen == 0 {
		return id, id
	}
	return id, ix.names[end : end+int(r.nameLen)]
}
