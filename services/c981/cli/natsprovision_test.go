package cli

import (
	"context"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/shared/natsserver"
	"github.com/nats-io/nats.go/jetstream"
)

func TestNATSProvision(t *testing.T) {
	s, err := natsserver.Start(natsserver.Config{Port: -1, StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	cfg := filepath.Join(t.TempDir(), "c981.yaml")
	if err := os.WriteFile(cfg, []byte("streams: {replicas: 1, max_age: 24h, max_msg_size: 1048576, duplicates: 1m}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errs := run(t, "", "nats-provision", "--nats", s.ClientURL(), "--config", cfg)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	nc, js, err := bus.Connect(s.ClientURL(), t.Name())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	for _, want := range bus.StreamConfigs(bus.DefaultStreamOptions()) {
		st, err := js.Stream(context.Background(), want.Name)
		if err != nil {
			t.Fatalf("stream %s not created: %v", want.Name, err)
		}
		info, err := st.Info(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if info.Config.MaxAge.String() != "24h0m0s" || info.Config.MaxMsgSize != 1<<20 || info.Config.Storage != jetstream.FileStorage {
			t.Errorf("%s: config not applied: %+v", want.Name, info.Config)
		}
		if !strings.Contains(out, want.Name) {
			t.Errorf("output does not list %s:\n%s", want.Name, out)
		}
	}
}

// TestNATSProvisionSites provisions central for two store-and-forward
// sites: C981_RAW and C981_DLQ source each site's JetStream domain with the
// site's subjects; the other streams source nothing. (The sourcing itself
// across a leaf connection is tested in natsconf, TestSiteStoreAndForward.)
func TestNATSProvisionSites(t *testing.T) {
	s, err := natsserver.Start(natsserver.Config{Port: -1, StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	code, out, errs := run(t, "", "nats-provision", "--nats", s.ClientURL(), "--sites", "plant-b, plant-a")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	nc, js, err := bus.Connect(s.ClientURL(), t.Name())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	want := map[string][]string{
		bus.StreamRaw: {"$JS.site-plant-a.API C981_RAW c981.raw.plant-a.> c981.deliver.plant-a", "$JS.site-plant-b.API C981_RAW c981.raw.plant-b.> c981.deliver.plant-b"},
		bus.StreamDLQ: {"$JS.site-plant-a.API C981_DLQ c981.dlq.ingest c981.deliver.plant-a", "$JS.site-plant-b.API C981_DLQ c981.dlq.ingest c981.deliver.plant-b"},
	}
	for _, sc := range bus.StreamConfigs(bus.DefaultStreamOptions()) {
		st, err := js.Stream(context.Background(), sc.Name)
		if err != nil {
			t.Fatalf("stream %s not created: %v", sc.Name, err)
		}
		info, err := st.Info(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, src := range info.Config.Sources {
			if src.External == nil {
				t.Fatalf("%s: source %s is not external", sc.Name, src.Name)
			}
			got = append(got, strings.Join([]string{src.External.APIPrefix, src.Name, src.FilterSubject, src.External.DeliverPrefix}, " "))
		}
		if strings.Join(got, "\n") != strings.Join(want[sc.Name], "\n") {
			t.Errorf("%s sources:\n%s\nwant:\n%s", sc.Name, strings.Join(got, "\n"), strings.Join(want[sc.Name], "\n"))
		}
		if !slices.Equal(info.Config.Subjects, sc.Subjects) {
			t.Errorf("%s subjects %v, want %v", sc.Name, info.Config.Subjects, sc.Subjects)
		}
	}
	if !strings.Contains(out, "source $JS.site-plant-a.API C981_RAW filter c981.raw.plant-a.>") {
		t.Errorf("output does not list the sources:\n%s", out)
	}
}

func TestNATSProvisionErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no url", []string{"nats-provision"}, 1, "--nats"},
		{"unreachable, password redacted", []string{"nats-provision", "--nats", "nats://u:secret-pw@127.0.0.1:1", "--timeout", "300ms"}, 1, "u:xxxxx@127.0.0.1:1"},
		{"bad flag", []string{"nats-provision", "--nope"}, 2, ""},
		{"empty site", []string{"nats-provision", "--nats", "nats://127.0.0.1:1", "--sites", "a,,b"}, 2, "empty site name"},
		{"site not a token", []string{"nats-provision", "--nats", "nats://127.0.0.1:1", "--sites", "plant.a"}, 2, `site "plant.a" is not a subject token`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errs := run(t, "", tc.args...)
			if code != tc.code || !strings.Contains(errs, tc.want) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", code, errs, tc.code, tc.want)
			}
			if strings.Contains(errs, "secret-pw") {
				t.Fatalf("password in the error output: %s", errs)
			}
		})
	}
}

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"nats://nats:4222", "nats://nats:4222"},
		{"nats://u:p@a:4222,nats://u:p@b:4222", "nats://u:xxxxx@a:4222,nats://u:xxxxx@b:4222"},
		{"tls://u:p@a:4222", "tls://u:xxxxx@a:4222"},
	}
	for _, tc := range tests {
		if got := redactURL(tc.in); got != tc.want {
			t.Errorf("redactURL(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestHealthcheck(t *testing.T) {
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) }))
	defer ok.Close()
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "nats: not connected", http.StatusServiceUnavailable)
	}))
	defer bad.Close()
	secure := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) }))
	defer secure.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: secure.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"healthy", []string{"healthcheck", ok.URL + "/healthz"}, 0, ""},
		{"unhealthy", []string{"healthcheck", bad.URL + "/healthz"}, 1, "503"},
		{"unreachable", []string{"healthcheck", "--timeout", "200ms", "http://127.0.0.1:1/healthz"}, 1, "healthcheck"},
		{"no url", []string{"healthcheck"}, 2, "usage"},
		{"https with the CA and name", []string{"healthcheck", "--ca", ca, "--server-name", "example.com", secure.URL + "/healthz"}, 0, ""},
		{"https with the wrong name", []string{"healthcheck", "--ca", ca, "--server-name", "console.example.org", secure.URL + "/healthz"}, 1, "certificate"},
		{"https without the CA", []string{"healthcheck", "--server-name", "example.com", secure.URL + "/healthz"}, 1, "certificate"},
		{"bad CA file", []string{"healthcheck", "--ca", filepath.Join(t.TempDir(), "none.pem"), secure.URL + "/healthz"}, 1, "--ca"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errs := run(t, "", tc.args...)
			if code != tc.code || !strings.Contains(errs, tc.want) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", code, errs, tc.code, tc.want)
			}
		})
	}
}
