package cli

import (
	"bufio"
	"net"
	"strings"
	"testing"

	"github.com/c981/c981/services/c981/loadgen"
)

// TestLoadgenCommand sends records to a TCP sink and checks the summary
// and that every sequence number arrived once, in order.
func TestLoadgenCommand(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan []string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- nil
			return
		}
		defer c.Close()
		var lines []string
		sc := bufio.NewScanner(c)
		for sc.Scan() {
			lines = append(lines, sc.Text())
		}
		got <- lines
	}()
	code, out, errOut := run(t, "", "loadgen", "--addr", ln.Addr().String(), "--proto", "tcp", "--format", "mix", "--count", "500", "--rate", "0", "--run", "cli-test", "--quiet")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "loadgen run cli-test: sent 500 records (seq 1..500)") {
		t.Errorf("summary %q", out)
	}
	lines := <-got
	if len(lines) != 500 {
		t.Fatalf("%d lines received, want 500", len(lines))
	}
	for i, l := range lines {
		run, seq, ok := loadgen.Seq([]byte(l))
		if !ok || run != "cli-test" || seq != uint64(i+1) {
			t.Fatalf("line %d: run %q seq %d ok %v: %s", i, run, seq, ok, l)
		}
	}
}

func TestLoadgenUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
	}{
		{"no addr", []string{"loadgen", "--count", "1"}, 2},
		{"no count or duration", []string{"loadgen", "--addr", "127.0.0.1:1"}, 2},
		{"bad proto", []string{"loadgen", "--addr", "127.0.0.1:1", "--count", "1", "--proto", "sctp"}, 1},
		{"bad format", []string{"loadgen", "--addr", "127.0.0.1:1", "--count", "1", "--format", "xml"}, 1},
		{"http without token", []string{"loadgen", "--addr", "127.0.0.1:1", "--count", "1", "--proto", "http"}, 1},
		{"loadgen-ingest with arguments", []string{"loadgen-ingest", "extra"}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if code, _, errOut := run(t, "", tt.args...); code != tt.code {
				t.Errorf("exit %d, want %d: %s", code, tt.code, errOut)
			}
		})
	}
}
