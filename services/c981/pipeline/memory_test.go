package pipeline

import (
	"math"
	"runtime/debug"
	"strings"
	"testing"
)

func TestParseByteSize(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr bool
	}{
		{"1GiB", 1 << 30, false},
		{"1536MiB", 1536 << 20, false},
		{"1500M", 1500 << 20, false},
		{"2g", 2 << 30, false},
		{" 64 MiB ", 64 << 20, false},
		{"4096", 4096, false},
		{"4096B", 4096, false},
		{"1TB", 1 << 40, false},
		{"", 0, true},
		{"GiB", 0, true},
		{"1.5GiB", 0, true},
		{"-1GiB", 0, true},
		{"12 parsecs", 0, true},
		{"5ib", 0, true},
		{"99999999999TiB", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseByteSize(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("ParseByteSize(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

// TestApplyMemoryLimit checks the limit in force for each memory_limit
// and that GOMEMLIMIT wins over the config. The process's limit is
// restored afterwards.
func TestApplyMemoryLimit(t *testing.T) {
	prev := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(prev) })
	tests := []struct {
		name, limit, env string
		want             int64
		wantErr          bool
	}{
		{"default", "", "", DefaultMemoryLimit, false},
		{"configured", "1536MiB", "", 1536 << 20, false},
		{"off", "off", "", math.MaxInt64, false},
		{"too small", "16MiB", "", 0, true},
		{"bad", "lots", "", 0, true},
		{"GOMEMLIMIT wins", "1536MiB", "777MiB", 777 << 20, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("GOMEMLIMIT", tt.env)
			if tt.env != "" {
				// The runtime reads GOMEMLIMIT at start; a process
				// started with it has this limit in force.
				debug.SetMemoryLimit(tt.want)
			} else {
				debug.SetMemoryLimit(math.MaxInt64)
			}
			cfg := Default()
			cfg.MemoryLimit = tt.limit
			got, err := ApplyMemoryLimit(cfg, nil)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err %v, want error %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if got != tt.want || debug.SetMemoryLimit(-1) != tt.want {
				t.Errorf("limit %d (runtime %d), want %d", got, debug.SetMemoryLimit(-1), tt.want)
			}
		})
	}
}

// TestLoadBadMemoryLimit checks that a bad memory_limit is reported with
// its file and line when the config is loaded, before anything starts.
func TestLoadBadMemoryLimit(t *testing.T) {
	_, err := Load("testdata/bad-memory-limit.yaml")
	if err == nil || !strings.Contains(err.Error(), "testdata/bad-memory-limit.yaml:3:") || !strings.Contains(err.Error(), "memory_limit") {
		t.Fatalf("err = %v, want one naming testdata/bad-memory-limit.yaml:3 and memory_limit", err)
	}
}
