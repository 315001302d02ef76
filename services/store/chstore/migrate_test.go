package chstore

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/c981/c981/services/shared/chtest"
)

// schemaDir holds the migrations the c981 binary embeds (package schemas).
const schemaDir = "../../../schemas/clickhouse"

func TestSplitStatements(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []string
		wantErr string
	}{
		{"two statements", "CREATE TABLE a (x UInt8) ENGINE = Memory;\nCREATE TABLE b (y UInt8) ENGINE = Memory;", []string{"CREATE TABLE a (x UInt8) ENGINE = Memory", "CREATE TABLE b (y UInt8) ENGINE = Memory"}, ""},
		{"comments stripped", "-- header; with a semicolon\nSELECT 1 -- trailing; comment\n; /* block; */ SELECT 2", []string{"SELECT 1", "SELECT 2"}, ""},
		{"semicolon in string", "SELECT 'a;b', \"c;d\", `e;f`; SELECT 'it\\'s;'", []string{"SELECT 'a;b', \"c;d\", `e;f`", "SELECT 'it\\'s;'"}, ""},
		{"dashes in string", "SELECT '--not a comment'", []string{"SELECT '--not a comment'"}, ""},
		{"empty statements dropped", " ; ;\n-- only a comment\n;", nil, ""},
		{"no trailing semicolon", "SELECT 1", []string{"SELECT 1"}, ""},
		{"unterminated quote", "SELECT 'abc", nil, "unterminated ' quote at offset 7"},
		{"unterminated comment", "SELECT 1 /* abc", nil, "unterminated /* comment at offset 9"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := SplitStatements(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v; want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for i := range got {
				got[i] = strings.Join(strings.Fields(got[i]), " ")
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestLoadMigrations(t *testing.T) {
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	tests := []struct {
		name    string
		fsys    fstest.MapFS
		want    string // "version:name:statements,..." on success
		wantErr string
	}{
		{"sorted by version", fstest.MapFS{"0002_b.sql": file("SELECT 2; SELECT 3"), "0001_a.sql": file("SELECT 1"), "README.md": file("x")}, "1:a:1,2:b:2", ""},
		{"bad name", fstest.MapFS{"0001_a.sql": file("SELECT 1"), "2_b.sql": file("SELECT 2")}, "", "migration 2_b.sql: name must be NNNN_name.sql"},
		{"duplicate version", fstest.MapFS{"0001_a.sql": file("SELECT 1"), "0001_b.sql": file("SELECT 2")}, "", "version 0001 already used by 0001_a.sql"},
		{"version zero", fstest.MapFS{"0000_a.sql": file("SELECT 1")}, "", "version 0000 is reserved"},
		{"empty file", fstest.MapFS{"0001_a.sql": file("-- nothing\n")}, "", "migration 0001_a.sql: no statements"},
		{"no files", fstest.MapFS{"clickhouse/0001_a.sql": file("SELECT 1")}, "", "no *.sql files at the root"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			migs, err := LoadMigrations(tc.fsys)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v; want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var parts []string
			for _, m := range migs {
				parts = append(parts, strings.Join([]string{strconv.Itoa(int(m.Version)), m.Name, strconv.Itoa(len(m.Statements))}, ":"))
			}
			if got := strings.Join(parts, ","); got != tc.want {
				t.Errorf("got %s; want %s", got, tc.want)
			}
		})
	}
}

func migrationsFS() fs.FS { return os.DirFS(schemaDir) }

// testConn opens a fresh test database through Open.
func testConn(t testing.TB) driver.Conn {
	t.Helper()
	addr, db := chtest.Database(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := Open(ctx, ConnConfig{Addrs: []string{addr}, Database: db})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

func countRows(t *testing.T, conn driver.Conn, query string, args ...any) uint64 {
	t.Helper()
	var n uint64
	if err := conn.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func TestMigrate(t *testing.T) {
	conn := testConn(t)
	ctx := context.Background()
	fsys := os.DirFS(schemaDir)
	migs, err := LoadMigrations(fsys)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("first run applies every migration", func(t *testing.T) {
		if err := Migrate(ctx, conn, fsys); err != nil {
			t.Fatal(err)
		}
		if n := countRows(t, conn, "SELECT count() FROM schema_migrations"); n != uint64(len(migs)) {
			t.Errorf("schema_migrations has %d rows; want %d", n, len(migs))
		}
		for _, table := range []string{TableEvents, TableAlerts, TableIncidents, TableActions, TableDeadLetters} {
			if n := countRows(t, conn, "SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = ?", table); n != 1 {
				t.Errorf("table %s missing after Migrate", table)
			}
		}
	})
	t.Run("second run applies nothing", func(t *testing.T) {
		if err := Migrate(ctx, conn, fsys); err != nil {
			t.Fatal(err)
		}
		if n := countRows(t, conn, "SELECT count() FROM schema_migrations"); n != uint64(len(migs)) {
			t.Errorf("schema_migrations has %d rows after re-run; want %d", n, len(migs))
		}
	})
	t.Run("a new file is applied on its own", func(t *testing.T) {
		next := fstest.MapFS{}
		for _, m := range migs {
			data, err := os.ReadFile(schemaDir + "/" + m.File)
			if err != nil {
				t.Fatal(err)
			}
			next[m.File] = &fstest.MapFile{Data: data}
		}
		next["9000_probe.sql"] = &fstest.MapFile{Data: []byte("CREATE TABLE IF NOT EXISTS probe (x UInt8) ENGINE = MergeTree() ORDER BY x;")}
		if err := Migrate(ctx, conn, next); err != nil {
			t.Fatal(err)
		}
		if n := countRows(t, conn, "SELECT count() FROM schema_migrations WHERE version = 9000 AND name = 'probe'"); n != 1 {
			t.Errorf("9000_probe recorded %d times; want 1", n)
		}
	})
	t.Run("refuses a database newer than the binary", func(t *testing.T) {
		// The database now records 9000_probe, which the real files lack.
		err := Migrate(ctx, conn, fsys)
		if !errors.Is(err, ErrNewerSchema) {
			t.Fatalf("err = %v; want ErrNewerSchema", err)
		}
		if !strings.Contains(err.Error(), "9000_probe") {
			t.Errorf("error %q does not name the unknown migration", err)
		}
	})
	t.Run("renamed migration is an error", func(t *testing.T) {
		renamed := fstest.MapFS{}
		for _, m := range migs {
			data, _ := os.ReadFile(schemaDir + "/" + m.File)
			renamed[m.File] = &fstest.MapFile{Data: data}
		}
		renamed["9000_other.sql"] = &fstest.MapFile{Data: []byte("SELECT 1")}
		err := Migrate(ctx, conn, renamed)
		if err == nil || !strings.Contains(err.Error(), `database records it as "probe"`) {
			t.Fatalf("err = %v; want a name mismatch", err)
		}
	})
	t.Run("failing statement is not recorded", func(t *testing.T) {
		bad := fstest.MapFS{}
		for _, m := range migs {
			data, _ := os.ReadFile(schemaDir + "/" + m.File)
			bad[m.File] = &fstest.MapFile{Data: data}
		}
		bad["9000_probe.sql"] = &fstest.MapFile{Data: []byte("SELECT 1")}
		bad["9001_broken.sql"] = &fstest.MapFile{Data: []byte("CREATE TABLE broken (x NoSuchType) ENGINE = Memory")}
		err := Migrate(ctx, conn, bad)
		if err == nil || !strings.Contains(err.Error(), "apply migration 9001_broken.sql statement 1") {
			t.Fatalf("err = %v; want the broken statement reported", err)
		}
		if n := countRows(t, conn, "SELECT count() FROM schema_migrations WHERE version = 9001"); n != 0 {
			t.Errorf("failed migration recorded %d times", n)
		}
	})
}

func TestOpen(t *testing.T) {
	addr, db := chtest.Database(t)
	ctx := context.Background()
	t.Run("creates the database", func(t *testing.T) {
		fresh := db + "_created"
		conn, err := Open(ctx, ConnConfig{Addrs: []string{addr}, Database: fresh, CreateDatabase: true})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		defer func() { _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+fresh) }()
		var cur string
		if err := conn.QueryRow(ctx, "SELECT currentDatabase()").Scan(&cur); err != nil || cur != fresh {
			t.Fatalf("currentDatabase() = %q, %v; want %q", cur, err, fresh)
		}
	})
	t.Run("missing database without create", func(t *testing.T) {
		_, err := Open(ctx, ConnConfig{Addrs: []string{addr}, Database: db + "_missing"})
		if err == nil || !strings.Contains(err.Error(), "ping clickhouse") {
			t.Fatalf("err = %v; want a ping error", err)
		}
	})
	t.Run("unreachable server", func(t *testing.T) {
		_, err := Open(ctx, ConnConfig{Addrs: []string{"127.0.0.1:1"}, Database: db, DialTimeout: time.Second})
		if err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
			t.Fatalf("err = %v; want a connection error naming the address", err)
		}
	})
}

func TestConnConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  ConnConfig
		want string
	}{
		{"defaults valid", ConnConfig{}.WithDefaults(), ""},
		{"bad addr", ConnConfig{Addrs: []string{"localhost"}, Database: "c981"}, `clickhouse.addrs[0]: "localhost" is not host:port`},
		{"bad database", ConnConfig{Addrs: []string{"h:9000"}, Database: "c981; DROP"}, `clickhouse.database: "c981; DROP"`},
		{"no addrs", ConnConfig{Database: "c981"}, "at least one host:port"},
		{"negative timeout", ConnConfig{Addrs: []string{"h:9000"}, Database: "c981", DialTimeout: -time.Second}, "dial_timeout: -1s is negative"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v; want %q", err, tc.want)
			}
		})
	}
}
