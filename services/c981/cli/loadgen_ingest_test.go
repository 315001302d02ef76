package cli

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestLoadgenTwoProcessMeasurement runs both sides of the load
// measurement as the script does (here in one test process): c981
// loadgen-ingest, then c981 loadgen over TCP and over HTTP with
// --verify-raw, which must find every sequence number exactly once; at
// the end loadgen-ingest reports every event published.
func TestLoadgenTwoProcessMeasurement(t *testing.T) {
	const token = "cli-load-token-0123456789"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- Main(ctx, []string{"loadgen-ingest", "--tcp", "127.0.0.1:0", "--http", "127.0.0.1:0", "--token", token, "--store-dir", t.TempDir()}, strings.NewReader(""), &out, &errOut)
	}()
	addrs := map[string]string{}
	deadline := time.Now().Add(30 * time.Second)
	for addrs["nats"] == "" {
		if time.Now().After(deadline) {
			t.Fatalf("loadgen-ingest did not start: %s %s", out.String(), errOut.String())
		}
		select {
		case code := <-done:
			t.Fatalf("loadgen-ingest exited %d: %s", code, errOut.String())
		case <-time.After(20 * time.Millisecond):
		}
		for _, line := range strings.Split(out.String(), "\n") {
			f := strings.Fields(line)
			switch {
			case len(f) == 3 && f[0] == "listening":
				addrs[f[1]] = f[2]
			case len(f) == 2 && f[0] == "nats":
				addrs["nats"] = f[1]
			}
		}
	}
	tests := []struct {
		name string
		args []string
	}{
		{"tcp", []string{"--addr", addrs["syslog-tcp"], "--proto", "tcp", "--run", "cli-tcp"}},
		{"http", []string{"--addr", addrs["sensor-http"], "--proto", "http", "--token", token, "--batch", "700", "--run", "cli-http"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"loadgen", "--count", "5000", "--quiet", "--verify-raw", addrs["nats"], "--verify-quiet", "5s"}, tt.args...)
			code, got, stderr := run(t, "", args...)
			if code != 0 {
				t.Fatalf("exit %d: %s\n%s", code, got, stderr)
			}
			for _, want := range []string{
				"sent 5000 records (seq 1..5000)",
				"5000 events, 0 missing, 0 duplicated, 0 outside the range",
				"all 5000 records stored in C981_RAW",
			} {
				if !strings.Contains(got, want) {
					t.Errorf("output lacks %q:\n%s", want, got)
				}
			}
		})
	}
	// Sending a sequence number again is reported as a duplicate, and fails.
	code, got, _ := run(t, "", "loadgen", "--addr", addrs["syslog-tcp"], "--count", "1", "--run", "cli-tcp", "--first-seq", "5000", "--quiet", "--verify-raw", addrs["nats"], "--verify-quiet", "2s")
	if code == 0 || !strings.Contains(got, "1 duplicated") {
		t.Errorf("a re-sent sequence number: exit %d, output:\n%s", code, got)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("loadgen-ingest exit %d: %s", code, errOut.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("loadgen-ingest did not stop")
	}
	if !regexp.MustCompile(`loadgen-ingest: 10001 events published; process CPU [0-9.]+ s`).MatchString(out.String()) {
		t.Errorf("summary missing:\n%s", out.String())
	}
}
