//go:build !linux

package zone

import "time"

// threadCPU is not available on this platform.
func threadCPU() (time.Duration, bool) { return 0, false }

// procCPU is not available on this platform.
func procCPU() (time.Duration, bool) { return 0, false }
