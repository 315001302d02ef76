package cli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/c981/c981/services/respond/audit"
	"github.com/c981/c981/services/shared/bustest"
)

func TestAuditVerifyCommand(t *testing.T) {
	env := bustest.Start(t)
	ctx := context.Background()
	log, err := audit.OpenLog(ctx, env.JS, 1)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 26, 10, 45, 0, 0, time.UTC)
	var recs []audit.Record
	for i := range 3 {
		recs = append(recs, audit.Record{ID: "r" + string(rune('a'+i)), Time: t0, Actor: audit.ActorRespond, Kind: audit.KindDecision,
			What: "PB-OT-01/step", Why: "because", Result: "allowed", InputsHash: strings.Repeat("c", 64)})
	}
	if _, err := log.Append(ctx, "demo-plant", recs); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := run(t, "", "audit", "verify", "--nats", env.URL, "--site", "demo-plant")
	if code != 0 || !strings.Contains(out, "ok site demo-plant: 3 records, chain intact") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	// An empty chain is intact.
	if code, out, _ := run(t, "", "audit", "verify", "--nats", env.URL, "--site", "nowhere"); code != 0 || !strings.Contains(out, "0 records") {
		t.Fatalf("empty chain: exit %d %s", code, out)
	}
	// A forged record published straight onto the subject, bypassing the
	// chain, is the first broken link.
	last, _, err := log.Last(ctx, "demo-plant")
	if err != nil {
		t.Fatal(err)
	}
	forged := *last
	forged.ID, forged.Seq, forged.Result, forged.Why = "forged", last.Seq+1, "allowed", "trust me"
	forged.PrevHash = last.Hash
	data, _ := json.Marshal(forged) // hash not recomputed
	if _, err := env.JS.Publish(ctx, audit.Subject("demo-plant"), data); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = run(t, "", "audit", "verify", "--nats", env.URL, "--site", "demo-plant")
	if code != 1 || !strings.Contains(out, "first broken link at record 4 of 4") || !strings.Contains(out, "was modified") || !strings.Contains(errOut, "broken at record 4") {
		t.Fatalf("forged record: exit %d\n%s%s", code, out, errOut)
	}
	if code, _, _ := run(t, "", "audit", "verify", "--site", "x"); code != 2 {
		t.Errorf("missing --nats: exit %d", code)
	}
}
