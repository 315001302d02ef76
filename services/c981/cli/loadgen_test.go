package cli

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/c981/c981/services/c981/loadgen"
)

// sink accepts one TCP connection and returns its lines when it closes.
func sink(t *testing.T) (string, <-chan []string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
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
	return ln.Addr().String(), got
}

// TestLoadgenCommand sends records to a TCP sink and checks the summary
// and that every sequence number arrived once, in order.
func TestLoadgenCommand(t *testing.T) {
	addr, got := sink(t)
	code, out, errOut := run(t, "", "loadgen", "--addr", addr, "--proto", "tcp", "--format", "mix", "--count", "500", "--rate", "0", "--run", "cli-test", "--quiet")
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
		{"bad profile", []string{"loadgen", "--addr", "127.0.0.1:1", "--count", "1", "--profile", "office"}, 1},
		{"suspicious share over 1", []string{"loadgen", "--addr", "127.0.0.1:1", "--count", "1", "--suspicious", "2"}, 1},
		{"suspicious share with stress", []string{"loadgen", "--addr", "127.0.0.1:1", "--count", "1", "--profile", "stress", "--suspicious", "0.1"}, 2},
		{"suspicious share not a number", []string{"loadgen", "--addr", "127.0.0.1:1", "--count", "1", "--suspicious", "x"}, 2},
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

// TestLoadgenProfiles checks that --profile and --suspicious choose the
// records: stress sends loadgen.Line's, plant (the default) the plant
// generator's with the given share.
func TestLoadgenProfiles(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		profile    string
		suspicious float64
	}{
		{"default plant", nil, loadgen.ProfilePlant, loadgen.DefaultSuspicious},
		{"plant all suspicious", []string{"--suspicious", "1"}, loadgen.ProfilePlant, 1},
		{"stress", []string{"--profile", "stress"}, loadgen.ProfileStress, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr, got := sink(t)
			args := append([]string{"loadgen", "--addr", addr, "--format", "rfc3164", "--count", "200", "--run", "prof", "--quiet"}, tt.args...)
			code, out, errOut := run(t, "", args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			lines := <-got
			if len(lines) != 200 {
				t.Fatalf("%d lines received, want 200", len(lines))
			}
			g, err := loadgen.NewGenerator(tt.profile, tt.suspicious)
			if err != nil {
				t.Fatal(err)
			}
			for i, l := range lines {
				// The send time differs; the records agree up to it.
				seq := uint64(i + 1)
				want := string(g.Line(nil, "rfc3164", "prof", seq, time.Unix(0, 0)))
				if cut(l) != cut(want) {
					t.Fatalf("line %d:\n got %s\nwant %s", i, l, want)
				}
			}
			summary := "(profile stress;"
			if tt.profile == loadgen.ProfilePlant {
				var n int
				for seq := uint64(1); seq <= 200; seq++ {
					if g.IsSuspicious("prof", seq) {
						n++
					}
				}
				summary = fmt.Sprintf("(profile plant, %d suspicious;", n)
			}
			if !strings.Contains(out, summary) {
				t.Errorf("summary %q lacks %q", out, summary)
			}
		})
	}
}

// cut removes the time stamp and the sent field of an rfc3164 record.
func cut(line string) string {
	_, rest, _ := strings.Cut(line, ">")
	if len(rest) > len(time.Stamp) {
		rest = rest[len(time.Stamp):]
	}
	if i := strings.Index(rest, " sent="); i >= 0 {
		if j := strings.IndexByte(rest[i+1:], ' '); j >= 0 {
			rest = rest[:i] + rest[i+1+j:]
		}
	}
	return rest
}
