package chstore

import (
	"bytes"
	"context"
	"maps"
	"strconv"
	"testing"
	"time"

	"github.com/c981/c981/services/shared/event"
)

// rawAndMapEvents encodes evs as a bus batch and decodes it twice: with
// the Fields of every event left raw (event.UnmarshalEventsRawFields, what
// the store does) and decoded into maps (event.UnmarshalEventsShared).
func rawAndMapEvents(t testing.TB, evs []event.Event) (raw, maps []event.Event) {
	t.Helper()
	data, err := event.MarshalEvents(evs)
	if err != nil {
		t.Fatal(err)
	}
	return decodeBoth(t, data)
}

// decodeBoth decodes the bus batch data with both decoders.
func decodeBoth(t testing.TB, data []byte) (raw, maps []event.Event) {
	t.Helper()
	raw, err := event.UnmarshalEventsRawFields(data, nil)
	if err != nil {
		t.Fatal(err)
	}
	maps, err = event.UnmarshalEventsShared(data, nil)
	if err != nil {
		t.Fatal(err)
	}
	return raw, maps
}

// TestFieldsJSONRawFields checks that the fields_json of an event whose
// fields were left raw is that of its map (refFieldsJSON), through
// EventRow's fieldsJSON, AppendFieldsJSON and the block builder's
// fieldsJSON, by number of fields (none, empty, one, many, more than
// sortedFields) and for a raw map holding a key twice (the last value
// wins, as in the map).
func TestFieldsJSONRawFields(t *testing.T) {
	many := map[string]string{}
	for i := range 2 * sortedFields {
		many["k"+strconv.Itoa(i)] = "v" + strconv.Itoa(i)
	}
	dup, err := event.MarshalEvents([]event.Event{{ID: "x", Fields: map[string]string{"dupA": "1", "dupB": "2", "c": "3"}}})
	if err != nil {
		t.Fatal(err)
	}
	dup = bytes.Replace(dup, []byte("dupB"), []byte("dupA"), 1)
	tests := []struct {
		name   string
		fields []map[string]string // the fields of the events of one batch
		data   []byte              // or the batch itself
	}{
		{"nil", []map[string]string{nil}, nil},
		{"empty", []map[string]string{{}}, nil},
		{"one", []map[string]string{{"k": "v"}}, nil},
		{"empty strings", []map[string]string{{"": ""}}, nil},
		{"many", []map[string]string{many}, nil},
		{"same names reused", []map[string]string{{"a": "1", "b": "2"}, {"b": "3", "a": "4"}, {"a": "5", "c": "6"}, nil, {"a": "7", "b": "8"}}, nil},
		{"duplicate key", nil, dup},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := tt.data
			if data == nil {
				evs := make([]event.Event, len(tt.fields))
				for i, f := range tt.fields {
					evs[i] = event.Event{ID: event.NewID("kv", strconv.Itoa(i)), Fields: f}
				}
				if data, err = event.MarshalEvents(evs); err != nil {
					t.Fatal(err)
				}
			}
			raw, maps := decodeBoth(t, data)
			var blk eventBlock
			ptrs := make([]*event.Event, len(raw))
			for i := range raw {
				ptrs[i] = &raw[i]
			}
			// Twice: the second pass reuses the block's storage.
			for pass := range 2 {
				blk.fieldsJSON(ptrs)
				if len(blk.fj) != len(raw) {
					t.Fatalf("pass %d: %d values for %d events", pass, len(blk.fj), len(raw))
				}
				for i := range raw {
					want := refFieldsJSON(maps[i].Fields)
					if got := fieldsJSON(&raw[i]); got != want {
						t.Fatalf("event %d: fieldsJSON = %s, want %s", i, got, want)
					}
					if got := string(AppendFieldsJSON([]byte("x"), &raw[i])); got != "x"+want {
						t.Fatalf("event %d: AppendFieldsJSON = %s, want x%s", i, got, want)
					}
					if blk.fj[i] != want {
						t.Fatalf("pass %d, event %d: block fieldsJSON = %s, want %s", pass, i, blk.fj[i], want)
					}
				}
			}
		})
	}
}

// TestInsertEventsRawFields checks that the columns of the InsertEvents
// tests' events decoded with raw fields (the store's decoding), and their
// EventRow rows, encode to the bytes of the same events decoded into
// Fields maps.
func TestInsertEventsRawFields(t *testing.T) {
	conn := migrated(t)
	ctx := context.Background()
	var evs []event.Event
	for _, e := range blockEvents(t) {
		evs = append(evs, *e)
	}
	raw, maps := rawAndMapEvents(t, evs)
	rawFields := 0
	for i := range raw {
		if raw[i].Fields == nil && raw[i].NumFields() > 0 {
			rawFields++
		}
	}
	if rawFields == 0 {
		t.Fatal("no event with raw fields: the test compares maps with maps")
	}
	stored := time.Date(2026, 11, 26, 18, 0, 0, 123e6, time.UTC)
	query := InsertQuery(TableEvents, EventColumns)
	encode := func(evs []event.Event, rowPath bool) [][]byte {
		t.Helper()
		b, err := conn.PrepareBatch(ctx, query)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = b.Abort() }()
		if rowPath {
			rows := make([][]any, len(evs))
			for i := range evs {
				if rows[i], err = EventRow(&evs[i]); err != nil {
					t.Fatal(err)
				}
			}
			SetStoredMS(rows, indexOf(EventColumns, StoredMSColumn), stored)
			if i, err := newBlockAppender(b.Columns()).append(rows); err != nil {
				t.Fatalf("row %d: %v", i, err)
			}
			return encodeColumns(b)
		}
		blk := eventBlock{storedMS: stored.UnixMilli()}
		ptrs := make([]*event.Event, len(evs))
		for i := range evs {
			ptrs[i] = &evs[i]
		}
		for start := 0; start < len(ptrs); start += InsertBlockRows {
			if err := blk.append(b.Columns(), ptrs[start:min(start+InsertBlockRows, len(ptrs))]); err != nil {
				t.Fatal(err)
			}
		}
		return encodeColumns(b)
	}
	for _, rowPath := range []bool{false, true} {
		want, got := encode(maps, rowPath), encode(raw, rowPath)
		for i, c := range got {
			if !bytes.Equal(c, want[i]) {
				t.Errorf("row path %v, column %s: %d bytes differ from the map-decoded events' %d", rowPath, EventColumns[i], len(c), len(want[i]))
			}
		}
	}
}

// TestFieldsJSONFieldIndex checks eventBlock.fieldsJSON on blocks whose
// events share field names or not (their Fields maps iterate in any order): an event whose
// names are those sorted for an earlier event with as many fields takes
// them (fieldIndex.place), and one with the same number of fields but
// another name, a name colliding in the hash table with one indexed, or
// fewer distinct names still gets its own sorted names and values.
func TestFieldsJSONFieldIndex(t *testing.T) {
	// Names of one length with the same first and last bytes share their
	// home slot (fieldSlot).
	colliding := func(n int, mid string) map[string]string {
		m := map[string]string{}
		for i := range n {
			m["a"+mid+strconv.Itoa(i%10)+strconv.Itoa(i/10)+"z"] = strconv.Itoa(i)
		}
		return m
	}
	most := map[string]string{}
	for i := range sortedFields - 1 {
		most["f"+strconv.Itoa(i)] = "v" + strconv.Itoa(i)
	}
	mostOther := maps.Clone(most)
	delete(mostOther, "f7")
	mostOther["f7x"] = "w"
	tests := []struct {
		name   string
		fields []map[string]string // the fields of the events of one block
	}{
		{"same names", []map[string]string{{"b": "1", "a": "2", "c": "3"}, {"c": "4", "a": "5", "b": "6"}, {"a": "7", "b": "8", "c": "9"}}},
		{"other name same count", []map[string]string{{"b": "1", "a": "2"}, {"b": "3", "x": "4"}, {"b": "5", "a": "6"}, {"x": "7", "b": "8"}}},
		{"empty name", []map[string]string{{"": "", "a": ""}, {"": "x", "a": "y"}, {"": "x", "b": "y"}}},
		{"colliding names", []map[string]string{colliding(12, ""), colliding(12, ""), colliding(12, "q"), colliding(12, "")}},
		{"colliding name absent", []map[string]string{colliding(3, ""), {"a00z": "1", "a10z": "2", "a30z": "3"}}},
		{"most names", []map[string]string{most, most, mostOther, most}},
		{"sets of one count alternating", []map[string]string{{"user": "a", "session": "s"}, {"block": "OB1", "size": "9"}, {"user": "b", "session": "t"}, {"block": "OB2", "size": "8"}, {"user": "c", "session": "u"}}},
		{"more sets of one count than ways", func() []map[string]string {
			var out []map[string]string
			for round := range 3 {
				for set := range fieldWays + 2 {
					out = append(out, map[string]string{"k" + strconv.Itoa(set): strconv.Itoa(round), "z": "v"})
				}
			}
			return out
		}()},
		{"counts interleaved", []map[string]string{{"a": "1"}, {"a": "2", "b": "3"}, {"a": "4"}, {}, nil, {"b": "5", "a": "6"}, {"b": "7"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs := make([]event.Event, len(tt.fields))
			ptrs := make([]*event.Event, len(evs))
			for i, f := range tt.fields {
				evs[i] = event.Event{ID: event.NewID("kv", strconv.Itoa(i)), Fields: f}
				ptrs[i] = &evs[i]
			}
			raw, _ := rawAndMapEvents(t, evs)
			rawPtrs := make([]*event.Event, len(raw))
			for i := range raw {
				rawPtrs[i] = &raw[i]
			}
			var blk eventBlock
			for name, ptrs := range map[string][]*event.Event{"maps": ptrs, "raw": rawPtrs} {
				// Twice: the second pass reuses the block's storage.
				for pass := range 2 {
					blk.fieldsJSON(ptrs)
					for i, f := range tt.fields {
						if want := refFieldsJSON(f); blk.fj[i] != want {
							t.Fatalf("%s, pass %d, event %d: fieldsJSON = %s, want %s", name, pass, i, blk.fj[i], want)
						}
					}
				}
			}
		})
	}
}
