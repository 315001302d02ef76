// Package demo replays a syslog scenario file into a running C-981 through
// its real TCP syslog listener, as a sensor or firewall would send it.
package demo

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"time"
)

// Replay sends every non-empty line of file to the TCP syslog listener at
// addr (newline framing) and returns the number of lines sent.
func Replay(ctx context.Context, addr, file string) (int, error) {
	f, err := os.Open(file)
	if err != nil {
		return 0, fmt.Errorf("replay: %w", err)
	}
	defer f.Close()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return 0, fmt.Errorf("replay to %s: %w", addr, err)
	}
	defer conn.Close()
	w := bufio.NewWriter(conn)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	n := 0
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if line == "" {
			continue
		}
		if _, err := w.WriteString(line + "\n"); err != nil {
			return n, fmt.Errorf("replay to %s: %w", addr, err)
		}
		n++
	}
	if err := sc.Err(); err != nil {
		return n, fmt.Errorf("replay %s: %w", file, err)
	}
	if err := w.Flush(); err != nil {
		return n, fmt.Errorf("replay to %s: %w", addr, err)
	}
	// Close the write side and give the listener a moment to read to EOF.
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
		_ = tc.SetReadDeadline(time.Now().Add(2 * time.Second))
		_, _ = tc.Read(make([]byte, 1))
	}
	return n, nil
}
