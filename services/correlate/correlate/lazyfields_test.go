package correlate

import (
	"context"
	"io"
	"log/slog"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/c981/c981/services/correlate/rule"
	"github.com/c981/c981/services/shared/event"
)

// withFields returns a copy of evs with the Fields the service's decoder
// left raw decoded (event.Event.DecodeFields): the events
// event.UnmarshalEventsShared would have returned. evs is not modified.
func withFields(evs []event.Event) []event.Event {
	out := make([]event.Event, len(evs))
	copy(out, evs)
	for i := range out {
		out[i].DecodeFields()
	}
	return out
}

// fieldsBatches returns batches of events of two sites whose Fields are
// nil, empty or set (unit, note, mode), and whose operations reach every
// kind of rule of fieldsRuleCases: writes, reads, program uploads,
// mode changes of controllers, and historian traffic (no operation).
// plc-103 goes silent after the third batch (absence alerts).
func fieldsBatches() [][]event.Event {
	plc := func(n int) event.Endpoint {
		ep := plc101
		ep.AssetID = "demo-plant/plc-10" + strconv.Itoa(n)
		ep.IP = "10.20.1.1" + strconv.Itoa(n)
		return ep
	}
	var out [][]event.Event
	n := 0
	for b := range 12 {
		var evs []event.Event
		for i := range 20 {
			dst := plc(1 + n%3)
			if b >= 3 && dst.AssetID == "demo-plant/plc-103" {
				dst = plc(2)
			}
			at := time.Duration(n) * 3 * time.Second
			id := "f-" + strconv.Itoa(n)
			var ev event.Event
			switch i % 5 {
			case 0, 1:
				ev = flow(id, at, ews, dst, "write", true)
			case 2:
				op := "read"
				if n%10 == 2 {
					op = "mode_change"
				}
				ev = flow(id, at, ews, dst, op, true)
			case 3:
				ev = flow(id, at, ews, dst, "program_upload", true)
			default:
				ev = flow(id, at, ews, hist, "", true)
			}
			ev.Site = []string{"site-a", "site-b"}[(n/7)%2]
			ev.User = "op" + strconv.Itoa(n%4)
			switch n % 7 {
			case 0:
				// nil Fields
			case 1:
				ev.Fields = map[string]string{}
			default:
				ev.Fields = map[string]string{"unit": "u" + strconv.Itoa(n%3), "note": "note " + strconv.Itoa(n),
					"mode": []string{"run", "program"}[n%2]}
			}
			evs = append(evs, ev)
			n++
		}
		out = append(out, evs)
	}
	return out
}

// fieldsRuleCases are rule sets that read fields in every place a rule
// can, each with the rules that must raise alerts from fieldsBatches (so
// that the comparison proves something).
var fieldsRuleCases = []struct {
	name  string
	rules string // "" is the rule pack
	fire  []string
}{
	{"condition", `rules:
  - id: F-COND
    title: Write in program mode
    severity: high
    condition: operation == "write" and fields.mode == "program" and "unit" in fields
`, []string{"F-COND"}},
	{"nil or empty map", `rules:
  - id: F-NIL
    title: Map shape
    severity: low
    condition: operation == "program_upload"
    summary: 'fields == nil ? "nil map" : (len(fields) == 0 ? "empty map" : "map of " + string(len(fields)))'
    incident_key: 'fields == nil ? "nil" : "map"'
`, []string{"F-NIL"}},
	{"group_by", `rules:
  - id: F-THR
    title: Writes per unit
    severity: medium
    kind: threshold
    condition: operation == "write"
    group_by: [fields.unit]
    threshold: 3
    window: 1m
`, []string{"F-THR"}},
	{"distinct", `rules:
  - id: F-DIS
    title: Notes read
    severity: medium
    kind: distinct
    condition: operation == "read"
    group_by: [src_ip]
    distinct: 'fields["note"]'
    threshold: 3
    window: 5m
    incident_key: src_ip
`, []string{"F-DIS"}},
	{"sequence", `rules:
  - id: F-SEQ
    title: Upload then historian
    severity: high
    kind: sequence
    within: 10m
    steps:
      - condition: operation == "program_upload"
        by: [fields.unit]
      - condition: operation == "" and fields.mode == "run"
        by: [fields.unit]
`, []string{"F-SEQ"}},
	{"templates and alert fields", `rules:
  - id: F-TPL
    title: Upload noted
    severity: info
    condition: operation == "program_upload"
    incident_key: fields.unit
    summary: '"upload of " + (fields.note ?? "nothing") + " by " + user'
    fields: [user, fields.unit, fields.mode, fields.absent]
  - id: F-SUP
    title: Write noted
    severity: info
    condition: operation == "write"
    incident_key: fields.unit
    suppress: 1m
`, []string{"F-TPL", "F-SUP"}},
	{"absence copying fields", `rules:
  - id: F-ABS
    title: Silent
    severity: medium
    kind: absence
    condition: dst.role == "plc"
    group_by: [dst.asset_id]
    interval: 5m
    summary: '"silent since " + (fields.note ?? "?")'
    fields: [fields.unit]
`, []string{"F-ABS"}},
	{"absence reading no fields", `rules:
  - id: F-ABS2
    title: Silent
    severity: medium
    kind: absence
    condition: dst.role == "plc"
    group_by: [dst.asset_id]
    interval: 5m
`, []string{"F-ABS2"}},
	{"absence keyed by a field", `rules:
  - id: F-ABS3
    title: Unit silent
    severity: medium
    kind: absence
    condition: operation == "program_upload" and fields.unit != nil
    group_by: [fields.unit]
    interval: 2m
`, nil},
	{"env", `rules:
  - id: F-ENV
    title: Env
    severity: low
    condition: operation == "write" and $env.fields?.mode == "run"
`, []string{"F-ENV"}},
	{"rule pack", "", []string{"OT-002"}},
}

// TestRawFieldsExact runs every fieldsRuleCases rule set twice over
// fieldsBatches: on events decoded by event.UnmarshalEventsShared (every
// event has its Fields map, the decoder before the raw form) and on
// events decoded by the service (Fields left raw, decoded for the rules
// that read them; the message's bytes are overwritten after each batch,
// as in TestSharedDecodeRetention). Alerts, incidents, checkpoints, the
// window and absence state and the incidents stored must be equal: a rule
// reading fields sees exactly the map it saw before.
func TestRawFieldsExact(t *testing.T) {
	batches := fieldsBatches()
	for _, tc := range fieldsRuleCases {
		t.Run(tc.name, func(t *testing.T) {
			load := func() *rule.Set {
				if tc.rules == "" {
					set, err := rule.LoadDir(packDir)
					if err != nil {
						t.Fatal(err)
					}
					return set
				}
				return loadRules(t, tc.rules)
			}
			run := func(raw bool) retentionRun {
				mem := NewMemoryStore()
				cache := NewCachedStore(mem, 0, nil)
				e := NewEngine(load(), cache, EngineOptions{
					Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
					Now:    func() time.Time { return t0.Add(24 * time.Hour) },
				})
				svc := &Service{}
				var r retentionRun
				for i, batch := range batches {
					data, err := event.Marshal(batch)
					if err != nil {
						t.Fatal(err)
					}
					var evs []event.Event
					if raw {
						evs, err = svc.decode(data)
					} else {
						evs, err = event.UnmarshalEventsShared(data, nil)
					}
					if err != nil {
						t.Fatal(err)
					}
					alerts, incs, err := e.ProcessAt(context.Background(), uint64(i+1), evs)
					if err != nil {
						t.Fatal(err)
					}
					r.alerts = append(r.alerts, alerts)
					r.incidents = append(r.incidents, incs)
					r.cps = append(r.cps, e.TakeCheckpoint())
					if raw {
						for k := range data {
							data[k] = '#'
						}
					}
				}
				r.dump = dumpEngine(e, cache)
				r.stored = mem.Incidents()
				slices.SortFunc(r.stored, func(a, b event.Incident) int { return strings.Compare(a.ID, b.ID) })
				return r
			}
			want, got := run(false), run(true)
			fired := map[string]int{}
			for _, as := range want.alerts {
				for _, a := range as {
					fired[a.RuleID]++
				}
			}
			for _, id := range tc.fire {
				if fired[id] == 0 {
					t.Errorf("no %s alert (alerts by rule: %v)", id, fired)
				}
			}
			for i := range batches {
				if !reflect.DeepEqual(got.alerts[i], want.alerts[i]) {
					t.Errorf("batch %d: alerts differ:\n%s", i, firstDiff(got.alerts[i], want.alerts[i]))
				}
				if !reflect.DeepEqual(got.incidents[i], want.incidents[i]) {
					t.Errorf("batch %d: incidents differ:\n%s", i, firstDiff(got.incidents[i], want.incidents[i]))
				}
				if !reflect.DeepEqual(sortedCheckpoint(got.cps[i]), sortedCheckpoint(want.cps[i])) {
					t.Errorf("batch %d: checkpoints differ:\n%+v\nwant\n%+v", i, got.cps[i], want.cps[i])
				}
			}
			for name, pair := range map[string][2]any{
				"window state": {got.dump.Keys, want.dump.Keys}, "absence events": {got.dump.Own, want.dump.Own},
				"stored incidents": {got.stored, want.stored},
			} {
				if !reflect.DeepEqual(pair[0], pair[1]) {
					t.Errorf("%s differ: %s", name, valueDiff(reflect.ValueOf(pair[0]), reflect.ValueOf(pair[1])))
				}
			}
		})
	}
}

// TestRawFieldsNotDecoded checks that the service's decoding builds no
// Fields map for an event unless a rule reading fields needed it: with a
// rule set that reads no fields (or reads them only for other events) the
// events keep their fields raw after the batch is processed, every one of
// them still there (NumFields).
func TestRawFieldsNotDecoded(t *testing.T) {
	plant := plantBatch()
	modeChange := plantBatch()
	for _, i := range []int{100, 500} {
		modeChange[i].Operation = "mode_change"
		modeChange[i].Fields["mode"] = "program"
	}
	var readOnly string
	{
		b, err := os.ReadFile(packDir + "/ot-core.yaml")
		if err != nil {
			t.Fatal(err)
		}
		readOnly = string(b)
	}
	tests := []struct {
		name  string
		rules string // "" is the rule pack
		evs   []event.Event
		// decoded are the events that must have a map afterwards.
		decoded []int
	}{
		{"stateful rules reading no fields", statefulRules, plant, nil},
		{"rule pack, no mode change", "", plant, nil},
		{"ot-core, no mode change", readOnly, plant, nil},
		{"rule pack, two mode changes copy fields.mode", "", modeChange, []int{100, 500}},
		{"alert fields of the suspicious events", `rules:
  - id: N-1
    title: Historian write
    severity: high
    condition: operation == "write" and src.role == "historian"
    fields: [fields.rule]
`, plant, []int{313}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var set *rule.Set
			if tt.rules == "" {
				var err error
				if set, err = rule.LoadDir(packDir); err != nil {
					t.Fatal(err)
				}
			} else {
				set = loadRules(t, tt.rules)
			}
			e := NewEngine(set, NewMemoryStore(), EngineOptions{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			data, err := event.Marshal(tt.evs)
			if err != nil {
				t.Fatal(err)
			}
			svc := &Service{}
			evs, err := svc.decode(data)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := e.ProcessAt(context.Background(), 1, evs); err != nil {
				t.Fatal(err)
			}
			var maps []int
			for i := range evs {
				if evs[i].Fields != nil {
					maps = append(maps, i)
				}
				if evs[i].NumFields() != len(tt.evs[i].Fields) {
					t.Errorf("event %d: %d fields, want %d", i, evs[i].NumFields(), len(tt.evs[i].Fields))
				}
			}
			if !reflect.DeepEqual(maps, tt.decoded) {
				t.Errorf("events with a Fields map: %v, want %v", maps, tt.decoded)
			}
		})
	}
}

// TestDeadLetterRawFields checks that an invalid event dead-lettered from
// a message decoded with raw Fields carries its fields.
func TestDeadLetterRawFields(t *testing.T) {
	ev := flow("", 0, hmi, plc101, "read", true)
	ev.Fields = map[string]string{"unit": "3"}
	data, err := event.Marshal([]event.Event{ev})
	if err != nil {
		t.Fatal(err)
	}
	svc := &Service{}
	evs, err := svc.decode(data)
	if err != nil {
		t.Fatal(err)
	}
	dl := deadLetter(&evs[0], "pos", 0, ValidateEvent(&evs[0]))
	want := deadLetter(&ev, "pos", 0, ValidateEvent(&ev))
	if dl.Payload != want.Payload {
		t.Errorf("payload %s, want %s", dl.Payload, want.Payload)
	}
}
