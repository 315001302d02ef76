// Package chtest connects tests to the real ClickHouse server named by
// CLICKHOUSE_ADDR (native protocol, host:port) and gives each test its own
// database. Outside CI a missing server skips the test; in CI (CI=true) it
// fails it, so a broken CI setup cannot pass silently.
package chtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Addr returns CLICKHOUSE_ADDR or skips/fails the test when it is unset.
func Addr(t testing.TB) string {
	t.Helper()
	addr := os.Getenv("CLICKHOUSE_ADDR")
	if addr == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("CLICKHOUSE_ADDR is not set in CI: .ci/run must start ClickHouse")
		}
		t.Skip("CLICKHOUSE_ADDR not set; start ClickHouse (see .ci/run) to run this test")
	}
	return addr
}

// Open connects to addr using database db.
func Open(addr, db string) (driver.Conn, error) {
	return clickhouse.Open(&clickhouse.Options{
		Addr:        []string{addr},
		Auth:        clickhouse.Auth{Database: db, Username: "default"},
		DialTimeout: 5 * time.Second,
	})
}

// Database creates a fresh database for the test, drops it at cleanup, and
// returns the server address and the database name.
func Database(t testing.TB) (addr, db string) {
	t.Helper()
	addr = Addr(t)
	var b [6]byte
	_, _ = rand.Read(b[:])
	db = "c981_test_" + hex.EncodeToString(b[:])
	conn, err := Open(addr, "default")
	if err != nil {
		t.Fatalf("clickhouse %s: %v", addr, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := conn.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+db); err != nil {
		t.Fatalf("create database %s on %s: %v", db, addr, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+db)
		_ = conn.Close()
	})
	return addr, db
}

// TLS returns the address of the same server's TLS native port
// (CLICKHOUSE_TLS_ADDR, host:port) and the PEM file of the CA that signed
// its certificate (CLICKHOUSE_TLS_CA), as .ci/clickhouse-start sets them
// up; it skips the test outside CI and fails it in CI when they are unset.
func TLS(t testing.TB) (addr, caFile string) {
	t.Helper()
	addr, caFile = os.Getenv("CLICKHOUSE_TLS_ADDR"), os.Getenv("CLICKHOUSE_TLS_CA")
	if addr == "" || caFile == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("CLICKHOUSE_TLS_ADDR or CLICKHOUSE_TLS_CA is not set in CI: .ci/run must start ClickHouse with its TLS port")
		}
		t.Skip("CLICKHOUSE_TLS_ADDR/CLICKHOUSE_TLS_CA not set; start ClickHouse with .ci/clickhouse-start to run this test")
	}
	return addr, caFile
}
