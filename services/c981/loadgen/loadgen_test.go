package loadgen

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// selfSigned returns a throw-away server certificate for 127.0.0.1 and
// a pool that trusts it (generated in the test; no key is committed).
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sink"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// readOctet reads RFC 6587 octet-counted frames until EOF.
func readOctet(t *testing.T, r *bufio.Reader) []string {
	var out []string
	for {
		n, err := r.ReadString(' ')
		if err != nil {
			return out
		}
		size, err := strconv.Atoi(strings.TrimSpace(n))
		if err != nil {
			t.Errorf("bad octet count %q", n)
			return out
		}
		buf := make([]byte, size)
		if _, err := io.ReadFull(r, buf); err != nil {
			t.Errorf("short frame: %v", err)
			return out
		}
		out = append(out, string(buf))
	}
}

// TestRunTransports sends with every transport and framing to a sink and
// checks that the sequence numbers arrive complete and in order.
func TestRunTransports(t *testing.T) {
	cert, pool := selfSigned(t)
	tests := []struct {
		name, proto, framing string
	}{
		{"tcp newline", ProtoTCP, FramingNewline},
		{"tcp octet", ProtoTCP, FramingOctet},
		{"tls default octet", ProtoTLS, ""},
		{"udp", ProtoUDP, ""},
	}
	const n = 300
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := make(chan []string, 1)
			var addr string
			if tt.proto == ProtoUDP {
				pc, err := net.ListenPacket("udp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				defer pc.Close()
				// A receive buffer as large as the system allows, so a
				// reader the loaded machine schedules late loses nothing.
				if uc, ok := pc.(*net.UDPConn); ok {
					_ = uc.SetReadBuffer(4 << 20)
				}
				addr = pc.LocalAddr().String()
				go func() {
					var out []string
					buf := make([]byte, 64<<10)
					for len(out) < n {
						_ = pc.SetReadDeadline(time.Now().Add(5 * time.Second))
						k, _, err := pc.ReadFrom(buf)
						if err != nil {
							break
						}
						out = append(out, string(buf[:k]))
					}
					got <- out
				}()
			} else {
				var ln net.Listener
				var err error
				if tt.proto == ProtoTLS {
					ln, err = tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
				} else {
					ln, err = net.Listen("tcp", "127.0.0.1:0")
				}
				if err != nil {
					t.Fatal(err)
				}
				defer ln.Close()
				addr = ln.Addr().String()
				go func() {
					c, err := ln.Accept()
					if err != nil {
						got <- nil
						return
					}
					defer c.Close()
					r := bufio.NewReader(c)
					if tt.framing == FramingNewline {
						var out []string
						for {
							line, err := r.ReadString('\n')
							if err != nil {
								break
							}
							out = append(out, strings.TrimSuffix(line, "\n"))
						}
						got <- out
						return
					}
					got <- readOctet(t, r)
				}()
			}
			// UDP is paced so that the loopback socket does not overflow.
			rate := 0
			if tt.proto == ProtoUDP {
				rate = 1000
			}
			res, err := Run(context.Background(), Config{
				Addr: addr, Proto: tt.proto, Format: FormatMix, Framing: tt.framing, Count: n, Rate: rate,
				RunID: "t1", FirstSeq: 1000, TLS: &tls.Config{RootCAs: pool}, Suspicious: 0.5,
			})
			if err != nil {
				t.Fatal(err)
			}
			if res.Sent != n || res.FirstSeq != 1000 || res.LastSeq != 1000+n-1 {
				t.Fatalf("result %v", res)
			}
			if want := suspiciousIn("t1", 0.5, 1000, 1000+n-1); res.Suspicious != want {
				t.Errorf("%d suspicious records counted, want %d", res.Suspicious, want)
			}
			recs := <-got
			if len(recs) != n {
				t.Fatalf("%d records received, want %d", len(recs), n)
			}
			for i, rec := range recs {
				if run, seq, ok := Seq([]byte(rec)); !ok || run != "t1" || seq != uint64(1000+i) {
					t.Fatalf("record %d: run %q seq %d: %s", i, run, seq, rec)
				}
			}
		})
	}
}

// TestRunRateAndDuration checks pacing: at 2000 records/s for 300 ms about
// 600 records are sent, and progress lines are written.
func TestRunRateAndDuration(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			_, _ = bufio.NewReader(c).WriteTo(discard{})
			c.Close()
		}
	}()
	var progress strings.Builder
	res, err := Run(context.Background(), Config{
		Addr: ln.Addr().String(), Proto: ProtoTCP, Format: FormatRFC3164, Rate: 2000, Duration: 300 * time.Millisecond,
		RunID: "paced", Progress: &progress, ProgressEvery: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent < 450 || res.Sent > 700 {
		t.Errorf("sent %d records in %s at 2000/s, want about 600", res.Sent, res.Elapsed)
	}
	if !strings.Contains(progress.String(), "loadgen paced: ") {
		t.Errorf("no progress line: %q", progress.String())
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// suspiciousIn counts the suspicious plant records of run from seq first
// to last at the given share.
func suspiciousIn(run string, share float64, first, last uint64) uint64 {
	g, err := NewGenerator(ProfilePlant, share)
	if err != nil {
		panic(err)
	}
	var n uint64
	for seq := first; seq <= last; seq++ {
		if g.IsSuspicious(run, seq) {
			n++
		}
	}
	return n
}
