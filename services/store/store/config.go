package store

import (
	"errors"
	"fmt"
	"time"

	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/store/chstore"
)

// Config configures the store stage.
//
//	clickhouse:
//	  addrs: ["127.0.0.1:9000"]
//	  database: c981
//	  username: default
//	  password: ""
//	  dial_timeout: 5s
//	  read_timeout: 60s
//	  max_open_conns: 16
//	  create_database: true
//	batch_rows: 50000
//	batch_wait: 1s
//	max_batch_bytes: 25165824
//	max_ack_pending: 1000
//	insert_concurrency: 4
//	ack_wait: 30s
//	retry_min: 100ms
//	retry_max: 10s
//	skip_migrate: false
//	retention:          # days kept per table; missing or 0 = forever
//	  events: 90
//	  alerts: 365
//	  incidents: 730
//	  actions: 730
//	  dead_letters: 30
//	retention_interval: 1h
type Config struct {
	// ClickHouse says where to write.
	ClickHouse chstore.ConnConfig `yaml:"clickhouse"`
	// BatchRows flushes a table's batch once it holds this many rows.
	BatchRows int `yaml:"batch_rows"`
	// BatchWait flushes a table's batch this long after its first message.
	BatchWait time.Duration `yaml:"batch_wait"`
	// MaxBatchBytes flushes a table's batch once its messages' payloads
	// reach this many bytes (at least bus.MinPullBytes; a batch may exceed
	// it by up to one message). A table holds up to InsertConcurrency+1
	// batches (one gathering, the others being inserted or waiting to be
	// acknowledged), each as bus messages and as decoded rows, so this
	// bounds the store's memory under a backlog.
	MaxBatchBytes int `yaml:"max_batch_bytes"`
	// InsertConcurrency is the number of batches of the events table
	// inserted into ClickHouse at the same time (the other tables insert
	// one batch at a time). One INSERT is written by one ClickHouse thread
	// and takes ~45 µs per row of wall time on the 2-core bench machine
	// (~15 µs of it CPU): with one insert at a time the events writer
	// stored at most ~30k events/s, with two ~42k, with four it keeps up
	// with 45k (docs/BENCHMARKS.md, session 5). Batches are still
	// acknowledged in the order they were gathered. Default 4; at most
	// clickhouse.max_open_conns, whose pool the other tables and the
	// console share.
	InsertConcurrency int `yaml:"insert_concurrency"`
	// MaxAckPending bounds the unacknowledged messages per table (the
	// messages of one batch); it is also the durable consumers' setting.
	MaxAckPending int `yaml:"max_ack_pending"`
	// AckWait is how long JetStream waits for an acknowledgement before it
	// redelivers; held messages are kept alive with InProgress every
	// AckWait/3 while an insert is retried.
	AckWait time.Duration `yaml:"ack_wait"`
	// RetryMin and RetryMax bound the exponential backoff between attempts
	// to insert the same batch (or to connect and migrate at start).
	RetryMin time.Duration `yaml:"retry_min"`
	RetryMax time.Duration `yaml:"retry_max"`
	// SkipMigrate disables applying the schema migrations at start.
	SkipMigrate bool `yaml:"skip_migrate"`
	// Retention is the number of whole days each table keeps (by the
	// table's partition day: event time for events, alerts and dead
	// letters, opened_at for incidents, created_at for actions); a missing
	// table or 0 keeps its rows forever. Expired day partitions are
	// dropped at start and every RetentionInterval.
	Retention chstore.Retention `yaml:"retention"`
	// RetentionInterval is the period of the retention runs.
	RetentionInterval time.Duration `yaml:"retention_interval"`
}

// Defaults for unset Config fields.
const (
	DefaultBatchRows     = 50_000
	DefaultBatchWait     = time.Second
	DefaultMaxAckPending = 1000
	DefaultAckWait       = 30 * time.Second
	// DefaultInsertConcurrency is the default InsertConcurrency.
	DefaultInsertConcurrency = 4
	DefaultRetryMin          = 100 * time.Millisecond
	DefaultRetryMax          = 10 * time.Second
	// DefaultRetentionInterval is the period of the retention runs.
	DefaultRetentionInterval = time.Hour
)

// DefaultMaxBatchBytes is the default MaxBatchBytes: 24 MiB of bus
// messages per batch, about 20,000 enriched events (BatchRows is reached
// first with smaller records).
const DefaultMaxBatchBytes = 24 << 20

// WithDefaults returns c with every unset (zero) field set to its default.
func (c Config) WithDefaults() Config {
	c.ClickHouse = c.ClickHouse.WithDefaults()
	if c.BatchRows == 0 {
		c.BatchRows = DefaultBatchRows
	}
	if c.BatchWait == 0 {
		c.BatchWait = DefaultBatchWait
	}
	if c.MaxBatchBytes == 0 {
		c.MaxBatchBytes = DefaultMaxBatchBytes
	}
	if c.MaxAckPending == 0 {
		c.MaxAckPending = DefaultMaxAckPending
	}
	if c.AckWait == 0 {
		c.AckWait = DefaultAckWait
	}
	if c.InsertConcurrency == 0 {
		c.InsertConcurrency = max(1, min(DefaultInsertConcurrency, c.ClickHouse.MaxOpenConns))
	}
	if c.RetryMin == 0 {
		c.RetryMin = DefaultRetryMin
	}
	if c.RetryMax == 0 {
		c.RetryMax = DefaultRetryMax
	}
	if c.RetentionInterval == 0 {
		c.RetentionInterval = DefaultRetentionInterval
	}
	return c
}

// Validate reports every problem with the configuration.
func (c Config) Validate() error {
	var errs []error
	if err := c.ClickHouse.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.BatchRows <= 0 {
		errs = append(errs, fmt.Errorf("batch_rows: %d must be positive", c.BatchRows))
	}
	if c.BatchWait <= 0 {
		errs = append(errs, fmt.Errorf("batch_wait: %s must be positive", c.BatchWait))
	}
	if c.MaxAckPending <= 0 {
		errs = append(errs, fmt.Errorf("max_ack_pending: %d must be positive", c.MaxAckPending))
	}
	if c.MaxBatchBytes < bus.MinPullBytes {
		errs = append(errs, fmt.Errorf("max_batch_bytes: %d must be at least %d (one message of the streams' 8 MiB limit)", c.MaxBatchBytes, bus.MinPullBytes))
	}
	if c.AckWait < 3*c.BatchWait || c.AckWait < time.Second {
		errs = append(errs, fmt.Errorf("ack_wait: %s must be at least 1s and 3 x batch_wait (%s) so a gathering batch is not redelivered", c.AckWait, c.BatchWait))
	}
	if c.InsertConcurrency < 1 || c.InsertConcurrency > c.ClickHouse.MaxOpenConns {
		errs = append(errs, fmt.Errorf("insert_concurrency: %d must be between 1 and clickhouse.max_open_conns (%d)", c.InsertConcurrency, c.ClickHouse.MaxOpenConns))
	}
	if c.RetryMin <= 0 {
		errs = append(errs, fmt.Errorf("retry_min: %s must be positive", c.RetryMin))
	}
	if c.RetryMax < c.RetryMin {
		errs = append(errs, fmt.Errorf("retry_max: %s is below retry_min %s", c.RetryMax, c.RetryMin))
	}
	if err := c.Retention.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.RetentionInterval <= 0 {
		errs = append(errs, fmt.Errorf("retention_interval: %s must be positive", c.RetentionInterval))
	}
	return errors.Join(errs...)
}
