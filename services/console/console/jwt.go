package console

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// AuthJWT validates JWT bearer tokens (OIDC access or ID tokens) with the
// key of Config.JWT.
const AuthJWT = "jwt"

// JWT signature algorithms accepted by JWTConfig.
const (
	AlgRS256 = "RS256"
	AlgHS256 = "HS256"
)

// MinHS256SecretLen is the shortest accepted HS256 secret (bytes).
const MinHS256SecretLen = 32

// JWTConfig validates JWT bearer tokens: the signature with one
// algorithm and key (no "none", no algorithm switching), the issuer, the
// audience and the expiry; the caller's user, roles and sites are claims.
//
//	jwt:
//	  issuer: https://idp.example.com/realms/c981
//	  audience: c981-console
//	  algorithm: RS256                    # or HS256
//	  public_key_file: /etc/c981/idp.pem  # RS256: PEM public key or certificate
//	  secret_file: /run/secrets/jwt       # HS256: at least 32 bytes
//	  user_claim: preferred_username      # default sub
//	  roles_claim: roles                  # default roles
//	  sites_claim: sites                  # default sites ("*": all)
//	  leeway: 30s                         # clock skew allowed
type JWTConfig struct {
	// Issuer must equal the iss claim.
	Issuer string `yaml:"issuer"`
	// Audience must be in the aud claim.
	Audience string `yaml:"audience"`
	// Algorithm is AlgRS256 or AlgHS256.
	Algorithm string `yaml:"algorithm"`
	// PublicKeyFile is the PEM RSA public key (or certificate) of RS256.
	PublicKeyFile string `yaml:"public_key_file"`
	// SecretFile holds the shared secret of HS256.
	SecretFile string `yaml:"secret_file"`
	// UserClaim names the claim with the user name (default "sub").
	UserClaim string `yaml:"user_claim"`
	// RolesClaim names the claim with the list of roles (default "roles");
	// names that are not console roles are ignored.
	RolesClaim string `yaml:"roles_claim"`
	// SitesClaim names the claim with the list of site ids (default
	// "sites"; "*" grants every site).
	SitesClaim string `yaml:"sites_claim"`
	// Leeway is the clock skew allowed on exp, nbf and iat (default 30s).
	Leeway time.Duration `yaml:"leeway"`
}

// DefaultJWTLeeway is the default JWTConfig.Leeway.
const DefaultJWTLeeway = 30 * time.Second

// SetDefaults fills the zero claim names and leeway.
func (c *JWTConfig) SetDefaults() {
	if c.UserClaim == "" {
		c.UserClaim = "sub"
	}
	if c.RolesClaim == "" {
		c.RolesClaim = "roles"
	}
	if c.SitesClaim == "" {
		c.SitesClaim = "sites"
	}
	if c.Leeway == 0 {
		c.Leeway = DefaultJWTLeeway
	}
}

// Validate reports every invalid field (after SetDefaults); the key files
// are read by NewJWT.
func (c JWTConfig) Validate() []error {
	var errs []error
	if c.Issuer == "" {
		errs = append(errs, errors.New("jwt.issuer: required"))
	}
	if c.Audience == "" {
		errs = append(errs, errors.New("jwt.audience: required"))
	}
	switch c.Algorithm {
	case AlgRS256:
		if c.PublicKeyFile == "" {
			errs = append(errs, errors.New("jwt.public_key_file: required with RS256"))
		}
		if c.SecretFile != "" {
			errs = append(errs, errors.New("jwt.secret_file: not used with RS256"))
		}
	case AlgHS256:
		if c.SecretFile == "" {
			errs = append(errs, errors.New("jwt.secret_file: required with HS256"))
		}
		if c.PublicKeyFile != "" {
			errs = append(errs, errors.New("jwt.public_key_file: not used with HS256"))
		}
	default:
		errs = append(errs, fmt.Errorf("jwt.algorithm %q: want %s or %s", c.Algorithm, AlgRS256, AlgHS256))
	}
	if c.Leeway < 0 || c.Leeway > 10*time.Minute {
		errs = append(errs, fmt.Errorf("jwt.leeway %s: must be between 0 and 10m", c.Leeway))
	}
	return errs
}

// JWT authenticates JWT bearer tokens.
type JWT struct {
	cfg    JWTConfig
	key    any
	parser *jwt.Parser
}

// NewJWT reads the key of cfg (validated, defaults set) and builds the
// authenticator.
func NewJWT(cfg JWTConfig) (*JWT, error) {
	cfg.SetDefaults()
	if errs := cfg.Validate(); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	a := &JWT{cfg: cfg, parser: jwt.NewParser(
		jwt.WithValidMethods([]string{cfg.Algorithm}),
		jwt.WithIssuer(cfg.Issuer),
		jwt.WithAudience(cfg.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(cfg.Leeway),
	)}
	switch cfg.Algorithm {
	case AlgRS256:
		data, err := os.ReadFile(cfg.PublicKeyFile)
		if err != nil {
			return nil, fmt.Errorf("jwt.public_key_file: %w", err)
		}
		key, err := rsaPublicKey(data)
		if err != nil {
			return nil, fmt.Errorf("jwt.public_key_file %s: %w", cfg.PublicKeyFile, err)
		}
		a.key = key
	case AlgHS256:
		secret, err := os.ReadFile(cfg.SecretFile)
		if err != nil {
			return nil, fmt.Errorf("jwt.secret_file: %w", err)
		}
		if len(secret) < MinHS256SecretLen {
			return nil, fmt.Errorf("jwt.secret_file %s: the secret must be at least %d bytes", cfg.SecretFile, MinHS256SecretLen)
		}
		a.key = secret
	}
	return a, nil
}

// rsaPublicKey decodes a PEM RSA public key (PKIX or PKCS #1) or a
// certificate holding one.
func rsaPublicKey(data []byte) (*rsa.PublicKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	var pub any
	var err error
	switch block.Type {
	case "PUBLIC KEY":
		pub, err = x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		pub, err = x509.ParsePKCS1PublicKey(block.Bytes)
	case "CERTIFICATE":
		var cert *x509.Certificate
		if cert, err = x509.ParseCertificate(block.Bytes); err == nil {
			pub = cert.PublicKey
		}
	default:
		return nil, fmt.Errorf("PEM block %q: want PUBLIC KEY, RSA PUBLIC KEY or CERTIFICATE", block.Type)
	}
	if err != nil {
		return nil, err
	}
	key, ok := pub.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("the key is a %T, want an RSA public key", pub)
	}
	return key, nil
}

// Authenticate implements Authenticator.
func (a *JWT) Authenticate(r *http.Request) (Identity, string, error) {
	token, err := BearerToken(r)
	if err != nil {
		return Identity{}, "", err
	}
	claims := jwt.MapClaims{}
	if _, err := a.parser.ParseWithClaims(token, claims, func(*jwt.Token) (any, error) { return a.key, nil }); err != nil {
		return Identity{}, "", fmt.Errorf("%w: %w", ErrBadCredentials, err)
	}
	user, _ := claims[a.cfg.UserClaim].(string)
	if user == "" {
		return Identity{}, "", fmt.Errorf("%w: no %s claim", ErrBadCredentials, a.cfg.UserClaim)
	}
	id := Identity{User: user}
	for _, r := range stringList(claims[a.cfg.RolesClaim]) {
		if slices.Contains(Roles, r) && !slices.Contains(id.Roles, r) {
			id.Roles = append(id.Roles, r)
		}
	}
	for _, s := range stringList(claims[a.cfg.SitesClaim]) {
		if s == AllSites {
			id.AllSites, id.Sites = true, nil
			break
		}
		if s != "" {
			id.Sites = append(id.Sites, s)
		}
	}
	return id, "jwt:" + user, nil
}

// stringList reads a claim that is a list of strings (or one string);
// other values give nothing.
func stringList(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, e := range v {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}
