package pipeline

import (
	"fmt"
	"log/slog"
	"math"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// DefaultMemoryLimit is the Go soft memory limit of a c981 process when the
// config sets no memory_limit and GOMEMLIMIT is unset: 2 GiB. The embedded
// nats-server shares the Go heap, and its file-store block caches hold
// about the last 10 s of what is written to the streams (~330 MiB at
// 30,000 events/s, ~650 MiB at 60,000); with the pipeline's own working
// set (pull and batch budgets) that left so little headroom under the
// previous 1 GiB that the collector ran continuously at high rates: flat
// out, 47k events/s at 37 µs of CPU per event with 1 GiB against 60k at
// 25 µs with 2 GiB (docs/BENCHMARKS.md, session 5). The limit keeps the
// resident set near it under a backlog instead of at twice the live heap
// (GOGC=100), see testdata/backlog-rss.sh.
const DefaultMemoryLimit int64 = 2 << 30

// minMemoryLimit rejects limits so small that the collector would run
// continuously (the streams' 8 MiB messages alone need several MiB each).
const minMemoryLimit int64 = 64 << 20

// ParseByteSize parses a size such as "1GiB", "512MiB", "1500M", "2g" or a
// plain number of bytes. K/M/G/T and the KiB/MiB/GiB/TiB forms are binary
// (1024-based), as in GOMEMLIMIT; "B" alone is allowed.
func ParseByteSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, fmt.Errorf("byte size: empty")
	}
	i := len(t)
	for i > 0 && (t[i-1] < '0' || t[i-1] > '9') {
		i--
	}
	num, unit := t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("byte size %q: want a non-negative number with an optional unit (KiB, MiB, GiB, TiB)", s)
	}
	shift, ok := byteUnits[unit]
	if !ok {
		return 0, fmt.Errorf("byte size %q: unknown unit %q (want B, KiB, MiB, GiB or TiB)", s, t[i:])
	}
	if n > math.MaxInt64>>shift {
		return 0, fmt.Errorf("byte size %q: too large", s)
	}
	return n << shift, nil
}

// byteUnits maps the lower-case unit suffixes ParseByteSize accepts to
// their power of two.
var byteUnits = map[string]uint{
	"": 0, "b": 0,
	"k": 10, "kb": 10, "kib": 10,
	"m": 20, "mb": 20, "mib": 20,
	"g": 30, "gb": 30, "gib": 30,
	"t": 40, "tb": 40, "tib": 40,
}

// memoryLimit returns the limit the config asks for: the parsed
// memory_limit, DefaultMemoryLimit when it is empty, or -1 for "off" (no
// limit: the Go default, math.MaxInt64).
func (c Config) memoryLimit() (int64, error) {
	switch strings.ToLower(strings.TrimSpace(c.MemoryLimit)) {
	case "":
		return DefaultMemoryLimit, nil
	case "off", "none", "-1":
		return -1, nil
	}
	n, err := ParseByteSize(c.MemoryLimit)
	if err != nil {
		return 0, fmt.Errorf("memory_limit: %w", err)
	}
	if n < minMemoryLimit {
		return 0, fmt.Errorf("memory_limit: %s is below the minimum of %d MiB", c.MemoryLimit, minMemoryLimit>>20)
	}
	return n, nil
}

// ApplyMemoryLimit sets the Go runtime's soft memory limit
// (runtime/debug.SetMemoryLimit) from the config's memory_limit, unless the
// GOMEMLIMIT environment variable is set: the environment wins, so an
// operator (or a container runtime) can always override the file. It logs
// the limit in force and returns it (math.MaxInt64: none).
func ApplyMemoryLimit(cfg Config, log *slog.Logger) (int64, error) {
	if log == nil {
		log = slog.Default()
	}
	if env := os.Getenv("GOMEMLIMIT"); env != "" {
		cur := debug.SetMemoryLimit(-1) // a negative input only reads it
		log.Info("memory limit from GOMEMLIMIT (overrides memory_limit)", "GOMEMLIMIT", env, "bytes", cur)
		return cur, nil
	}
	n, err := cfg.memoryLimit()
	if err != nil {
		return 0, err
	}
	if n < 0 {
		debug.SetMemoryLimit(math.MaxInt64)
		log.Info("no Go memory limit (memory_limit: off)")
		return math.MaxInt64, nil
	}
	debug.SetMemoryLimit(n)
	log.Info("Go memory limit set", "memory_limit", cfg.MemoryLimit, "bytes", n)
	return n, nil
}
