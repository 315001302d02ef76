package chstore

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Partition is one day partition of a table, as system.parts lists it.
type Partition struct {
	// Table is the table name.
	Table string `json:"table"`
	// Day is the partition's date (UTC midnight): every row of the
	// partition has its partition-key time on that day.
	Day time.Time `json:"day"`
	// ID is the partition id ClickHouse uses in DROP PARTITION ID
	// ("20261126" for toDate partitions).
	ID string `json:"id"`
	// Rows and Bytes sum the partition's active parts.
	Rows  uint64 `json:"rows"`
	Bytes uint64 `json:"bytes"`
}

// Retention maps a table name to the number of whole days its rows are
// kept; a table that is missing or has 0 days is kept forever.
type Retention map[string]int

// Validate checks that every table is one of the C-981 tables and every
// number of days is positive or zero.
func (r Retention) Validate() error {
	var bad []string
	for _, t := range sortedKeys(r) {
		if !slices.Contains(Tables, t) {
			bad = append(bad, fmt.Sprintf("retention.%s: unknown table (want one of %s)", t, strings.Join(Tables, ", ")))
		} else if r[t] < 0 {
			bad = append(bad, fmt.Sprintf("retention.%s: %d days is negative", t, r[t]))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("%s", strings.Join(bad, "; "))
	}
	return nil
}

// Tables lists the C-981 data tables (those a Retention may name).
var Tables = []string{TableEvents, TableAlerts, TableIncidents, TableActions, TableDeadLetters}

// derived maps a data table to the tables derived from its rows, whose day
// partitions expire with the table's: the events' text-search index.
var derived = map[string][]string{TableEvents: {TableEventGrams}}

// Days returns the days table keeps its rows under r (0 = forever): its
// own entry, or for a derived table the entry of the table it derives from.
func (r Retention) Days(table string) int {
	for src, ds := range derived {
		if slices.Contains(ds, table) {
			return r[src]
		}
	}
	return r[table]
}

func isDerived(table string) bool {
	for _, ds := range derived {
		if slices.Contains(ds, table) {
			return true
		}
	}
	return false
}

func sortedKeys(m Retention) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Cutoff returns the first day kept for a table retained for days days at
// now: the partitions of earlier days are expired. A partition is dropped
// only once every row it can hold is older than days days, so a day's
// partition goes at the first run after midnight UTC days+1 days later.
func Cutoff(now time.Time, days int) time.Time {
	y, m, d := now.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC).AddDate(0, 0, -days)
}

// Partitions lists the day partitions of the tables in the connection's
// database with at least one active part, sorted by table and day. A table
// must be partitioned by toDate(...) (its partition id is then YYYYMMDD);
// any other partitioning is an error rather than a guess.
func Partitions(ctx context.Context, conn driver.Conn, tables []string) ([]Partition, error) {
	if len(tables) == 0 {
		return nil, nil
	}
	keys, err := partitionKeys(ctx, conn, tables)
	if err != nil {
		return nil, err
	}
	for _, t := range tables {
		k, ok := keys[t]
		if !ok {
			return nil, fmt.Errorf("retention: table %s does not exist in the current database", t)
		}
		if !strings.HasPrefix(k, "toDate(") {
			return nil, fmt.Errorf("retention: table %s is partitioned by %q, not by day (toDate(...))", t, k)
		}
	}
	rows, err := conn.Query(ctx, `SELECT table, partition_id, sum(rows), sum(bytes_on_disk)
		FROM system.parts
		WHERE database = currentDatabase() AND active AND has(?, table)
		GROUP BY table, partition_id
		ORDER BY table, partition_id`, tables)
	if err != nil {
		return nil, fmt.Errorf("retention: list partitions: %w", err)
	}
	defer rows.Close()
	var out []Partition
	for rows.Next() {
		var p Partition
		if err := rows.Scan(&p.Table, &p.ID, &p.Rows, &p.Bytes); err != nil {
			return nil, fmt.Errorf("retention: list partitions: %w", err)
		}
		day, err := time.Parse("20060102", p.ID)
		if err != nil || len(p.ID) != 8 {
			return nil, fmt.Errorf("retention: table %s has partition id %q, not a YYYYMMDD day", p.Table, p.ID)
		}
		p.Day = day
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("retention: list partitions: %w", err)
	}
	return out, nil
}

// partitionKeys returns the partition key expression of each existing table.
func partitionKeys(ctx context.Context, conn driver.Conn, tables []string) (map[string]string, error) {
	rows, err := conn.Query(ctx, "SELECT name, partition_key FROM system.tables WHERE database = currentDatabase() AND has(?, name)", tables)
	if err != nil {
		return nil, fmt.Errorf("retention: read table definitions: %w", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var name, key string
		if err := rows.Scan(&name, &key); err != nil {
			return nil, fmt.Errorf("retention: read table definitions: %w", err)
		}
		out[name] = strings.ReplaceAll(key, " ", "")
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("retention: read table definitions: %w", err)
	}
	return out, nil
}

// Expired returns the partitions of the tables named in r (with a positive
// number of days) whose day is before the table's Cutoff at now.
func Expired(ctx context.Context, conn driver.Conn, r Retention, now time.Time) ([]Partition, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	var tables []string
	for _, t := range sortedKeys(r) {
		if r[t] > 0 {
			tables = append(tables, t)
			tables = append(tables, derived[t]...)
		}
	}
	parts, err := Partitions(ctx, conn, tables)
	if err != nil {
		return nil, err
	}
	var out []Partition
	for _, p := range parts {
		if p.Day.Before(Cutoff(now, r.Days(p.Table))) {
			out = append(out, p)
		}
	}
	return out, nil
}

// DropPartition drops one day partition (ALTER TABLE ... DROP PARTITION ID).
// Dropping a partition that no longer exists succeeds, so a retention run
// interrupted midway can simply run again.
func DropPartition(ctx context.Context, conn driver.Conn, p Partition) error {
	if !slices.Contains(Tables, p.Table) && !isDerived(p.Table) {
		return fmt.Errorf("retention: refusing to drop a partition of %q, not a C-981 table", p.Table)
	}
	if _, err := time.Parse("20060102", p.ID); err != nil || len(p.ID) != 8 {
		return fmt.Errorf("retention: partition id %q of %s is not a YYYYMMDD day", p.ID, p.Table)
	}
	// Both the table (one of Tables or derived) and the id (eight digits) are checked
	// above; neither comes from free-form input.
	if err := conn.Exec(ctx, "ALTER TABLE "+quoteIdent(p.Table)+" DROP PARTITION ID '"+p.ID+"'"); err != nil {
		return fmt.Errorf("retention: drop partition %s of %s: %w", p.ID, p.Table, err)
	}
	return nil
}

// EnforceRetention drops every expired partition (see Expired) and returns
// the partitions dropped. It stops at the first failure, returning what was
// dropped before it.
func EnforceRetention(ctx context.Context, conn driver.Conn, r Retention, now time.Time) ([]Partition, error) {
	parts, err := Expired(ctx, conn, r, now)
	if err != nil {
		return nil, err
	}
	for i, p := range parts {
		if err := DropPartition(ctx, conn, p); err != nil {
			return parts[:i], err
		}
	}
	return parts, nil
}
