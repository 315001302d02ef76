package store

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/c981/c981/services/shared/config"
	"github.com/c981/c981/services/store/chstore"
)

func TestConfigYAML(t *testing.T) {
	var cfg Config
	if _, err := config.LoadYAML(filepath.Join("testdata", "store.yaml"), &cfg); err != nil {
		t.Fatal(err)
	}
	want := Config{
		ClickHouse: chstore.ConnConfig{
			Addrs: []string{"127.0.0.1:19000", "127.0.0.2:9000"}, Database: "c981", Username: "default",
			DialTimeout: 3 * time.Second, ReadTimeout: 30 * time.Second, MaxOpenConns: 8, CreateDatabase: true,
		},
		BatchRows: 20000, BatchWait: 500 * time.Millisecond, MaxAckPending: 500, AckWait: 45 * time.Second,
		RetryMin: 50 * time.Millisecond, RetryMax: 5 * time.Second,
		Retention: chstore.Retention{chstore.TableEvents: 90, chstore.TableDeadLetters: 30}, RetentionInterval: 30 * time.Minute,
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("decoded %+v\nwant    %+v", cfg, want)
	}
	if err := cfg.WithDefaults().Validate(); err != nil {
		t.Error(err)
	}
}

func TestConfigUnknownField(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "store.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	line := strings.Count(string(data), "\n") + 1
	data = append(data, []byte("batch_size: 10\n")...)
	var cfg Config
	err = config.DecodeYAML("store.yaml", data, &cfg)
	if want := fmt.Sprintf("store.yaml:%d", line); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v; want an unknown-field error at %s", err, want)
	}
}

func TestConfigDefaults(t *testing.T) {
	cfg := Config{}.WithDefaults()
	if cfg.BatchRows != 50_000 || cfg.BatchWait != time.Second || cfg.RetryMin != 100*time.Millisecond || cfg.RetryMax != 10*time.Second || cfg.AckWait != 30*time.Second {
		t.Errorf("defaults = %+v", cfg)
	}
	if cfg.MaxBatchBytes != DefaultMaxBatchBytes {
		t.Errorf("max_batch_bytes default = %d, want %d", cfg.MaxBatchBytes, DefaultMaxBatchBytes)
	}
	if cfg.SkipMigrate {
		t.Error("migrations are skipped by default")
	}
	if err := cfg.Validate(); err != nil {
		t.Errorf("defaults invalid: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"negative rows", func(c *Config) { c.BatchRows = -1 }, "batch_rows: -1 must be positive"},
		{"batch bytes below one message", func(c *Config) { c.MaxBatchBytes = 1 << 20 }, "max_batch_bytes: 1048576 must be at least"},
		{"negative wait", func(c *Config) { c.BatchWait = -time.Second }, "batch_wait: -1s must be positive"},
		{"ack wait too short for batch wait", func(c *Config) { c.BatchWait = 20 * time.Second }, "ack_wait: 30s must be at least 1s and 3 x batch_wait (20s)"},
		{"retry max below min", func(c *Config) { c.RetryMin = time.Second; c.RetryMax = time.Millisecond }, "retry_max: 1ms is below retry_min 1s"},
		{"bad clickhouse addr", func(c *Config) { c.ClickHouse.Addrs = []string{"nohost"} }, `clickhouse.addrs[0]: "nohost" is not host:port`},
		{"negative max ack pending", func(c *Config) { c.MaxAckPending = -5 }, "max_ack_pending: -5 must be positive"},
		{"retention of an unknown table", func(c *Config) { c.Retention = chstore.Retention{"event": 3} }, "retention.event: unknown table"},
		{"negative retention", func(c *Config) { c.Retention = chstore.Retention{chstore.TableEvents: -3} }, "retention.events: -3 days is negative"},
		{"negative retention interval", func(c *Config) { c.RetentionInterval = -time.Minute }, "retention_interval: -1m0s must be positive"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{}.WithDefaults()
			tc.mutate(&cfg)
			err := cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v; want %q", err, tc.want)
			}
			if _, err := New(cfg, Deps{}); err == nil {
				t.Error("New accepted an invalid config")
			}
		})
	}
}
