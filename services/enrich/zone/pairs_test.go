package zone

import (
	"strings"
	"testing"
	"unsafe"
)

// TestPairsKeepCopies checks that the new-pair memory keeps its own copies
// of the site and addresses: the events of a batch decoded with
// event.UnmarshalEventsShared hold substrings of the whole message, which
// a remembered pair would otherwise keep alive for as long as it stays.
func TestPairsKeepCopies(t *testing.T) {
	msg := strings.Repeat("x", 1<<20) + "demo-plant10.0.0.110.0.0.2"
	site, a, b := msg[1<<20:1<<20+10], msg[1<<20+10:1<<20+18], msg[1<<20+18:]
	p := NewPairs(16)
	if !p.Observe(site, a, b) {
		t.Fatal("first observation not new")
	}
	if p.Observe(site, a, b) {
		t.Fatal("second observation new")
	}
	within := func(s string) bool {
		base := uintptr(unsafe.Pointer(unsafe.StringData(msg)))
		q := uintptr(unsafe.Pointer(unsafe.StringData(s)))
		return q >= base && q < base+uintptr(len(msg))
	}
	for k, set := range p.sites {
		if within(k) {
			t.Errorf("site key %q shares the message", k)
		}
		for pk := range set.cur {
			if pk.a != a || pk.b != b {
				t.Errorf("pair %+v, want %q %q", pk, a, b)
			}
			if within(pk.a) || within(pk.b) {
				t.Errorf("pair %+v shares the message", pk)
			}
		}
	}
}
