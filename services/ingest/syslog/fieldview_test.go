package syslog

import (
	"fmt"
	"testing"
	"time"
)

// TestFieldView checks the Bloom filter of the tracked keys: a key that
// is in Fields is never reported absent, keys that are not are mostly
// reported absent, and a map with untracked keys falls back to lookups.
func TestFieldView(t *testing.T) {
	tests := []struct {
		name  string
		build func(m *fieldSet, as *aliasState)
		// untracked: a key set behind the tracking's back.
		untracked bool
	}{
		{"setField", func(m *fieldSet, as *aliasState) {
			for i := range 40 {
				setField(m, as, fmt.Sprintf("key%d", i), "v")
			}
			setField(m, as, "key3", "overwritten")
		}, false},
		{"addField", func(m *fieldSet, as *aliasState) {
			for i := range 40 {
				addField(m, as, fmt.Sprintf("k.%d.x", i), "v")
				addField(m, as, fmt.Sprintf("k.%d.x", i), "second")
			}
		}, false},
		{"extractPairs", func(m *fieldSet, as *aliasState) {
			extractPairs(`src=10.0.0.1 dst=10.0.0.2 a=1 bb=2 ccc=3 dddd=4 op=write user=op1 src=dup msg="a b"`, m, as)
		}, false},
		{"untracked key", func(m *fieldSet, as *aliasState) {
			setField(m, as, "tracked", "v")
			m.set("sneaky", "v")
		}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newFieldSet(nil)
			var as aliasState
			tc.build(m, &as)
			fv := fieldView{m, &as}
			for k, v := range m.pairs {
				if fv.absent(k) {
					t.Fatalf("present key %q reported absent", k)
				}
				if got := fv.get(k); got != v {
					t.Fatalf("get(%q) = %q, want %q", k, got, v)
				}
			}
			absent := 0
			for i := range 1000 {
				k := fmt.Sprintf("missing-%d", i)
				if fv.absent(k) {
					absent++
				}
				if _, ok := fv.lookup(k); ok {
					t.Fatalf("lookup(%q) found a missing key", k)
				}
			}
			switch {
			case tc.untracked && absent != 0:
				t.Errorf("%d keys reported absent although the filter does not cover the map", absent)
			case !tc.untracked && m.len() < 20 && absent < 500:
				t.Errorf("only %d of 1000 missing keys filtered out with %d keys", absent, m.len())
			}
			if fv.first([]string{"missing-1", "missing-2"}, keep) != "" {
				t.Error("first found a missing key")
			}
		})
	}
}

// FuzzEVETime checks that fastEVETime accepts only timestamps that
// time.Parse(eveTimeLayout) accepts, with the same instant.
func FuzzEVETime(f *testing.F) {
	for _, s := range []string{
		"2026-11-26T10:00:10.123456+0100", "2026-11-26T10:00:10+0000", "2026-02-29T10:00:10.1-0530",
		"2024-02-29T23:59:59.999999999+2460", "2026-11-26T10:00:10,123+0100", "2026-11-26T10:00:10.123+01:00",
		"2026-13-26T10:00:10.123+0100", "2026-11-31T10:00:10.123+0100", "2026-11-26T24:00:10.123+0100",
		"2026-11-26T10:00:10.1234567890+0100", "2026-11-26T10:00:10.+0100", "0000-01-01T00:00:00-2500",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := fastEVETime(s)
		want, err := time.Parse(eveTimeLayout, s)
		if ok && err != nil {
			t.Fatalf("fastEVETime accepts %q, time.Parse rejects it: %v", s, err)
		}
		if ok && !got.Equal(want) {
			t.Fatalf("%q: fastEVETime %v, time.Parse %v", s, got, want)
		}
		if ok && got.Location() != time.UTC {
			t.Fatalf("%q: not in UTC", s)
		}
	})
}

func TestFastEVETimeAccepts(t *testing.T) {
	for _, s := range []string{"2026-11-26T10:00:10.123456+0100", "2026-11-26T10:00:10+0000", "2024-02-29T00:00:00.5-0530"} {
		if _, ok := fastEVETime(s); !ok {
			t.Errorf("fast path rejects Suricata's format %q", s)
		}
	}
}

// TestFieldViewHot checks the hot key values against the map: after
// setField overwrites, addField keeps the first value, and keyList reads
// equal first over the same keys, tracked or not.
func TestFieldViewHot(t *testing.T) {
	tests := []struct {
		name  string
		build func(m *fieldSet, as *aliasState)
	}{
		{"setField overwrites", func(m *fieldSet, as *aliasState) {
			setField(m, as, "msg", "first")
			setField(m, as, "msg", "second")
			setField(m, as, "cat", "Authentication")
			setField(m, as, "technique", "T0843")
		}},
		{"addField keeps", func(m *fieldSet, as *aliasState) {
			addField(m, as, "operation", "program_download")
			addField(m, as, "operation", "write")
			addField(m, as, "app", "ENIP")
		}},
		{"empty values", func(m *fieldSet, as *aliasState) {
			setField(m, as, "event_type", "")
			setField(m, as, "protocol", " ")
			setField(m, as, "app", "modbus")
		}},
		{"more hot keys than values", func(m *fieldSet, as *aliasState) {
			for _, k := range hotKeys {
				setField(m, as, k, "v-"+k)
			}
			setField(m, as, "msg", "again")
		}},
		{"flattened JSON", func(m *fieldSet, as *aliasState) {
			if err := flattenJSON(`{"timestamp":"t","event_type":"alert","alert":{"signature":"s","severity":2,"metadata":{"mitre_technique_id":["T0843"]}},"host":"h","alert.signature":"dup"}`, m, as); err != nil {
				t.Fatal(err)
			}
		}},
	}
	lists := []*keyList{vendorCategoryList, vendorTechniqueList, vendorProtoList, vendorOpList, cefHostKeys, cefEventCodeKeys,
		eveBytesOutKeys, newKeyList("msg", "not-hot", "app")}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newFieldSet(nil)
			var as aliasState
			tc.build(m, &as)
			tracked := fieldView{m, &as}
			untracked := fieldView{m, &aliasState{noView: true}}
			if !tracked.tracked() || untracked.tracked() {
				t.Fatal("tracking not as built")
			}
			for h, k := range hotKeys {
				want, wantOK := m.get(k)
				if v, ok := tracked.hot(h); v != want || ok != wantOK {
					t.Errorf("hot(%q) = %q %v, want %q %v", k, v, ok, want, wantOK)
				}
				if v, ok := tracked.lookup(k); v != want || ok != wantOK {
					t.Errorf("lookup(%q) = %q %v, want %q %v", k, v, ok, want, wantOK)
				}
			}
			for _, l := range lists {
				for _, norm := range []func(string) (string, bool){keep, lower} {
					want := untracked.first(l.keys, norm)
					if got := tracked.firstOf(l, norm); got != want {
						t.Errorf("firstOf(%q) = %q, want %q", l.keys, got, want)
					}
					if got := untracked.firstOf(l, norm); got != want {
						t.Errorf("untracked firstOf(%q) = %q, want %q", l.keys, got, want)
					}
				}
				absent := true
				for i, k := range l.keys {
					v, ok := m.get(k)
					absent = absent && !ok
					if got := tracked.getAt(l, i); got != v {
						t.Errorf("getAt(%q) = %q, want %q", k, got, v)
					}
				}
				if l.absentIn(tracked) && !absent {
					t.Errorf("absentIn(%q) although a key is present", l.keys)
				}
			}
		})
	}
}

// TestCivilDays checks civilDays against time.Date on every day of
// years around the leap-year rules and the ends of the 4-digit range.
func TestCivilDays(t *testing.T) {
	for _, y := range []int{0, 1, 3, 4, 99, 100, 101, 399, 400, 401, 1600, 1899, 1900, 1969, 1970, 1971, 2000, 2024, 2026, 2100, 9999} {
		for m := time.January; m <= time.December; m++ {
			for d := 1; d <= daysIn(m, y); d++ {
				if got, want := civilDays(y, m, d)*86400, time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix(); got != want {
					t.Fatalf("civilDays(%d, %v, %d) = %d days, time.Date gives %d", y, m, d, got/86400, want/86400)
				}
			}
		}
	}
}

// TestVendorKeysHotOrder checks what vendorOT and vendorOp rely on when
// they read the technique and operation keys by their hot bits: they are
// all hot, and in the order of their lists (the order of preference and
// of the appended technique ids).
func TestVendorKeysHotOrder(t *testing.T) {
	for _, l := range []*keyList{vendorTechniqueList, vendorOpList} {
		if !l.allHot {
			t.Fatalf("not every key of %v is hot: %v", l.keys, l.hot)
		}
		for i := 1; i < len(l.hot); i++ {
			if l.hot[i] <= l.hot[i-1] {
				t.Fatalf("hot indexes of %v are not increasing: %v", l.keys, l.hot)
			}
		}
	}
}
