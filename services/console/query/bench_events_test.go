package query_test

import (
	"context"
	"os"
	"regexp"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/c981/c981/services/console/internal/fixture"
	"github.com/c981/c981/services/console/query"
	"github.com/c981/c981/services/shared/chtest"
	"github.com/c981/c981/services/shared/event"
)

// benchEventCount is the number of events BenchmarkEventQueries loads:
// C981_BENCH_EVENTS, default 100,000 (the target is 10 million).
func benchEventCount(b *testing.B) int {
	n := 100_000
	if s := os.Getenv("C981_BENCH_EVENTS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 {
			b.Fatalf("C981_BENCH_EVENTS=%q: want a positive number", s)
		}
		n = v
	}
	return n
}

// benchDataset returns a connection to a database holding n synthetic
// events spread evenly over the span before the returned end time, loading
// them when needed. With C981_BENCH_DB=NAME the database NAME is a cache
// kept across runs: it is reused when it holds exactly n events from the
// current migrations (loading 10 million events takes minutes), else it is
// dropped and loaded again; without it a fresh database is loaded and
// dropped at the end.
func benchDataset(b *testing.B, n int, span time.Duration) (driver.Conn, time.Time) {
	ctx := context.Background()
	name := os.Getenv("C981_BENCH_DB")
	var conn driver.Conn
	if name == "" {
		conn = fixture.Open(b)
	} else {
		if !benchDBName.MatchString(name) {
			b.Fatalf("C981_BENCH_DB=%q: want letters, digits and underscores", name)
		}
		addr := chtest.Addr(b)
		admin, err := chtest.Open(addr, "default")
		if err != nil {
			b.Fatal(err)
		}
		defer func() { _ = admin.Close() }()
		if err := admin.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+name); err != nil {
			b.Fatal(err)
		}
		if conn, err = chtest.Open(addr, name); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = conn.Close() })
		var have uint64
		var end time.Time
		// The cache is valid when it has every table of the current
		// migrations (the text index included, filled) and exactly n
		// events.
		err = conn.QueryRow(ctx, "SELECT count(), max(time) FROM events WHERE (SELECT count() FROM event_grams) > 0").Scan(&have, &end)
		if err == nil && have == uint64(n) {
			b.Logf("reusing %d events in database %s", n, name)
			return conn, end.Add(time.Second)
		}
		b.Logf("loading %d events into database %s (found %d, %v)", n, name, have, err)
		if err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+name); err != nil {
			b.Fatal(err)
		}
		if err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
			b.Fatal(err)
		}
		if err := fixture.Migrate(ctx, conn); err != nil {
			b.Fatal(err)
		}
	}
	start := time.Now()
	first := start.Add(-span)
	const chunk = 50_000
	for lo := 0; lo < n; lo += chunk {
		evs := make([]event.Event, min(chunk, n-lo))
		for i := range evs {
			evs[i] = searchEvent(fixture.Site, lo+i)
			evs[i].Time = first.Add(time.Duration(int64(span) / int64(n) * int64(lo+i)))
		}
		if err := fixture.Load(ctx, conn, fixture.Dataset{Events: evs}); err != nil {
			b.Fatal(err)
		}
	}
	// The store's writer indexes the events it stores; the fixtures
	// insert directly, and the migration's backfill indexes them.
	query.IndexEvents(b, conn)
	b.Logf("loaded and indexed %d events in %s", n, time.Since(start).Round(time.Millisecond))
	return conn, start
}

var benchDBName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// BenchmarkEventQueries loads C981_BENCH_EVENTS synthetic events spread
// evenly over the 30 days before now (or reuses them, see benchDataset)
// and measures the console's event queries on them, reporting the p50 and
// p95 latency of each (ms) besides ns/op. Run it with -benchtime=50x or
// so: each iteration is one query.
func BenchmarkEventQueries(b *testing.B) {
	n := benchEventCount(b)
	ctx := context.Background()
	conn, start := benchDataset(b, n, 30*24*time.Hour)
	db, err := query.New(conn, query.Options{})
	if err != nil {
		b.Fatal(err)
	}
	day := start.Add(-10 * 24 * time.Hour)
	page2 := func() string {
		_, next, err := db.SearchEvents(ctx, query.EventFilter{Site: fixture.Site, Zone: zones[3]})
		if err != nil {
			b.Fatal(err)
		}
		return next
	}()
	cases := []struct {
		name string
		run  func() (int, error)
	}{
		{"search/latest", search(db, query.EventFilter{Site: fixture.Site})},
		{"search/zone-page2", search(db, query.EventFilter{Site: fixture.Site, Zone: zones[3], After: page2})},
		{"search/ip-one-day", search(db, query.EventFilter{Site: fixture.Site, IP: "10.20.1.12", Since: day, Until: day.Add(24 * time.Hour)})},
		{"search/asset", search(db, query.EventFilter{Site: fixture.Site, Asset: "demo-plant/asset-2-3"})},
		{"search/user-operation", search(db, query.EventFilter{Site: fixture.Site, User: "engineer", Operation: "program_download"})},
		{"search/text-recent", search(db, query.EventFilter{Site: fixture.Site, Text: "OP=PROGRAM_DOWNLOAD"})},
		{"search/text-rare", search(db, query.EventFilter{Site: fixture.Site, Text: "SEQ=4242"})},
		{"search/text-rare-word", search(db, query.EventFilter{Site: fixture.Site, Text: "4242"})},
		{"search/text-one-day", search(db, query.EventFilter{Site: fixture.Site, Text: "SEQ=4242", Since: day, Until: day.Add(24 * time.Hour)})},
		{"counts/one-day", func() (int, error) {
			c, err := db.CountEvents(ctx, query.StatsFilter{Site: fixture.Site, Since: day, Until: day.Add(24 * time.Hour), Limit: query.MaxLimit})
			return len(c), err
		}},
		{"counts/all", func() (int, error) {
			c, err := db.CountEvents(ctx, query.StatsFilter{Site: fixture.Site, Limit: query.MaxLimit})
			return len(c), err
		}},
		{"talkers/one-day", func() (int, error) {
			c, err := db.TopTalkers(ctx, query.StatsFilter{Site: fixture.Site, Since: day, Until: day.Add(24 * time.Hour)})
			return len(c), err
		}},
		{"talkers/all", func() (int, error) {
			c, err := db.TopTalkers(ctx, query.StatsFilter{Site: fixture.Site})
			return len(c), err
		}},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			var lat []time.Duration
			for b.Loop() {
				t0 := time.Now()
				if _, err := bc.run(); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t0))
			}
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			pct := func(p float64) float64 {
				return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
			}
			b.ReportMetric(pct(0.50), "p50-ms")
			b.ReportMetric(pct(0.95), "p95-ms")
			b.ReportMetric(float64(n), "events")
		})
	}
}

func search(db *query.DB, f query.EventFilter) func() (int, error) {
	return func() (int, error) {
		page, _, err := db.SearchEvents(context.Background(), f)
		return len(page), err
	}
}
