package ingest

import (
	"net"
	"runtime"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestParseUDPDrops(t *testing.T) {
	data := []byte(`   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  127: 0100007F:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000   101        0 18002 2 0000000000000000 0
 1234: 0100007F:D431 00000000:0000 07 00000000:00034000 00:00000000 00000000  1000        0 424242 2 0000000000000000 317
`)
	tests := []struct {
		inode string
		want  uint64
		ok    bool
	}{
		{"424242", 317, true},
		{"18002", 0, true},
		{"4242", 0, false},
		{"inode", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.inode, func(t *testing.T) {
			got, ok := parseUDPDrops(data, tt.inode)
			if got != tt.want || ok != tt.ok {
				t.Errorf("= %d %v, want %d %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

// TestUDPKernelDrops overflows the receive buffer of a socket that nobody
// reads and checks that the kernel's drop counter of exactly that socket
// is read.
func TestUDPKernelDrops(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the kernel's UDP drop counter is read from /proc/net/udp on Linux only")
	}
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if err := pc.SetReadBuffer(4096); err != nil {
		t.Fatal(err)
	}
	d := newUDPDrops(pc)
	if d == nil {
		t.Fatal("drop counter not found for a UDP socket on Linux")
	}
	if n, err := d.read(); err != nil || n != 0 {
		t.Fatalf("fresh socket: %d drops, %v", n, err)
	}
	c, err := net.Dial("udp", pc.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	payload := make([]byte, 1000)
	for range 500 {
		_, _ = c.Write(payload)
	}
	n, err := d.read()
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 || n > 500 {
		t.Fatalf("%d kernel drops after 500 datagrams into a 4 KiB buffer", n)
	}
}

// TestKernelDropsMetric checks that a UDP listener exports its kernel drop
// counter.
func TestKernelDropsMetric(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("Linux only")
	}
	h := start(t, nil, testConfig())
	n, err := testutil.GatherAndCount(h.reg, "c981_ingest_udp_kernel_drops_total")
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("%d c981_ingest_udp_kernel_drops_total series, want 1 (the UDP listener)", n)
	}
}
