package enrich

import (
	"errors"
	"fmt"
	"time"

	"github.com/c981/c981/services/enrich/zone"
	"github.com/c981/c981/services/shared/bus"
)

// Config configures the enrich stage.
//
//	sites: [deploy/demo/site.yaml]   # site model files or directories of them
//	reload_interval: 5s              # poll the files for changes; -1s: never
//	new_pair_capacity: 131072        # endpoint pairs remembered per site for new_pair
//	max_ack_pending: 16              # raw batches per ordered window
//	workers: 2                       # goroutines decoding and encoding a window
//	ack_wait: 30s
//	retry_delay: 1s
//	max_batch_bytes: 4194304
//	pull_max_bytes: 33554432
type Config struct {
	// Sites are the site model files to load, or directories whose *.yaml
	// and *.yml files are loaded (see package site).
	Sites []string `yaml:"sites"`
	// ReloadInterval is how often the site model files are checked for
	// changes (size, modification time, files added to or removed from a
	// directory); a change reloads them. Negative disables polling; SIGHUP
	// always reloads.
	ReloadInterval time.Duration `yaml:"reload_interval"`
	// NewPairCapacity bounds the endpoint pairs remembered per site to mark
	// the first flow between two endpoints (see zone.Pairs); about 100 bytes
	// per pair.
	NewPairCapacity int `yaml:"new_pair_capacity"`
	// MaxAckPending bounds the raw batches in flight: the stage processes
	// windows of up to this many messages in stream order and acknowledges
	// a window before it takes the next, so after a crash its redeliveries
	// come before any later message (output order = input order).
	MaxAckPending int `yaml:"max_ack_pending"`
	// Workers is the number of goroutines that decode and encode the
	// batches of a window (enrichment itself runs in stream order).
	Workers int `yaml:"workers"`
	// AckWait is how long the server waits for an acknowledgement before it
	// redelivers a raw batch.
	AckWait time.Duration `yaml:"ack_wait"`
	// RetryDelay is the redelivery delay after a transient failure.
	RetryDelay time.Duration `yaml:"retry_delay"`
	// MaxBatchBytes bounds one published enriched batch; a larger one is
	// split into parts with derived message ids.
	MaxBatchBytes int `yaml:"max_batch_bytes"`
	// PullMaxBytes bounds each pull of raw batches from the server (see
	// bus.PullBudget; at least bus.MinPullBytes, one message of the
	// streams' size limit); with MaxAckPending, which bounds their number,
	// it bounds what the stage buffers under a backlog.
	PullMaxBytes int `yaml:"pull_max_bytes"`
}

// Defaults for unset Config fields.
const (
	DefaultMaxAckPending = 16
	// DefaultWorkers is the default Workers.
	DefaultWorkers    = 2
	DefaultAckWait    = 30 * time.Second
	DefaultRetryDelay = time.Second
	// DefaultMaxBatchBytes is 4 MiB, half the 8 MiB message limit of the
	// streams and servers: a raw batch of ingest's 1 MiB is about 1.4 MiB
	// enriched, and splitting it costs a second encoding and twice the
	// messages downstream.
	DefaultMaxBatchBytes = 4 << 20
	// DefaultReloadInterval is the default ReloadInterval.
	DefaultReloadInterval = 5 * time.Second
	// DefaultNewPairCapacity is the default NewPairCapacity.
	DefaultNewPairCapacity = zone.DefaultPairCapacity
)

// WithDefaults returns c with every unset (zero) field set to its default.
func (c Config) WithDefaults() Config {
	if c.MaxAckPending == 0 {
		c.MaxAckPending = DefaultMaxAckPending
	}
	if c.Workers == 0 {
		c.Workers = DefaultWorkers
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
	if c.ReloadInterval == 0 {
		c.ReloadInterval = DefaultReloadInterval
	}
	if c.NewPairCapacity == 0 {
		c.NewPairCapacity = DefaultNewPairCapacity
	}
	if c.PullMaxBytes == 0 {
		c.PullMaxBytes = bus.DefaultPullMaxBytes
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
	if c.Workers < 1 || c.Workers > 64 {
		errs = append(errs, fmt.Errorf("workers: must be 1..64, got %d", c.Workers))
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
	if c.ReloadInterval > 0 && c.ReloadInterval < 100*time.Millisecond {
		errs = append(errs, fmt.Errorf("reload_interval: must be at least 100ms (or negative to disable), got %s", c.ReloadInterval))
	}
	if c.PullMaxBytes < bus.MinPullBytes {
		errs = append(errs, fmt.Errorf("pull_max_bytes: must be at least %d (one message of the streams' 8 MiB limit), got %d", bus.MinPullBytes, c.PullMaxBytes))
	}
	if c.NewPairCapacity < 2 {
		errs = append(errs, fmt.Errorf("new_pair_capacity: must be at least 2, got %d", c.NewPairCapacity))
	}
	return errors.Join(errs...)
}
