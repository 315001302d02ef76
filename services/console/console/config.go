package console

import (
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/c981/c981/services/console/query"
	"github.com/c981/c981/services/shared/config"
	"github.com/c981/c981/services/shared/secret"
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
//	  password: ""              # or password_env: VAR, or password_file: /run/secrets/ch (mode 0600)
//	  dial_timeout: 5s
//	  tls: {enabled: true, ca_file: /etc/c981/ch-ca.pem}   # see ClickHouseTLSConfig
//	tls:                        # serve HTTPS; see TLSConfig
//	  cert_file: /etc/c981/console.pem
//	  key_file: /etc/c981/console-key.pem
//	auth: tokens                # tokens (default when tokens are given), jwt, none, external
//	tokens:
//	  - token: 9f2c7d0e5b1a4c3f8e6d  # at least 16 bytes
//	    user: alice
//	    roles: [analyst]
//	    sites: [demo-plant]     # or ["*"]
//	  - token_env: C981_ADMIN_TOKEN  # the token from the environment
//	    user: root
//	    roles: [admin]
//	    sites: ["*"]
//	tokens_file: /run/secrets/console-tokens.yaml  # more tokens, same format; mode 0600
//	rate_limit:
//	  per_second: 50            # per token (per client address without tokens)
//	  burst: 100
//	sites: [deploy/demo/site.yaml]   # site model files or directories
//
// With no tokens and no auth setting the console runs in demo mode: every
// request is the read-only Demo identity on all sites. Demo mode is only
// allowed on a loopback listen address; elsewhere Validate fails unless
// auth: none is set explicitly.
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
	// Auth selects the authentication: AuthTokens, AuthJWT, AuthNone,
	// AuthExternal or "" (AuthTokens when Tokens are given, else demo mode).
	Auth string `yaml:"auth"`
	// Tokens are the static bearer tokens.
	Tokens []TokenConfig `yaml:"tokens"`
	// TokensFile is a YAML file holding more static tokens in the format
	// of Tokens (a list); it must not be accessible by group or others.
	// Its tokens are numbered after those of Tokens in errors.
	TokensFile string `yaml:"tokens_file"`
	// TLS, when set, makes the console serve HTTPS only.
	TLS *TLSConfig `yaml:"tls"`
	// JWT configures the validation of JWT bearer tokens (auth: jwt).
	JWT *JWTConfig `yaml:"jwt"`
	// RateLimit bounds each caller's request rate.
	RateLimit RateLimitConfig `yaml:"rate_limit"`
	// Sites lists the site model files or directories served by
	// /api/sites (none: the list is empty).
	Sites []string `yaml:"sites"`
}

// AuthExternal uses the Authenticator of Deps (OIDC/JWT validation); New
// fails without one.
const AuthExternal = "external"

// RateLimitConfig is a token bucket per caller.
type RateLimitConfig struct {
	// PerSecond is the sustained request rate (default 50).
	PerSecond float64 `yaml:"per_second"`
	// Burst is the bucket size (default 100).
	Burst int `yaml:"burst"`
}

// Defaults of RateLimitConfig.
const (
	DefaultRatePerSecond = 50
	DefaultRateBurst     = 100
)

// DemoMode reports whether the config selects demo mode (no tokens, no auth
// setting); Validate allows it only on a loopback address.
func (c Config) DemoMode() bool { return c.Auth == "" && len(c.Tokens) == 0 && c.TokensFile == "" }

// StaticTokens returns the static tokens with their secrets resolved:
// Tokens (token or token_env) followed by the tokens of TokensFile. It
// reads the environment and the file; the tokens are not validated.
func (c Config) StaticTokens() ([]TokenConfig, error) {
	all := slices.Clone(c.Tokens)
	if c.TokensFile != "" {
		if err := secret.CheckPrivateFile(c.TokensFile); err != nil {
			return nil, fmt.Errorf("tokens_file: %w", err)
		}
		data, err := os.ReadFile(c.TokensFile)
		if err != nil {
			return nil, fmt.Errorf("tokens_file: %w", err)
		}
		var more []TokenConfig
		if err := config.DecodeYAML(c.TokensFile, data, &more); err != nil {
			return nil, fmt.Errorf("tokens_file: %w", err)
		}
		if len(more) == 0 {
			return nil, fmt.Errorf("tokens_file %s: no tokens", c.TokensFile)
		}
		all = append(all, more...)
	}
	var errs []error
	for i := range all {
		if all[i].TokenEnv == "" {
			continue
		}
		v, err := secret.Read(fmt.Sprintf("tokens[%d].token", i), all[i].Token, all[i].TokenEnv, "")
		if err != nil {
			errs = append(errs, err)
			continue
		}
		all[i].Token, all[i].TokenEnv = v, ""
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return all, nil
}

// ClickHouseConfig names a ClickHouse server (native protocol) and its
// credentials. Use a user with readonly = 1 in production.
type ClickHouseConfig struct {
	// Addr lists host:port addresses; YAML accepts one string or a list.
	Addr Addrs `yaml:"addr"`
	// Database is the database with C-981's tables (default "c981").
	Database string `yaml:"database"`
	// User and Password authenticate (default user "default"). Rather
	// than Password, PasswordEnv names an environment variable or
	// PasswordFile a file (mode 0600 or stricter) holding it; set at most
	// one.
	User         string `yaml:"user"`
	Password     string `yaml:"password"`
	PasswordEnv  string `yaml:"password_env"`
	PasswordFile string `yaml:"password_file"`
	// TLS configures an encrypted connection (off by default).
	TLS ClickHouseTLSConfig `yaml:"tls"`
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
	if c.JWT != nil {
		c.JWT.SetDefaults()
	}
	if c.RateLimit.PerSecond == 0 {
		c.RateLimit.PerSecond = DefaultRatePerSecond
	}
	if c.RateLimit.Burst == 0 {
		c.RateLimit.Burst = DefaultRateBurst
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
	if c.TLS != nil && c.TLS.MinVersion == "" {
		c.TLS.MinVersion = DefaultTLSMinVersion
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
	if c.TLS != nil {
		errs = append(errs, c.TLS.validate()...)
	}
	errs = append(errs, c.validateAuth()...)
	if c.RateLimit.PerSecond <= 0 || c.RateLimit.PerSecond > 1e6 {
		errs = append(errs, fmt.Errorf("rate_limit.per_second %g: must be between 0 and 1000000", c.RateLimit.PerSecond))
	}
	if c.RateLimit.Burst < 1 || c.RateLimit.Burst > 1e6 {
		errs = append(errs, fmt.Errorf("rate_limit.burst %d: must be between 1 and 1000000", c.RateLimit.Burst))
	}
	for i, p := range c.Sites {
		if p == "" {
			errs = append(errs, fmt.Errorf("sites[%d]: empty path", i))
		}
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

// Open connects to the configured ClickHouse (the connection is lazy: Ping
// to check it), reading the password from the environment or its file and
// the TLS files first.
func (c ClickHouseConfig) Open() (driver.Conn, error) {
	password, err := secret.Read("clickhouse.password", c.Password, c.PasswordEnv, c.PasswordFile)
	if err != nil {
		return nil, err
	}
	tc, err := c.TLS.Config()
	if err != nil {
		return nil, err
	}
	conn, err := clickhouse.Open(&clickhouse.Options{
		Addr:        c.Addr,
		Auth:        clickhouse.Auth{Database: c.Database, Username: c.User, Password: password},
		DialTimeout: c.DialTimeout,
		TLS:         tc,
	})
	if err != nil {
		return nil, fmt.Errorf("open clickhouse %v: %w", []string(c.Addr), err)
	}
	return conn, nil
}

// validateAuth checks the auth mode against the tokens and the address.
func (c Config) validateAuth() []error {
	var errs []error
	tokens, err := c.StaticTokens()
	if err != nil {
		errs = append(errs, err)
		tokens = nil
	}
	hasTokens := len(c.Tokens) > 0 || c.TokensFile != ""
	switch c.Auth {
	case "":
		if !hasTokens && !isLoopback(c.Addr) {
			errs = append(errs, fmt.Errorf("tokens: required when listening on the non-loopback address %q (demo mode without tokens is only allowed on loopback; set auth: none to disable authentication explicitly)", c.Addr))
		}
	case AuthTokens:
		if !hasTokens {
			errs = append(errs, errors.New("tokens: required with auth: tokens"))
		}
	case AuthJWT:
		if c.JWT == nil {
			errs = append(errs, errors.New("jwt: required with auth: jwt"))
		}
	case AuthNone, AuthExternal:
	default:
		errs = append(errs, fmt.Errorf("auth %q: want %s, %s, %s or %s", c.Auth, AuthTokens, AuthJWT, AuthNone, AuthExternal))
	}
	if c.Auth != "" && c.Auth != AuthTokens && hasTokens {
		errs = append(errs, fmt.Errorf("tokens: not used with auth: %s; remove them", c.Auth))
	}
	if c.JWT != nil {
		if c.Auth != AuthJWT {
			errs = append(errs, fmt.Errorf("jwt: not used with auth: %q; set auth: jwt or remove it", c.Auth))
		}
		errs = append(errs, c.JWT.Validate()...)
	}
	seen := map[string]int{}
	for i, t := range tokens {
		errs = append(errs, t.validate(i)...)
		if j, dup := seen[t.Token]; dup && t.Token != "" {
			errs = append(errs, fmt.Errorf("tokens[%d].token: same as tokens[%d]", i, j))
		} else {
			seen[t.Token] = i
		}
	}
	return errs
}
