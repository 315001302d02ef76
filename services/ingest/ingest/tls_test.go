package ingest

import (
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/shared/bustest"
	"github.com/c981/c981/services/shared/event"
)

func tlsConfig(f tlsFiles, require bool) Config {
	cfg := testConfig()
	cfg.Listeners = append(cfg.Listeners, ListenerConfig{
		Name: "syslog-tls", Proto: ProtoTLS, Addr: "127.0.0.1:0", Site: "demo-plant",
		TLS: &TLSConfig{
			CertFile: f.cert, KeyFile: f.key, ClientCAFile: f.clientCA, RequireClientCert: require,
			ReloadInterval: 20 * time.Millisecond,
			Identities: []IdentityMapping{
				{Identity: "fw-cell-01", Site: "plant-north", Source: "fw-cell-01"},
				{Identity: "sensor.plant.example", Source: "sensor-a"},
			},
		},
	})
	return cfg
}

// TestTLSMutualIdentity checks that the verified client identity is on
// every event and routes mapped identities to their site and source.
func TestTLSMutualIdentity(t *testing.T) {
	serverCA, clientCA := newTestCA(t, "server-ca"), newTestCA(t, "client-ca")
	h := start(t, nil, tlsConfig(writeTLSFiles(t, serverCA, clientCA, 1), false))
	addr := h.addr("syslog-tls")

	tests := []struct {
		name        string
		cert        func() (cn string, dns []string)
		wantID      string
		wantSubject string
		wantSite    string
	}{
		{"mapped CN", func() (string, []string) { return "fw-cell-01", nil }, "fw-cell-01", bus.RawSubject("plant-north", "fw-cell-01"), "plant-north"},
		{"mapped SAN without CN", func() (string, []string) { return "", []string{"sensor.plant.example"} }, "sensor.plant.example", bus.RawSubject("demo-plant", "sensor-a"), "demo-plant"},
		{"unmapped CN", func() (string, []string) { return "hmi-02", nil }, "hmi-02", bus.RawSubject("demo-plant", "syslog-tls"), "demo-plant"},
		{"no client certificate", nil, "", bus.RawSubject("demo-plant", "syslog-tls"), "demo-plant"},
	}
	for i, tt := range tests {
		var c = dialTLS(t, addr, serverCA, nil)
		if tt.cert != nil {
			c.Close()
			cn, dns := tt.cert()
			cert := clientCA.clientCert(t, cn, dns...)
			c = dialTLS(t, addr, serverCA, &cert)
		}
		// Octet counting, the framing of RFC 5425.
		line := fmt.Sprintf("<134>Nov 26 10:00:01 host app: case=%d", i)
		if _, err := fmt.Fprintf(c, "%d %s", len(line), line); err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	msgs := collect[event.Event](t, h.env.JS, bus.StreamRaw, len(tests))
	got := map[string]received[event.Event]{}
	for _, m := range msgs {
		for _, ev := range m.recs {
			got[ev.Fields["case"]] = received[event.Event]{subject: m.subject, recs: []event.Event{ev}}
		}
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, ok := got[fmt.Sprint(i)]
			if !ok {
				t.Fatal("event missing")
			}
			ev := m.recs[0]
			if ev.PeerIdentity != tt.wantID || m.subject != tt.wantSubject || ev.Site != tt.wantSite || ev.Transport != ProtoTLS {
				t.Errorf("identity %q subject %q site %q transport %q, want %q %q %q tls", ev.PeerIdentity, m.subject, ev.Site, ev.Transport, tt.wantID, tt.wantSubject, tt.wantSite)
			}
		})
	}
}

// TestTLSCertificateReload rotates the server certificate on disk and
// checks that new connections get the new one without a restart, while a
// connection opened before keeps working.
func TestTLSCertificateReload(t *testing.T) {
	serverCA, clientCA := newTestCA(t, "server-ca"), newTestCA(t, "client-ca")
	files := writeTLSFiles(t, serverCA, clientCA, 1)
	h := start(t, nil, tlsConfig(files, true))
	addr := h.addr("syslog-tls")
	cert := clientCA.clientCert(t, "fw-cell-01")

	old := dialTLS(t, addr, serverCA, &cert)
	defer old.Close()
	if s := old.ConnectionState().PeerCertificates[0].SerialNumber.Int64(); s != 1 {
		t.Fatalf("serial %d, want 1", s)
	}
	files.rotate(t, serverCA, 2)
	deadline := time.Now().Add(10 * time.Second)
	for {
		c := dialTLS(t, addr, serverCA, &cert)
		serial := c.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
		c.Close()
		if serial == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still serving serial %d after the rotation", serial)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := testutil.ToFloat64(h.svc.m.certReloads.WithLabelValues("syslog-tls", "ok")); got < 1 {
		t.Errorf("reloads ok = %v", got)
	}
	if _, err := io.WriteString(old, "<134>Nov 26 10:00:01 host app: after rotation\n"); err != nil {
		t.Fatal(err)
	}
	old.Close()
	msgs := collect[event.Event](t, h.env.JS, bus.StreamRaw, 1)
	if ev := msgs[0].recs[0]; ev.Message != "after rotation" || ev.PeerIdentity != "fw-cell-01" {
		t.Errorf("event %q from %q", ev.Message, ev.PeerIdentity)
	}
}

func TestTLSBadFilesFailNew(t *testing.T) {
	serverCA, clientCA := newTestCA(t, "server-ca"), newTestCA(t, "client-ca")
	files := writeTLSFiles(t, serverCA, clientCA, 1)
	files.key = files.clientCA // not a key
	env := bustest.Start(t)
	if _, err := New(tlsConfig(files, false), Deps{JS: env.JS}); err == nil {
		t.Fatal("New accepted a TLS listener with an unusable key file")
	}
}
