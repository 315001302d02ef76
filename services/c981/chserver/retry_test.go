package chserver

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestStartRetriesEarlyExitOnPickedPorts: a server that exits during
// start-up is started again on new ports when the ports were picked (one
// of them may have been taken meanwhile), never when the port was given,
// and the error carries the end of the server's error log.
func TestStartRetriesEarlyExitOnPickedPorts(t *testing.T) {
	for _, tc := range []struct {
		name    string
		tcpPort int
		starts  int
	}{
		{"picked ports", 0, startAttempts},
		{"given port", 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			count := filepath.Join(dir, "count")
			bin := filepath.Join(dir, "fake-server")
			script := "#!/bin/sh\necho start >> " + count + "\necho 'Address already in use' >> server.err.log\nexit 70\n"
			if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
				t.Fatal(err)
			}
			conf := filepath.Join(dir, "config.xml")
			if err := os.WriteFile(conf, []byte("<yandex/>"), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Start(context.Background(), Config{Dir: filepath.Join(dir, "srv"), Binary: bin, ConfigFile: conf, TCPPort: tc.tcpPort})
			if !errors.Is(err, errExitedEarly) {
				t.Fatalf("err = %v, want errExitedEarly", err)
			}
			if !strings.Contains(err.Error(), "Address already in use") {
				t.Errorf("err = %v, want the error log's last lines", err)
			}
			b, rerr := os.ReadFile(count)
			if rerr != nil {
				t.Fatal(rerr)
			}
			if n := strings.Count(string(b), "start"); n != tc.starts {
				t.Errorf("server started %d times, want %d", n, tc.starts)
			}
		})
	}
}
