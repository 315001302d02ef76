package console

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/c981/c981/services/console/query"
)

// Config configures the console API.
//
//	addr: 127.0.0.1:8981
//	query_timeout: 10s
//	max_alerts: 500
//	max_events: 200
//	clickhouse:
//	  addr: 127.0.0.1:9000      # or a list
//	  database: c981
//	  user: console
//	  password: ""
//	  dial_timeout: 5s
type Config struct {
	// Addr is the listen address (host:port; port 0 picks a free one).
	Addr string `yaml:"addr"`
	// ClickHouse is the database the API reads.
	ClickHouse ClickHouseConfig `yaml:"clickhouse"`
	// QueryTimeout bounds the work of one request (default 10s); ClickHouse
	// gets it as max_execution_time too.
	QueryTimeout time.Duration `yaml:"query_timeout"`
	// MaxAlerts caps the alerts returned with one incident (default 500).
	MaxAlerts int `yaml:"max_alerts"`
	// MaxEvents caps the events returned with one incident (default 200).
	MaxEvents int `yaml:"max_events"`
}

// ClickHouseConfig names a ClickHouse server (native protocol) and its
// credentials. Use a user with readonly = 1 in production.
type ClickHouseConfig struct {
	// Addr lists host:port addresses; YAML accepts one string or a list.
	Addr Addrs `yaml:"addr"`
	// Database is the database with C-981's tables (default "c981").
	Database string `yaml:"database"`
	// User and Password authenticate (default user "default").
	User     string `yaml:"user"`
	Password string `yaml:"password"`
	// DialTimeout bounds connecting (default 5s).
	DialTimeout time.Duration `yaml:"dial_timeout"`
}

// Addrs is a list of host:port addresses that YAML may give as one string.
type Addrs []string

// UnmarshalYAML accepts a string or a list of strings.
func (a *Addrs) UnmarshalYAML(unmarshal func(any) error) error {
	var one string
	if err := unmarshal(&one); err == nil {
		*a = Addrs{one}
		return nil
	}
	var many []string
	if err := unmarshal(&many); err != nil {
		return errors.New("addr must be a host:port string or a list of them")
	}
	*a = many
	return nil
}

// Defaults of Config.
const (
	DefaultAddr         = "127.0.0.1:8981"
	DefaultQueryTimeout = 10 * time.Second
	DefaultDatabase     = "c981"
	DefaultDialTimeout  = 5 * time.Second
)

// SetDefaults fills the zero fields of c with their defaults.
func (c *Config) SetDefaults() {
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.QueryTimeout == 0 {
		c.QueryTimeout = DefaultQueryTimeout
	}
	if c.MaxAlerts == 0 {
		c.MaxAlerts = query.DefaultMaxAlerts
	}
	if c.MaxEvents == 0 {
		c.MaxEvents = query.DefaultMaxEvents
	}
	if c.ClickHouse.Database == "" {
		c.ClickHouse.Database = DefaultDatabase
	}
	if c.ClickHouse.User == "" {
		c.ClickHouse.User = "default"
	}
	if c.ClickHouse.DialTimeout == 0 {
		c.ClickHouse.DialTimeout = DefaultDialTimeout
	}
}

// Validate reports every invalid field (after SetDefaults).
func (c Config) Validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		errs = append(errs, fmt.Errorf("addr %q: %w", c.Addr, err))
	}
	if c.QueryTimeout <= 0 || c.QueryTimeout > 5*time.Minute {
		errs = append(errs, fmt.Errorf("query_timeout %s: must be between 0 and 5m", c.QueryTimeout))
	}
	if c.MaxAlerts < 1 || c.MaxAlerts > 10000 {
		errs = append(errs, fmt.Errorf("max_alerts %d: must be between 1 and 10000", c.MaxAlerts))
	}
	if c.MaxEvents < 1 || c.MaxEvents > 10000 {
		errs = append(errs, fmt.Errorf("max_events %d: must be between 1 and 10000", c.MaxEvents))
	}
	if err := c.ClickHouse.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Validate reports every invalid field.
func (c ClickHouseConfig) Validate() error {
	var errs []error
	if len(c.Addr) == 0 {
		errs = append(errs, errors.New("clickhouse.addr: required"))
	}
	for _, a := range c.Addr {
		if _, _, err := net.SplitHostPort(a); err != nil {
			errs = append(errs, fmt.Errorf("clickhouse.addr %q: %w", a, err))
		}
	}
	if c.Database == "" {
		errs = append(errs, errors.New("clickhouse.database: required"))
	}
	if c.DialTimeout < 0 {
		errs = append(errs, fmt.Errorf("clickhouse.dial_timeout %s: must not be negative", c.DialTimeout))
	}
	return errors.Join(errs...)
}

// Open connects to the configured ClickHouse (the connection is lazy: Ping
// to check it).
func (c ClickHouseConfig) Open() (driver.Conn, error) {
	conn, err := clickhouse.Open(&clickhouse.Options{
		Addr:        c.Addr,
		Auth:        clickhouse.Auth{Database: c.Database, Username: c.User, Password: c.Password},
		DialTimeout: c.DialTimeout,
	})
	if err != nil {
		return nil, fmt.Errorf("open clickhouse %v: %w", []string(c.Addr), err)
	}
	return conn, nil
}
