package console

import (
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/c981/c981/services/console/query"
)

// FuzzBearerToken: any Authorization header gives a token or one of the
// two credential errors, never a panic; a token is never empty.
func FuzzBearerToken(f *testing.F) {
	for _, s := range []string{"", "Bearer abc", "bearer  x ", "Basic YTpi", "Bearer", "Bearer \t", "abc"} {
		f.Add(s)
	}
	a, err := NewStaticTokens([]TokenConfig{{Token: "fuzz-token-0123456789", User: "u", Roles: []string{RoleAnalyst}, Sites: []string{"s"}}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, header string) {
		req := httptest.NewRequest("GET", "/api/sites", nil)
		if header != "" {
			req.Header.Set("Authorization", header)
		}
		token, err := BearerToken(req)
		if err != nil {
			if !errors.Is(err, ErrNoCredentials) && !errors.Is(err, ErrBadCredentials) {
				t.Fatalf("error %v is not a credentials error", err)
			}
		} else if token == "" {
			t.Fatal("empty token without an error")
		}
		id, _, err := a.Authenticate(req)
		if err == nil && (token != "fuzz-token-0123456789" || id.User != "u") {
			t.Fatalf("header %q authenticated as %+v", header, id)
		}
	})
}

// FuzzParams: any query string gives a filter or InvalidParams, never a
// panic or another error.
func FuzzParams(f *testing.F) {
	for _, s := range []string{"", "site=a&limit=5", "since=now&limit=0&x=1", "q=%zz", "cursor=garbage", "site=a&site=b", "until=2026-11-26T10:00:00Z&since=2026-11-26T11:00:00Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		p := parseParams(raw, eventParams)
		ef := query.EventFilter{Site: p.str("site"), Since: p.time("since"), Until: p.time("until"), Text: p.str("q"), Limit: p.limit(), After: p.str("cursor")}
		if err := p.err(ef.Validate()); err != nil {
			var bad query.InvalidParams
			if !errors.As(err, &bad) || len(bad) == 0 {
				t.Fatalf("error %v is not InvalidParams", err)
			}
		} else if ef.Validate() != nil {
			t.Fatalf("accepted an invalid filter %+v", ef)
		}
		if _, err := parseFilter(raw); err != nil {
			var bad query.InvalidParams
			if !errors.As(err, &bad) {
				t.Fatalf("parseFilter error %v is not InvalidParams", err)
			}
		}
	})
}
