package console_test

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/c981/c981/services/console/console"
)

// TestUI checks the web UI's static files: Content-Type, cache validators,
// the Content-Security-Policy and that no API data is needed to load them.
func TestUI(t *testing.T) {
	svc := authService(t, console.RateLimitConfig{PerSecond: 1e5, Burst: 1e5})
	h := svc.Handler()
	for _, tc := range []struct {
		path, method string
		code         int
		contentType  string
		contains     string
	}{
		{"/", http.MethodGet, 200, "text/html; charset=utf-8", `<script type="module" src="/ui/app.js"></script>`},
		{"/", http.MethodHead, 200, "text/html; charset=utf-8", ""},
		{"/ui/index.html", http.MethodGet, 200, "text/html; charset=utf-8", "<title>C-981 console</title>"},
		{"/ui/app.js", http.MethodGet, 200, "text/javascript; charset=utf-8", "import"},
		{"/ui/api.js", http.MethodGet, 200, "text/javascript; charset=utf-8", "Authorization"},
		{"/ui/app.css", http.MethodGet, 200, "text/css; charset=utf-8", "body"},
		{"/ui/favicon.svg", http.MethodGet, 200, "image/svg+xml", "<svg"},
		{"/ui/missing.js", http.MethodGet, 404, "application/problem+json", "no such file"},
		{"/ui/", http.MethodGet, 404, "application/problem+json", "no such file"},
		{"/index.html", http.MethodGet, 404, "application/problem+json", "no such route"},
		{"/", http.MethodPost, 404, "application/problem+json", ""},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, tc.path, nil)
			rec := serve(h, req)
			if rec.Code != tc.code || rec.Header().Get("Content-Type") != tc.contentType {
				t.Fatalf("%d %q, want %d %q: %s", rec.Code, rec.Header().Get("Content-Type"), tc.code, tc.contentType, rec.Body)
			}
			if !strings.Contains(rec.Body.String(), tc.contains) {
				t.Errorf("body does not contain %q", tc.contains)
			}
			if tc.method == http.MethodHead && rec.Body.Len() != 0 {
				t.Errorf("HEAD answered a body of %d bytes", rec.Body.Len())
			}
			if tc.code != 200 {
				return
			}
			hd := rec.Header()
			for name, want := range map[string]string{
				"Content-Security-Policy": console.UIContentSecurityPolicy,
				"Cache-Control":           "no-cache",
				"X-Content-Type-Options":  "nosniff",
				"X-Frame-Options":         "DENY",
				"Referrer-Policy":         "no-referrer",
			} {
				if got := hd.Get(name); got != want {
					t.Errorf("%s = %q, want %q", name, got, want)
				}
			}
			etag := hd.Get("ETag")
			if !regexp.MustCompile(`^"[A-Za-z0-9_-]{16}"$`).MatchString(etag) {
				t.Fatalf("ETag %q", etag)
			}
			req = httptest.NewRequest(http.MethodGet, tc.path, nil)
			req.Header.Set("If-None-Match", etag)
			if rec := serve(h, req); rec.Code != http.StatusNotModified || rec.Body.Len() != 0 {
				t.Errorf("revalidation with the ETag: %d, %d bytes, want 304", rec.Code, rec.Body.Len())
			}
		})
	}
	t.Run("csp", func(t *testing.T) {
		csp := console.UIContentSecurityPolicy
		for _, d := range []string{"default-src 'self'", "script-src 'self'", "object-src 'none'", "frame-ancestors 'none'"} {
			if !strings.Contains(csp, d) {
				t.Errorf("CSP %q lacks %q", csp, d)
			}
		}
		if strings.Contains(csp, "unsafe-") {
			t.Errorf("CSP %q allows unsafe sources", csp)
		}
	})
}

// TestUISources keeps the UI inside its Content-Security-Policy and free of
// HTML injection: no inline scripts, styles or event handler attributes,
// no innerHTML or eval in the JavaScript.
func TestUISources(t *testing.T) {
	inlineScript := regexp.MustCompile(`<script(?:\s[^>]*)?>`)
	handlerAttr := regexp.MustCompile(`(?i)\son[a-z]+\s*=`)
	risky := regexp.MustCompile(`innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function|setAttribute\('style'|style=`)
	n := 0
	err := filepath.WalkDir(filepath.Join("web"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		n++
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		src := string(data)
		switch filepath.Ext(path) {
		case ".html":
			for _, tag := range inlineScript.FindAllString(src, -1) {
				if !strings.Contains(tag, ` src="/ui/`) {
					t.Errorf("%s: inline or foreign script %s", path, tag)
				}
			}
			if strings.Contains(src, "<style") || handlerAttr.MatchString(src) || strings.Contains(src, " style=") {
				t.Errorf("%s: inline style or event handler attribute", path)
			}
		case ".js":
			if m := risky.FindString(src); m != "" {
				t.Errorf("%s: uses %s", path, m)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 5 {
		t.Errorf("only %d UI files", n)
	}
}
