package ingest

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/shared/event"
)

const testToken = "sensor-token-0123456789"

// transportConfig has one listener of every kind: tcp, udp, tls (mutual
// TLS required) and http.
func transportConfig(t *testing.T, serverCA, clientCA *testCA) Config {
	cfg := tlsConfig(writeTLSFiles(t, serverCA, clientCA, 1), true)
	cfg.FrameTimeout = 300 * time.Millisecond
	cfg.IdleTimeout = 30 * time.Second
	cfg.Listeners = append(cfg.Listeners, ListenerConfig{
		Name: "sensor-http", Proto: ProtoHTTP, Addr: "127.0.0.1:0", Site: "demo-plant",
		HTTP: &HTTPConfig{Tokens: []string{testToken}, MaxBodyBytes: 4096},
	})
	return cfg
}

// octet frames records with RFC 6587 octet counting.
func octet(recs ...string) string {
	var b strings.Builder
	for _, r := range recs {
		fmt.Fprintf(&b, "%d %s", len(r), r)
	}
	return b.String()
}

// transportClient sends test input to the harness's listeners.
type transportClient struct {
	t        *testing.T
	h        *harness
	serverCA *testCA
	cert     tls.Certificate
}

// tcp writes data on a new connection, optionally pauses (slowloris) and
// waits until the server closes or half a second passed.
func (c transportClient) stream(proto, data string, pause time.Duration, more string) {
	c.t.Helper()
	var conn net.Conn
	if proto == ProtoTLS {
		conn = dialTLS(c.t, c.h.addr("syslog-tls"), c.serverCA, &c.cert)
	} else {
		var err error
		if conn, err = net.Dial("tcp", c.h.addr("syslog-"+proto)); err != nil {
			c.t.Fatal(err)
		}
	}
	defer conn.Close()
	_, _ = io.WriteString(conn, data)
	if pause > 0 {
		time.Sleep(pause)
		_, _ = io.WriteString(conn, more)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
	_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, _ = io.Copy(io.Discard, conn)
}

func (c transportClient) raw(addr, data string, hold time.Duration) {
	c.t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		c.t.Fatal(err)
	}
	defer conn.Close()
	_, _ = io.WriteString(conn, data)
	_ = conn.SetReadDeadline(time.Now().Add(hold))
	_, _ = io.Copy(io.Discard, conn)
}

func (c transportClient) handshake(addr string, cfg *tls.Config) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		c.t.Fatal(err)
	}
	defer conn.Close()
	tc := tls.Client(conn, cfg)
	_ = tc.SetDeadline(time.Now().Add(2 * time.Second))
	if err := tc.Handshake(); err == nil {
		_, _ = io.Copy(io.Discard, tc) // TLS 1.3: the server rejects the client after the handshake
	}
}

func (c transportClient) post(body string) *http.Response {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+c.h.addr("sensor-http")+EventsPath, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func (c transportClient) udp(d string) { sendUDP(c.t, c.h.addr("syslog-udp"), d) }

// TestTransportBadInputs sends bad transport-level input to every kind of
// listener. Each must be counted with its reason and dead-lettered, and
// must not affect the records of two neighbour connections (TCP and TLS)
// that stay open and send a good record after every case.
func TestTransportBadInputs(t *testing.T) {
	serverCA, clientCA := newTestCA(t, "server-ca"), newTestCA(t, "client-ca")
	h := start(t, nil, transportConfig(t, serverCA, clientCA))
	c := transportClient{t: t, h: h, serverCA: serverCA, cert: clientCA.clientCert(t, "fw-cell-01")}
	good := "<134>Nov 26 10:00:01 fw-cell-01 fw: action=allow src=10.20.2.11 dst=10.20.1.11 dport=502"
	long := "<134>Nov 26 10:00:01 host app: " + strings.Repeat("x", 600)
	clientHello := func() {
		c.handshake(h.addr("syslog-tcp"), &tls.Config{ServerName: "127.0.0.1", InsecureSkipVerify: true})
	}
	trusted := x509.NewCertPool()
	trusted.AddCert(serverCA.cert)
	rogue := newTestCA(t, "rogue-ca").clientCert(t, "fw-cell-01")

	tests := []struct {
		name     string
		listener string
		reason   string
		good     int // good events the case sends besides the bad input
		send     func()
	}{
		// Newline framing over TCP.
		{"bad PRI", "syslog-tcp", "bad_pri", 1, func() { c.stream(ProtoTCP, "<999>bad priority\n"+good+"\n", 0, "") }},
		{"NUL byte", "syslog-tcp", "nul_byte", 1, func() { c.stream(ProtoTCP, "<134>Nov 26 10:00:01 h a: x\x00y\n"+good+"\n", 0, "") }},
		{"nothing after PRI", "syslog-tcp", "truncated_header", 0, func() { c.stream(ProtoTCP, "<13>\n", 0, "") }},
		{"over-long line, rest of the connection fine", "syslog-tcp", "too_long", 1, func() { c.stream(ProtoTCP, long+"\n"+good+"\n", 0, "") }},
		{"over-long line without end", "syslog-tcp", "too_long", 0, func() { c.stream(ProtoTCP, long, 0, "") }},
		{"slowloris line", "syslog-tcp", "slow_client", 0, func() { c.stream(ProtoTCP, "<134>Nov 26", 600*time.Millisecond, " 10:00:01 h a: late\n") }},
		{"TLS ClientHello on the plain TCP port", "syslog-tcp", "tls_on_plain_port", 0, clientHello},
		// Octet counting over TCP.
		{"octet count zero", "syslog-tcp", "bad_octet_count", 0, func() { c.stream(ProtoTCP, "0 "+good, 0, "") }},
		{"octet count leading zero", "syslog-tcp", "bad_octet_count", 0, func() { c.stream(ProtoTCP, "0"+octet(good), 0, "") }},
		{"octet count negative after a good frame", "syslog-tcp", "bad_octet_count", 1, func() { c.stream(ProtoTCP, octet(good)+"-5 <13>a", 0, "") }},
		{"octet count with letters", "syslog-tcp", "bad_octet_count", 0, func() { c.stream(ProtoTCP, "12ab "+good, 0, "") }},
		{"octet count of 1000 digits", "syslog-tcp", "bad_octet_count", 0, func() { c.stream(ProtoTCP, strings.Repeat("7", 1000)+" "+good, 0, "") }},
		{"octet count far beyond the maximum", "syslog-tcp", "bad_octet_count", 0, func() { c.stream(ProtoTCP, "999999999 "+good, 0, "") }},
		{"octet count with invalid UTF-8", "syslog-tcp", "bad_octet_count", 0, func() { c.stream(ProtoTCP, "1\xff\xfe "+good, 0, "") }},
		{"octet count without space", "syslog-tcp", "bad_octet_count", 0, func() { c.stream(ProtoTCP, "42<134>x", 0, "") }},
		{"octet frame too long is skipped, next frame fine", "syslog-tcp", "too_long", 1, func() { c.stream(ProtoTCP, octet(long, good), 0, "") }},
		{"octet frame truncated by EOF", "syslog-tcp", "truncated_frame", 0, func() { c.stream(ProtoTCP, "300 "+good, 0, "") }},
		{"octet frame with NUL", "syslog-tcp", "nul_byte", 1, func() { c.stream(ProtoTCP, octet("<13>a\x00b", good), 0, "") }},
		{"slowloris octet frame", "syslog-tcp", "slow_client", 0, func() { c.stream(ProtoTCP, "200 <134>Nov", 600*time.Millisecond, "") }},
		// TLS.
		{"plaintext on the TLS port", "syslog-tls", "plaintext_on_tls_port", 0, func() { c.raw(h.addr("syslog-tls"), good+"\n", 2*time.Second) }},
		{"TLS client without certificate", "syslog-tls", "tls_handshake_failed", 0, func() {
			c.handshake(h.addr("syslog-tls"), &tls.Config{ServerName: "127.0.0.1", RootCAs: trusted})
		}},
		{"TLS client certificate from an unknown CA", "syslog-tls", "tls_handshake_failed", 0, func() {
			c.handshake(h.addr("syslog-tls"), &tls.Config{ServerName: "127.0.0.1", RootCAs: trusted, Certificates: []tls.Certificate{rogue}})
		}},
		{"TLS handshake slowloris", "syslog-tls", "slow_client", 0, func() { c.raw(h.addr("syslog-tls"), "\x16\x03\x01\x00\xff\x01", 2*time.Second) }},
		{"bad octet count inside TLS", "syslog-tls", "bad_octet_count", 1, func() { c.stream(ProtoTLS, octet(good)+"0 x", 0, "") }},
		{"over-long line inside TLS", "syslog-tls", "too_long", 1, func() { c.stream(ProtoTLS, long+"\n"+good+"\n", 0, "") }},
		// UDP.
		{"UDP bad PRI", "syslog-udp", "bad_pri", 0, func() { c.udp("<1000>x") }},
		{"UDP NUL byte", "syslog-udp", "nul_byte", 0, func() { c.udp("<13>Nov 26 10:00:01 h a: x\x00y") }},
		{"UDP truncated RFC 5424 header", "syslog-udp", "truncated_header", 0, func() { c.udp("<13>1 2026-11-26T10:00:00Z") }},
		// HTTP.
		{"HTTP line that is not JSON", "sensor-http", "bad_json", 1, func() { c.post(`{"event_type":"alert","n":1}` + "\nnot json\n") }},
		{"HTTP JSON array", "sensor-http", "bad_json", 0, func() { c.post(`[1,2]`) }},
		{"HTTP invalid UTF-8", "sensor-http", "invalid_utf8", 0, func() { c.post("{\"msg\":\"\xff\xfe\"}") }},
	}

	// Neighbours: one plain and one TLS connection that stay open.
	tcpN, err := net.Dial("tcp", h.addr("syslog-tcp"))
	if err != nil {
		t.Fatal(err)
	}
	defer tcpN.Close()
	tlsN := dialTLS(t, h.addr("syslog-tls"), serverCA, &c.cert)
	defer tlsN.Close()
	neighbours := 0
	sendNeighbours := func(i int) {
		for _, n := range []net.Conn{tcpN, tlsN} {
			if _, err := fmt.Fprintf(n, "<134>Nov 26 10:00:01 neighbour app: case=%d\n", i); err != nil {
				t.Fatalf("neighbour after case %d: %v", i, err)
			}
			neighbours++
		}
	}

	wantGood, wantDL := 0, map[string]int{}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := h.svc.m.malformed.WithLabelValues(tt.listener, tt.reason)
			before := testutil.ToFloat64(m)
			tt.send()
			deadline := time.Now().Add(10 * time.Second)
			for testutil.ToFloat64(m) < before+1 {
				if time.Now().After(deadline) {
					t.Fatalf("c981_ingest_malformed_total{listener=%q,reason=%q} did not grow", tt.listener, tt.reason)
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
		wantGood += tt.good
		wantDL[tt.reason]++
		sendNeighbours(i)
	}
	if len(tests) < 25 {
		t.Fatalf("only %d bad inputs", len(tests))
	}

	evs := collect[event.Event](t, h.env.JS, bus.StreamRaw, wantGood+neighbours)
	seen := map[string]int{}
	for _, m := range evs {
		for _, ev := range m.recs {
			if ev.Host == "neighbour" {
				seen[ev.Transport+" "+ev.Fields["case"]]++
			}
		}
	}
	for i := range tests {
		for _, tr := range []string{"tcp", "tls"} {
			if n := seen[fmt.Sprintf("%s %d", tr, i)]; n != 1 {
				t.Errorf("neighbour %s record after case %d arrived %d times", tr, i, n)
			}
		}
	}
	dls := collect[event.DeadLetter](t, h.env.JS, bus.StreamDLQ, len(tests))
	gotDL := map[string]int{}
	for _, m := range dls {
		for _, dl := range m.recs {
			reason, _, _ := strings.Cut(dl.Reason, ":")
			gotDL[reason]++
			if dl.Stage != bus.StageIngest || dl.Position == "" || dl.ID == "" {
				t.Errorf("dead letter %+v lacks stage, position or id", dl)
			}
		}
	}
	for r, n := range wantDL {
		if gotDL[r] != n {
			t.Errorf("%d dead letters with reason %s, want %d (all: %v)", gotDL[r], r, n, gotDL)
		}
	}
}

// TestHTTPEvents covers the sensor HTTP input: auth, methods, size limits,
// a single document and NDJSON (429 when the queue is full: see
// TestBackpressureWhenJetStreamRefuses).
func TestHTTPEvents(t *testing.T) {
	cfg := testConfig()
	cfg.QueueSize = 4
	cfg.Listeners = append(cfg.Listeners, ListenerConfig{
		Name: "sensor-http", Proto: ProtoHTTP, Addr: "127.0.0.1:0", Site: "demo-plant",
		HTTP: &HTTPConfig{Tokens: []string{testToken, "second-token-abcdefgh"}, MaxBodyBytes: 256},
	})
	h := start(t, nil, cfg)
	url := "http://" + h.addr("sensor-http") + EventsPath
	doc := `{"timestamp":"2026-11-26T10:00:00Z","event_type":"alert","src_ip":"10.20.2.11"}`
	tests := []struct {
		name, method, token, body string
		wantCode                  int
		wantHeader                string
	}{
		{"no token", http.MethodPost, "", doc, http.StatusUnauthorized, "WWW-Authenticate"},
		{"wrong token", http.MethodPost, "wrong-token-0123456789", doc, http.StatusUnauthorized, ""},
		{"GET", http.MethodGet, testToken, "", http.StatusMethodNotAllowed, "Allow"},
		{"body too large", http.MethodPost, testToken, strings.Repeat(doc+"\n", 4), http.StatusRequestEntityTooLarge, ""},
		{"empty body", http.MethodPost, testToken, "  \n", http.StatusBadRequest, ""},
		{"more documents than the queue can ever hold", http.MethodPost, testToken, "{}\n{}\n{}\n{}\n{}\n", http.StatusRequestEntityTooLarge, ""},
		{"one document spanning lines", http.MethodPost, "second-token-abcdefgh", "{\n \"a\": 1,\n \"b\": \"x\"\n}", http.StatusAccepted, ""},
		{"NDJSON", http.MethodPost, testToken, doc + "\n" + doc + "\n", http.StatusAccepted, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, url, bytes.NewBufferString(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.wantCode {
				t.Fatalf("status %d (%s), want %d", resp.StatusCode, body, tt.wantCode)
			}
			if tt.wantHeader != "" && resp.Header.Get(tt.wantHeader) == "" {
				t.Errorf("no %s header", tt.wantHeader)
			}
		})
	}
	// The documents go through the parser's JSON path: Suricata EVE is
	// recognised, anything else is generic JSON.
	msgs := collect[event.Event](t, h.env.JS, bus.StreamRaw, 3)
	formats := map[string]int{}
	for _, m := range msgs {
		for _, ev := range m.recs {
			formats[ev.Format]++
			if ev.Transport != ProtoHTTP || ev.Source != "sensor-http" || !strings.HasPrefix(ev.Raw, "{") {
				t.Errorf("event transport %q source %q raw %q", ev.Transport, ev.Source, ev.Raw)
			}
		}
	}
	if formats["eve"] != 2 || formats["json"] != 1 {
		t.Errorf("formats %v, want 2 eve and 1 json", formats)
	}
}
