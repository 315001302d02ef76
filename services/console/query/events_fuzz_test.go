package query_test

import (
	"testing"

	"github.com/c981/c981/services/console/query"
)

// FuzzDecodeEventCursor checks that any text either fails to decode or
// decodes to a cursor that encodes back to a cursor with the same value.
func FuzzDecodeEventCursor(f *testing.F) {
	f.Add("e1.MTc2NDE1MTIwMDEyM3w2NjAzZTBhNS0wMDAwLTQwMDAtODAwMC0wMDAwMDAwMDAwMDE")
	f.Add("e1.")
	f.Add("i1.MTIz")
	f.Add("e1.LTF8eA")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := query.DecodeEventCursor(s)
		if err != nil {
			return
		}
		if c.TimeMs < 0 || !query.ValidID(c.ID) {
			t.Fatalf("DecodeEventCursor(%q) accepted %+v", s, c)
		}
		back, err := query.DecodeEventCursor(c.Encode())
		if err != nil || back != c {
			t.Fatalf("round trip of %+v: %+v, %v", c, back, err)
		}
	})
}
