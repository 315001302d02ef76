package console_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/c981/c981/services/console/console"
	"github.com/c981/c981/services/console/internal/fixture"
	"github.com/golang-jwt/jwt/v5"
)

const (
	jwtIssuer   = "https://idp.example.com/realms/c981"
	jwtAudience = "c981-console"
	jwtSecret   = "a-shared-hs256-secret-of-32-bytes-or-more"
)

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func bearer(token string) *http.Request {
	req := httptest.NewRequest(http.MethodGet, "/api/sites", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	return req
}

func TestJWT(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	rs, err := console.NewJWT(console.JWTConfig{Issuer: jwtIssuer, Audience: jwtAudience, Algorithm: console.AlgRS256,
		PublicKeyFile: writeFile(t, "idp.pem", pubPEM), UserClaim: "preferred_username"})
	if err != nil {
		t.Fatal(err)
	}
	hs, err := console.NewJWT(console.JWTConfig{Issuer: jwtIssuer, Audience: jwtAudience, Algorithm: console.AlgHS256,
		SecretFile: writeFile(t, "secret", []byte(jwtSecret))})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	claims := func(edit func(jwt.MapClaims)) jwt.MapClaims {
		c := jwt.MapClaims{
			"iss": jwtIssuer, "aud": []string{jwtAudience, "other"}, "sub": "u-123", "preferred_username": "alice",
			"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
			"roles": []string{"operator", "offline_access", "operator"}, "sites": []string{"demo-plant"},
		}
		if edit != nil {
			edit(c)
		}
		return c
	}
	sign := func(method jwt.SigningMethod, k any, c jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(method, c).SignedString(k)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	operator := console.Identity{User: "alice", Roles: []string{console.RoleOperator}, Sites: []string{"demo-plant"}}
	for _, tc := range []struct {
		name  string
		auth  console.Authenticator
		token string
		want  *console.Identity // nil: ErrBadCredentials
	}{
		{"rs256", rs, sign(jwt.SigningMethodRS256, key, claims(nil)), &operator},
		{"hs256 with sub", hs, sign(jwt.SigningMethodHS256, []byte(jwtSecret), claims(nil)),
			&console.Identity{User: "u-123", Roles: operator.Roles, Sites: operator.Sites}},
		{"all sites, one role as a string", rs, sign(jwt.SigningMethodRS256, key, claims(func(c jwt.MapClaims) {
			c["sites"], c["roles"] = []string{"demo-plant", "*"}, "auditor"
		})), &console.Identity{User: "alice", Roles: []string{console.RoleAuditor}, AllSites: true}},
		{"no roles or sites", rs, sign(jwt.SigningMethodRS256, key, claims(func(c jwt.MapClaims) { delete(c, "roles"); delete(c, "sites") })),
			&console.Identity{User: "alice"}},
		{"other key", rs, sign(jwt.SigningMethodRS256, other, claims(nil)), nil},
		{"expired", rs, sign(jwt.SigningMethodRS256, key, claims(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Hour).Unix() })), nil},
		{"no expiry", rs, sign(jwt.SigningMethodRS256, key, claims(func(c jwt.MapClaims) { delete(c, "exp") })), nil},
		{"not yet valid", rs, sign(jwt.SigningMethodRS256, key, claims(func(c jwt.MapClaims) { c["nbf"] = now.Add(time.Hour).Unix() })), nil},
		{"wrong issuer", rs, sign(jwt.SigningMethodRS256, key, claims(func(c jwt.MapClaims) { c["iss"] = "https://evil.example.com" })), nil},
		{"wrong audience", rs, sign(jwt.SigningMethodRS256, key, claims(func(c jwt.MapClaims) { c["aud"] = "another-app" })), nil},
		{"no user", rs, sign(jwt.SigningMethodRS256, key, claims(func(c jwt.MapClaims) { delete(c, "preferred_username") })), nil},
		{"alg none", rs, sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims(nil)), nil},
		// Algorithm confusion: an HS256 token keyed with the public key.
		{"hs256 against the rs256 key", rs, sign(jwt.SigningMethodHS256, pubPEM, claims(nil)), nil},
		{"rs256 against the hs256 secret", hs, sign(jwt.SigningMethodRS256, key, claims(nil)), nil},
		{"garbage", rs, "not.a.jwt", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, key, err := tc.auth.Authenticate(bearer(tc.token))
			if tc.want == nil {
				if !errors.Is(err, console.ErrBadCredentials) {
					t.Fatalf("got %+v, %v; want ErrBadCredentials", id, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(id, *tc.want) || key != "jwt:"+tc.want.User {
				t.Errorf("got %+v key %q, want %+v", id, key, *tc.want)
			}
		})
	}
	if _, _, err := rs.Authenticate(httptest.NewRequest(http.MethodGet, "/", nil)); !errors.Is(err, console.ErrNoCredentials) {
		t.Errorf("no header: %v, want ErrNoCredentials", err)
	}
}

func TestNewJWTRejects(t *testing.T) {
	dir := t.TempDir()
	short := filepath.Join(dir, "short")
	notPEM := filepath.Join(dir, "not.pem")
	for p, data := range map[string]string{short: "too short", notPEM: "hello"} {
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name string
		cfg  console.JWTConfig
		want string
	}{
		{"empty", console.JWTConfig{}, "jwt.issuer: required"},
		{"algorithm", console.JWTConfig{Issuer: "i", Audience: "a", Algorithm: "none"}, `jwt.algorithm "none"`},
		{"rs256 without key", console.JWTConfig{Issuer: "i", Audience: "a", Algorithm: console.AlgRS256}, "jwt.public_key_file: required"},
		{"hs256 with a key file", console.JWTConfig{Issuer: "i", Audience: "a", Algorithm: console.AlgHS256, SecretFile: short, PublicKeyFile: notPEM}, "jwt.public_key_file: not used"},
		{"short secret", console.JWTConfig{Issuer: "i", Audience: "a", Algorithm: console.AlgHS256, SecretFile: short}, "at least 32 bytes"},
		{"missing secret", console.JWTConfig{Issuer: "i", Audience: "a", Algorithm: console.AlgHS256, SecretFile: filepath.Join(dir, "nope")}, "jwt.secret_file"},
		{"not PEM", console.JWTConfig{Issuer: "i", Audience: "a", Algorithm: console.AlgRS256, PublicKeyFile: notPEM}, "no PEM block"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := console.NewJWT(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("NewJWT: %v, want %q", err, tc.want)
			}
		})
	}
}

// TestJWTService runs the service with auth: jwt: the claims' sites scope
// the routes and a token without console roles is refused.
func TestJWTService(t *testing.T) {
	svc := newService(t, console.Config{Addr: "0.0.0.0:0", Auth: console.AuthJWT, JWT: &console.JWTConfig{
		Issuer: jwtIssuer, Audience: jwtAudience, Algorithm: console.AlgHS256, SecretFile: writeFile(t, "secret", []byte(jwtSecret))}})
	token := func(roles ...string) string {
		s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
			"iss": jwtIssuer, "aud": jwtAudience, "sub": "olga", "exp": time.Now().Add(time.Hour).Unix(),
			"roles": roles, "sites": []string{"demo-plant"},
		}).SignedString([]byte(jwtSecret))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	h := svc.Handler()
	for _, tc := range []struct {
		path, token string
		want        int
	}{
		{"/api/incidents/" + fixture.IncidentSIS, token(console.RoleOperator), http.StatusOK},
		{"/api/incidents/" + incidentOther, token(console.RoleOperator), http.StatusNotFound},
		{"/api/incidents", token("offline_access"), http.StatusForbidden},
		{"/api/incidents", "not-a-jwt", http.StatusUnauthorized},
	} {
		if rec := get(h, tc.path, tc.token); rec.Code != tc.want {
			t.Errorf("GET %s: %d %s, want %d", tc.path, rec.Code, rec.Body, tc.want)
		}
	}
}
