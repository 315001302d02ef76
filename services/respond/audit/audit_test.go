package audit

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/c981/c981/services/respond/approval"
	"github.com/c981/c981/services/respond/executor"
	"github.com/c981/c981/services/shared/bustest"
	"github.com/c981/c981/services/shared/event"
)

var t0 = time.Date(2026, 11, 26, 10, 45, 0, 0, time.UTC)

func testPlan() (event.Incident, event.Plan) {
	inc := event.Incident{ID: "inc-1", Version: 2, Site: "demo-plant", Severity: "critical"}
	plan := event.Plan{ID: "plan-1", IncidentID: "inc-1", IncidentVersion: 2, Site: "demo-plant", PlaybookID: "PB-OT-01", CreatedAt: t0,
		Steps: []event.Step{
			{Index: 1, ID: "notify", Kind: "notify", Action: "notify", Automatic: true, Decision: event.DecisionAllowed, Reason: "passive"},
			{Index: 2, ID: "isolate", Kind: "action", Action: "isolate_host", Automatic: true, Decision: event.DecisionNeedsApproval, Reason: "intrusive", Quorum: 2, Approvers: []string{"control_engineer", "operations_manager"}},
			{Index: 3, ID: "scan", Kind: "action", Action: "active_scan", Decision: event.DecisionForbidden, Reason: "never"},
			{Index: 4, ID: "look", Kind: "guidance", Decision: event.DecisionAllowed, Reason: "guidance"},
		}}
	return inc, plan
}

// chain builds a sealed chain of n records.
func chain(t *testing.T, n int) []Record {
	t.Helper()
	var out []Record
	var prev *Record
	for i := range n {
		r, err := Seal(Record{ID: fmt.Sprintf("r%d", i), Site: "demo-plant", Time: t0.Add(time.Duration(i) * time.Second),
			Actor: ActorRespond, Kind: KindDecision, What: fmt.Sprintf("step %d", i), Why: "because", Result: event.DecisionAllowed,
			InputsHash: strings.Repeat("a", 64)}, prev)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
		prev = &out[len(out)-1]
	}
	return out
}

func TestVerifyTamper(t *testing.T) {
	tests := []struct {
		name   string
		tamper func([]Record) []Record
		index  int // -1: intact
		reason string
	}{
		{"intact", func(c []Record) []Record { return c }, -1, ""},
		{"modified why", func(c []Record) []Record { c[3].Why = "someone said so"; return c }, 3, "was modified"},
		{"modified decision", func(c []Record) []Record { c[5].Result = event.DecisionForbidden; return c }, 5, "was modified"},
		{"modified and rehashed", func(c []Record) []Record {
			c[2].Result = event.DecisionForbidden
			c[2].Hash, _ = ComputeHash(c[2])
			return c
		}, 3, "prev_hash"},
		{"deleted record", func(c []Record) []Record { return append(c[:4], c[5:]...) }, 4, "sequence 6 where 5"},
		{"deleted first record", func(c []Record) []Record { return c[1:] }, 0, "sequence 2 where 1"},
		{"deleted and renumbered", func(c []Record) []Record {
			c = append(c[:4], c[5:]...)
			for i := 4; i < len(c); i++ {
				c[i].Seq--
			}
			return c
		}, 4, "prev_hash"},
		{"reordered", func(c []Record) []Record { c[2], c[3] = c[3], c[2]; return c }, 2, "sequence 4 where 3"},
		{"reordered with swapped seqs", func(c []Record) []Record {
			c[2], c[3] = c[3], c[2]
			c[2].Seq, c[3].Seq = 3, 4
			return c
		}, 2, "prev_hash"},
		{"record of another site", func(c []Record) []Record { c[6].Site = "other"; return c }, 6, "site"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.tamper(chain(t, 8))
			b := Verify(c)
			switch {
			case tc.index < 0 && b != nil:
				t.Fatalf("intact chain broken: %v", b)
			case tc.index >= 0 && b == nil:
				t.Fatal("tampering not detected")
			case tc.index >= 0 && (b.Index != tc.index || !strings.Contains(b.Reason, tc.reason)):
				t.Fatalf("break %v, want index %d with %q", b, tc.index, tc.reason)
			}
		})
	}
}

func TestDecisions(t *testing.T) {
	inc, plan := testPlan()
	recs, err := Decisions(inc, plan, t0)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != len(plan.Steps) {
		t.Fatalf("%d records for %d steps", len(recs), len(plan.Steps))
	}
	for i, r := range recs {
		st := plan.Steps[i]
		if r.Result != st.Decision || r.Why != st.Reason || r.StepID != st.ID || r.Actor != ActorRespond || len(r.InputsHash) != 64 {
			t.Errorf("record %d: %+v", i, r)
		}
	}
	// The inputs hash changes with the incident version, not with the decision.
	inc2 := inc
	inc2.Version = 3
	recs2, _ := Decisions(inc2, plan, t0)
	if recs2[0].InputsHash == recs[0].InputsHash {
		t.Error("inputs hash ignores the incident version")
	}
	plan2 := plan
	plan2.Steps = append([]event.Step(nil), plan.Steps...)
	plan2.Steps[0].Decision = event.DecisionForbidden
	recs3, _ := Decisions(inc, plan2, t0)
	if recs3[0].InputsHash != recs[0].InputsHash {
		t.Error("inputs hash depends on the engine's answer")
	}
}

// TestLogJetStream appends decision records to C981_AUDIT on an embedded
// NATS: a redelivery does not duplicate them, concurrent writers never fork
// the chain, and the chain read back verifies.
func TestLogJetStream(t *testing.T) {
	env := bustest.Start(t)
	ctx := context.Background()
	log, err := OpenLog(ctx, env.JS, 1)
	if err != nil {
		t.Fatal(err)
	}
	inc, plan := testPlan()
	recs, err := Decisions(inc, plan, t0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := log.Append(ctx, "demo-plant", recs); err != nil {
		t.Fatal(err)
	}
	// Redelivered: same ids, nothing new.
	again, err := log.Append(ctx, "demo-plant", recs)
	if err != nil || len(again) != 0 {
		t.Fatalf("redelivery appended %d records, err %v", len(again), err)
	}
	// Concurrent writers with distinct records.
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var rs []Record
			for i := range 5 {
				rs = append(rs, Record{ID: fmt.Sprintf("w%d-%d", w, i), Time: t0, Actor: "alice", ActorRole: "control_engineer",
					Kind: KindApproval, What: "approve", Why: "checked", Result: "approve", InputsHash: strings.Repeat("b", 64)})
			}
			if _, err := log.Append(ctx, "demo-plant", rs); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// Another site has its own chain.
	if _, err := log.Append(ctx, "other-plant", recs[:1]); err != nil {
		t.Fatal(err)
	}
	got, err := log.Read(ctx, "demo-plant")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(recs)+20 {
		t.Fatalf("read %d records, want %d", len(got), len(recs)+20)
	}
	if b := Verify(got); b != nil {
		t.Fatalf("chain from JetStream: %v", b)
	}
	other, err := log.Read(ctx, "other-plant")
	if err != nil || len(other) != 1 || other[0].Seq != 1 || other[0].PrevHash != Genesis {
		t.Fatalf("other site: %+v %v", other, err)
	}
}

func TestActionAndApprovalRecords(t *testing.T) {
	_, plan := testPlan()
	outs := []executor.Outcome{
		{StepID: "notify", Action: "notify", Status: executor.StatusDone, Executor: "notify", Detail: "POST 200", At: t0},
		{StepID: "isolate", Action: "isolate_host", Status: executor.StatusNotAutomatic, At: t0},
		{StepID: "notify", Action: "notify", Status: executor.StatusDuplicate, Executor: "notify", Detail: "already run", At: t0},
	}
	recs, err := Actions(plan, outs)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || recs[0].Result != executor.StatusDone || recs[0].Actor != "c981/respond/notify" || recs[1].Result != executor.StatusDuplicate || recs[0].ID == recs[1].ID {
		t.Fatalf("action records %+v", recs)
	}
	a := approval.Approval{PlanID: "plan-1", IncidentID: "inc-1", IncidentVersion: 2, StepID: "isolate", Approver: "alice", Role: "control_engineer",
		Verdict: approval.VerdictApprove, At: t0.Add(time.Minute), ExpiresAt: t0.Add(time.Hour)}
	r, err := Approval("demo-plant", a, approval.Status{State: approval.StatePending, Reason: "1 of 2"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Actor != "alice" || r.ActorRole != "control_engineer" || r.Kind != KindApproval || !strings.Contains(r.Why, "pending") {
		t.Fatalf("approval record %+v", r)
	}
	// Records of all kinds chain together.
	var chainRecs []Record
	var prev *Record
	for _, x := range append(recs, r) {
		s, err := Seal(x, prev)
		if err != nil {
			t.Fatal(err)
		}
		chainRecs = append(chainRecs, s)
		prev = &chainRecs[len(chainRecs)-1]
	}
	if b := Verify(chainRecs); b != nil {
		t.Fatal(b)
	}
}

func BenchmarkVerify(b *testing.B) {
	var recs []Record
	var prev *Record
	for i := range 1000 {
		r, err := Seal(Record{ID: fmt.Sprint(i), Site: "demo-plant", Time: t0, Actor: ActorRespond, Kind: KindDecision,
			What: "PB-OT-01/isolate-controller (action isolate_host) automatic", Why: "intrusive action isolate_host can upset the process",
			Result: event.DecisionNeedsApproval, InputsHash: strings.Repeat("a", 64)}, prev)
		if err != nil {
			b.Fatal(err)
		}
		recs = append(recs, r)
		prev = &recs[len(recs)-1]
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if brk := Verify(recs); brk != nil {
			b.Fatal(brk)
		}
		n += len(recs)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
}
