package event

import (
	"regexp"
	"testing"
)

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestNewID(t *testing.T) {
	tests := []struct {
		name string
		a, b []string
		same bool
	}{
		{"same parts", []string{"n1", "tcp", "7"}, []string{"n1", "tcp", "7"}, true},
		{"different seq", []string{"n1", "tcp", "7"}, []string{"n1", "tcp", "8"}, false},
		{"part boundaries matter", []string{"ab", "c"}, []string{"a", "bc"}, false},
		{"empty vs none", []string{""}, []string{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, b := NewID(tc.a...), NewID(tc.b...)
			if !uuidRE.MatchString(a) || !uuidRE.MatchString(b) {
				t.Fatalf("not a version-8 UUID: %q %q", a, b)
			}
			if (a == b) != tc.same {
				t.Fatalf("NewID(%q)=%s NewID(%q)=%s, same=%v", tc.a, a, tc.b, b, tc.same)
			}
		})
	}
}

func TestSeverityRank(t *testing.T) {
	order := []string{SevInfo, SevLow, SevMedium, SevHigh, SevCritical}
	for i, s := range order {
		if SeverityRank(s) != i {
			t.Fatalf("SeverityRank(%s)=%d want %d", s, SeverityRank(s), i)
		}
	}
	if SeverityRank("urgent") != -1 {
		t.Fatal("unknown severity must rank -1")
	}
}

func BenchmarkNewID(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		NewID("node", "listener", "1732615200000000000", "123456")
	}
}
