package cli

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/c981/c981/services/c981/loadgen"
	"github.com/c981/c981/services/shared/chtest"
	"github.com/c981/c981/services/store/chstore"
	"github.com/c981/c981/services/store/store"
)

// verifyDB stores loadgen records 1..n of run (all three formats, through
// the real syslog parser) except those in skip, and returns the database.
func verifyDB(t *testing.T, run string, n uint64, skip ...uint64) (addr, db string) {
	t.Helper()
	addr, db = chtest.Database(t)
	ctx := context.Background()
	conn, err := chstore.Open(ctx, chstore.ConnConfig{Addrs: []string{addr}, Database: db})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := chstore.Migrate(ctx, conn, store.Migrations()); err != nil {
		t.Fatal(err)
	}
	sent := time.Now().Add(-time.Minute).Truncate(time.Millisecond) // receipt is stored in ms
	p, err := offlineParser("auto", "plant-a", sent.Add(250*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	var rows [][]any
	for seq := uint64(1); seq <= n; seq++ {
		if slices.Contains(skip, seq) {
			continue
		}
		line := loadgen.Line(nil, loadgen.FormatMix, run, seq, sent)
		ev, err := parseLine(p, run, int(seq), line, sent.Add(250*time.Millisecond))
		if err != nil {
			t.Fatalf("parse %s: %v", line, err)
		}
		row, err := chstore.EventRow(&ev)
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, row)
	}
	if err := chstore.Insert(ctx, conn, chstore.TableEvents, chstore.EventColumns, rows); err != nil {
		t.Fatal(err)
	}
	return addr, db
}

func TestVerifyCmd(t *testing.T) {
	addr, db := verifyDB(t, "e2e-1", 30, 7, 8, 20)
	base := []string{"verify", "--clickhouse", addr, "--database", db, "--run", "e2e-1"}

	t.Run("json", func(t *testing.T) {
		code, out, errs := run(t, "", append(base, "--json", "--expect", "31")...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errs)
		}
		var got map[string]any
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		for _, k := range []string{"sent", "stored", "missing", "duplicated", "rate", "latency_ms", "alerts", "incidents", "alerts_per_event"} {
			if _, ok := got[k]; !ok {
				t.Errorf("key %q missing from %s", k, out)
			}
		}
		want := map[string]float64{"sent": 31, "stored": 27, "missing": 4, "duplicated": 0}
		for k, w := range want {
			if got[k] != w {
				t.Errorf("%s = %v, want %v", k, got[k], w)
			}
		}
		lat, _ := got["latency_ms"].(map[string]any)
		for _, k := range []string{"p50", "p95", "p99", "max"} {
			if lat[k] != 250.0 {
				t.Errorf("latency_ms.%s = %v, want 250", k, lat[k])
			}
		}
		if s, _ := json.Marshal(got["missing_ranges"]); string(s) != `[{"from":7,"to":8},{"from":20,"to":20},{"from":31,"to":31}]` {
			t.Errorf("missing_ranges = %s", s)
		}
	})
	t.Run("text", func(t *testing.T) {
		code, out, errs := run(t, "", base...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errs)
		}
		for _, w := range []string{"run e2e-1: sent 30, stored 27, missing 3, duplicated 0", "missing sequence numbers: 7-8, 20\n", "p50 250 ms"} {
			if !strings.Contains(out, w) {
				t.Errorf("output lacks %q:\n%s", w, out)
			}
		}
	})
	t.Run("strict fails on loss", func(t *testing.T) {
		code, _, errs := run(t, "", append(base, "--strict")...)
		if code != 1 || !strings.Contains(errs, "3 missing") {
			t.Errorf("exit %d, stderr %q; want 1 and the missing count", code, errs)
		}
	})
	t.Run("strict passes a clean prefix", func(t *testing.T) {
		code, _, errs := run(t, "", append(base, "--strict", "--expect", "6")...)
		if code != 0 {
			t.Errorf("exit %d: %s", code, errs)
		}
	})
}

func TestVerifyCmdUsage(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no run", []string{"verify", "--clickhouse", "127.0.0.1:1"}, "run id is required"},
		{"bad run", []string{"verify", "--run", "a b", "--clickhouse", "127.0.0.1:1"}, "space"},
		{"first zero", []string{"verify", "--run", "r", "--first", "0", "--clickhouse", "127.0.0.1:1"}, "--first"},
		{"argument", []string{"verify", "--run", "r", "extra"}, "unexpected argument"},
		{"bad flag", []string{"verify", "--expect", "-" + strconv.Itoa(1)}, "invalid value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errs := run(t, "", tc.args...)
			if code != 2 || !strings.Contains(errs, tc.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, errs, tc.want)
			}
		})
	}
}
