package console

import (
	"fmt"
	"net/http/httptest"
	"testing"
)

// BenchmarkStaticTokens measures the authentication of a bearer token
// against 100 configured tokens (every one is compared, in constant time).
func BenchmarkStaticTokens(b *testing.B) {
	var tokens []TokenConfig
	for i := range 100 {
		tokens = append(tokens, TokenConfig{Token: fmt.Sprintf("bench-token-%04d-0123456789", i), User: fmt.Sprint("u", i), Roles: []string{RoleAnalyst}, Sites: []string{"s"}})
	}
	a, err := NewStaticTokens(tokens)
	if err != nil {
		b.Fatal(err)
	}
	req := httptest.NewRequest("GET", "/api/incidents", nil)
	req.Header.Set("Authorization", "Bearer bench-token-0050-0123456789")
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if _, _, err := a.Authenticate(req); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "lookups/s")
}
