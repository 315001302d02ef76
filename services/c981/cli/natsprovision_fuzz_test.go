package cli

import (
	"net/url"
	"strings"
	"testing"

	"github.com/c981/c981/services/c981/natsconf"
	"github.com/c981/c981/services/shared/bus"
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

// FuzzParseSites: whatever the --sites list, parseSites either refuses it
// or returns sites that are each one subject token, so that every source it
// provisions names a valid domain (site-<site>), filter and deliver prefix.
func FuzzParseSites(f *testing.F) {
	for _, s := range []string{"plant-a", "plant-b, plant-a", "a,,b", "plant.a", "", " ", "a*", "x>", "ä", "a b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		sites, err := parseSites(in)
		if err != nil {
			return
		}
		if strings.TrimSpace(in) != "" && len(sites) == 0 {
			t.Fatalf("parseSites(%q) returned no site and no error", in)
		}
		for _, s := range sites {
			if s == "" || bus.Token(s) != s {
				t.Fatalf("parseSites(%q) returned %q, not one subject token", in, s)
			}
			for _, src := range natsconf.SiteSources(bus.StreamRaw, []string{s}) {
				if strings.Count(src.FilterSubject, ".") != 3 || !strings.HasPrefix(src.External.APIPrefix, "$JS.site-") {
					t.Fatalf("site %q: source %+v", s, src)
				}
			}
		}
	})
}
