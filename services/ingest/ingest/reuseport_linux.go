//go:build linux

package ingest

import (
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// reusePortSupported reports whether SO_REUSEPORT can be set here.
const reusePortSupported = true

// setReusePort is a net.ListenConfig Control function that sets
// SO_REUSEPORT on the socket before it is bound, so that several sockets
// share one address and the kernel spreads datagrams over them by flow.
func setReusePort(_, _ string, c syscall.RawConn) error {
	var serr error
	if err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
	}); err != nil {
		return fmt.Errorf("set SO_REUSEPORT: %w", err)
	}
	if serr != nil {
		return fmt.Errorf("set SO_REUSEPORT: %w", serr)
	}
	return nil
}
