package console_test

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/c981/c981/services/console/console"
	"github.com/c981/c981/services/shared/config"
)

func TestConfig(t *testing.T) {
	for _, tc := range []struct {
		file string
		want console.Config // after SetDefaults, when valid
		errs []string       // substrings of the load or Validate error
	}{
		{file: "full.yaml", want: console.Config{
			Addr: "0.0.0.0:8981", QueryTimeout: 15 * time.Second, MaxAlerts: 100, MaxEvents: 50,
			ClickHouse: console.ClickHouseConfig{Addr: console.Addrs{"ch-1:9000", "ch-2:9000"}, Database: "c981", User: "console", Password: "secret", DialTimeout: 2 * time.Second},
			Auth:       console.AuthTokens,
			Tokens: []console.TokenConfig{
				{Token: "analyst-token-0123456789", User: "alice", Roles: []string{"analyst", "isms_owner"}, Sites: []string{"demo-plant"}},
				{Token: "admin-token-0123456789ab", User: "root", Roles: []string{"admin"}, Sites: []string{"*"}},
			},
			RateLimit: console.RateLimitConfig{PerSecond: 5, Burst: 10},
			Sites:     []string{"testdata/sites"},
		}},
		{file: "minimal.yaml", want: console.Config{
			Addr: console.DefaultAddr, QueryTimeout: console.DefaultQueryTimeout, MaxAlerts: 500, MaxEvents: 200,
			ClickHouse: console.ClickHouseConfig{Addr: console.Addrs{"127.0.0.1:19000"}, Database: "c981", User: "default", DialTimeout: console.DefaultDialTimeout},
			RateLimit:  console.RateLimitConfig{PerSecond: console.DefaultRatePerSecond, Burst: console.DefaultRateBurst},
		}},
		{file: "auth-none.yaml", want: console.Config{
			Addr: "0.0.0.0:8981", QueryTimeout: console.DefaultQueryTimeout, MaxAlerts: 500, MaxEvents: 200, Auth: console.AuthNone,
			ClickHouse: console.ClickHouseConfig{Addr: console.Addrs{"127.0.0.1:19000"}, Database: "c981", User: "default", DialTimeout: console.DefaultDialTimeout},
			RateLimit:  console.RateLimitConfig{PerSecond: console.DefaultRatePerSecond, Burst: console.DefaultRateBurst},
		}},
		{file: "demo-public.yaml", errs: []string{`tokens: required when listening on the non-loopback address "0.0.0.0:8981"`, "auth: none"}},
		{file: "bad-tokens.yaml", errs: []string{
			"tokens[0].token: must be at least 16 bytes", "tokens[0].user: required", `tokens[0].roles: unknown role "hacker"`, "tokens[0].sites: required",
			"tokens[2].token: same as tokens[1]", "tokens[2].sites: empty site id", "rate_limit.per_second -1", "rate_limit.burst -5",
		}},
		{file: "bad-auth.yaml", errs: []string{`auth "ldap": want tokens, jwt, none or external`}},
		{file: "none-with-tokens.yaml", errs: []string{"tokens: not used with auth: none"}},
		{file: "jwt.yaml", want: console.Config{
			Addr: "0.0.0.0:8981", QueryTimeout: console.DefaultQueryTimeout, MaxAlerts: 500, MaxEvents: 200, Auth: console.AuthJWT,
			JWT: &console.JWTConfig{Issuer: "https://idp.example.com/realms/c981", Audience: "c981-console", Algorithm: console.AlgRS256,
				PublicKeyFile: "/etc/c981/idp.pem", UserClaim: "sub", RolesClaim: "realm_roles", SitesClaim: "sites", Leeway: console.DefaultJWTLeeway},
			ClickHouse: console.ClickHouseConfig{Addr: console.Addrs{"127.0.0.1:19000"}, Database: "c981", User: "default", DialTimeout: console.DefaultDialTimeout},
			RateLimit:  console.RateLimitConfig{PerSecond: console.DefaultRatePerSecond, Burst: console.DefaultRateBurst},
		}},
		{file: "jwt-missing.yaml", errs: []string{"jwt: required with auth: jwt", "tokens: not used with auth: jwt"}},
		{file: "jwt-unused.yaml", errs: []string{`jwt: not used with auth: ""`, "jwt.secret_file: required with HS256", "jwt.leeway 1h0m0s"}},
		{file: "tokens-missing.yaml", errs: []string{"tokens: required with auth: tokens"}},
		{file: "unknown-field.yaml", errs: []string{"unknown-field.yaml:3:", "databse"}},
		{file: "invalid.yaml", errs: []string{`addr "localhost"`, "query_timeout -1s", "max_events 100000", `clickhouse.addr "no-port"`}},
		{file: "no-clickhouse.yaml", errs: []string{"clickhouse.addr: required"}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			var cfg console.Config
			_, err := config.LoadYAML(filepath.Join("testdata", "config", tc.file), &cfg)
			if err == nil {
				cfg.SetDefaults()
				err = cfg.Validate()
			}
			if len(tc.errs) > 0 {
				if err == nil {
					t.Fatalf("no error, want %q", tc.errs)
				}
				if strings.Contains(err.Error(), "token-0123456789") {
					t.Errorf("error %q discloses a token", err)
				}
				for _, want := range tc.errs {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q lacks %q", err, want)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(cfg, tc.want) {
				t.Errorf("got %+v\nwant %+v", cfg, tc.want)
			}
		})
	}
}

func TestNewRejects(t *testing.T) {
	valid := console.Config{ClickHouse: console.ClickHouseConfig{Addr: console.Addrs{"127.0.0.1:9000"}}}
	if _, err := console.New(valid, console.Deps{}); err == nil || !strings.Contains(err.Error(), "nil ClickHouse connection") {
		t.Errorf("New without a connection: %v, want an error", err)
	}
	if _, err := console.New(console.Config{}, console.Deps{}); err == nil || !strings.Contains(err.Error(), "clickhouse.addr: required") {
		t.Errorf("New with an empty config: %v, want a config error", err)
	}
}
