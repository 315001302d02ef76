package syslog

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/c981/c981/services/shared/event"
)

// recycleCase is one record of the recycling tests with its parser.
type recycleCase struct {
	name string
	raw  []byte
	p    *Parser
}

// recycleCases returns every golden input and bench line, each with the
// parser of its golden case.
func recycleCases(t *testing.T) []recycleCase {
	t.Helper()
	var cs []recycleCase
	for _, tc := range parseCases {
		raw, err := os.ReadFile(filepath.Join("testdata", "parse", tc.name+".input"))
		if err != nil {
			t.Fatal(err)
		}
		cs = append(cs, recycleCase{tc.name, raw, testParser(t, tc.format, tc.now)})
	}
	for _, l := range benchLines {
		cs = append(cs, recycleCase{"bench_" + l.name, l.raw, testParser(t, FormatAuto, defaultNow)})
	}
	return cs
}

// TestParseIntoRecycled parses every record (B) into an event that
// already holds the result of every other record (A) and checks that
// nothing of A leaks into B: the result equals a fresh Parse of B, field
// by field, including the error. It also checks that A's Fields map was
// reused when B has fields, and A's Techniques array when B has
// techniques that fit in it, which is the point of ParseInto.
func TestParseIntoRecycled(t *testing.T) {
	cases := recycleCases(t)
	for _, b := range cases {
		t.Run(b.name, func(t *testing.T) {
			want, wantErr := b.p.Parse(b.raw, "id-b", "127.0.0.1:40001", receivedAt)
			for _, a := range cases {
				var ev event.Event
				errA := a.p.ParseInto(&ev, a.raw, "id-a", "127.0.0.1:40000", receivedAt)
				mapA := ev.Fields
				techsA := ev.Techniques
				if errA != nil && len(ev.Fields) != 0 {
					t.Fatalf("A=%s: rejected record left %d fields", a.name, len(ev.Fields))
				}
				err := b.p.ParseInto(&ev, b.raw, "id-b", "127.0.0.1:40001", receivedAt)
				if !sameError(err, wantErr) {
					t.Fatalf("A=%s: error %v, fresh Parse gives %v", a.name, err, wantErr)
				}
				if err != nil {
					if ev.Raw != "" || ev.ID != "" || len(ev.Fields) != 0 || len(ev.Techniques) != 0 {
						t.Fatalf("A=%s: rejected record left a non-empty event %+v", a.name, ev)
					}
					continue
				}
				if !reflect.DeepEqual(ev, want) {
					t.Fatalf("A=%s: recycled event differs from a fresh parse\ngot:  %+v\nwant: %+v", a.name, ev, want)
				}
				if mapA != nil && len(want.Fields) > 0 && reflect.ValueOf(ev.Fields).UnsafePointer() != reflect.ValueOf(mapA).UnsafePointer() {
					t.Fatalf("A=%s: the Fields map was not reused", a.name)
				}
				if cap(techsA) >= len(want.Techniques) && len(want.Techniques) > 0 && &ev.Techniques[0] != &techsA[:1][0] {
					t.Fatalf("A=%s: the Techniques array was not reused", a.name)
				}
			}
		})
	}
}

// TestParseIntoZeroEvent checks that ParseInto into a zero Event gives
// exactly what Parse gives (Parse is a wrapper; this guards the reset).
func TestParseIntoZeroEvent(t *testing.T) {
	for _, c := range recycleCases(t) {
		t.Run(c.name, func(t *testing.T) {
			want, wantErr := c.p.Parse(c.raw, "id", "peer", receivedAt)
			var ev event.Event
			err := c.p.ParseInto(&ev, c.raw, "id", "peer", receivedAt)
			if (err == nil) != (wantErr == nil) {
				t.Fatalf("error %v, Parse gives %v", err, wantErr)
			}
			if err == nil && !reflect.DeepEqual(ev, want) {
				t.Fatalf("ParseInto differs from Parse\ngot:  %+v\nwant: %+v", ev, want)
			}
		})
	}
}

// FuzzParseInto parses a into an event, then b into the same event, and
// checks the result against a fresh Parse of b: whatever a was, nothing
// of it may survive.
func FuzzParseInto(f *testing.F) {
	seeds := fuzzSeeds()
	for _, a := range seeds {
		for _, b := range seeds {
			f.Add(a, b)
		}
	}
	parsers := fuzzParsers(f, Formats...)
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, a, b []byte) {
		for _, p := range parsers {
			want, wantErr := p.Parse(b, "id-b", "peer-b", now)
			var ev event.Event
			_ = p.ParseInto(&ev, a, "id-a", "peer-a", now)
			err := p.ParseInto(&ev, b, "id-b", "peer-b", now)
			if !sameError(err, wantErr) {
				t.Fatalf("format %s: error %v after a recycled event, fresh Parse gives %v", p.opts.Format, err, wantErr)
			}
			if err == nil && !reflect.DeepEqual(ev, want) {
				t.Fatalf("format %s: recycled event differs from a fresh parse\ngot:  %+v\nwant: %+v", p.opts.Format, ev, want)
			}
		}
	})
}

// FuzzParseIntoPairs is FuzzParseInto for ParseIntoPairs: record b
// parsed into the event and pair storage of record a gives Parse's
// event once its pairs are decoded, with no key twice.
func FuzzParseIntoPairs(f *testing.F) {
	for _, a := range append(fuzzSeeds(), []byte("<13>Nov 26 10:00:01 h a: x=1 x=2 y=3")) {
		for _, b := range fuzzSeeds() {
			f.Add(a, b)
		}
	}
	parsers := fuzzParsers(f, Formats...)
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, a, b []byte) {
		for _, p := range parsers {
			want, wantErr := p.Parse(b, "id-b", "peer-b", now)
			var ev event.Event
			pairs := new([]string)
			_ = p.ParseIntoPairs(&ev, pairs, a, "id-a", "peer-a", now)
			err := p.ParseIntoPairs(&ev, pairs, b, "id-b", "peer-b", now)
			if !sameError(err, wantErr) {
				t.Fatalf("format %s: error %v after a recycled event, fresh Parse gives %v", p.opts.Format, err, wantErr)
			}
			seen := map[string]bool{}
			for k := range ev.RangeFields {
				if seen[k] {
					t.Fatalf("format %s: key %q twice in the pairs", p.opts.Format, k)
				}
				seen[k] = true
			}
			ev.DecodeFields()
			if err == nil && !reflect.DeepEqual(ev, want) {
				t.Fatalf("format %s: recycled event differs from a fresh parse\ngot:  %+v\nwant: %+v", p.opts.Format, ev, want)
			}
		}
	})
}

// fuzzSeeds are the seed records of FuzzParseInto and
// FuzzParseIntoPairs.
func fuzzSeeds() [][]byte {
	var seeds [][]byte
	for _, l := range benchLines {
		seeds = append(seeds, l.raw)
	}
	for _, s := range []string{"", "<13>Nov 26 10:00:01 h a: x=1", `{"a":{"b":[1,2]}}`, "CEF:0|v|p|1|s|n|5|a=1"} {
		seeds = append(seeds, []byte(s))
	}
	return seeds
}

// TestCEFLabelsTracked checks that CEF records whose label pairs are
// resolved from the pairs and hot keys (the tracked parser) parse as with
// map lookups (noAliasTracking): labels naming other pairs' keys,
// repeated and empty pairs, escapes, labels of absent pairs.
func TestCEFLabelsTracked(t *testing.T) {
	inputs := []string{
		`CEF:0|V|P|1|7|Name|5|cs1Label=cs2 cs1=first cs2Label=Operation`,
		`CEF:0|V|P|1|7|Name|5|cs2Label=Operation cs1Label=cs2 cs1=write`,
		`CEF:0|V|P|1|7|Name|5|cs1Label=msg cs1=from label msg=own`,
		`CEF:0|V|P|1|7|Name|5|cs1Label=msg cs1=from label`,
		`CEF:0|V|P|1|7|Name|5|cs1=a cs1= cs1Label=Technique cs1=T0801 cs1Label=Operation`,
		`CEF:0|V|P|1|7|Name|5|cs1Label= cs1=x cs2Label=Operation`,
		`CEF:0|V\|x|P\\|1|7|Name|5|cs1Label=Oper\=ation cs1=program\=download act=Allow cat=Authentication`,
		`CEF:0|V|P|1|7|Name|5|cs1Label=MITRE Technique cs1=T0843,T0801 technique=T0855 app=ENIP proto=TCP`,
		`CEF:0|V|P|1|7|Name|5|rt=1795687201123 end=bad dvchost=h1 dvc=10.0.0.1 externalId=42 cat=alert`,
		`CEF:0|V|P|1|7|Name|5|cs1Label=Operation cs1=Program Download op=write`,
		`CEF:0|V|P|1|7|Name|5|op=Write operation=read ot_operation=PLC Stop`,
		`CEF:0|V|P|1|7|Name|5|operation=write operation=read cs1Label=Operation cs1=write`,
		`CEF:0|V|P|1|7|Name|5|op=write operation_type=read`,
		`CEF:0|V|P|1|7|Name|5|operation=\  function_name=Read`,
	}
	tracked := testParser(t, FormatAuto, time.Time{})
	untracked := testParser(t, FormatAuto, time.Time{})
	untracked.noAliasTracking = true
	for _, in := range inputs {
		t.Run(in, func(t *testing.T) {
			a, errA := tracked.Parse([]byte(in), "id", "peer", receivedAt)
			b, errB := untracked.Parse([]byte(in), "id", "peer", receivedAt)
			if (errA == nil) != (errB == nil) {
				t.Fatalf("errors differ: %v / %v", errA, errB)
			}
			aj, _ := json.Marshal(a)
			bj, _ := json.Marshal(b)
			if string(aj) != string(bj) {
				t.Fatalf("tracked and untracked differ:\n%s\n%s", aj, bj)
			}
		})
	}
}

// TestParseIntoPairs parses every record (B) with ParseIntoPairs into an
// event and pair storage that already hold the result of every other
// record (A) and checks that the event is a fresh Parse of B: the pairs
// hold distinct keys, exactly the entries of Parse's Fields map, and
// nothing of A leaks (the error too). A record without fields, or a
// rejected one, leaves no fields and the storage empty.
func TestParseIntoPairs(t *testing.T) {
	cases := recycleCases(t)
	for _, b := range cases {
		t.Run(b.name, func(t *testing.T) {
			want, wantErr := b.p.Parse(b.raw, "id-b", "127.0.0.1:40001", receivedAt)
			for _, a := range cases {
				var ev event.Event
				pairs := new([]string)
				errA := a.p.ParseIntoPairs(&ev, pairs, a.raw, "id-a", "127.0.0.1:40000", receivedAt)
				if (errA != nil || ev.FieldPairs() == nil) && len(*pairs) != 0 {
					t.Fatalf("A=%s: no fields, but %d strings in the storage", a.name, len(*pairs))
				}
				err := b.p.ParseIntoPairs(&ev, pairs, b.raw, "id-b", "127.0.0.1:40001", receivedAt)
				if !sameError(err, wantErr) {
					t.Fatalf("A=%s: error %v, fresh Parse gives %v", a.name, err, wantErr)
				}
				switch got := ev.FieldPairs(); {
				case err != nil || want.Fields == nil:
					if got != nil || ev.NumFields() != 0 || len(*pairs) != 0 {
						t.Fatalf("A=%s: no fields expected, got %v (storage %q)", a.name, got, *pairs)
					}
				case got != pairs:
					t.Fatalf("A=%s: fields not set to the storage given", a.name)
				}
				seen := map[string]bool{}
				for k := range ev.RangeFields {
					if seen[k] {
						t.Fatalf("A=%s: key %q twice in the pairs %q", a.name, k, *pairs)
					}
					seen[k] = true
				}
				if ev.Fields != nil {
					t.Fatalf("A=%s: ParseIntoPairs set a Fields map", a.name)
				}
				ev.DecodeFields()
				if err == nil && !reflect.DeepEqual(ev, want) {
					gj, _ := json.Marshal(ev)
					wj, _ := json.Marshal(want)
					t.Fatalf("A=%s: ParseIntoPairs differs from Parse\ngot:  %s\nwant: %s", a.name, gj, wj)
				}
			}
		})
	}
}

// sameError reports whether err and want are both nil or both errors
// with the same text.
func sameError(err, want error) bool {
	if err == nil || want == nil {
		return err == want
	}
	return err.Error() == want.Error()
}
