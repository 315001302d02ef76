package enrich

import (
	"errors"
	"fmt"
	"time"
)

// Config configures the enrich stage.
//
//	sites: [deploy/demo/site.yaml]   # one site model file per site
//	max_ack_pending: 1000
//	ack_wait: 30s
//	retry_delay: 1s
//	max_batch_bytes: 1048576
type Config struct {
	// Sites are the site model files to load (see package site).
	Sites []string `yaml:"sites"`
	// MaxAckPending bounds the raw batches in flight.
	MaxAckPending int `yaml:"max_ack_pending"`
	// AckWait is how long the server waits for an acknowledgement before it
	// redelivers a raw batch.
	AckWait time.Duration `yaml:"ack_wait"`
	// RetryDelay is the redelivery delay after a transient failure.
	RetryDelay time.Duration `yaml:"retry_delay"`
	// MaxBatchBytes bounds one published enriched batch; a larger one is
	// split into parts with derived message ids.
	MaxBatchBytes int `yaml:"max_batch_bytes"`
}

// Defaults for unset Config fields.
const (
	DefaultMaxAckPending = 1000
	DefaultAckWait       = 30 * time.Second
	DefaultRetryDelay    = time.Second
	DefaultMaxBatchBytes = 1 << 20
)

// WithDefaults returns c with every unset (zero) field set to its default.
func (c Config) WithDefaults() Config {
	if c.MaxAckPending == 0 {
		c.MaxAckPending = DefaultMaxAckPending
	}
	if c.AckWait == 0 {
		c.AckWait = DefaultAckWait
	}
	if c.RetryDelay == 0 {
		c.RetryDelay = DefaultRetryDelay
	}
	if c.MaxBatchBytes == 0 {
		c.MaxBatchBytes = DefaultMaxBatchBytes
	}
	return c
}

// Validate checks the configuration (after defaults).
func (c Config) Validate() error {
	var errs []error
	if len(c.Sites) == 0 {
		errs = append(errs, errors.New("sites: at least one site model file is required"))
	}
	for i, s := range c.Sites {
		if s == "" {
			errs = append(errs, fmt.Errorf("sites[%d]: empty path", i))
		}
	}
	if c.MaxAckPending < 1 {
		errs = append(errs, fmt.Errorf("max_ack_pending: must be positive, got %d", c.MaxAckPending))
	}
	if c.AckWait < time.Second {
		errs = append(errs, fmt.Errorf("ack_wait: must be at least 1s, got %s", c.AckWait))
	}
	if c.RetryDelay <= 0 {
		errs = append(errs, fmt.Errorf("retry_delay: must be positive, got %s", c.RetryDelay))
	}
	if c.MaxBatchBytes < 1024 {
		errs = append(errs, fmt.Errorf("max_batch_bytes: must be at least 1024, got %d", c.MaxBatchBytes))
	}
	return errors.Join(errs...)
}
