//go:build !linux

package ingest

import (
	"errors"
	"syscall"
)

// reusePortSupported reports whether SO_REUSEPORT can be set here: this
// build supports it on Linux only (Config.Validate rejects udp_reuseport
// elsewhere).
const reusePortSupported = false

// setReusePort fails: see reusePortSupported.
func setReusePort(_, _ string, _ syscall.RawConn) error {
	return errors.New("udp_reuseport is supported on Linux only")
}
