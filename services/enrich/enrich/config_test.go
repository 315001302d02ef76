package enrich

import (
	"strings"
	"testing"
	"time"

	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/shared/config"
)

func TestConfigYAML(t *testing.T) {
	var c Config
	data := []byte("sites: [a.yaml, b.yaml]\nmax_ack_pending: 50\nack_wait: 45s\nretry_delay: 250ms\nmax_batch_bytes: 65536\nworkers: 3\npull_max_bytes: 16777216\n")
	if err := config.DecodeYAML("enrich.yaml", data, &c); err != nil {
		t.Fatal(err)
	}
	want := Config{Sites: []string{"a.yaml", "b.yaml"}, MaxAckPending: 50, AckWait: 45 * time.Second, RetryDelay: 250 * time.Millisecond, MaxBatchBytes: 65536}
	if strings.Join(c.Sites, ",") != "a.yaml,b.yaml" || c.MaxAckPending != want.MaxAckPending || c.AckWait != want.AckWait || c.RetryDelay != want.RetryDelay || c.MaxBatchBytes != want.MaxBatchBytes || c.Workers != 3 || c.PullMaxBytes != 16<<20 {
		t.Errorf("decoded %+v, want %+v", c, want)
	}
	if err := config.DecodeYAML("enrich.yaml", []byte("site: [a.yaml]\n"), &c); err == nil || !strings.HasPrefix(err.Error(), "enrich.yaml:1:1: ") {
		t.Errorf("unknown field: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string // "" = valid
	}{
		{"defaults", Config{Sites: []string{"s.yaml"}}, ""},
		{"no sites", Config{}, "sites: at least one site model file is required"},
		{"empty path", Config{Sites: []string{""}}, "sites[0]: empty path"},
		{"negative pending", Config{Sites: []string{"s"}, MaxAckPending: -1}, "max_ack_pending: must be positive, got -1"},
		{"short ack wait", Config{Sites: []string{"s"}, AckWait: time.Millisecond}, "ack_wait: must be at least 1s, got 1ms"},
		{"negative retry", Config{Sites: []string{"s"}, RetryDelay: -time.Second}, "retry_delay: must be positive, got -1s"},
		{"tiny batches", Config{Sites: []string{"s"}, MaxBatchBytes: 10}, "max_batch_bytes: must be at least 1024, got 10"},
		{"reload disabled", Config{Sites: []string{"s"}, ReloadInterval: -1}, ""},
		{"reload too often", Config{Sites: []string{"s"}, ReloadInterval: time.Millisecond}, "reload_interval: must be at least 100ms (or negative to disable), got 1ms"},
		{"no workers", Config{Sites: []string{"s"}, Workers: -1}, "workers: must be 1..64, got -1"},
		{"too many workers", Config{Sites: []string{"s"}, Workers: 65}, "workers: must be 1..64, got 65"},
		{"pair memory too small", Config{Sites: []string{"s"}, NewPairCapacity: 1}, "new_pair_capacity: must be at least 2, got 1"},
		{"pull budget below one message", Config{Sites: []string{"s"}, PullMaxBytes: 1 << 20}, "pull_max_bytes: must be at least 8454144 (one message of the streams' 8 MiB limit), got 1048576"},
		{"pull budget of one message", Config{Sites: []string{"s"}, PullMaxBytes: bus.MinPullBytes}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.WithDefaults().Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate() = %v", err)
				}
				return
			}
			if err == nil || err.Error() != tt.want {
				t.Fatalf("Validate() = %v, want %q", err, tt.want)
			}
		})
	}
	d := Config{}.WithDefaults()
	if d.ReloadInterval != DefaultReloadInterval || d.NewPairCapacity != DefaultNewPairCapacity || d.Workers != DefaultWorkers || d.PullMaxBytes != bus.DefaultPullMaxBytes {
		t.Errorf("WithDefaults = %+v", d)
	}
	if d.MaxAckPending != DefaultMaxAckPending || d.AckWait != DefaultAckWait || d.RetryDelay != DefaultRetryDelay || d.MaxBatchBytes != DefaultMaxBatchBytes {
		t.Errorf("WithDefaults = %+v", d)
	}
}
