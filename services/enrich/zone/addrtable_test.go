package zone

import (
	"math/rand/v2"
	"net/netip"
	"testing"
)

func TestV4Table(t *testing.T) {
	for _, n := range []int{0, 1, 7, 1000, 20000} {
		tab := newV4Table(n / 3) // grows on the way
		want := map[uint32]int{}
		r := rand.New(rand.NewPCG(1, uint64(n)))
		for i := range n {
			a := r.Uint32()
			if i%5 == 0 {
				a = uint32(i) // dense addresses collide in low bits
			}
			tab.put(a, i, i%3 == 0, nameRef{off: uint32(i), idLen: uint16(i % 7)})
			want[a] = i
		}
		if tab.n != len(want) {
			t.Fatalf("n=%d: table holds %d addresses, want %d", n, tab.n, len(want))
		}
		for a, i := range want {
			if s := tab.get(a); s == nil || s.class() != i || (s.cls&slotMW != 0) != (i%3 == 0) || s.name != (nameRef{off: uint32(i), idLen: uint16(i % 7)}) || s.addr != a {
				t.Fatalf("n=%d: get(%#x) = %+v; want asset %d", n, a, s, i)
			}
		}
		for range 1000 {
			a := r.Uint32()
			s := tab.get(a)
			if i, in := want[a]; (s != nil) != in || (s != nil && s.class() != i) {
				t.Fatalf("n=%d: get(%#x) = %+v; want %d, %v", n, a, s, i, in)
			}
		}
	}
}

func TestParseIPv4(t *testing.T) {
	for _, s := range []string{
		"0.0.0.0", "10.20.1.11", "255.255.255.255", "1.2.3.4", "192.168.0.1",
		"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1.2.3.04", "1..2.3", ".1.2.3", "1.2.3.",
		"1.2.3.4 ", "::1", "::ffff:1.2.3.4", "2001:db8::1", "1.2.3.4%eth0", "a.b.c.d", "1.2.3.-4", "1.2.3.1000", "00.1.2.3",
	} {
		got, ok := parseIPv4(s)
		a, err := netip.ParseAddr(s)
		wantOK := err == nil && a.Is4()
		if ok != wantOK {
			t.Errorf("parseIPv4(%q) ok = %v, netip says %v (%v)", s, ok, wantOK, err)
			continue
		}
		if ok {
			b := a.As4()
			if want := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]); got != want {
				t.Errorf("parseIPv4(%q) = %#x, want %#x", s, got, want)
			}
		}
	}
}

// FuzzParseIPv4 checks parseIPv4 against netip.ParseAddr.
func FuzzParseIPv4(f *testing.F) {
	for _, s := range []string{"10.20.1.11", "01.2.3.4", "::ffff:1.2.3.4", "1.2.3.256", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseIPv4(s)
		a, err := netip.ParseAddr(s)
		if wantOK := err == nil && a.Is4(); ok != wantOK {
			t.Fatalf("parseIPv4(%q) ok = %v, netip.ParseAddr: %v, %v", s, ok, a, err)
		}
		if ok && netip.AddrFrom4([4]byte{byte(got >> 24), byte(got >> 16), byte(got >> 8), byte(got)}) != a {
			t.Fatalf("parseIPv4(%q) = %#x, netip.ParseAddr = %v", s, got, a)
		}
	})
}
