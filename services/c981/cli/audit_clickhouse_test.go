package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/c981/c981/services/respond/audit"
	"github.com/c981/c981/services/shared/bustest"
	"github.com/c981/c981/services/shared/chtest"
	"github.com/c981/c981/services/shared/event"
	"github.com/c981/c981/services/store/chstore"
	"github.com/c981/c981/services/store/store"
)

// TestAuditVerifyClickHouse runs the real respond audit writer and the real
// store: the chain ends up in ClickHouse exactly once (a re-appended batch
// adds nothing), `c981 audit verify --clickhouse` passes, and a modified
// copy of a record inserted into the table is reported, before and after
// ClickHouse merges it over the original.
func TestAuditVerifyClickHouse(t *testing.T) {
	addr, db := chtest.Database(t)
	env := bustest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	log, err := audit.OpenLog(ctx, env.JS, 1)
	if err != nil {
		t.Fatal(err)
	}
	const site = "demo-plant"
	t0 := time.Date(2026, 11, 26, 10, 45, 0, 123456789, time.UTC)
	var recs []audit.Record
	for i := range 5 {
		recs = append(recs, audit.Record{ID: event.NewID("audit-cli-test", fmt.Sprint(i)), Time: t0.Add(time.Duration(i) * 1700 * time.Millisecond),
			Actor: audit.ActorRespond, Kind: audit.KindDecision, What: fmt.Sprintf("PB-OT-01/step-%d", i), Why: "because",
			Result: "needs_approval", PlanID: "plan", StepID: fmt.Sprintf("step-%d", i), IncidentVersion: uint64(i),
			InputsHash: strings.Repeat("c", 64)})
	}
	for range 2 { // the second append is a redelivered input: deduplicated
		if _, err := log.Append(ctx, site, recs); err != nil {
			t.Fatal(err)
		}
	}

	cfg := store.Config{ClickHouse: chstore.ConnConfig{Addrs: []string{addr}, Database: db}, BatchWait: 50 * time.Millisecond}
	svc, err := store.New(cfg, store.Deps{JS: env.JS, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("store Run: %v", err)
		}
	}()

	conn, err := chstore.Open(context.Background(), chstore.ConnConfig{Addrs: []string{addr}, Database: db})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	count := func(q string) uint64 {
		var n uint64
		if err := conn.QueryRow(context.Background(), q).Scan(&n); err != nil {
			return 0 // not migrated yet
		}
		return n
	}
	deadline := time.Now().Add(30 * time.Second)
	for count("SELECT count() FROM audit") < uint64(len(recs)) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d audit records stored", count("SELECT count() FROM audit"), len(recs))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n := count("SELECT count() FROM audit FINAL"); n != uint64(len(recs)) {
		t.Fatalf("count() FINAL = %d; want %d", n, len(recs))
	}

	code, out, errOut := run(t, "", "audit", "verify", "--clickhouse", addr, "--database", db, "--site", site)
	if code != 0 || !strings.Contains(out, "ok site demo-plant: 5 records, chain intact") || !strings.Contains(out, "ClickHouse table audit") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	last, _, err := log.Last(ctx, site)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "head "+last.Hash) {
		t.Errorf("head differs from the stream's last hash %s:\n%s", last.Hash, out)
	}
	if code, out, _ := run(t, "", "audit", "verify", "--clickhouse", addr, "--database", db, "--site", "nowhere"); code != 0 || !strings.Contains(out, "0 records") {
		t.Fatalf("empty chain: exit %d %s", code, out)
	}

	// A modified copy of record 3 (same id, seq and hash, other result)
	// inserted beside the original.
	rows, err := chstore.ReadAudit(context.Background(), conn, site)
	if err != nil {
		t.Fatal(err)
	}
	forged := rows[2]
	forged.Result, forged.Why = "automatic", "trust me"
	row, err := chstore.AuditRow(&forged)
	if err != nil {
		t.Fatal(err)
	}
	if err := chstore.Insert(context.Background(), conn, chstore.TableAudit, chstore.AuditColumns, [][]any{row}); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = run(t, "", "audit", "verify", "--clickhouse", addr, "--database", db, "--site", site)
	// Rows of one seq come back in no particular order: whichever is read
	// first, seq 3 is the first broken link.
	if code != 1 || !strings.Contains(out, "(seq 3,") || !strings.Contains(errOut, "is broken") ||
		(!strings.Contains(out, "seq 3 is stored twice with different content") && !strings.Contains(out, "the record was modified")) {
		t.Fatalf("modified copy: exit %d\n%s%s", code, out, errOut)
	}
	// Once merged, the copy replaces the original: its content no longer
	// matches its hash.
	if err := conn.Exec(context.Background(), "OPTIMIZE TABLE audit FINAL"); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = run(t, "", "audit", "verify", "--clickhouse", addr, "--database", db, "--site", site)
	if code != 1 || !strings.Contains(out, "first broken link at record 3 of 5 (seq 3,") || !strings.Contains(out, "was modified") {
		t.Fatalf("merged modified copy: exit %d\n%s%s", code, out, errOut)
	}
	// The stream still holds the original chain.
	if code, out, errOut := run(t, "", "audit", "verify", "--nats", env.URL, "--site", site); code != 0 {
		t.Fatalf("stream: exit %d\n%s%s", code, out, errOut)
	}

	for _, args := range [][]string{
		{"audit", "verify", "--site", site},
		{"audit", "verify", "--nats", env.URL, "--clickhouse", addr, "--site", site},
		{"audit", "verify", "--nats", env.URL, "--database", db, "--site", site},
		{"audit", "verify", "--clickhouse", addr},
	} {
		if code, _, _ := run(t, "", args...); code != 2 {
			t.Errorf("%v: exit %d; want 2 (usage)", args, code)
		}
	}
}
