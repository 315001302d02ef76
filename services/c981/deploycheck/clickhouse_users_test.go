package deploycheck_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/c981/c981/services/c981/chserver"
	"github.com/c981/c981/services/store/chstore"
	"github.com/c981/c981/services/store/store"
)

// TestClickHouseUsers1816 starts a private ClickHouse (the Debian 18.16 the
// tests run on) with deploy/security/clickhouse-users.xml and checks what
// the console and writer users may do. (clickhouse-users.sql needs SQL
// access control, which 18.16 lacks.)
func TestClickHouseUsers1816(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a ClickHouse server")
	}
	dir := t.TempDir()
	base, err := os.ReadFile("/etc/clickhouse-server/config.xml")
	if errors.Is(err, os.ErrNotExist) {
		t.Skip("clickhouse-server is not installed")
	}
	if err != nil {
		t.Fatal(err)
	}
	users, err := os.ReadFile("/etc/clickhouse-server/users.xml")
	if err != nil {
		t.Fatal(err)
	}
	ours, err := os.ReadFile(path("deploy/security/clickhouse-users.xml"))
	if err != nil {
		t.Fatal(err)
	}
	pw := map[string]string{"c981_writer": "writer-pw-" + t.Name(), "c981_console": "console-pw-" + t.Name()}
	s := string(ours)
	for _, u := range []string{"c981_writer", "c981_console"} {
		sum := sha256.Sum256([]byte(pw[u]))
		// the first SET-ME is the writer's, the second the console's
		s = strings.Replace(s, "SET-ME", hex.EncodeToString(sum[:]), 1)
	}
	if strings.Contains(s, "SET-ME") {
		t.Fatal("clickhouse-users.xml has more password placeholders than users")
	}
	if err := os.MkdirAll(filepath.Join(dir, "users.d"), 0o750); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"config.xml": base, "users.xml": users, "users.d/c981.xml": []byte(s)} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := chserver.Start(ctx, chserver.Config{Dir: filepath.Join(dir, "server"), ConfigFile: filepath.Join(dir, "config.xml")})
	if errors.Is(err, chserver.ErrNotInstalled) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = srv.Stop() }()

	admin, err := chstore.Open(ctx, chstore.ConnConfig{Addrs: []string{srv.Addr()}, Database: "c981", CreateDatabase: true})
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if err := chstore.Migrate(ctx, admin, store.Migrations()); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"CREATE DATABASE IF NOT EXISTS other",
		"CREATE TABLE IF NOT EXISTS other.x (a UInt8) ENGINE = Memory",
	} {
		if err := admin.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	open := func(user string) func(q string) error {
		conn, err := chstore.Open(ctx, chstore.ConnConfig{Addrs: []string{srv.Addr()}, Database: "c981", Username: user, Password: pw[user]})
		if err != nil {
			t.Fatalf("%s cannot log in: %v", user, err)
		}
		t.Cleanup(func() { conn.Close() })
		return func(q string) error {
			if strings.HasPrefix(q, "SELECT") {
				rows, err := conn.Query(ctx, q)
				if err != nil {
					return err
				}
				defer rows.Close()
				for rows.Next() {
				}
				return rows.Err()
			}
			return conn.Exec(ctx, q)
		}
	}
	console, writer := open("c981_console"), open("c981_writer")
	tests := []struct {
		name, user, query string
		wantErr           string // "" = allowed
	}{
		{"console reads incidents", "c981_console", "SELECT count() FROM incidents", ""},
		{"console reads within its limits", "c981_console", "SELECT number FROM system.numbers LIMIT 1000", ""},
		{"console cannot create", "c981_console", "CREATE TABLE c981.x (a UInt8) ENGINE = Memory", "readonly"},
		{"console cannot delete audit records", "c981_console", "ALTER TABLE actions DELETE WHERE 1", "readonly"},
		{"console cannot drop", "c981_console", "DROP TABLE actions", "readonly"},
		{"console cannot lift its limits", "c981_console", "SET max_result_rows = 0", "readonly"},
		{"console result rows are limited", "c981_console", "SELECT number FROM system.numbers LIMIT 200000", "Limit for result exceeded"},
		{"console cannot read other databases", "c981_console", "SELECT count() FROM other.x", "ccess"},
		{"writer cannot read other databases", "c981_writer", "SELECT count() FROM other.x", "ccess"},
		{"writer checks the migrations ledger", "c981_writer", "SELECT version, name FROM schema_migrations", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			run := console
			if tc.user == "c981_writer" {
				run = writer
			}
			err := run(tc.query)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("%s: %s refused: %v", tc.user, tc.query, err)
			case tc.wantErr != "" && err == nil:
				t.Fatalf("%s: %s allowed", tc.user, tc.query)
			case tc.wantErr != "" && !strings.Contains(err.Error(), tc.wantErr):
				t.Fatalf("%s: %s refused for another reason than %q: %v", tc.user, tc.query, tc.wantErr, err)
			}
		})
	}
}
