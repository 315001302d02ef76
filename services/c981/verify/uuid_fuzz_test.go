package verify

import (
	"encoding/hex"
	"strings"
	"testing"
)

// FuzzParseUUID: parseUUID accepts exactly the canonical 8-4-4-4-12 hex
// form, and what it accepts formats back to the same UUID (lower case).
func FuzzParseUUID(f *testing.F) {
	for _, s := range []string{
		"5bb6b2c4-7551-840e-bc7d-0c7a090c2e31", "5BB6B2C4-7551-840E-BC7D-0C7A090C2E31",
		"00000000-0000-0000-0000-000000000000", "5bb6b2c4-7551-840e-bc7d-0c7a090c2e3", "5bb6b2c4x7551-840e-bc7d-0c7a090c2e31",
		"5bb6b2c4-7551-840e-bc7d-0c7a090c2e3g", "", "----------------------------------—",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, ok := parseUUID(s)
		if !ok {
			return
		}
		h := hex.EncodeToString(id[:])
		back := h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
		if back != strings.ToLower(s) {
			t.Fatalf("parseUUID(%q) = %s", s, back)
		}
	})
}
