package executor

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/c981/c981/services/respond/constraint"
	"github.com/c981/c981/services/shared/bustest"
	"github.com/c981/c981/services/shared/event"
)

// countExec counts the jobs it performs.
type countExec struct{ n atomic.Int32 }

func (c *countExec) Name() string { return "count" }

func (c *countExec) Execute(context.Context, Job) (Result, error) {
	c.n.Add(1)
	return Result{Detail: "done"}, nil
}

// TestRunApproved: an approved needs_approval step runs once per key, a
// step the engine allowed or forbade is refused, and a step for a person
// is not executed.
func TestRunApproved(t *testing.T) {
	env := bustest.Start(t)
	ctx := context.Background()
	kv, err := EnsureBucket(ctx, env.JS, time.Hour, 1)
	if err != nil {
		t.Fatal(err)
	}
	ex := &countExec{}
	r, err := NewRunner(kv, map[string]Executor{constraint.ActIsolateHost: ex}, false)
	if err != nil {
		t.Fatal(err)
	}
	plan := event.Plan{ID: event.NewID("plan"), IncidentID: event.NewID("inc"), IncidentVersion: 2, Site: "demo-plant", PlaybookID: "PB",
		Steps: []event.Step{
			{ID: "isolate", Kind: "action", Action: constraint.ActIsolateHost, Automatic: true, Decision: event.DecisionNeedsApproval},
			{ID: "by-hand", Kind: "action", Action: constraint.ActIsolateHost, Decision: event.DecisionNeedsApproval},
			{ID: "notify", Kind: "notify", Action: constraint.ActNotify, Automatic: true, Decision: event.DecisionAllowed},
			{ID: "scan", Kind: "action", Action: constraint.ActActiveScan, Automatic: true, Decision: event.DecisionForbidden},
		}}
	c := constraint.Context{}
	tests := []struct {
		step, status, errMsg string
		runs                 int32
	}{
		{"isolate", StatusDone, "", 1},
		{"isolate", StatusDuplicate, "", 1},
		{"by-hand", StatusNotAutomatic, "", 1},
		{"notify", "", "not an approved needs_approval step", 1},
		{"scan", "", "not an approved needs_approval step", 1},
		{"nope", "", "has no step", 1},
	}
	for _, tc := range tests {
		o, err := r.RunApproved(ctx, plan, tc.step, c, event.Incident{})
		switch {
		case tc.errMsg != "" && (err == nil || !strings.Contains(err.Error(), tc.errMsg)):
			t.Errorf("%s: err %v, want %q", tc.step, err, tc.errMsg)
		case tc.errMsg == "" && (err != nil || o.Status != tc.status):
			t.Errorf("%s: %+v, %v; want %s", tc.step, o, err, tc.status)
		}
		if got := ex.n.Load(); got != tc.runs {
			t.Errorf("after %s: executed %d times, want %d", tc.step, got, tc.runs)
		}
	}
}
