package query

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestFilterValidate(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		filter Filter
		bad    []string // invalid params, in order
	}{
		{"zero", Filter{}, nil},
		{"everything valid", Filter{Site: "demo-plant", Status: []string{"new", "closed"}, Severity: "high", Since: t0, Until: t0.Add(time.Hour), Text: "sis", Limit: MaxLimit, After: Cursor{1, "0b9e7c1a-3f2d-8e4a-9b1c-2d3e4f5a6b7c"}.Encode()}, nil},
		{"unknown status", Filter{Status: []string{"new", "open"}}, []string{"status"}},
		{"unknown severity", Filter{Severity: "urgent"}, []string{"severity"}},
		{"until not after since", Filter{Since: t0, Until: t0}, []string{"until"}},
		{"limit too large", Filter{Limit: MaxLimit + 1}, []string{"limit"}},
		{"negative limit", Filter{Limit: -1}, []string{"limit"}},
		{"long text", Filter{Text: strings.Repeat("x", MaxTextLen+1)}, []string{"q"}},
		{"invalid utf-8 site", Filter{Site: "\xff"}, []string{"site"}},
		{"bad cursor", Filter{After: "i1.!!"}, []string{"cursor"}},
		{"several", Filter{Severity: "x", Limit: 1000, After: "nope"}, []string{"severity", "limit", "cursor"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.filter.Validate()
			var bad InvalidParams
			if len(tc.bad) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if !errors.As(err, &bad) {
				t.Fatalf("Validate() = %v, want InvalidParams", err)
			}
			var got []string
			for _, p := range bad {
				got = append(got, p.Param)
			}
			if strings.Join(got, ",") != strings.Join(tc.bad, ",") {
				t.Errorf("invalid params %v, want %v (%v)", got, tc.bad, err)
			}
		})
	}
}

func TestCursor(t *testing.T) {
	c := Cursor{LastSeenMs: 1795687205123, ID: "0b9e7c1a-3f2d-8e4a-9b1c-2d3e4f5a6b7c"}
	got, err := DecodeCursor(c.Encode())
	if err != nil || got != c {
		t.Fatalf("round trip: %+v, %v; want %+v", got, err, c)
	}
	for _, s := range []string{
		"",
		"garbage",
		"i1.",
		"i1." + strings.Repeat("A", 200),
		Cursor{-1, c.ID}.Encode(),
		Cursor{1, "0B9E7C1A-3F2D-8E4A-9B1C-2D3E4F5A6B7C"}.Encode(),
		Cursor{1, "x' OR 1=1 --"}.Encode(),
		"i1.MTIzNA", // "1234" without an id
	} {
		if c, err := DecodeCursor(s); err == nil {
			t.Errorf("DecodeCursor(%q) = %+v, want an error", s, c)
		}
	}
}

func TestValidID(t *testing.T) {
	for s, want := range map[string]bool{
		"0b9e7c1a-3f2d-8e4a-9b1c-2d3e4f5a6b7c":   true,
		"0b9e7c1a-3f2d-8e4a-9b1c-2d3e4f5a6b7":    false,
		"0b9e7c1a-3f2d-8e4a-9b1c-2d3e4f5a6b7cc":  false,
		"0b9e7c1a03f2d-8e4a-9b1c-2d3e4f5a6b7c":   false,
		"0b9e7c1a-3f2d-8e4a-9b1c-2d3e4f5a6b7g":   false,
		"{0b9e7c1a-3f2d-8e4a-9b1c-2d3e4f5a6b7c}": false,
		"":                                       false,
	} {
		if got := ValidID(s); got != want {
			t.Errorf("ValidID(%q) = %v, want %v", s, got, want)
		}
	}
}
