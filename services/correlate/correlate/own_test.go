package correlate

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/c981/c981/services/shared/event"
)

// retentionRules are statefulRules (every stateful kind) and match rules
// whose incident key, summary and fields are event strings, one with a
// dedup window, one calling in_cidr with a CIDR from the event.
const retentionRules = statefulRules + `  - id: W-CTX
    title: Write by user
    severity: low
    condition: operation == "write" and in_cidr(src_ip, fields.net)
    incident_key: user
    summary: fields.note
    fields: [user, fields.unit, src.asset_name, maint.window_id]
  - id: W-SUP
    title: Upload noted
    severity: info
    condition: operation == "program_upload"
    incident_key: fields.unit
    suppress: 2m
`

// retentionBatches returns batches of events of two sites whose strings
// reach every kind of state: windows of every kind (plc-103 goes silent
// after the first batches: absence alerts), maintenance windows, alerts
// with fields, incidents with targets, assets and zones.
func retentionBatches() [][]event.Event {
	plc := func(n int) event.Endpoint {
		ep := plc101
		ep.AssetID = "demo-plant/plc-10" + strconv.Itoa(n)
		ep.AssetName = "PLC " + strconv.Itoa(n)
		ep.IP = "10.20.1.1" + strconv.Itoa(n)
		return ep
	}
	var out [][]event.Event
	n := 0
	for b := range 20 {
		var evs []event.Event
		for i := range 25 {
			dst, read := plc(1+n%3), plc(1+(n/5)%3)
			if b >= 3 && dst.AssetID == "demo-plant/plc-103" {
				dst = plc(2)
			}
			if b >= 3 && read.AssetID == "demo-plant/plc-103" {
				read = plc(1)
			}
			at := time.Duration(n) * 3 * time.Second
			id := "ev-" + strconv.Itoa(n)
			var ev event.Event
			switch i % 5 {
			case 0, 1:
				ev = flow(id, at, ews, plc(1), "write", true)
			case 2:
				ev = flow(id, at, ews, read, "read", true)
			case 3:
				ev = flow(id, at, ews, dst, "program_upload", true)
			default:
				ev = flow(id, at, ews, hist, "", true)
			}
			ev.Site = []string{"site-a", "site-b"}[(n/5)%2]
			ev.User = "op" + strconv.Itoa(n%4)
			ev.Src.AssetName = "EWS " + strconv.Itoa(n%3)
			ev.Techniques = []string{"T0836", "T08" + strconv.Itoa(40+n%5)}
			ev.Fields = map[string]string{"net": "10.20.0.0/16", "unit": "u" + strconv.Itoa(n%3), "note": "note " + strconv.Itoa(n)}
			ev.Raw = "<13>raw line " + strconv.Itoa(n)
			ev.Message = "message " + strconv.Itoa(n)
			if n%11 < 3 {
				ev.Maint = event.Maint{Active: true, WindowID: "mw-" + strconv.Itoa(n/11), WorkOrder: "WO-" + strconv.Itoa(n),
					AllowedOps: []string{"write"}, AllowedSources: []string{ews.AssetID}, AllowedUsers: []string{ev.User}}
			}
			evs = append(evs, ev)
			n++
		}
		out = append(out, evs)
	}
	return out
}

// engineDump is an engine's whole window, sequence, absence and watermark
// state and its incident cache, by value.
type engineDump struct {
	Keys  map[stateRef]keyState
	Own   map[stateRef]event.Event
	WM    map[string]int64
	Maint map[maintKey]bool
	Due   map[string]int64
	Names map[string]string
	Cache map[string]cachedEntry
	Memo  []event.Alert
}

func dumpEngine(e *Engine, cache *CachedStore) engineDump {
	e.mu.Lock()
	defer e.mu.Unlock()
	d := engineDump{Keys: map[stateRef]keyState{}, Own: map[stateRef]event.Event{}, WM: e.win.wm, Maint: e.win.maint,
		Due: e.win.due, Names: e.win.names, Cache: cache.cur, Memo: e.memo.alerts}
	for id, rw := range e.win.rules {
		for pk, st := range rw.keys {
			ref := stateRef{id, pk}
			d.Keys[ref] = *st
			if st.own != nil {
				d.Own[ref] = *st.own
			}
		}
	}
	return d
}

// retentionRun is what one engine produced from retentionBatches.
type retentionRun struct {
	alerts    [][]event.Alert
	incidents [][]event.Incident
	cps       []Checkpoint
	retry     []event.Alert
	dump      engineDump
	stored    []event.Incident
}

// TestSharedDecodeRetention proves that nothing the engine keeps or
// returns points into its input (see own.go): one engine processes
// batches decoded by the service's decoder (event.UnmarshalEventsRawFields:
// strings and the Fields in the message's bytes), and each message's bytes are
// overwritten with garbage as soon as the batch is processed; another
// processes the same events with strings of their own. Their outputs (kept
// across the overwrites), checkpoints, window and absence state, incident
// cache and store, and a retry of the last position must be equal.
func TestSharedDecodeRetention(t *testing.T) {
	batches := retentionBatches()
	run := func(shared bool) retentionRun {
		mem := NewMemoryStore()
		cache := NewCachedStore(mem, 0, nil)
		e := NewEngine(loadRules(t, retentionRules), cache, EngineOptions{
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			Now:    func() time.Time { return t0.Add(24 * time.Hour) },
		})
		svc := &Service{}
		var r retentionRun
		var last []event.Event
		for i, batch := range batches {
			evs := batch
			var data []byte
			if shared {
				var err error
				if data, err = event.Marshal(batch); err != nil {
					t.Fatal(err)
				}
				if evs, err = svc.decode(data); err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(withFields(evs), batch) {
					t.Fatalf("batch %d decodes differently", i)
				}
			}
			if i == len(batches)/2 {
				// A reload keeps the state of unchanged rules and makes a
				// new matcher: it copies into the arena too.
				e.Reload(loadRules(t, retentionRules))
			}
			alerts, incs, err := e.ProcessAt(context.Background(), uint64(i+1), evs)
			if err != nil {
				t.Fatal(err)
			}
			r.alerts = append(r.alerts, alerts)
			r.incidents = append(r.incidents, incs)
			r.cps = append(r.cps, e.TakeCheckpoint())
			for k := range data {
				data[k] = '#' // the message's life is over
			}
			last = evs
		}
		// A retry of the last position reuses its evaluation: with the
		// shared decoder its events are garbage now.
		retry, _, err := e.ProcessAt(context.Background(), uint64(len(batches)), last)
		if err != nil {
			t.Fatal(err)
		}
		r.retry = retry
		r.dump = dumpEngine(e, cache)
		r.stored = mem.Incidents()
		slices.SortFunc(r.stored, func(a, b event.Incident) int { return strings.Compare(a.ID, b.ID) })
		return r
	}
	want := run(false)
	got := run(true)

	// The batches reach every kind of state (else the test proves little).
	kinds := map[string]int{}
	for _, as := range want.alerts {
		for _, a := range as {
			kinds[a.RuleID]++
		}
	}
	for _, id := range []string{"W-THR", "W-DIS", "W-SEQ", "W-ABS", "W-CTX", "W-SUP"} {
		if kinds[id] == 0 {
			t.Errorf("no %s alert (alerts by rule: %v)", id, kinds)
		}
	}
	if len(want.dump.Maint) == 0 || len(want.dump.Own) == 0 || len(want.dump.Cache) == 0 || len(want.retry) == 0 {
		t.Fatalf("state not reached: %d maintenance targets, %d absence events, %d cached incidents, %d alerts retried",
			len(want.dump.Maint), len(want.dump.Own), len(want.dump.Cache), len(want.retry))
	}

	for i := range batches {
		if !reflect.DeepEqual(got.alerts[i], want.alerts[i]) {
			t.Errorf("batch %d: alerts differ after the input was overwritten:\n%s", i, firstDiff(got.alerts[i], want.alerts[i]))
		}
		if !reflect.DeepEqual(got.incidents[i], want.incidents[i]) {
			t.Errorf("batch %d: incidents differ after the input was overwritten:\n%s", i, firstDiff(got.incidents[i], want.incidents[i]))
		}
		if !reflect.DeepEqual(sortedCheckpoint(got.cps[i]), sortedCheckpoint(want.cps[i])) {
			t.Errorf("batch %d: checkpoints differ after the input was overwritten:\n%+v\nwant\n%+v", i, got.cps[i], want.cps[i])
		}
	}
	if !reflect.DeepEqual(got.retry, want.retry) {
		t.Errorf("retry of the last position: alerts differ:\n%s", firstDiff(got.retry, want.retry))
	}
	// The state does not keep the alerts' strings either: they are in the
	// engine's arena (see own.go), whose blocks an incident or a window
	// key would keep alive.
	alertText := map[*byte]bool{}
	for _, as := range got.alerts {
		for k := range as {
			a := as[k]
			alertStrings(&a, func(s string) string {
				if s != "" {
					alertText[unsafe.StringData(s)] = true
				}
				return s
			})
		}
	}
	for name, v := range map[string]any{"incident cache": got.dump.Cache, "window state": got.dump.Keys, "absence events": got.dump.Own, "stored incidents": got.stored} {
		walkStrings(reflect.ValueOf(v), func(s string) {
			if s != "" && alertText[unsafe.StringData(s)] {
				t.Errorf("%s keep %q of an alert", name, s)
			}
		})
	}
	for name, pair := range map[string][2]any{
		"window state": {got.dump.Keys, want.dump.Keys}, "absence events": {got.dump.Own, want.dump.Own},
		"watermarks": {got.dump.WM, want.dump.WM}, "maintenance": {got.dump.Maint, want.dump.Maint},
		"absence deadlines": {got.dump.Due, want.dump.Due}, "site names": {got.dump.Names, want.dump.Names},
		"incident cache": {cacheEntries(got.dump.Cache), cacheEntries(want.dump.Cache)}, "memo": {got.dump.Memo, want.dump.Memo},
		"stored incidents": {got.stored, want.stored},
	} {
		if !reflect.DeepEqual(pair[0], pair[1]) {
			t.Errorf("%s differ after the input was overwritten: %s", name, valueDiff(reflect.ValueOf(pair[0]), reflect.ValueOf(pair[1])))
		}
	}
}

// walkStrings calls f with every string reachable from v.
func walkStrings(v reflect.Value, f func(string)) {
	switch v.Kind() {
	case reflect.String:
		f(v.String())
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			walkStrings(v.Elem(), f)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			walkStrings(v.Field(i), f)
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			walkStrings(v.Index(i), f)
		}
	case reflect.Map:
		it := v.MapRange()
		for it.Next() {
			walkStrings(it.Key(), f)
			walkStrings(it.Value(), f)
		}
	}
}

// cacheEntries returns the entries of an incident cache without their
// revisions (the store's revision counter depends on the order in which
// concurrent groups wrote).
func cacheEntries(m map[string]cachedEntry) map[string]Entry {
	out := map[string]Entry{}
	for k, ce := range m {
		if ce.found {
			out[k] = ce.e
		}
	}
	return out
}

// sortedCheckpoint orders a checkpoint's records (TakeCheckpoint walks
// maps).
func sortedCheckpoint(cp Checkpoint) Checkpoint {
	slices.SortFunc(cp.Keys, func(a, b KeyRecord) int {
		return strings.Compare(a.Rule+a.Site+strconv.FormatUint(a.Hash, 16), b.Rule+b.Site+strconv.FormatUint(b.Hash, 16))
	})
	slices.Sort(cp.Deleted)
	slices.SortFunc(cp.Sites, func(a, b SiteRecord) int { return strings.Compare(a.Site, b.Site) })
	return cp
}

// valueDiff describes the first difference of two maps or slices.
func valueDiff(got, want reflect.Value) string {
	switch got.Kind() {
	case reflect.Map:
		for _, k := range want.MapKeys() {
			g := got.MapIndex(k)
			if !g.IsValid() {
				return fmt.Sprintf("key %+v missing (got keys %+v)", k, got.MapKeys())
			}
			if w := want.MapIndex(k); !reflect.DeepEqual(g.Interface(), w.Interface()) {
				return fmt.Sprintf("key %+v:\n%+v\nwant\n%+v", k, g, w)
			}
		}
		return fmt.Sprintf("%d keys, want %d: %+v", got.Len(), want.Len(), got.MapKeys())
	case reflect.Slice:
		if got.Len() != want.Len() {
			return fmt.Sprintf("%d elements, want %d", got.Len(), want.Len())
		}
		for i := range got.Len() {
			if !reflect.DeepEqual(got.Index(i).Interface(), want.Index(i).Interface()) {
				return fmt.Sprintf("element %d:\n%+v\nwant\n%+v", i, got.Index(i), want.Index(i))
			}
		}
	}
	return fmt.Sprintf("%+v\nwant\n%+v", got, want)
}

// firstDiff describes the first differing element of two slices.
func firstDiff[T any](got, want []T) string {
	if len(got) != len(want) {
		return fmt.Sprintf("%d elements, want %d", len(got), len(want))
	}
	for i := range got {
		if !reflect.DeepEqual(got[i], want[i]) {
			return fmt.Sprintf("element %d:\n%+v\nwant\n%+v", i, got[i], want[i])
		}
	}
	return ""
}

// TestOwnEvent checks that ownEvent copies every string of an event (a
// new string field of event.Event must be added to eventStrings), slice
// and map, and drops the raw text.
func TestOwnEvent(t *testing.T) {
	var src event.Event
	n := 0
	var fill func(v reflect.Value)
	fill = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.String:
			n++
			v.SetString("s" + strconv.Itoa(n))
		case reflect.Struct:
			if v.Type() == reflect.TypeFor[time.Time]() {
				return
			}
			for i := range v.NumField() {
				fill(v.Field(i))
			}
		case reflect.Slice:
			v.Set(reflect.MakeSlice(v.Type(), 2, 2))
			for i := range v.Len() {
				fill(v.Index(i))
			}
		case reflect.Map:
			m := reflect.MakeMap(v.Type())
			for range 3 {
				n++
				m.SetMapIndex(reflect.ValueOf("k"+strconv.Itoa(n)), reflect.ValueOf("v"+strconv.Itoa(n)))
			}
			v.Set(m)
		}
	}
	fill(reflect.ValueOf(&src).Elem())
	var dst event.Event
	ownEvent(&dst, &src)
	want := src
	want.Raw = ""
	if !reflect.DeepEqual(dst, want) {
		t.Fatalf("ownEvent = %+v\nwant %+v", dst, want)
	}
	// No string, slice or map of dst is src's.
	var check func(path string, d, s reflect.Value)
	check = func(path string, d, s reflect.Value) {
		switch d.Kind() {
		case reflect.String:
			if d.Len() > 0 && unsafe.StringData(d.String()) == unsafe.StringData(s.String()) {
				t.Errorf("%s: the copy shares the source's string", path)
			}
		case reflect.Struct:
			for i := range d.NumField() {
				check(path+"."+d.Type().Field(i).Name, d.Field(i), s.Field(i))
			}
		case reflect.Slice:
			if d.Len() > 0 && d.Pointer() == s.Pointer() {
				t.Errorf("%s: the copy shares the source's slice", path)
			}
			for i := range d.Len() {
				check(path+"["+strconv.Itoa(i)+"]", d.Index(i), s.Index(i))
			}
		case reflect.Map:
			if d.Pointer() == s.Pointer() {
				t.Errorf("%s: the copy shares the source's map", path)
			}
			for _, k := range d.MapKeys() {
				check(path+"["+k.String()+"]", d.MapIndex(k), s.MapIndex(k))
			}
			for _, k := range s.MapKeys() {
				dk := k
				for _, x := range d.MapKeys() {
					if x.String() == k.String() {
						dk = x
					}
				}
				if unsafe.StringData(dk.String()) == unsafe.StringData(k.String()) {
					t.Errorf("%s: the copy shares the source's key %q", path, k.String())
				}
			}
		}
	}
	check("Event", reflect.ValueOf(dst), reflect.ValueOf(src))
}

// TestDecodeKeepsOneMessage checks that the apply stage's decoding buffer
// holds strings of the last message only: the events a smaller message
// does not overwrite, and those a failed decode wrote, are cleared (else
// a buffer slot would keep an old 1 MB message alive).
func TestDecodeKeepsOneMessage(t *testing.T) {
	batch := func(n int, prefix string) []byte {
		evs := make([]event.Event, n)
		for i := range evs {
			evs[i] = flow(prefix+strconv.Itoa(i), time.Duration(i)*time.Second, ews, plc101, "read", true)
		}
		data, err := event.Marshal(evs)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	// held reports the events of the buffer's storage that hold a string.
	held := func(s *Service) []int {
		var out []int
		for i, ev := range s.evbuf[:cap(s.evbuf)] {
			n := 0
			walkStrings(reflect.ValueOf(ev), func(s string) {
				if s != "" {
					n++
				}
			})
			if n > 0 {
				out = append(out, i)
			}
		}
		return out
	}
	s := &Service{}
	if _, err := s.decode(batch(50, "a")); err != nil {
		t.Fatal(err)
	}
	if evs, err := s.decode(batch(10, "b")); err != nil || len(evs) != 10 || evs[9].ID != "b9" {
		t.Fatalf("second message: %d events, err %v", len(evs), err)
	}
	if got := held(s); len(got) != 10 || got[9] != 9 {
		t.Errorf("after a message of 10 events, buffer events %v hold strings, want 0..9", got)
	}
	bad := batch(30, "c")
	bad = bad[:len(bad)/2] // the decoder fails halfway, having written some events
	if _, err := s.decode(bad); err == nil {
		t.Fatal("a truncated message decodes")
	}
	if got := held(s); len(got) != 0 {
		t.Errorf("after a failed decode, buffer events %v hold strings, want none", got)
	}
	if evs, err := s.decode(batch(80, "d")); err != nil || len(evs) != 80 || evs[79].ID != "d79" {
		t.Fatalf("message after the failure: %d events, err %v", len(evs), err)
	}
}
