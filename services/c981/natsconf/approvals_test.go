package natsconf_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/c981/c981/services/c981/natsconf"
	"github.com/c981/c981/services/respond/approval"
	"github.com/c981/c981/services/respond/audit"
	"github.com/c981/c981/services/respond/executor"
	"github.com/c981/c981/services/respond/respond"
	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/shared/event"
)

// TestLeastPrivilegeApprovals proves the approvals path and the audit
// chain under the generated permissions: the console publishes approvals
// and nothing else; respond consumes them, keeps its approval requests and
// step keys in its KV buckets and appends to the audit chains; the store
// pulls the audit chains; and none of them can publish another service's
// subjects.
func TestLeastPrivilegeApprovals(t *testing.T) {
	as := startAuthServer(t, natsconf.Options{Sites: []string{"demo-plant"}})
	ctx := context.Background()
	prov := as.connect(t, natsconf.ProvisionUser)
	if err := bus.EnsureStreams(ctx, prov.js, bus.DefaultStreamOptions()); err != nil {
		t.Fatalf("provision: %v", err)
	}
	consoleUser := natsconf.ServiceUser(natsconf.ConsoleUser)
	respondUser := natsconf.ServiceUser(bus.StageRespond)
	storeUser := natsconf.ServiceUser(bus.StageStore)
	// count reads a stream's size as its owner: the provisioning user for
	// the contract's streams, respond for C981_AUDIT (which it owns).
	owner := as.connect(t, respondUser)
	count := func(t *testing.T, stream string) uint64 {
		if stream == audit.Stream {
			return streamMsgs(t, owner.js, stream)
		}
		return streamMsgs(t, prov.js, stream)
	}

	a := event.Approval{ID: event.NewID("lp-approval"), Site: "demo-plant", PlanID: event.NewID("plan"), IncidentID: event.NewID("inc"),
		IncidentVersion: 1, StepID: "isolate", Approver: "alice", Role: "control_engineer", Verdict: event.VerdictApprove,
		At: time.Unix(1_790_000_000, 0).UTC(), ExpiresAt: time.Unix(1_790_003_600, 0).UTC()}
	data, err := event.Marshal(event.ApprovalBatch{a})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("console publishes an approval with a PubAck", func(t *testing.T) {
		c := as.connect(t, consoleUser)
		if err := bus.Publish(ctx, c.js, bus.ApprovalsSubject("demo-plant"), "approval:"+a.ID, 1, data); err != nil {
			t.Fatalf("console publish: %v", err)
		}
		if n := streamMsgs(t, prov.js, bus.StreamApprovals); n != 1 {
			t.Fatalf("C981_APPROVALS has %d messages, want 1", n)
		}
	})

	t.Run("respond consumes approvals and keeps its requests, step keys and audit chain", func(t *testing.T) {
		c := as.connect(t, respondUser)
		cons, err := c.js.CreateOrUpdateConsumer(ctx, bus.StreamApprovals, bus.ConsumerConfig(bus.ConsumerRespondApprovals, 10, 30*time.Second))
		if err != nil {
			t.Fatalf("respond-approvals consumer: %v", err)
		}
		msgs, err := cons.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for m := range msgs.Messages() {
			n++
			var got event.ApprovalBatch
			if err := event.Unmarshal(m.Data(), &got); err != nil || len(got) != 1 || got[0].ID != a.ID {
				t.Fatalf("decode %v: %+v", err, got)
			}
			if err := m.DoubleAck(ctx); err != nil {
				t.Fatalf("ack: %v", err)
			}
		}
		if n != 1 {
			t.Fatalf("fetched %d approvals, want 1", n)
		}

		kv, err := respond.EnsureApprovalsBucket(ctx, c.js, 1)
		if err != nil {
			t.Fatalf("approvals bucket: %v", err)
		}
		key := respond.RequestKey(a.IncidentID, a.PlanID, a.StepID)
		if _, err := kv.Create(ctx, key, []byte(`{"state":"pending"}`)); err != nil {
			t.Fatalf("create request: %v", err)
		}
		e, err := kv.Get(ctx, key)
		if err != nil {
			t.Fatalf("get request: %v", err)
		}
		if _, err := kv.Update(ctx, key, []byte(`{"state":"approved"}`), e.Revision()); err != nil {
			t.Fatalf("update request: %v", err)
		}
		kl, err := kv.ListKeysFiltered(ctx, a.IncidentID+".>")
		if err != nil {
			t.Fatalf("list requests: %v", err)
		}
		var keys []string
		for k := range kl.Keys() {
			keys = append(keys, k)
		}
		if len(keys) != 1 || keys[0] != key {
			t.Fatalf("listed %v, want [%s]", keys, key)
		}

		steps, err := executor.EnsureBucket(ctx, c.js, 0, 1)
		if err != nil {
			t.Fatalf("step keys bucket: %v", err)
		}
		if _, err := steps.Create(ctx, executor.Key(a.IncidentID, a.StepID, a.PlanID), []byte("started")); err != nil {
			t.Fatalf("step key: %v", err)
		}

		l, err := audit.OpenLog(ctx, c.js, 1)
		if err != nil {
			t.Fatalf("audit stream: %v", err)
		}
		rec, err := audit.Approval("demo-plant", a, approval.Status{State: approval.StatePending, Reason: "1 of 2 distinct approvers"})
		if err != nil {
			t.Fatal(err)
		}
		for range 2 { // the second append links after the first (reads the last record)
			rec.ID = event.NewID(rec.ID)
			if _, err := l.Append(ctx, "demo-plant", []audit.Record{rec}); err != nil {
				t.Fatalf("audit append: %v", err)
			}
		}
		if n := count(t, audit.Stream); n != 2 {
			t.Fatalf("C981_AUDIT has %d records, want 2", n)
		}
	})

	t.Run("store pulls the audit chains", func(t *testing.T) {
		c := as.connect(t, storeUser)
		cons, err := c.js.CreateOrUpdateConsumer(ctx, bus.StreamAudit, bus.ConsumerConfig(bus.ConsumerStoreAudit, 10, 30*time.Second))
		if err != nil {
			t.Fatalf("store-audit consumer: %v", err)
		}
		msgs, err := cons.Fetch(2, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for m := range msgs.Messages() {
			n++
			if err := m.DoubleAck(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if n != 2 {
			t.Fatalf("store fetched %d audit records, want 2", n)
		}
	})

	denied := []struct {
		user, subject, stream string
	}{
		{consoleUser, bus.ActionsSubject("demo-plant"), bus.StreamActions},
		{consoleUser, bus.IncidentsSubject("demo-plant"), bus.StreamIncidents},
		{consoleUser, bus.AuditSubject("demo-plant"), bus.StreamAudit},
		{consoleUser, bus.DLQSubject(bus.StageRespond), bus.StreamDLQ},
		{respondUser, bus.ApprovalsSubject("demo-plant"), bus.StreamApprovals},
		{storeUser, bus.AuditSubject("demo-plant"), bus.StreamAudit},
		{storeUser, bus.ApprovalsSubject("demo-plant"), bus.StreamApprovals},
		{natsconf.ServiceUser(bus.StageCorrelate), bus.ApprovalsSubject("demo-plant"), bus.StreamApprovals},
		{natsconf.ServiceUser(bus.StageCorrelate), bus.AuditSubject("demo-plant"), bus.StreamAudit},
	}
	for _, tc := range denied {
		t.Run(tc.user+" cannot publish "+tc.subject, func(t *testing.T) {
			t.Parallel()
			c := as.connect(t, tc.user)
			before := count(t, tc.stream)
			pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			_, err := c.js.Publish(pctx, tc.subject, []byte("spoofed"))
			cancel()
			if err == nil {
				t.Fatalf("%s published to %s", tc.user, tc.subject)
			}
			if !c.violated(tc.subject) {
				t.Errorf("no permissions violation reported for %s (publish error %v)", tc.subject, err)
			}
			if after := count(t, tc.stream); after != before {
				t.Fatalf("%s grew from %d to %d messages", tc.stream, before, after)
			}
		})
	}

	t.Run("only respond opens its buckets and consumer", func(t *testing.T) {
		for _, user := range []string{consoleUser, natsconf.ServiceUser(bus.StageCorrelate)} {
			c := as.connect(t, user)
			cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			if _, err := respond.EnsureApprovalsBucket(cctx, c.js, 1); err == nil {
				t.Errorf("%s opened the approvals bucket", user)
			}
			if _, err := c.js.CreateOrUpdateConsumer(cctx, bus.StreamApprovals, bus.ConsumerConfig(bus.ConsumerRespondApprovals, 10, time.Second)); err == nil {
				t.Errorf("%s took respond's approvals consumer", user)
			}
			if _, err := audit.OpenLog(cctx, c.js, 1); err == nil {
				t.Errorf("%s opened the audit stream", user)
			}
			cancel()
		}
	})

	t.Run("the console user is generated with its passwords variable", func(t *testing.T) {
		conf := string(natsconf.Generate(natsconf.Options{}))
		if !strings.Contains(conf, `user: "c981-console"`) || !strings.Contains(conf, "$C981_NATS_PASSWORD_C981_CONSOLE") {
			t.Fatalf("no console user in the generated accounts.conf")
		}
	})
}
