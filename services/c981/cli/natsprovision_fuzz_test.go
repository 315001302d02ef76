package cli

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzRedactURL: whatever the URL list, a password that url.Parse would
// send to the server never survives redaction.
func FuzzRedactURL(f *testing.F) {
	for _, s := range []string{
		"nats://u:p@a:4222",
		"tls://c981-ingest:0123abcd@nats-1:4222,tls://c981-ingest:0123abcd@nats-2:4222",
		"nats://nats:4222",
		"nats://u:p@@a",
		"%zz://u:p@a",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := redactURL(in)
		for _, part := range strings.Split(in, ",") {
			u, err := url.Parse(strings.TrimSpace(part))
			if err != nil || u.User == nil {
				continue
			}
			pw, ok := u.User.Password()
			if !ok || len(pw) < 4 || strings.Contains("xxxxx", pw) {
				continue // too short to be told apart from the rest of the text
			}
			rest := strings.ReplaceAll(in, part, "")
			if strings.Contains(out, pw) && !strings.Contains(rest, pw) && !strings.Contains(u.Redacted(), pw) {
				t.Fatalf("redactURL(%q) = %q keeps the password %q", in, out, pw)
			}
		}
	})
}
