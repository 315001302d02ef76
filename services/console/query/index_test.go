package query

import (
	"context"
	"io/fs"
	"strings"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/c981/c981/schemas"
	"github.com/c981/c981/services/console/internal/fixture"
)

// IndexEvents fills the text-search index (event_grams) of the events
// stored in conn's database by running the backfill of migration 0008: the
// store's writer indexes the events it stores, but the fixtures insert
// events directly. Run it once, after the events are loaded (a second run
// doubles the counts, which only costs scan time).
func IndexEvents(tb testing.TB, conn driver.Conn) {
	tb.Helper()
	data, err := fs.ReadFile(schemas.ClickHouse, "clickhouse/0008_event_grams.sql")
	if err != nil {
		tb.Fatal(err)
	}
	for _, stmt := range fixture.Statements(string(data)) {
		if strings.HasPrefix(stmt, "INSERT INTO event_grams") {
			if err := conn.Exec(context.Background(), stmt); err != nil {
				tb.Fatalf("index events: %v", err)
			}
			return
		}
	}
	tb.Fatal("migration 0008 has no INSERT INTO event_grams backfill")
}

// indexKeys is the definition of migration 0008's keys, written the slow
// and obvious way: the tokens of the lowercased text, then the head and the
// 4-grams of each.
func indexKeys(text string) []uint32 {
	lower := []byte(text)
	for i, c := range lower {
		if c >= 'A' && c <= 'Z' {
			lower[i] = c + 'a' - 'A'
		}
	}
	var out []uint32
	for _, tok := range strings.FieldsFunc(string(lower), func(r rune) bool {
		return r >= 0x80 || !isTokenByte(byte(r))
	}) {
		out = append(out, packGram(tok[:min(gramLen, len(tok))])|gramHead)
		for i := 0; i+gramLen <= len(tok); i++ {
			out = append(out, packGram(tok[i:i+gramLen]))
		}
	}
	return out
}
