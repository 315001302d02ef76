package console

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
)

// Roles of console users (issue #8). Every role may use the read routes of
// its sites; auditors are read-only in every later write route too.
const (
	RoleAnalyst         = "analyst"
	RoleOperator        = "operator"
	RoleControlEngineer = "control_engineer"
	RoleSafetyEngineer  = "safety_engineer"
	RoleManager         = "manager"
	RoleISMSOwner       = "isms_owner"
	RoleAdmin           = "admin"
	RoleAuditor         = "auditor"
)

// Roles lists every role.
var Roles = []string{RoleAnalyst, RoleOperator, RoleControlEngineer, RoleSafetyEngineer, RoleManager, RoleISMSOwner, RoleAdmin, RoleAuditor}

// AllSites in a token's sites list grants access to every site.
const AllSites = "*"

// Auth modes of Config.Auth.
const (
	// AuthTokens authenticates static bearer tokens (Config.Tokens).
	AuthTokens = "tokens"
	// AuthNone disables authentication: every request acts as the read-only
	// Anonymous identity on all sites. It must be set explicitly.
	AuthNone = "none"
)

// MinTokenLen is the shortest accepted static token (bytes).
const MinTokenLen = 16

// Identity is an authenticated caller.
type Identity struct {
	// User names the caller (for logs and, later, the audit trail).
	User string `json:"user"`
	// Roles are the caller's roles (Role* values).
	Roles []string `json:"roles"`
	// Sites are the site ids the caller may see; nil with AllSites set
	// means every site.
	Sites []string `json:"sites"`
	// AllSites grants every site.
	AllSites bool `json:"all_sites"`
}

// CanSee reports whether the caller may see objects of site.
func (id Identity) CanSee(site string) bool {
	return id.AllSites || slices.Contains(id.Sites, site)
}

// HasRole reports whether the caller has one of roles.
func (id Identity) HasRole(roles ...string) bool {
	for _, r := range roles {
		if slices.Contains(id.Roles, r) {
			return true
		}
	}
	return false
}

// Scope is the site restriction of the caller's queries: nil for every
// site, else the caller's sites (possibly empty, matching nothing).
func (id Identity) Scope() []string {
	if id.AllSites {
		return nil
	}
	if id.Sites == nil {
		return []string{}
	}
	return id.Sites
}

// Demo is the identity of demo mode (no tokens configured, loopback
// listen address): read-only on every site.
var Demo = Identity{User: "demo", Roles: []string{RoleAuditor}, AllSites: true}

// Anonymous is the identity of every request with auth: none.
var Anonymous = Identity{User: "anonymous", Roles: []string{RoleAuditor}, AllSites: true}

// Errors of Authenticator.Authenticate; both answer 401.
var (
	// ErrNoCredentials: the request carries no bearer token.
	ErrNoCredentials = errors.New("no bearer token")
	// ErrBadCredentials: the token is malformed, unknown or expired.
	ErrBadCredentials = errors.New("invalid bearer token")
)

// Authenticator establishes the caller of a request. Implementations must
// be safe for concurrent use; an OIDC/JWT validator implements it too.
type Authenticator interface {
	// Authenticate returns the caller of r, or an error wrapping
	// ErrNoCredentials or ErrBadCredentials. Key identifies the caller for
	// rate limiting (never the token itself).
	Authenticate(r *http.Request) (id Identity, key string, err error)
}

// BearerToken returns the token of r's "Authorization: Bearer" header.
func BearerToken(r *http.Request) (string, error) {
	h := r.Header.Values("Authorization")
	if len(h) == 0 {
		return "", ErrNoCredentials
	}
	if len(h) > 1 {
		return "", fmt.Errorf("%w: more than one Authorization header", ErrBadCredentials)
	}
	scheme, token, ok := strings.Cut(h[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", fmt.Errorf("%w: want the Bearer scheme", ErrBadCredentials)
	}
	token = strings.TrimSpace(token)
	if token == "" {
		return "", fmt.Errorf("%w: empty token", ErrBadCredentials)
	}
	return token, nil
}

// TokenConfig is one static bearer token of Config.Tokens.
//
//   - token: 9f2c...          # at least 16 bytes; keep it secret
//     user: alice
//     roles: [analyst]
//     sites: [demo-plant]     # or ["*"] for every site
//   - token_env: C981_TOKEN   # or the token from the environment
type TokenConfig struct {
	// Token is the secret bearer token.
	Token string `yaml:"token"`
	// TokenEnv names the environment variable holding the token, instead
	// of Token.
	TokenEnv string `yaml:"token_env"`
	// User names the token's holder.
	User string `yaml:"user"`
	// Roles are the holder's roles.
	Roles []string `yaml:"roles"`
	// Sites are the site ids the holder may see ("*": all).
	Sites []string `yaml:"sites"`
}

// Identity returns the identity the token grants.
func (t TokenConfig) Identity() Identity {
	id := Identity{User: t.User, Roles: slices.Clone(t.Roles)}
	if slices.Contains(t.Sites, AllSites) {
		id.AllSites = true
	} else {
		id.Sites = slices.Clone(t.Sites)
	}
	return id
}

// validate reports the token's problems; i is its index for messages (the
// token itself is never shown).
func (t TokenConfig) validate(i int) []error {
	var errs []error
	at := fmt.Sprintf("tokens[%d]", i)
	if t.TokenEnv != "" {
		errs = append(errs, fmt.Errorf("%s.token_env: not resolved (use Config.StaticTokens)", at))
	} else if len(t.Token) < MinTokenLen {
		errs = append(errs, fmt.Errorf("%s.token: must be at least %d bytes", at, MinTokenLen))
	}
	if strings.ContainsAny(t.Token, " \t\r\n") {
		errs = append(errs, fmt.Errorf("%s.token: must not contain white space", at))
	}
	if t.User == "" {
		errs = append(errs, fmt.Errorf("%s.user: required", at))
	}
	if len(t.Roles) == 0 {
		errs = append(errs, fmt.Errorf("%s.roles: required (want some of %s)", at, strings.Join(Roles, ", ")))
	}
	for _, r := range t.Roles {
		if !slices.Contains(Roles, r) {
			errs = append(errs, fmt.Errorf("%s.roles: unknown role %q (want %s)", at, r, strings.Join(Roles, ", ")))
		}
	}
	if len(t.Sites) == 0 {
		errs = append(errs, fmt.Errorf("%s.sites: required (site ids, or \"*\" for all)", at))
	}
	for _, s := range t.Sites {
		if s == "" {
			errs = append(errs, fmt.Errorf("%s.sites: empty site id", at))
		}
	}
	return errs
}

// StaticTokens authenticates the static bearer tokens of the config. The
// presented token is hashed and compared with every configured token's hash
// in constant time, so neither the match nor its position leaks through
// timing.
type StaticTokens struct {
	hashes [][sha256.Size]byte
	ids    []Identity
	keys   []string
}

// NewStaticTokens builds the authenticator of tokens (validated by
// Config.Validate; duplicates are an error here too).
func NewStaticTokens(tokens []TokenConfig) (*StaticTokens, error) {
	a := &StaticTokens{}
	seen := map[[sha256.Size]byte]bool{}
	for i, t := range tokens {
		if errs := t.validate(i); len(errs) > 0 {
			return nil, errors.Join(errs...)
		}
		h := sha256.Sum256([]byte(t.Token))
		if seen[h] {
			return nil, fmt.Errorf("tokens[%d].token: duplicate token", i)
		}
		seen[h] = true
		a.hashes = append(a.hashes, h)
		a.ids = append(a.ids, t.Identity())
		a.keys = append(a.keys, fmt.Sprintf("token:%d:%s", i, t.User))
	}
	return a, nil
}

// Authenticate implements Authenticator.
func (a *StaticTokens) Authenticate(r *http.Request) (Identity, string, error) {
	token, err := BearerToken(r)
	if err != nil {
		return Identity{}, "", err
	}
	h := sha256.Sum256([]byte(token))
	match := -1
	for i := range a.hashes {
		if subtle.ConstantTimeCompare(h[:], a.hashes[i][:]) == 1 {
			match = i
		}
	}
	if match < 0 {
		return Identity{}, "", ErrBadCredentials
	}
	return a.ids[match], a.keys[match], nil
}

// Fixed authenticates every request as one identity, rate-limited per
// client address: demo mode and auth: none.
type Fixed struct {
	// ID is the identity granted.
	ID Identity
}

// Authenticate implements Authenticator. A request with a bearer token is
// still accepted (the token is ignored).
func (f Fixed) Authenticate(r *http.Request) (Identity, string, error) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return f.ID, "addr:" + host, nil
}

// isLoopback reports whether the listen address addr (host:port) only
// accepts connections from this machine.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

type identityKey struct{}

// WithIdentity returns ctx carrying id.
func WithIdentity(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// IdentityFrom returns the identity of an authenticated request's context.
func IdentityFrom(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(identityKey{}).(Identity)
	return id, ok
}
