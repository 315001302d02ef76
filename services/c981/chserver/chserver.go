// Package chserver starts a private ClickHouse server as a child process for
// the all-in-one `c981 run`: its own data directory and loopback-only ports,
// using the clickhouse-server binary installed on the machine (Debian's
// clickhouse-server package or an official build).
package chserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// ErrNotInstalled is returned when no ClickHouse server binary is found.
var ErrNotInstalled = errors.New("clickhouse-server is not installed: install it with " +
	"`sudo apt-get update && sudo apt-get install -y clickhouse-server clickhouse-client` " +
	"(Debian/Ubuntu), or point C-981 at a running server with CLICKHOUSE_ADDR=host:port")

// Config configures the child server.
type Config struct {
	// Dir holds data, tmp files and logs.
	Dir string
	// TCPPort is the native protocol port; 0 picks a free one.
	TCPPort int
	// ConfigFile is the base server config; default /etc/clickhouse-server/config.xml.
	ConfigFile string
	// Binary overrides the server binary lookup.
	Binary string
}

// Server is a running child ClickHouse server.
type Server struct {
	cmd  *exec.Cmd
	addr string
	done chan error
	dir  string
}

// Find returns the command line that starts a ClickHouse server, or
// ErrNotInstalled.
func Find(override string) ([]string, error) {
	if override != "" {
		return []string{override}, nil
	}
	if p, err := exec.LookPath("clickhouse-server"); err == nil {
		return []string{p}, nil
	}
	if p, err := exec.LookPath("clickhouse"); err == nil {
		return []string{p, "server"}, nil
	}
	return nil, ErrNotInstalled
}

// Start launches the server and waits until it answers a ping.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	argv, err := Find(cfg.Binary)
	if err != nil {
		return nil, err
	}
	if cfg.ConfigFile == "" {
		cfg.ConfigFile = "/etc/clickhouse-server/config.xml"
	}
	if _, err := os.Stat(cfg.ConfigFile); err != nil {
		return nil, fmt.Errorf("clickhouse base config: %w (%w)", err, ErrNotInstalled)
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("clickhouse dir: %w", err)
	}
	for _, d := range []string{"data", "tmp", "user_files", "format_schemas"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o750); err != nil {
			return nil, fmt.Errorf("clickhouse dir: %w", err)
		}
	}
	// Free ports are picked, released and then bound by the server, so
	// another process can take one in between (tests start servers and
	// listeners in parallel): a server that exits during start-up on
	// picked ports is started again on new ones, up to startAttempts times.
	var lastErr error
	for attempt := 1; attempt <= startAttempts; attempt++ {
		s, err := start(ctx, argv, cfg, dir)
		if err == nil {
			return s, nil
		}
		lastErr = err
		if cfg.TCPPort != 0 || !errors.Is(err, errExitedEarly) || ctx.Err() != nil {
			break
		}
	}
	return nil, lastErr
}

// startAttempts bounds the starts on freshly picked ports (see Start).
const startAttempts = 3

// errExitedEarly marks a server that exited before it answered a ping.
var errExitedEarly = errors.New("clickhouse-server exited during start-up")

// start launches one server process on cfg's port (or free ones) and waits
// until it answers a ping.
func start(ctx context.Context, argv []string, cfg Config, dir string) (*Server, error) {
	ports := [3]int{cfg.TCPPort}
	var err error
	for i := range ports {
		if ports[i] == 0 {
			if ports[i], err = freePort(); err != nil {
				return nil, err
			}
		}
	}
	args := append(slices.Clone(argv[1:]),
		"--config-file="+cfg.ConfigFile, "--",
		"--tcp_port="+strconv.Itoa(ports[0]),
		"--http_port="+strconv.Itoa(ports[1]),
		"--interserver_http_port="+strconv.Itoa(ports[2]),
		"--listen_host=127.0.0.1",
		"--path="+filepath.Join(dir, "data")+"/",
		"--tmp_path="+filepath.Join(dir, "tmp")+"/",
		"--user_files_path="+filepath.Join(dir, "user_files")+"/",
		"--format_schema_path="+filepath.Join(dir, "format_schemas")+"/",
		"--logger.log="+filepath.Join(dir, "server.log"),
		"--logger.errorlog="+filepath.Join(dir, "server.err.log"),
	)
	out, err := os.OpenFile(filepath.Join(dir, "stdout.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return nil, fmt.Errorf("clickhouse log: %w", err)
	}
	cmd := exec.Command(argv[0], args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		out.Close()
		return nil, fmt.Errorf("start %s: %w", argv[0], err)
	}
	s := &Server{cmd: cmd, addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0])), done: make(chan error, 1), dir: dir}
	go func() { s.done <- cmd.Wait(); out.Close() }()
	if err := s.waitReady(ctx, 60*time.Second); err != nil {
		_ = s.Stop()
		return nil, err
	}
	return s, nil
}

// Addr is the native protocol address (host:port).
func (s *Server) Addr() string { return s.addr }

func (s *Server) waitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		select {
		case err := <-s.done:
			s.done <- err
			return fmt.Errorf("%w (%v): %s", errExitedEarly, err, errLogTail(filepath.Join(s.dir, "server.err.log")))
		default:
		}
		conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{s.addr}, DialTimeout: time.Second})
		if err == nil {
			pctx, cancel := context.WithTimeout(ctx, time.Second)
			err = conn.Ping(pctx)
			cancel()
			conn.Close()
			if err == nil {
				return nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("clickhouse-server at %s not ready after %s: %v; see %s", s.addr, timeout, err, filepath.Join(s.dir, "server.err.log"))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Stop terminates the server gracefully (SIGTERM, then SIGKILL after 20 s).
func (s *Server) Stop() error {
	if s.cmd.Process == nil {
		return nil
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-s.done:
		return nil
	case <-time.After(20 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
		return fmt.Errorf("clickhouse-server did not stop in 20s; killed")
	}
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// errLogTail returns the last lines of the server's error log (or where
// it is, when it cannot be read), so that a failed start says why.
func errLogTail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil || len(b) == 0 {
		return "see " + path
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	keep := lines[max(0, len(lines)-5):]
	for i, l := range keep {
		if len(l) > 300 {
			keep[i] = l[:300] + "..."
		}
	}
	return path + ": " + strings.Join(keep, " | ")
}
