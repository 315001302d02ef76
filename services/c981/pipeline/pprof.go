package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime"
	rpprof "runtime/pprof"
	"time"
)

// StageLabel is the pprof label key that names the stage a goroutine works
// for ("ingest", "enrich", "correlate", "store", "respond", "console",
// "telemetry", "nats-server"). Every goroutine a stage starts inherits it,
// so a CPU profile of the all-in-one process splits by stage:
//
//	go tool pprof -tagfocus stage=store cpu.pprof
//	go tool pprof -tags cpu.pprof
const StageLabel = "stage"

// withStage runs f with the goroutine labelled stage=name (runtime/pprof
// labels: set once per stage goroutine, inherited by the goroutines it
// starts; nothing is added per event).
func withStage(ctx context.Context, name string, f func(context.Context) error) error {
	var err error
	rpprof.Do(ctx, rpprof.Labels(StageLabel, name), func(ctx context.Context) { err = f(ctx) })
	return err
}

// PprofServer serves the net/http/pprof endpoints (/debug/pprof/...) on a
// loopback address. It is off unless `c981 run --pprof ADDR` asks for it:
// profiles expose internals and cost CPU while they are taken.
type PprofServer struct {
	ln  net.Listener
	srv *http.Server
}

// ListenPprof binds addr, which must be a loopback address (127.0.0.0/8,
// ::1 or localhost; port 0 picks a free one).
func ListenPprof(addr string) (*PprofServer, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("pprof address %q: %w", addr, err)
	}
	if host != "localhost" {
		ip := net.ParseIP(host)
		if ip == nil || !ip.IsLoopback() {
			return nil, fmt.Errorf("pprof address %q: the profiling endpoint listens on loopback only (127.0.0.1, ::1 or localhost)", addr)
		}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("pprof: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return &PprofServer{ln: ln, srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}}, nil
}

// Addr is the bound address.
func (s *PprofServer) Addr() net.Addr { return s.ln.Addr() }

// Run serves until ctx ends. Block and mutex profiles are enabled while it
// runs (sampled: one blocking event per 10 µs blocked, one contention in
// 100) and disabled again when it returns.
func (s *PprofServer) Run(ctx context.Context, log *slog.Logger) error {
	runtime.SetBlockProfileRate(int(10 * time.Microsecond))
	prevMutex := runtime.SetMutexProfileFraction(100)
	defer func() {
		runtime.SetBlockProfileRate(0)
		runtime.SetMutexProfileFraction(prevMutex)
	}()
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(s.ln) }()
	if log != nil {
		log.Info("pprof endpoint listening", "addr", "http://"+s.ln.Addr().String()+"/debug/pprof/")
	}
	select {
	case err := <-errc:
		return fmt.Errorf("pprof: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("pprof shutdown: %w", err)
	}
	return nil
}
