package syslog

import (
	"fmt"
	"maps"
	"testing"
)

// asMap returns the pairs of f as a map (empty, not nil, for none), for
// comparisons with the maps the tests expect.
func asMap(f *fieldSet) map[string]string {
	m := map[string]string{}
	f.fill(m)
	return m
}

// fieldOp is one operation of TestFieldSet: set or add k = v.
type fieldOp struct {
	add  bool
	k, v string
}

// TestFieldSet applies sequences of set and add to a fieldSet and to a
// map and checks that they agree after every step: the same entries,
// get and the reported novelty as the map's, keys in first-insertion
// order and distinct, across the growth of the index (past the small
// index and far past MaxFields), and again after clearPairs and reset.
func TestFieldSet(t *testing.T) {
	many := func(n int, add bool, prefix string) []fieldOp {
		var ops []fieldOp
		for i := range n {
			ops = append(ops, fieldOp{add, fmt.Sprint(prefix, i), fmt.Sprint("v", i)})
		}
		return ops
	}
	tests := []struct {
		name string
		ops  []fieldOp
	}{
		{"empty", nil},
		{"set overwrites in place", []fieldOp{{false, "a", "1"}, {false, "b", "2"}, {false, "a", "3"}}},
		{"add keeps the first", []fieldOp{{true, "a", "1"}, {true, "a", "2"}, {false, "b", ""}, {true, "b", "x"}}},
		{"empty key and value", []fieldOp{{false, "", ""}, {true, "", "x"}, {false, "", "y"}}},
		{"colliding shapes", []fieldOp{{false, "cs1Label", "a"}, {false, "cs2Label", "b"}, {false, "cs3Label", "c"}, {true, "cs1Label", "d"}}},
		{"past the small index", append(many(70, false, "k"), many(70, true, "k")...)},
		{"far past MaxFields", append(many(3*MaxFields, true, "x."), many(3*MaxFields, false, "x.")...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFieldSet(nil)
			for round := range 2 {
				m := map[string]string{}
				var order []string
				for i, op := range tt.ops {
					_, had := m[op.k]
					var added bool
					if op.add {
						added = f.add(op.k, op.v)
						if !had {
							m[op.k] = op.v
						}
					} else {
						added = f.set(op.k, op.v)
						m[op.k] = op.v
					}
					if !had {
						order = append(order, op.k)
					}
					if added == had {
						t.Fatalf("round %d op %d %+v: added %v, key present before %v", round, i, op, added, had)
					}
					if v, ok := f.get(op.k); !ok || v != m[op.k] {
						t.Fatalf("round %d op %d: get(%q) = %q %v, want %q", round, i, op.k, v, ok, m[op.k])
					}
				}
				if got := asMap(f); !maps.Equal(got, m) || f.len() != len(m) {
					t.Fatalf("round %d: pairs %v (%d), want %v", round, got, f.len(), m)
				}
				for i, k := range order {
					if f.kv[2*i] != k {
						t.Fatalf("round %d: key %d is %q, want %q (first-insertion order)", round, i, f.kv[2*i], k)
					}
				}
				if _, ok := f.get("absent key"); ok {
					t.Fatal("get found an absent key")
				}
				if v, ok := f.getBytes([]byte("absent key")); ok || v != "" {
					t.Fatal("getBytes found an absent key")
				}
				if round == 0 {
					f.clearPairs()
				} else {
					kv := f.kv
					clear(kv)
					f.reset(kv)
				}
				if f.len() != 0 || len(asMap(f)) != 0 {
					t.Fatalf("round %d: %d pairs left after emptying", round, f.len())
				}
				for _, op := range tt.ops {
					if _, ok := f.get(op.k); ok {
						t.Fatalf("round %d: %q found after emptying", round, op.k)
					}
				}
			}
		})
	}
}

// BenchmarkFieldSet measures building the fields of a plant record (22
// pairs, an RFC 5424 record of the end-to-end load) and reading three,
// in a fieldSet and, for comparison, in a map (both reused).
func BenchmarkFieldSet(b *testing.B) {
	var keys, vals []string
	for _, id := range []string{"c981load@32473", "c981@32473"} {
		for _, k := range []string{"src", "dst", "proto", "sport", "dport", "app", "op", "action", "run", "seq", "sent"} {
			keys = append(keys, id+"."+k, k)
			vals = append(vals, "10.20.1.13", "10.20.1.13")
		}
	}
	keys, vals = keys[:22], vals[:22]
	b.Run("fieldSet", func(b *testing.B) {
		f := newFieldSet(nil)
		b.ReportAllocs()
		for b.Loop() {
			for i, k := range keys {
				f.add(k, vals[i])
			}
			_, _ = f.get("src")
			_, _ = f.get("missing")
			_, _ = f.get("dport")
			f.clearPairs()
		}
	})
	b.Run("map", func(b *testing.B) {
		m := map[string]string{}
		b.ReportAllocs()
		for b.Loop() {
			for i, k := range keys {
				if _, ok := m[k]; !ok {
					m[k] = vals[i]
				}
			}
			_ = m["src"]
			_ = m["missing"]
			_ = m["dport"]
			clear(m)
		}
	})
}
