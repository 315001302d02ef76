package chstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// ConnConfig says how to reach ClickHouse over the native protocol.
type ConnConfig struct {
	// Addrs are host:port native-protocol endpoints (port 9000 by default on
	// a server); the driver fails over between them.
	Addrs []string `yaml:"addrs"`
	// Database holds the C-981 tables.
	Database string `yaml:"database"`
	// Username and Password authenticate the connection.
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// DialTimeout bounds establishing one connection.
	DialTimeout time.Duration `yaml:"dial_timeout"`
	// ReadTimeout bounds waiting for the server during one query or insert.
	ReadTimeout time.Duration `yaml:"read_timeout"`
	// MaxOpenConns bounds the connection pool.
	MaxOpenConns int `yaml:"max_open_conns"`
	// CreateDatabase creates Database (connecting to "default" first) when
	// it does not exist.
	CreateDatabase bool `yaml:"create_database"`
}

// DefaultConnConfig returns the settings used for fields left empty.
func DefaultConnConfig() ConnConfig {
	return ConnConfig{
		Addrs:        []string{"127.0.0.1:9000"},
		Database:     "c981",
		Username:     "default",
		DialTimeout:  5 * time.Second,
		ReadTimeout:  60 * time.Second,
		MaxOpenConns: 10,
	}
}

// WithDefaults returns c with every empty field set from DefaultConnConfig.
func (c ConnConfig) WithDefaults() ConnConfig {
	d := DefaultConnConfig()
	if len(c.Addrs) == 0 {
		c.Addrs = d.Addrs
	}
	if c.Database == "" {
		c.Database = d.Database
	}
	if c.Username == "" {
		c.Username = d.Username
	}
	if c.DialTimeout <= 0 {
		c.DialTimeout = d.DialTimeout
	}
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = d.ReadTimeout
	}
	if c.MaxOpenConns <= 0 {
		c.MaxOpenConns = d.MaxOpenConns
	}
	return c
}

// Validate reports every problem with the configuration.
func (c ConnConfig) Validate() error {
	var errs []error
	if len(c.Addrs) == 0 {
		errs = append(errs, errors.New("clickhouse.addrs: at least one host:port is required"))
	}
	for i, a := range c.Addrs {
		if a == "" || !strings.Contains(a, ":") {
			errs = append(errs, fmt.Errorf("clickhouse.addrs[%d]: %q is not host:port", i, a))
		}
	}
	if !validIdent(c.Database) {
		errs = append(errs, fmt.Errorf("clickhouse.database: %q must be letters, digits and underscores, not starting with a digit", c.Database))
	}
	if c.DialTimeout < 0 {
		errs = append(errs, fmt.Errorf("clickhouse.dial_timeout: %s is negative", c.DialTimeout))
	}
	if c.ReadTimeout < 0 {
		errs = append(errs, fmt.Errorf("clickhouse.read_timeout: %s is negative", c.ReadTimeout))
	}
	if c.MaxOpenConns < 0 {
		errs = append(errs, fmt.Errorf("clickhouse.max_open_conns: %d is negative", c.MaxOpenConns))
	}
	return errors.Join(errs...)
}

func validIdent(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

func options(cfg ConnConfig, db string) *clickhouse.Options {
	return &clickhouse.Options{
		Addr:         cfg.Addrs,
		Auth:         clickhouse.Auth{Database: db, Username: cfg.Username, Password: cfg.Password},
		DialTimeout:  cfg.DialTimeout,
		ReadTimeout:  cfg.ReadTimeout,
		MaxOpenConns: cfg.MaxOpenConns,
		MaxIdleConns: min(5, cfg.MaxOpenConns),
		ClientInfo: clickhouse.ClientInfo{Products: []struct {
			Name    string
			Version string
		}{{Name: "c981-store", Version: "0"}}},
	}
}

// Open connects to ClickHouse, creating the database first when
// cfg.CreateDatabase is set, and checks the connection with a ping. Empty
// fields take their defaults.
func Open(ctx context.Context, cfg ConnConfig) (driver.Conn, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	where := strings.Join(cfg.Addrs, ",")
	if cfg.CreateDatabase {
		admin, err := clickhouse.Open(options(cfg, "default"))
		if err != nil {
			return nil, fmt.Errorf("open clickhouse %s: %w", where, err)
		}
		err = admin.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+quoteIdent(cfg.Database))
		_ = admin.Close()
		if err != nil {
			return nil, fmt.Errorf("create database %s on %s: %w", cfg.Database, where, err)
		}
	}
	conn, err := clickhouse.Open(options(cfg, cfg.Database))
	if err != nil {
		return nil, fmt.Errorf("open clickhouse %s/%s: %w", where, cfg.Database, err)
	}
	if err := conn.Ping(ctx); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("ping clickhouse %s/%s: %w", where, cfg.Database, err)
	}
	return conn, nil
}

// quoteIdent back-quotes a ClickHouse identifier.
func quoteIdent(s string) string {
	return "`" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), "`", "\\`") + "`"
}
