package chstore

import (
	"context"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

func migrated(t *testing.T) driver.Conn {
	t.Helper()
	conn := testConn(t)
	if err := Migrate(context.Background(), conn, os.DirFS(schemaDir)); err != nil {
		t.Fatal(err)
	}
	return conn
}

// orderKey is the column each table's rows are read back in.
var orderKey = map[string]string{
	TableEvents:      "id",
	TableAlerts:      "id",
	TableIncidents:   "id",
	TableActions:     "step_index",
	TableDeadLetters: "id",
}

func TestRoundTrip(t *testing.T) {
	conn := migrated(t)
	ctx := context.Background()
	rows := mappedRows(t, loadRecords(t))
	for table, cols := range tableColumns {
		t.Run(table, func(t *testing.T) {
			want := deref(rows[table])
			if len(want) == 0 {
				t.Fatalf("testdata has no %s records", table)
			}
			// Twice: the second insert of the same rows must collapse.
			for range 2 {
				if err := Insert(ctx, conn, table, cols, want); err != nil {
					t.Fatal(err)
				}
			}
			sel := make([]string, len(cols))
			for i, c := range cols {
				sel[i] = "`" + c + "`"
			}
			q := "SELECT " + strings.Join(sel, ", ") + " FROM " + table + " FINAL ORDER BY `" + orderKey[table] + "`"
			res, err := conn.Query(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Close()
			var got [][]any
			for res.Next() {
				dest := make([]any, len(cols))
				for i, v := range want[0] {
					dest[i] = reflect.New(reflect.TypeOf(v)).Interface()
				}
				if err := res.Scan(dest...); err != nil {
					t.Fatal(err)
				}
				row := make([]any, len(cols))
				for i, d := range dest {
					row[i] = reflect.ValueOf(d).Elem().Interface()
					if tm, ok := row[i].(time.Time); ok {
						row[i] = tm.UTC()
					}
				}
				got = append(got, row)
			}
			if err := res.Err(); err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("read %d rows back; want %d", len(got), len(want))
			}
			byKey := map[any][]any{}
			keyIdx := indexOf(cols, orderKey[table])
			for _, r := range want {
				byKey[r[keyIdx]] = r
			}
			for _, g := range got {
				w := byKey[g[keyIdx]]
				for i, c := range cols {
					if !reflect.DeepEqual(g[i], w[i]) {
						t.Errorf("row %v column %s: read %#v; inserted %#v", g[keyIdx], c, g[i], w[i])
					}
				}
			}
		})
	}
}

// deref replaces the *string values of rows (EventRow's string columns)
// by the strings, the form they are read back in.
func deref(rows [][]any) [][]any {
	out := make([][]any, len(rows))
	for i, r := range rows {
		out[i] = make([]any, len(r))
		for j, v := range r {
			if p, ok := v.(*string); ok {
				v = *p
			}
			out[i][j] = v
		}
	}
	return out
}

func indexOf(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

func TestInsertBadData(t *testing.T) {
	conn := migrated(t)
	ctx := context.Background()
	// With the Nested columns an older store wrote: the server rejects a
	// row whose arrays differ in length.
	cols, rows := withNested(func() [][]any { return mappedRows(t, loadRecords(t))[TableEvents][:1] })
	good := rows()[0]
	tests := []struct {
		name      string
		mutate    func(row []any) []any
		wantIndex int // AppendError index, -1 for a server-side rejection
	}{
		{"uuid rejected by the driver", func(r []any) []any { r[0] = "not-a-uuid"; return r }, 1},
		{"nested arrays of different sizes rejected by the server", func(r []any) []any {
			r[indexOf(cols, "fields.value")] = []string{"only one", "two"}
			return r
		}, -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bad := tc.mutate(append([]any(nil), good...))
			err := Insert(ctx, conn, TableEvents, cols, [][]any{good, bad})
			if err == nil {
				t.Fatal("insert succeeded; want a rejection")
			}
			if !IsBadData(err) {
				t.Fatalf("IsBadData(%v) = false", err)
			}
			var ae *AppendError
			if tc.wantIndex >= 0 && (!errors.As(err, &ae) || ae.Index != tc.wantIndex) {
				t.Fatalf("err = %v; want an AppendError for row %d", err, tc.wantIndex)
			}
		})
	}
	t.Run("unknown table is not bad data", func(t *testing.T) {
		err := Insert(ctx, conn, "no_such_table", cols, [][]any{good})
		if err == nil || IsBadData(err) {
			t.Fatalf("err = %v; want an error that is not bad data", err)
		}
	})
	t.Run("unreachable server is not bad data", func(t *testing.T) {
		down, err := Open(ctx, ConnConfig{Addrs: []string{"127.0.0.1:1"}, Database: "default", DialTimeout: time.Second})
		if err == nil {
			_ = down.Close()
			t.Fatal("Open of 127.0.0.1:1 succeeded")
		}
		if IsBadData(err) {
			t.Fatalf("IsBadData(%v) = true", err)
		}
	})
}
