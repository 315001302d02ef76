package chstore

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/c981/c981/services/shared/secret"
)

// ConnConfig says how to reach ClickHouse over the native protocol.
type ConnConfig struct {
	// Addrs are host:port native-protocol endpoints (port 9000 by default on
	// a server); the driver fails over between them.
	Addrs []string `yaml:"addrs"`
	// Database holds the C-981 tables.
	Database string `yaml:"database"`
	// Username and Password authenticate the connection. Rather than
	// Password, PasswordEnv names an environment variable or PasswordFile
	// a file (mode 0600 or stricter) holding it; set at most one.
	Username     string `yaml:"username"`
	Password     string `yaml:"password"`
	PasswordEnv  string `yaml:"password_env"`
	PasswordFile string `yaml:"password_file"`
	// TLS configures an encrypted (and optionally mutually authenticated)
	// connection.
	TLS TLSConfig `yaml:"tls"`
	// DialTimeout bounds establishing one connection.
	DialTimeout time.Duration `yaml:"dial_timeout"`
	// ReadTimeout bounds waiting for the server during one query or insert.
	ReadTimeout time.Duration `yaml:"read_timeout"`
	// MaxOpenConns bounds the connection pool (default 16: the store's
	// events writer inserts up to store.insert_concurrency batches at once,
	// each other table one, and the console queries share the pool).
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
		MaxOpenConns: 16,
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
	n := 0
	for _, s := range []string{c.Password, c.PasswordEnv, c.PasswordFile} {
		if s != "" {
			n++
		}
	}
	if n > 1 {
		errs = append(errs, errors.New("clickhouse.password: set at most one of password, password_env and password_file"))
	}
	if err := c.TLS.Validate(); err != nil {
		errs = append(errs, err)
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

// resolved is a ConnConfig's password and TLS settings read from the
// environment and files.
type resolved struct {
	password string
	tls      *tls.Config
}

// resolve reads the password (password, password_env or password_file) and
// builds the TLS configuration.
func (c ConnConfig) resolve() (resolved, error) {
	var r resolved
	var err error
	if r.password, err = secret.Read("clickhouse.password", c.Password, c.PasswordEnv, c.PasswordFile); err != nil {
		return r, err
	}
	if r.tls, err = c.TLS.Config(); err != nil {
		return r, err
	}
	return r, nil
}

func options(cfg ConnConfig, sec resolved, db string) *clickhouse.Options {
	return &clickhouse.Options{
		Addr:         cfg.Addrs,
		Auth:         clickhouse.Auth{Database: db, Username: cfg.Username, Password: sec.password},
		TLS:          sec.tls,
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
	sec, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	where := strings.Join(cfg.Addrs, ",")
	if sec.tls != nil {
		where = "tls://" + where
	}
	if cfg.CreateDatabase {
		admin, err := clickhouse.Open(options(cfg, sec, "default"))
		if err != nil {
			return nil, fmt.Errorf("open clickhouse %s: %w", where, err)
		}
		err = admin.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+quoteIdent(cfg.Database))
		_ = admin.Close()
		if err != nil {
			return nil, fmt.Errorf("create database %s on %s: %w", cfg.Database, where, err)
		}
	}
	conn, err := clickhouse.Open(options(cfg, sec, cfg.Database))
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
