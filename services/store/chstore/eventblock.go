package chstore

import (
	"context"
	"fmt"
	"math/bits"
	"slices"
	"strings"
	"time"
	"unsafe"

	chcol "github.com/ClickHouse/clickhouse-go/v2/lib/column"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/c981/c981/services/shared/event"
)

// CheckEvent reports whether e can be stored: the error EventRow would
// return for it (wrapping ErrInvalidRow), without building its row. Its
// checks are EventRow's, in the same order (TestCheckEvent).
func CheckEvent(e *event.Event) error {
	var r rowErrors
	if !ValidUUID(e.ID) {
		r.add("%s %q is not a UUID", "id", e.ID)
	}
	r.int8("facility", e.Facility)
	r.int8("severity", e.Severity)
	r.uint16("src_port", e.SrcPort)
	r.uint16("dst_port", e.DstPort)
	r.float32("src_purdue", e.Src.Purdue)
	r.float32("dst_purdue", e.Dst.Purdue)
	r.uint8("dst_sl_t", e.Dst.SLT)
	r.uint32("model_version", e.ModelVersion)
	r.uint64("bytes_out", e.BytesOut)
	r.uint64("bytes_in", e.BytesIn)
	r.float32("flow_purdue_delta", e.Flow.PurdueDelta)
	r.uint8("src_sl_t", e.Src.SLT)
	return r.err("event", e.ID)
}

// InsertEvents writes evs into the events table like Insert writes their
// EventRow rows, with stored_ms set to stored (SetStoredMS): the same bytes
// reach the server. It validates every event (CheckEvent) before sending
// anything: an invalid one is reported as an *AppendError with its index
// in evs, and nothing is stored.
//
// The columns are filled column by column: every column of a block of
// InsertBlockRows events is gathered into one typed slice (reused from
// block to block) and appended with one call, so no row of boxed values is
// built per event.
func InsertEvents(ctx context.Context, conn driver.Conn, evs []*event.Event, stored time.Time) error {
	return insertEvents(ctx, conn, evs, nil, stored.UnixMilli())
}

// EventRef returns the row of e for Insert: stored as EventRow's row
// would be, but holding only e itself and its stored time ([e, stored]),
// which SetStoredMS sets as for an EventRow row. Insert fills the columns
// of such rows straight from their events (see InsertEvents), so mapping
// an event costs one small allocation and no boxing. It returns EventRow's
// error for an event that cannot be stored. The row aliases e, which must
// not change until the row is inserted, and is for Insert and SetStoredMS
// only: the driver cannot append it.
func EventRef(e *event.Event) ([]any, error) {
	if err := CheckEvent(e); err != nil {
		return nil, err
	}
	return []any{eventRef{e}, unknownStored}, nil
}

// EventRefs returns the EventRef rows of evs, as EventRef does for each
// of them but in two allocations for all: rows[i] is the row of evs[i],
// or nil when the event cannot be stored, errs[i] then being EventRef's
// error (errs is nil when every event can be stored).
func EventRefs(evs []event.Event) (rows [][]any, errs []error) {
	vals := make([]any, 2*len(evs))
	rows = make([][]any, len(evs))
	for i := range evs {
		e := &evs[i]
		if err := CheckEvent(e); err != nil {
			if errs == nil {
				errs = make([]error, len(evs))
			}
			errs[i] = err
			continue
		}
		row := vals[2*i : 2*i+2 : 2*i+2]
		row[0], row[refStored] = eventRef{e}, unknownStored
		rows[i] = row
	}
	return rows, errs
}

// eventRef is the first value of an EventRef row.
type eventRef struct{ e *event.Event }

// refStored is the index of the stored time in an EventRef row.
const refStored = 1

// isRef reports whether r is an EventRef row.
func isRef(r []any) bool {
	if len(r) != refStored+1 {
		return false
	}
	_, ok := r[0].(eventRef)
	return ok
}

// storedIndex is the index of StoredMSColumn in EventColumns.
var storedIndex = slices.Index(EventColumns, StoredMSColumn)

// eventRefs returns the events and stored times of rows when they are all
// EventRef rows of the events table whose stored time is an int64
// (SetStoredMS).
func eventRefs(table string, columns []string, rows [][]any) ([]*event.Event, []int64, bool) {
	if table != TableEvents || !slices.Equal(columns, EventColumns) {
		return nil, nil, false
	}
	evs, stored := make([]*event.Event, len(rows)), make([]int64, len(rows))
	for i, r := range rows {
		if !isRef(r) {
			return nil, nil, false
		}
		ms, ok := r[refStored].(int64)
		if !ok {
			return nil, nil, false
		}
		evs[i], stored[i] = r[0].(eventRef).e, ms
	}
	return evs, stored, true
}

// expandRefs returns rows with every EventRef row replaced by its EventRow
// row (stored time kept), for the row-by-row path; rows itself when it
// holds none. An event that cannot be mapped is an *AppendError.
func expandRefs(rows [][]any) ([][]any, error) {
	var out [][]any
	for i, r := range rows {
		if !isRef(r) {
			continue
		}
		if out == nil {
			out = slices.Clone(rows)
		}
		full, err := EventRow(r[0].(eventRef).e)
		if err != nil {
			return nil, &AppendError{Index: i, Err: err}
		}
		full[storedIndex] = r[refStored]
		out[i] = full
	}
	if out == nil {
		return rows, nil
	}
	return out, nil
}

// insertEvents is InsertEvents with the stored time of every event
// (stored, when not nil) or of all (storedMS).
func insertEvents(ctx context.Context, conn driver.Conn, evs []*event.Event, stored []int64, storedMS int64) error {
	if len(evs) == 0 {
		return nil
	}
	for i, e := range evs {
		if err := CheckEvent(e); err != nil {
			return fmt.Errorf("insert into %s: %w", TableEvents, &AppendError{Index: i, Err: err})
		}
	}
	b, err := conn.PrepareBatch(ctx, InsertQuery(TableEvents, EventColumns))
	if err != nil {
		return fmt.Errorf("prepare insert into %s: %w", TableEvents, err)
	}
	defer func() { _ = b.Close() }()
	cols := b.Columns()
	if !eventColumnsMatch(cols) {
		// Not the column types the typed slices are for (a changed
		// table): let the driver convert row by row.
		rows := make([][]any, len(evs))
		for i, e := range evs {
			row, err := EventRow(e)
			if err != nil {
				return fmt.Errorf("insert into %s: %w", TableEvents, &AppendError{Index: i, Err: err})
			}
			row[storedIndex] = storedMS
			if stored != nil {
				row[storedIndex] = stored[i]
			}
			rows[i] = row
		}
		return sendRows(ctx, b, TableEvents, rows, InsertBlockRows)
	}
	blk := eventBlock{storedMS: storedMS}
	return sendBlocks(ctx, b, TableEvents, len(evs), InsertBlockRows, func(start, end int) error {
		blk.stored = nil
		if stored != nil {
			blk.stored = stored[start:end]
		}
		return blk.append(cols, evs[start:end])
	})
}

// eventBlock is the scratch space of InsertEvents: one typed slice per
// column kind, refilled for every column of every block.
type eventBlock struct {
	// stored are the stored times of the block's events, or nil for
	// storedMS for all.
	stored   []int64
	storedMS int64
	strs     []string
	u8       []uint8
	i8       []int8
	u16      []uint16
	u32      []uint32
	u64      []uint64
	i64      []int64
	f32      []float32
	secs     []int64
	// json holds the fields_json objects of the block's events one after
	// the other, ends the end of each in json, and fj the objects as
	// strings sharing json's memory (fieldsJSON).
	json []byte
	ends []int
	fj   []string
	// kv is the scratch space of one event's field names and values.
	kv []string
	// sorted holds, per number of fields, the sorted field names of the
	// last events of the block with that many fields that were sorted,
	// indexed for lookups by name and encoded (fieldSet).
	sorted [sortedFields]fieldSet
	ptrs   []*string
	// ptrBoxes holds, per length below ptrBoxLens, a []*string of that
	// length and the same slice boxed once: appendStrings refills its
	// elements, so that appending an array does not box (allocate) a new
	// slice header.
	ptrBoxes [ptrBoxLens]ptrBox
	// pairs is the scratch space of sortedKV.
	pairs []kvPair
}

// sortedFields bounds the field counts whose sorted names fieldsJSON
// reuses.
const sortedFields = 32

// ptrBoxLens bounds the array lengths whose pointers appendStrings passes
// in a slice boxed once (eventBlock.ptrBoxes).
const ptrBoxLens = 2 * sortedFields

// ptrBox is a []*string and the same slice boxed in an interface.
type ptrBox struct {
	ptrs []*string
	box  any
}

// append appends the events of one block to cols (the events columns, in
// EventColumns order).
func (b *eventBlock) append(cols []chcol.Interface, evs []*event.Event) error {
	b.fieldsJSON(evs)
	for c, col := range cols {
		ec := &eventColumns[c]
		var v any
		switch {
		case ec.isField:
			v = gatherField(&b.strs, evs, ec.field)
		case ec.str != nil:
			v = gather(&b.strs, evs, ec.str)
		case ec.u8 != nil:
			v = gather(&b.u8, evs, ec.u8)
		case ec.i8 != nil:
			v = gather(&b.i8, evs, ec.i8)
		case ec.u16 != nil:
			v = gather(&b.u16, evs, ec.u16)
		case ec.u32 != nil:
			v = gather(&b.u32, evs, ec.u32)
		case ec.u64 != nil:
			v = gather(&b.u64, evs, ec.u64)
		case ec.f32 != nil:
			v = gather(&b.f32, evs, ec.f32)
		case ec.dt != nil:
			v = gather(&b.secs, evs, ec.dt)
		case ec.fieldsJSON:
			v = b.fj
		case ec.stored && b.stored != nil:
			v = b.stored
		case ec.stored:
			b.i64 = b.i64[:0]
			for range evs {
				b.i64 = append(b.i64, b.storedMS)
			}
			v = b.i64
		default: // Array(String)
			for i, e := range evs {
				if err := b.appendStrings(col, ec.arr(b, i, e)); err != nil {
					return &AppendError{Index: i, Err: fmt.Errorf("column %s: %w", col.Name(), err)}
				}
			}
			continue
		}
		if _, err := col.Append(v); err != nil {
			return fmt.Errorf("column %s: %w", col.Name(), err)
		}
	}
	return nil
}

// appendStrings appends one Array(String) value through pointers to its
// elements (the driver boxes each string element it is given, which
// allocates, but not a pointer), in a slice boxed once per length
// (ptrBoxes) for the lengths below ptrBoxLens.
func (b *eventBlock) appendStrings(col chcol.Interface, ss []string) error {
	if len(ss) == 0 {
		return col.AppendRow(emptyStrings)
	}
	if len(ss) < ptrBoxLens {
		pb := &b.ptrBoxes[len(ss)]
		if pb.box == nil {
			pb.ptrs = make([]*string, len(ss))
			pb.box = pb.ptrs
		}
		for j := range ss {
			pb.ptrs[j] = &ss[j]
		}
		return col.AppendRow(pb.box)
	}
	b.ptrs = b.ptrs[:0]
	for j := range ss {
		b.ptrs = append(b.ptrs, &ss[j])
	}
	return col.AppendRow(b.ptrs)
}

// fieldSet holds the sorted names of up to fieldWays events with one
// number of fields (the field sets of the sources of a block: a firewall's
// and a PLC's events may have as many fields), each in a fieldIndex.
type fieldSet struct {
	ways [fieldWays]fieldIndex
	// mru is the way that matched or was set last, tried first; next is
	// the way set next (round robin, skipping mru).
	mru, next uint8
}

// fieldWays is the number of field sets a fieldSet keeps.
const fieldWays = 4

// match returns the way whose names are exactly e's, the values placed
// in vals (fieldIndex.place), or nil.
func (f *fieldSet) match(e *event.Event, vals []string) *fieldIndex {
	if x := &f.ways[f.mru]; x.ok && x.place(e, vals) {
		return x
	}
	for w := range f.ways {
		if x := &f.ways[w]; w != int(f.mru) && x.ok && x.place(e, vals) {
			f.mru = uint8(w)
			return x
		}
	}
	return nil
}

// add keeps keys (sorted, distinct, fewer than sortedFields) in a way
// other than the most recently used one.
func (f *fieldSet) add(keys []string) {
	w := f.next
	if w == f.mru {
		w = (w + 1) % fieldWays
	}
	f.next = (w + 1) % fieldWays
	f.ways[w].set(keys)
	f.mru = w
}

// reset empties every way of f.
func (f *fieldSet) reset() {
	for w := range f.ways {
		f.ways[w].reset()
	}
	f.mru, f.next = 0, 0
}

// fieldIndex finds a name among the sorted, distinct field names keys
// (fewer than sortedFields) without a binary search: slot is an
// open-addressing hash table (linear probing, at most half full, so a
// probe always ends on an empty slot) from fieldSlot of a name to its
// index in keys plus one (0: empty). It also keeps the names encoded as
// the fields_json members start ("name":), so that an event with these
// names only encodes its values (appendObject).
type fieldIndex struct {
	// ok is false until set, and after reset.
	ok   bool
	keys []string
	slot [fieldSlots]uint8
	// names holds the encoded names one after the other, nameEnds the
	// end of each in names.
	names    []byte
	nameEnds [sortedFields]uint32
}

// fieldSlots is the size of a fieldIndex table: a power of two, twice the
// most names it holds.
const fieldSlots = 2 * sortedFields

// fieldSlot is the home slot of the name k: a multiplicative hash of its
// length and first and last bytes, which tell apart most field names of
// one source.
func fieldSlot(k string) uint32 {
	h := uint32(len(k))
	if len(k) > 0 {
		h |= uint32(k[0])<<8 | uint32(k[len(k)-1])<<16
	}
	return h * 0x9e3779b1 >> (32 - bits.TrailingZeros32(fieldSlots))
}

// set makes x index keys (sorted, distinct, fewer than sortedFields),
// copying the slice (not the strings).
func (x *fieldIndex) set(keys []string) {
	x.ok = true
	x.keys = append(x.keys[:0], keys...)
	clear(x.slot[:])
	x.names = x.names[:0]
	for i, k := range keys {
		s := fieldSlot(k)
		for x.slot[s] != 0 {
			s = (s + 1) % fieldSlots
		}
		x.slot[s] = uint8(i + 1)
		x.names = append(appendJSONString(x.names, k), ':')
		x.nameEnds[i] = uint32(len(x.names))
	}
}

// reset empties x, dropping its references to the names.
func (x *fieldIndex) reset() {
	x.ok = false
	clear(x.keys)
	x.keys = x.keys[:0]
}

// appendObject appends to dst the fields_json object of the names x.keys
// and their values vals (as placed by place), as appendFieldsObject
// does.
func (x *fieldIndex) appendObject(dst []byte, vals []string) []byte {
	dst = append(dst, '{')
	start := uint32(0)
	for i, v := range vals {
		if i > 0 {
			dst = append(dst, ',')
		}
		end := x.nameEnds[i]
		dst = append(dst, x.names[start:end]...)
		start = end
		dst = appendJSONString(dst, v)
	}
	return append(dst, '}')
}

// find returns the index of the name k in x.keys, or false.
func (x *fieldIndex) find(k string) (int, bool) {
	for s := fieldSlot(k); ; s = (s + 1) % fieldSlots {
		i := int(x.slot[s])
		if i == 0 {
			return 0, false
		}
		if x.keys[i-1] == k {
			return i - 1, true
		}
	}
}

// place sets vals[i] to the value of field x.keys[i] of e, reporting
// whether e's fields are exactly x.keys, each once.
func (x *fieldIndex) place(e *event.Event, vals []string) bool {
	var seen uint64
	for k, v := range e.RangeFields {
		i, found := x.find(k)
		if !found || seen&(1<<i) != 0 {
			return false
		}
		seen |= 1 << i
		vals[i] = v
	}
	return bits.OnesCount64(seen) == len(x.keys)
}

// kvPair is one field of an event.
type kvPair struct{ k, v string }

// sortedKV returns the field names of e sorted and their values (for a
// Fields map, what NestedKV returns), in kv (2*e.NumFields() long): keys is a
// prefix of kv[:len(kv)/2] and values of the rest. A name a raw map holds
// twice (see event.Event.RangeFields) is kept once, with its last value, as
// the map decoding keeps it. pairs is scratch space.
func sortedKV(e *event.Event, kv []string, pairs *[]kvPair) (keys, values []string) {
	ps := (*pairs)[:0]
	for k, v := range e.RangeFields {
		ps = append(ps, kvPair{k, v})
	}
	// Stable: of a name's pairs, the last in the map stays last.
	slices.SortStableFunc(ps, func(a, b kvPair) int { return strings.Compare(a.k, b.k) })
	m := len(kv) / 2
	keys, values = kv[:0:m], kv[m:m:2*m]
	for i, p := range ps {
		if i+1 < len(ps) && ps[i+1].k == p.k {
			continue // a later value of the same name follows
		}
		keys, values = append(keys, p.k), append(values, p.v)
	}
	clear(ps) // the strings point into a message
	*pairs = ps
	return keys, values
}

// gather fills *buf with get of every event and returns it.
func gather[T any](buf *[]T, evs []*event.Event, get func(*event.Event) T) []T {
	s := (*buf)[:0]
	for _, e := range evs {
		s = append(s, get(e))
	}
	*buf = s
	return s
}

// gatherField fills *buf with the string field at offset off (fieldCol) of
// every event and returns it: the string columns are most of the values
// of a block, and reading them without gather's call per value saves a
// twentieth of the instructions of BenchmarkEventBlock.
func gatherField(buf *[]string, evs []*event.Event, off uintptr) []string {
	s := (*buf)[:0]
	for _, e := range evs {
		s = append(s, *(*string)(unsafe.Add(unsafe.Pointer(e), off)))
	}
	*buf = s
	return s
}

// lowerHex is s with the letters A-F in lower case, as strings.ToLower
// gives for a UUID, but without its Unicode checks: s itself when it has
// none (the usual case).
func lowerHex(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'F' {
			return strings.ToLower(s)
		}
	}
	return s
}

// eventColumn is how InsertEvents fills one events column: exactly one of
// the fields is set (field with isField). The conversions are EventRow's, on events CheckEvent
// accepted.
type eventColumn struct {
	// field is the offset in event.Event of the string field a String
	// column holds as it is, read without a call (isField set).
	field   uintptr
	isField bool
	str     func(*event.Event) string
	u8      func(*event.Event) uint8
	i8      func(*event.Event) int8
	u16     func(*event.Event) uint16
	u32     func(*event.Event) uint32
	u64     func(*event.Event) uint64
	f32     func(*event.Event) float32
	// dt gives a DateTime column's value as Unix seconds, which the
	// driver stores as it stores the time.Time of EventRow.
	dt     func(*event.Event) int64
	arr    func(b *eventBlock, i int, e *event.Event) []string
	stored bool
	// fieldsJSON marks FieldsJSONColumn, filled by eventBlock.fieldsJSON.
	fieldsJSON bool
}

// chType is the ClickHouse type of the column c fills.
func (c *eventColumn) chType() string {
	switch {
	case c.isField, c.str != nil, c.fieldsJSON:
		return "String"
	case c.u8 != nil:
		return "UInt8"
	case c.i8 != nil:
		return "Int8"
	case c.u16 != nil:
		return "UInt16"
	case c.u32 != nil:
		return "UInt32"
	case c.u64 != nil:
		return "UInt64"
	case c.f32 != nil:
		return "Float32"
	case c.dt != nil:
		return "DateTime"
	case c.stored:
		return "Int64"
	}
	return "Array(String)"
}

// eventColumnsMatch reports whether cols (a batch's, in EventColumns order)
// have the types eventColumns fill (the id a UUID or a String).
func eventColumnsMatch(cols []chcol.Interface) bool {
	if len(cols) != len(eventColumns) {
		return false
	}
	for i, c := range cols {
		want, got := eventColumns[i].chType(), string(c.Type())
		if got != want && !(i == 0 && got == "UUID") {
			return false
		}
	}
	return true
}

// eventColumns are the eventColumn of EventColumns, in that order.
var eventColumns = func() []eventColumn {
	out := make([]eventColumn, len(EventColumns))
	for i, name := range EventColumns {
		c, ok := eventColumnsByName[name]
		if !ok {
			panic("chstore: no eventColumn for events column " + name)
		}
		out[i] = c
	}
	return out
}()

func strCol(f func(*event.Event) string) eventColumn { return eventColumn{str: f} }

// evLayout is the event fieldCol measures field offsets on.
var evLayout event.Event

// fieldCol is the column of the string field that field points to in an
// event, read by its offset (gatherField). field is called once, on
// evLayout, so only a string field of the event can be named, nested ones
// (&e.Src.Zone) included; a pointer outside the event panics at start.
func fieldCol(field func(*event.Event) *string) eventColumn {
	base := uintptr(unsafe.Pointer(&evLayout))
	p := uintptr(unsafe.Pointer(field(&evLayout)))
	if p < base || p+unsafe.Sizeof("") > base+unsafe.Sizeof(evLayout) {
		panic("chstore: fieldCol: the field is not a string of the event")
	}
	return eventColumn{field: p - base, isField: true}
}

func boolCol(f func(*event.Event) bool) eventColumn {
	return eventColumn{u8: func(e *event.Event) uint8 { return b8(f(e)) }}
}
func listCol(f func(*event.Event) []string) eventColumn {
	return eventColumn{arr: func(_ *eventBlock, _ int, e *event.Event) []string { return f(e) }}
}

// unixDateTime returns the Unix seconds and the milliseconds of the
// DateTime column pair of t, clamped as DateTime describes; the events
// column builder uses it directly, without building the truncated time
// (the driver stores a DateTime as its Unix seconds).
func unixDateTime(t time.Time) (int64, uint16) {
	if t.Before(minDateTime) {
		return minDateTime.Unix(), 0
	}
	if t.After(maxDateTime) {
		return maxDateTime.Unix(), 0
	}
	return t.Unix(), uint16(t.Nanosecond() / int(time.Millisecond))
}

func seconds(t time.Time) int64 { s, _ := unixDateTime(t); return s }
func millis(t time.Time) uint16 { _, ms := unixDateTime(t); return ms }

var eventColumnsByName = map[string]eventColumn{
	"id":                    strCol(func(e *event.Event) string { return lowerHex(e.ID) }),
	"site":                  fieldCol(func(e *event.Event) *string { return &e.Site }),
	"time":                  {dt: func(e *event.Event) int64 { return seconds(e.Time) }},
	"time_ms":               {u16: func(e *event.Event) uint16 { return millis(e.Time) }},
	"received_at":           {dt: func(e *event.Event) int64 { return seconds(e.ReceivedAt) }},
	"received_ms":           {u16: func(e *event.Event) uint16 { return millis(e.ReceivedAt) }},
	"source":                fieldCol(func(e *event.Event) *string { return &e.Source }),
	"format":                fieldCol(func(e *event.Event) *string { return &e.Format }),
	"transport":             fieldCol(func(e *event.Event) *string { return &e.Transport }),
	"peer":                  fieldCol(func(e *event.Event) *string { return &e.Peer }),
	"host":                  fieldCol(func(e *event.Event) *string { return &e.Host }),
	"app":                   fieldCol(func(e *event.Event) *string { return &e.App }),
	"proc_id":               fieldCol(func(e *event.Event) *string { return &e.ProcID }),
	"msg_id":                fieldCol(func(e *event.Event) *string { return &e.MsgID }),
	"facility":              {i8: func(e *event.Event) int8 { return int8(e.Facility) }},
	"severity":              {i8: func(e *event.Event) int8 { return int8(e.Severity) }},
	"message":               fieldCol(func(e *event.Event) *string { return &e.Message }),
	"kind":                  fieldCol(func(e *event.Event) *string { return &e.Kind }),
	"category":              fieldCol(func(e *event.Event) *string { return &e.Category }),
	"action":                fieldCol(func(e *event.Event) *string { return &e.Action }),
	"outcome":               fieldCol(func(e *event.Event) *string { return &e.Outcome }),
	"user":                  fieldCol(func(e *event.Event) *string { return &e.User }),
	"src_ip":                fieldCol(func(e *event.Event) *string { return &e.SrcIP }),
	"dst_ip":                fieldCol(func(e *event.Event) *string { return &e.DstIP }),
	"src_port":              {u16: func(e *event.Event) uint16 { return uint16(e.SrcPort) }},
	"dst_port":              {u16: func(e *event.Event) uint16 { return uint16(e.DstPort) }},
	"proto":                 fieldCol(func(e *event.Event) *string { return &e.Proto }),
	"app_proto":             fieldCol(func(e *event.Event) *string { return &e.AppProto }),
	"operation":             fieldCol(func(e *event.Event) *string { return &e.Operation }),
	FieldsJSONColumn:        {fieldsJSON: true},
	"raw":                   fieldCol(func(e *event.Event) *string { return &e.Raw }),
	"src_known":             boolCol(func(e *event.Event) bool { return e.Src.Known }),
	"src_asset":             fieldCol(func(e *event.Event) *string { return &e.Src.AssetID }),
	"src_role":              fieldCol(func(e *event.Event) *string { return &e.Src.Role }),
	"src_zone":              fieldCol(func(e *event.Event) *string { return &e.Src.Zone }),
	"src_zone_kind":         fieldCol(func(e *event.Event) *string { return &e.Src.ZoneKind }),
	"src_purdue":            {f32: func(e *event.Event) float32 { return float32(e.Src.Purdue) }},
	"src_safety":            boolCol(func(e *event.Event) bool { return e.Src.Safety }),
	"dst_known":             boolCol(func(e *event.Event) bool { return e.Dst.Known }),
	"dst_asset":             fieldCol(func(e *event.Event) *string { return &e.Dst.AssetID }),
	"dst_role":              fieldCol(func(e *event.Event) *string { return &e.Dst.Role }),
	"dst_zone":              fieldCol(func(e *event.Event) *string { return &e.Dst.Zone }),
	"dst_zone_kind":         fieldCol(func(e *event.Event) *string { return &e.Dst.ZoneKind }),
	"dst_purdue":            {f32: func(e *event.Event) float32 { return float32(e.Dst.Purdue) }},
	"dst_sl_t":              {u8: func(e *event.Event) uint8 { return uint8(e.Dst.SLT) }},
	"dst_criticality":       fieldCol(func(e *event.Event) *string { return &e.Dst.Criticality }),
	"dst_safety":            boolCol(func(e *event.Event) bool { return e.Dst.Safety }),
	"flow_cross_zone":       boolCol(func(e *event.Event) bool { return e.Flow.CrossZone }),
	"flow_allowed":          boolCol(func(e *event.Event) bool { return e.Flow.Allowed }),
	"flow_conduit":          fieldCol(func(e *event.Event) *string { return &e.Flow.Conduit }),
	"flow_violation":        fieldCol(func(e *event.Event) *string { return &e.Flow.Violation }),
	"maint_active":          boolCol(func(e *event.Event) bool { return e.Maint.Active }),
	"maint_window":          fieldCol(func(e *event.Event) *string { return &e.Maint.WindowID }),
	"model_version":         {u32: func(e *event.Event) uint32 { return uint32(e.ModelVersion) }},
	"peer_identity":         fieldCol(func(e *event.Event) *string { return &e.PeerIdentity }),
	"time_raw":              fieldCol(func(e *event.Event) *string { return &e.TimeRaw }),
	"vendor":                fieldCol(func(e *event.Event) *string { return &e.Vendor }),
	"product":               fieldCol(func(e *event.Event) *string { return &e.Product }),
	"signature_id":          fieldCol(func(e *event.Event) *string { return &e.SignatureID }),
	"signature":             fieldCol(func(e *event.Event) *string { return &e.Signature }),
	"event_code":            fieldCol(func(e *event.Event) *string { return &e.EventCode }),
	"techniques":            listCol(func(e *event.Event) []string { return e.Techniques }),
	"src_mac":               fieldCol(func(e *event.Event) *string { return &e.SrcMAC }),
	"dst_mac":               fieldCol(func(e *event.Event) *string { return &e.DstMAC }),
	"bytes_out":             {u64: func(e *event.Event) uint64 { return uint64(e.BytesOut) }},
	"bytes_in":              {u64: func(e *event.Event) uint64 { return uint64(e.BytesIn) }},
	"session":               fieldCol(func(e *event.Event) *string { return &e.Session }),
	"flow_new_pair":         boolCol(func(e *event.Event) bool { return e.Flow.NewPair }),
	"flow_purdue_delta":     {f32: func(e *event.Event) float32 { return float32(e.Flow.PurdueDelta) }},
	"flow_safety_involved":  boolCol(func(e *event.Event) bool { return e.Flow.SafetyInvolved }),
	"maint_work_order":      fieldCol(func(e *event.Event) *string { return &e.Maint.WorkOrder }),
	"src_asset_name":        fieldCol(func(e *event.Event) *string { return &e.Src.AssetName }),
	"src_sl_t":              {u8: func(e *event.Event) uint8 { return uint8(e.Src.SLT) }},
	"src_criticality":       fieldCol(func(e *event.Event) *string { return &e.Src.Criticality }),
	"dst_asset_name":        fieldCol(func(e *event.Event) *string { return &e.Dst.AssetName }),
	"flow_id":               fieldCol(func(e *event.Event) *string { return &e.Flow.FlowID }),
	"maint_allowed_ops":     listCol(func(e *event.Event) []string { return e.Maint.AllowedOps }),
	"maint_allowed_sources": listCol(func(e *event.Event) []string { return e.Maint.AllowedSources }),
	"maint_allowed_users":   listCol(func(e *event.Event) []string { return e.Maint.AllowedUsers }),
	StoredMSColumn:          {stored: true},
}
