package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/c981/c981/services/correlate/correlate"
	"github.com/c981/c981/services/correlate/rule"
	"github.com/c981/c981/services/shared/chtest"
	"github.com/c981/c981/services/shared/event"
	"github.com/c981/c981/services/store/chstore"
	"github.com/c981/c981/services/store/store"
)

const rulesDir = "../../../rules"

// TestBacktest stores the events of every rule fixture in ClickHouse and
// checks that `c981 backtest` over them raises exactly the alerts the
// engine raises on the original events: the stored events carry everything
// the rules read.
func TestBacktest(t *testing.T) {
	addr, db := chtest.Database(t)
	ctx := context.Background()
	conn, err := chstore.Open(ctx, chstore.ConnConfig{Addrs: []string{addr}, Database: db})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	if err := chstore.Migrate(ctx, conn, store.Migrations()); err != nil {
		t.Fatal(err)
	}
	dirs, err := correlate.FixtureDirs(rulesDir)
	if err != nil {
		t.Fatal(err)
	}
	var evs []event.Event
	var rows [][]any
	for _, dir := range dirs {
		fixture, err := correlate.ReadEventsFile(filepath.Join(dir, "events.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range fixture {
			ev.ID = event.NewID("backtest", ev.ID) // fixture ids are names, not UUIDs
			if correlate.ValidateEvent(&ev) != nil {
				continue
			}
			row, err := chstore.EventRow(&ev)
			if err != nil {
				continue // not storable: the store would dead-letter it
			}
			ev.Time, ev.ReceivedAt = ev.Time.UTC().Truncate(time.Millisecond), ev.ReceivedAt.UTC().Truncate(time.Millisecond)
			evs = append(evs, ev)
			rows = append(rows, row)
		}
	}
	if err := chstore.Insert(ctx, conn, chstore.TableEvents, chstore.EventColumns, rows); err != nil {
		t.Fatal(err)
	}
	// The order ReadEvents replays: event time, then id.
	sort.SliceStable(evs, func(i, j int) bool {
		if !evs[i].Time.Equal(evs[j].Time) {
			return evs[i].Time.Before(evs[j].Time)
		}
		return evs[i].ID < evs[j].ID
	})
	from, to := evs[0].Time, evs[len(evs)-1].Time.Add(time.Millisecond)
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

	rules, err := rule.LoadDir(rulesDir)
	if err != nil {
		t.Fatal(err)
	}
	engine := correlate.NewEngine(rules, correlate.NewMemoryStore(), correlate.EngineOptions{Now: func() time.Time { return now }})
	direct, _, err := engine.Process(ctx, evs)
	if err != nil {
		t.Fatal(err)
	}
	if len(direct) == 0 {
		t.Fatal("the fixtures raise no alert")
	}
	var want bytes.Buffer
	enc := json.NewEncoder(&want)
	enc.SetEscapeHTML(false)
	for i := range direct {
		if err := enc.Encode(analyzeRecord{Type: "alert", Alert: &direct[i]}); err != nil {
			t.Fatal(err)
		}
	}

	args := []string{"backtest", "--clickhouse", addr, "--database", db, "--rules", rulesDir,
		"--from", from.Format(time.RFC3339Nano), "--to", to.Format(time.RFC3339Nano), "--now", now.Format(time.RFC3339), "--page", "100000"}
	code, out, errOut := run(t, "", append(args, "--json")...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if out != want.String() {
		t.Errorf("backtest alerts differ from the engine's on the original events:\n%s", firstDiff(want.String(), out))
	}
	if !strings.Contains(errOut, "events replayed") {
		t.Errorf("no summary on stderr: %s", errOut)
	}

	code, out, errOut = run(t, "", args...)
	if code != 0 {
		t.Fatalf("summary: exit %d: %s", code, errOut)
	}
	perRule := map[string]int{}
	for _, a := range direct {
		perRule[a.RuleID]++
	}
	for id := range perRule {
		if !strings.Contains(out, "\n"+id+" ") {
			t.Errorf("summary lacks rule %s:\n%s", id, out)
		}
	}
	if n := strings.Count(out, "\n") - 1; n != len(perRule) {
		t.Errorf("summary has %d rule lines; want %d:\n%s", n, len(perRule), out)
	}
	if got := countAfter(out); got != len(direct) {
		t.Errorf("summary counts %d alerts; want %d", got, len(direct))
	}
}

// countAfter sums the ALERTS column of a backtest summary.
func countAfter(out string) int {
	total := 0
	for _, line := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
		f := strings.Fields(line)
		n, err := strconv.Atoi(f[2])
		if err != nil {
			return -1
		}
		total += n
	}
	return total
}

func TestBacktestUsage(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"no range", nil, 2, "Usage: c981 backtest"},
		{"bad from", []string{"--from", "x", "--to", "2026-11-26T00:00:00Z"}, 1, "--from"},
		{"reversed", []string{"--from", "2026-11-26T00:00:00Z", "--to", "2026-11-25T00:00:00Z"}, 1, "--from must be before --to"},
		{"bad rules", []string{"--from", "2026-11-25T00:00:00Z", "--to", "2026-11-26T00:00:00Z", "--rules", "/nonexistent"}, 1, "nonexistent"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := run(t, "", append([]string{"backtest"}, tc.args...)...)
			if code != tc.wantCode || !strings.Contains(errOut, tc.wantErr) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, errOut, tc.wantCode, tc.wantErr)
			}
		})
	}
}
