package site

import (
	"bytes"
	"net"
	"testing"
)

// TestMatchers checks the hand-written matchers against the expressions
// they replace on the validation hot path.
func TestMatchers(t *testing.T) {
	for _, s := range []string{
		"", "a", "A9", "plc-01", "plc_01.x", "-plc", ".plc", "_x", "pl c", "plc/1", "plcé", "x-", "0",
		"00:1d:9c:c0:04:9d", "00-1D-9C-C0-04-9D", "00:1d:9c:c0:04:9", "00:1d:9c:c0:04:9dd", "001d:9c:c0:04:9d:",
		"00:1d:9c:c0:04:9g", "00.1d.9c.c0.04.9d", "00:1d-9c:c0-04:9d",
	} {
		if got, want := isName(s), localIDRe.MatchString(s); got != want {
			t.Errorf("isName(%q) = %v, localIDRe says %v", s, got, want)
		}
		if got, want := isName(s), hostRe.MatchString(s); got != want {
			t.Errorf("isName(%q) = %v, hostRe says %v", s, got, want)
		}
		if got, want := isMAC(s), macRe.MatchString(s); got != want {
			t.Errorf("isMAC(%q) = %v, macRe says %v", s, got, want)
		}
	}
}

// FuzzMatchers is TestMatchers on arbitrary strings.
func FuzzMatchers(f *testing.F) {
	f.Add("plc-01")
	f.Add("00:1d:9c:c0:04:9d")
	f.Fuzz(func(t *testing.T, s string) {
		if isName(s) != localIDRe.MatchString(s) || isName(s) != hostRe.MatchString(s) || isMAC(s) != macRe.MatchString(s) {
			t.Fatalf("%q: isName %v isMAC %v", s, isName(s), isMAC(s))
		}
		if isMAC(s) {
			checkMacKey(t, s)
		}
	})
}

// TestMacKey checks macKey against net.ParseMAC on MACs in every form
// isMAC accepts.
func TestMacKey(t *testing.T) {
	for _, s := range []string{"00:1d:9c:c0:04:9d", "00:1D:9C:C0:04:9D", "00-1d-9c-c0-04-9d", "ff:FF:aA:09:90:0f", "00:00:00:00:00:00", "00:1d-9c:c0-04:9d"} {
		if !isMAC(s) {
			t.Fatalf("%q is not a MAC", s)
		}
		checkMacKey(t, s)
	}
}

// checkMacKey compares macKey(s) with net.ParseMAC of the normalized s.
func checkMacKey(t *testing.T, s string) {
	t.Helper()
	hw, err := net.ParseMAC(NormalizeMAC(s))
	if err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	if k := macKey(s); !bytes.Equal(k[:], hw) {
		t.Fatalf("macKey(%q) = %x, want %x", s, k, hw)
	}
}
