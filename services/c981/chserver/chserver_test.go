package chserver

import (
	"context"
	"errors"
	"os/exec"
	"testing"
)

func TestFindOverride(t *testing.T) {
	argv, err := Find("/opt/ch/bin/clickhouse-server")
	if err != nil || len(argv) != 1 || argv[0] != "/opt/ch/bin/clickhouse-server" {
		t.Fatalf("Find(override) = %v, %v", argv, err)
	}
}

func TestStartMissingConfigSaysHowToInstall(t *testing.T) {
	_, err := Start(context.Background(), Config{Dir: t.TempDir(), Binary: "/bin/true", ConfigFile: "/nonexistent/config.xml"})
	if !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("err = %v, want ErrNotInstalled", err)
	}
}

// TestStartStop starts a real child server when the binary is installed.
func TestStartStop(t *testing.T) {
	if _, err := exec.LookPath("clickhouse-server"); err != nil {
		t.Skip("clickhouse-server not installed")
	}
	s, err := Start(context.Background(), Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if s.Addr() == "" {
		t.Fatal("no address")
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
}
