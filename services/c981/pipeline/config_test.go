package pipeline

import (
	"reflect"
	"testing"
)

// TestDeployConfigLoads checks that the documented config file decodes
// strictly (every key exists) and states the built-in defaults.
func TestDeployConfigLoads(t *testing.T) {
	cfg, err := Load("../../../deploy/c981.yaml")
	if err != nil {
		t.Fatal(err)
	}
	def := Default()
	if !reflect.DeepEqual(cfg.Ingest.Listeners, def.Ingest.Listeners) {
		t.Errorf("listeners %+v, defaults %+v", cfg.Ingest.Listeners, def.Ingest.Listeners)
	}
	if cfg.Console.Addr != def.Console.Addr || cfg.NATS.Listen != def.NATS.Listen || cfg.DataDir != def.DataDir {
		t.Errorf("deploy/c981.yaml disagrees with Default(): %+v", cfg)
	}
	if !reflect.DeepEqual(cfg.Enrich.Sites, def.Enrich.Sites) || cfg.Correlate.RulesDir != def.Correlate.RulesDir || cfg.Respond.PlaybooksDir != def.Respond.PlaybooksDir {
		t.Errorf("paths differ from Default()")
	}
	if _, err := Load("testdata/unknown-key.yaml"); err == nil {
		t.Error("a config with an unknown key loaded")
	}
}
