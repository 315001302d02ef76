package ingest

import (
	"regexp"
	"testing"
)

var uuidV8 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// TestNextID checks the record ids: UUIDs of version 8, distinct per
// record, the same for the same (node, listener, boot, sequence number),
// different for another listener or boot.
func TestNextID(t *testing.T) {
	newL := func(node, name, boot string) *listener {
		l := &listener{cfg: ListenerConfig{Name: name, Proto: "none"}, s: &Service{cfg: Config{NodeID: node}}}
		if err := l.bind(boot); err == nil || l.idBase == [8]byte{} {
			// bind fails for the unknown proto, after setting the id base.
			t.Fatalf("bind: %v, id base %x", err, l.idBase)
		}
		return l
	}
	ids := func(l *listener, n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = l.nextID()
		}
		return out
	}
	a := ids(newL("node-1", "syslog-tcp", "100"), 1000)
	seen := map[string]bool{}
	for _, id := range a {
		if !uuidV8.MatchString(id) {
			t.Fatalf("id %q is not a version 8 UUID", id)
		}
		if seen[id] {
			t.Fatalf("id %q twice", id)
		}
		seen[id] = true
	}
	tests := []struct {
		name             string
		node, lst, boot  string
		wantSameAsFirsts bool
	}{
		{"same listener and boot", "node-1", "syslog-tcp", "100", true},
		{"another boot", "node-1", "syslog-tcp", "101", false},
		{"another listener", "node-1", "syslog-udp", "100", false},
		{"another node", "node-2", "syslog-tcp", "100", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := ids(newL(tt.node, tt.lst, tt.boot), 3)
			same := b[0] == a[0] && b[1] == a[1] && b[2] == a[2]
			if same != tt.wantSameAsFirsts {
				t.Errorf("ids %v vs %v: same %v, want %v", b, a[:3], same, tt.wantSameAsFirsts)
			}
			for _, id := range b {
				if !tt.wantSameAsFirsts && seen[id] {
					t.Errorf("id %s collides with the first listener's", id)
				}
			}
		})
	}
}
