package pipeline

import (
	"context"
	"io"
	"net/http"
	"runtime/pprof"
	"strings"
	"testing"
	"time"
)

func TestListenPprofLoopbackOnly(t *testing.T) {
	for _, tc := range []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:0", true},
		{"localhost:0", true},
		{"[::1]:0", true},
		{"0.0.0.0:0", false},
		{":0", false},
		{"10.1.2.3:0", false},
		{"example.com:0", false},
		{"127.0.0.1", false},
	} {
		t.Run(tc.addr, func(t *testing.T) {
			s, err := ListenPprof(tc.addr)
			if s != nil {
				defer s.ln.Close()
			}
			if (err == nil) != tc.ok {
				if err != nil && strings.Contains(err.Error(), "address family not supported") {
					t.Skip("no IPv6 on this host")
				}
				t.Fatalf("ListenPprof(%q) = %v; want ok %v", tc.addr, err, tc.ok)
			}
		})
	}
}

func TestPprofServes(t *testing.T) {
	s, err := ListenPprof("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, nil) }()
	for _, path := range []string{"/debug/pprof/", "/debug/pprof/goroutine?debug=1", "/debug/pprof/profile?seconds=1"} {
		t.Run(path, func(t *testing.T) {
			c := &http.Client{Timeout: 10 * time.Second}
			resp, err := c.Get("http://" + s.Addr().String() + path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusOK || len(body) == 0 {
				t.Fatalf("GET %s = %s, %d bytes", path, resp.Status, len(body))
			}
		})
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v after cancel; want nil", err)
	}
}

// TestWithStageLabels: a stage's goroutine and the goroutines it starts
// carry its label; the caller's does not.
func TestWithStageLabels(t *testing.T) {
	ctx := context.Background()
	var direct, child string
	err := withStage(ctx, "store", func(ctx context.Context) error {
		direct, _ = pprof.Label(ctx, StageLabel)
		got := make(chan string)
		go func() {
			// A goroutine inherits its creator's labels: read them from
			// a fresh profile of this goroutine.
			var b strings.Builder
			_ = pprof.Lookup("goroutine").WriteTo(&b, 1)
			got <- b.String()
		}()
		child = <-got
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if direct != "store" {
		t.Errorf("label in the stage = %q; want store", direct)
	}
	if !strings.Contains(child, `labels: {"stage":"store"}`) {
		t.Errorf("goroutine profile taken by a child goroutine has no stage=store label:\n%.2000s", child)
	}
	if _, ok := pprof.Label(ctx, StageLabel); ok {
		t.Error("the caller's context carries the stage label")
	}
}
