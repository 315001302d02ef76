package audit

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/c981/c981/services/shared/event"
)

// awkward are strings encoding/json escapes: HTML characters, control
// characters, quotes, invalid UTF-8, U+2028/U+2029, non-ASCII.
var awkward = []string{"", "plain", `<script>&"quoted"\</script>`, "tab\tnew\nline\rcr\bbs\fff\x00\x1f\x7f",
	"bad \xff\xfe utf-8 \xe2\x82", "line\u2028para\u2029end", "zone ünïcødé 工控 🛠"}

// sameAsJSON checks that appendRecord writes what json.Marshal writes
// for r, and fails the same way.
func sameAsJSON(t *testing.T, r Record) {
	t.Helper()
	want, werr := json.Marshal(r)
	got, gerr := appendRecord(nil, &r)
	if (werr != nil) != (gerr != nil) {
		t.Fatalf("json.Marshal error %v, appendRecord error %v", werr, gerr)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("appendRecord differs from json.Marshal:\n got  %s\n want %s", got, want)
	}
}

// TestAppendRecord compares the hand-written record encoding with
// json.Marshal on every kind of field value.
func TestAppendRecord(t *testing.T) {
	base := Record{ID: "r1", Site: "demo-plant", Seq: 7, Time: t0, Actor: ActorRespond, Kind: KindDecision,
		What: "PB-OT-01/isolate (action isolate_host)", Why: "needs two approvers", Result: event.DecisionNeedsApproval,
		IncidentID: "inc-1", IncidentVersion: 3, PlanID: "plan-1", StepID: "isolate", InputsHash: "ab", PrevHash: Genesis, Hash: "cd"}
	tests := []struct {
		name   string
		change func(*Record)
	}{
		{"full", func(*Record) {}},
		{"omitempty fields empty", func(r *Record) {
			r.ActorRole, r.IncidentID, r.IncidentVersion, r.PlanID, r.StepID, r.Hash = "", "", 0, "", "", ""
		}},
		{"actor role", func(r *Record) { r.ActorRole = "control_engineer" }},
		{"zero time", func(r *Record) { r.Time = time.Time{} }},
		{"nanoseconds", func(r *Record) { r.Time = t0.Add(123456789) }},
		{"local zone", func(r *Record) { r.Time = t0.In(time.FixedZone("x", 5*3600+30*60)) }},
		{"zone with seconds", func(r *Record) { r.Time = t0.In(time.FixedZone("x", -(3*3600 + 7))) }},
		{"year 10000", func(r *Record) { r.Time = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }},
		{"year -1", func(r *Record) { r.Time = time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC) }},
		{"zone of 24 hours", func(r *Record) { r.Time = t0.In(time.FixedZone("x", 24*3600)) }},
		{"max sequence", func(r *Record) { r.Seq, r.IncidentVersion = ^uint64(0), ^uint64(0) }},
	}
	for _, s := range awkward {
		tests = append(tests, struct {
			name   string
			change func(*Record)
		}{"strings " + s, func(r *Record) {
			r.ID, r.Site, r.Actor, r.ActorRole, r.Kind, r.What, r.Why, r.Result = s, s, s, s+"r", s, s, s, s
			r.IncidentID, r.PlanID, r.StepID, r.InputsHash, r.PrevHash, r.Hash = s+"i", s+"p", s+"s", s, s, s+"h"
		}})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := base
			tt.change(&r)
			sameAsJSON(t, r)
		})
	}
}

// FuzzAppendRecord: the hand-written encoding equals json.Marshal for any
// field values.
func FuzzAppendRecord(f *testing.F) {
	for _, s := range awkward {
		f.Add(s, s, s, uint64(1), int64(0), "")
	}
	f.Add("r", "demo-plant", "why", uint64(0), int64(-62135596800), "role")
	f.Fuzz(func(t *testing.T, id, site, why string, n uint64, unix int64, role string) {
		r := Record{ID: id, Site: site, Seq: n, Time: time.Unix(unix, int64(n%1e9)).UTC(), Actor: ActorRespond, ActorRole: role,
			Kind: KindDecision, What: why + id, Why: why, Result: site, IncidentID: role, IncidentVersion: n / 2, PlanID: id,
			StepID: why, InputsHash: site, PrevHash: id, Hash: role}
		sameAsJSON(t, r)
	})
}

// TestDecisionsInputsHash checks that Decisions' inputs hash is
// HashInputs of the incident, playbook and step, as it always was (the
// incident's JSON is now written once per plan).
func TestDecisionsInputsHash(t *testing.T) {
	inc, plan := testPlan()
	inc.Title = awkward[2] + awkward[4] + awkward[5]
	inc.AlertIDs, inc.RuleIDs, inc.AlertCount = []string{"a1", "a2"}, []string{"OT-001"}, 2
	inc.Target = event.Endpoint{IP: "10.20.1.12", Known: true, AssetID: "demo-plant/plc-102", Zone: "demo-plant/control", Purdue: 1, SLT: 3}
	plan.PlaybookID = "PB-<&>-" + awkward[6]
	recs, err := Decisions(inc, plan, t0)
	if err != nil {
		t.Fatal(err)
	}
	for i, st := range plan.Steps {
		want, err := HashInputs(struct {
			Incident event.Incident `json:"incident"`
			Playbook string         `json:"playbook"`
			Step     event.Step     `json:"step"`
		}{inc, plan.PlaybookID, stepInput(st)})
		if err != nil {
			t.Fatal(err)
		}
		if recs[i].InputsHash != want {
			t.Errorf("step %s: inputs hash %s, want %s", st.ID, recs[i].InputsHash, want)
		}
	}
}

// BenchmarkSeal seals decision records onto a chain (canonical JSON and
// SHA-256 per record), the CPU part of an audit append.
func BenchmarkSeal(b *testing.B) {
	r := Record{ID: "a7d3c9e2-1b4f-8a6d-9c2e-3f4a5b6c7d8e", Site: "demo-plant", Time: t0, Actor: ActorRespond, Kind: KindDecision,
		What: "PB-OT-01/isolate-controller (action isolate_host) automatic", Why: "intrusive action isolate_host can upset the process",
		Result: event.DecisionNeedsApproval, IncidentID: "3e9b1f40-6a7c-8d21-b5e4-9f8a7c6d5e42", IncidentVersion: 2,
		PlanID: "5b1c2d3e-4f5a-8b6c-9d7e-8f9a0b1c2d3e", StepID: "isolate-controller", InputsHash: Genesis}
	prev, err := Seal(r, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		next, err := Seal(r, &prev)
		if err != nil {
			b.Fatal(err)
		}
		prev = next
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkDecisions builds the decision records of a plan of 4 steps.
func BenchmarkDecisions(b *testing.B) {
	inc, plan := testPlan()
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		recs, err := Decisions(inc, plan, t0)
		if err != nil {
			b.Fatal(err)
		}
		n += len(recs)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}
